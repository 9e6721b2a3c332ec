"""The Debian backend of build.sh: an aarch64 image from Debian bookworm
arm64 packages, offline once the .debs are cached.

    python3 board/debian/assemble.py [--pin] [--output DIR] [--dl DIR]

Steps (each says what it is doing): resolve the pinned packages, download
what the cache lacks (checked against packages.lock), unpack with
dpkg-deb -x, assemble the root filesystem from only what the router needs
(kernel modules closed over .modinfo dependencies, the measured stdlib as
.pyc, the ELF shared-library closure), apply rootfs_overlay/, write the
initramfs reproducibly (SOURCE_DATE_EPOCH, sorted, fixed owners), and
create the data disk if it does not exist yet (never overwritten).
"""

import argparse
import gzip
import os
import py_compile
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import apt  # noqa: E402
import lock  # noqa: E402
import elf  # noqa: E402
import cpio  # noqa: E402

LOCK = os.path.join(HERE, "packages.lock")
# What the image is made of; their dependencies are resolved into the lock.
ROOTS = ["linux-image-cloud-arm64", "busybox-static", "python3.11-minimal", "libpython3.11-stdlib",
         "python3-ujson", "python3-ruamel.yaml", "python3-uvloop", "nftables"]
# Dependencies never needed inside the image (package tooling, docs, the
# python3 metapackage chain, the kernel's initramfs machinery).
SKIP = {"debconf", "dpkg", "perl-base", "tzdata", "media-types", "mime-support", "init-system-helpers", "linux-base",
        "kmod", "initramfs-tools", "initramfs-tools-core", "python3", "python3-minimal", "python3.11", "libc-bin",
        "readline-common", "install-info", "lsb-base", "sensible-utils", "gcc-12-base", "debianutils", "netbase",
        "libdb5.3", "libsqlite3-0", "libncursesw6", "libreadline8", "libnsl2", "libtirpc3", "libtirpc-common",
        "libgssapi-krb5-2", "libkrb5-3", "libk5crypto3", "libkrb5support0", "libkeyutils1", "libcom-err2",
        "apparmor", "firmware-linux-free", "busybox", "dracut", "zstd"}

MODULES = ["virtio_mmio", "virtio_net", "virtio_blk", "ext4", "tun", "af_packet", "nf_tables", "nft_ct", "nft_nat",
           "nft_masq", "nft_chain_nat", "nft_reject_inet", "nft_fib_inet", "nft_limit", "nf_conntrack", "nf_nat",
           # ct count (one flow per WAN media port: media.lock first_sender) and
           # ctnetlink (the daemon forgets a finished call's flows).
           "nft_connlimit", "nf_conntrack_netlink"]
# No getty, login, su or passwd: the serial console (outpost console, from
# inittab) is the only way in, and root's password is locked (THREAT-console.md).
APPLETS = ["sh", "ash", "init", "mount", "umount", "mkdir", "ls", "cat", "echo", "ps", "kill", "sleep",
           "hostname", "ip", "ifconfig", "udhcpc", "syslogd", "klogd", "logger", "start-stop-daemon", "insmod", "modprobe",
           "poweroff", "reboot", "halt", "df", "free", "uptime", "dmesg", "grep", "sed", "awk", "vi", "cp", "mv", "rm",
           "ln", "chmod", "touch", "head", "tail", "wc", "sync", "test", "[", "printf", "date", "mdev", "stty",
           "tty", "clear", "more", "true", "false", "id", "env", "cut", "tr", "sort", "uname", "nc", "ping", "find",
           "xargs", "mktemp", "basename", "dirname", "tee", "dd", "switch_root", "readlink", "which", "pidof",
           "killall", "seq", "expr", "top", "logread"]
MERGED = {"lib": "usr/lib", "bin": "usr/bin", "sbin": "usr/sbin"}
PYVER = "3.11"


def step(msg):
    print("==> " + msg, flush=True)


# -- packages -----------------------------------------------------------------------

def resolve(a):
    """The dependency closure of ROOTS, less SKIP: [(name, version, sha256)]."""
    todo, seen, out = list(ROOTS), set(), []
    while todo:
        name = todo.pop(0)
        if name in seen or name in SKIP:
            continue
        seen.add(name)
        s = a.show(name)
        if name not in lock.META:
            out.append((s["Package"], s["Version"], s["SHA256"]))
        for field in ("Pre-Depends", "Depends"):
            for alt in filter(None, (x.strip() for x in s.get(field, "").split(","))):
                choice = alt.split("|")[0].split("(")[0].split(":")[0].strip()
                todo.append(choice)
    return sorted(out)


def fetch(dl, pins, locked=False):
    """(the .debs, the pins used): what the cache lacks is downloaded, a pin
    the archive no longer has followed (lock.follow)."""
    debs = os.path.join(dl, "debs")
    missing = [p for p in pins if not cached(debs, p)]
    moved = []
    if missing:
        step("downloading %d of %d arm64 packages" % (len(missing), len(pins)))
        a = apt.Apt(os.path.join(dl, "apt"))
        a.update()
        missing, moved = lock.follow(a, missing, locked)
        for name, version, sha in missing:
            a.download(name, version, sha, debs)
        gone = set(old for old, _ in moved)
        pins = [p for p in pins if p not in gone] + [new for _, new in moved]
    else:
        step("all %d packages cached in %s" % (len(pins), debs))
    return [os.path.join(debs, apt.deb_name(n, v)) for n, v, _ in pins], pins, moved


def cached(debs, pin):
    name, version, sha = pin
    path = os.path.join(debs, apt.deb_name(name, version))
    return os.path.exists(path) and apt.sha256_file(path) == sha


def unpack(dl, debs):
    """Every package unpacked once into dl/extract/, merged into one tree."""
    tree = os.path.join(dl, "extract", "all")
    stampfile = os.path.join(dl, "extract", "stamp")
    want = "\n".join(sorted(os.path.basename(d) for d in debs))
    if os.path.exists(stampfile) and open(stampfile).read() == want:
        step("packages already unpacked")
        return tree
    step("unpacking %d packages with dpkg-deb -x" % len(debs))
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(tree)
    for d in debs:
        subprocess.run(["dpkg-deb", "-x", d, tree], check=True)
    with open(stampfile, "w") as f:
        f.write(want)
    return tree


# -- the root filesystem ---------------------------------------------------------------

class Rootfs:
    def __init__(self, path, src):
        self.path = path
        self.src = src  # the unpacked packages
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        for link, target in MERGED.items():
            os.makedirs(os.path.join(path, target))
            os.symlink(target, os.path.join(path, link))

    def dest(self, rel):
        rel = rel.lstrip("/")
        top = rel.split("/", 1)[0]
        if top in MERGED:
            rel = MERGED[top] + rel[len(top):]
        return os.path.join(self.path, rel)

    def copy(self, rel, dst_rel=None):
        """Copy a file or symlink from the packages (following links inside them)."""
        src = self.find(rel)
        dst = self.dest(dst_rel or rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            target = os.readlink(src)
            if not os.path.lexists(dst):
                os.symlink(target, dst)
            resolved = os.path.normpath(os.path.join(os.path.dirname("/" + rel.lstrip("/")), target)) if not target.startswith("/") else target
            return self.copy(resolved)
        shutil.copy2(src, dst)
        return dst

    def find(self, rel):
        rel = rel.lstrip("/")
        for cand in (rel, "usr/" + rel if not rel.startswith("usr/") else rel[4:]):
            p = os.path.join(self.src, cand)
            if os.path.lexists(p):
                return p
        raise SystemExit("build.sh: %s is in none of the packages" % rel)

    def write(self, rel, data, mode=0o644):
        dst = self.dest(rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chmod(dst, mode)


def kernel(rootfs, images):
    kver = sorted(d for d in os.listdir(os.path.join(rootfs.src, "lib", "modules")))[-1]
    step("kernel %s: Image and %d modules with their dependencies" % (kver, len(MODULES)))
    vmlinuz = os.path.join(rootfs.src, "boot", "vmlinuz-" + kver)
    data = open(vmlinuz, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    with open(os.path.join(images, "Image"), "wb") as f:
        f.write(data)
    moddir = os.path.join(rootfs.src, "lib", "modules", kver)
    builtin = set()
    bpath = os.path.join(moddir, "modules.builtin")
    if os.path.exists(bpath):
        builtin = {os.path.basename(l.strip())[:-3].replace("-", "_") for l in open(bpath) if l.strip()}
    paths = {}
    for dirpath, _, files in os.walk(moddir):
        for f in files:
            if f.endswith(".ko"):
                paths[f[:-3].replace("-", "_")] = os.path.join(dirpath, f)
    order = []

    def visit(name):
        name = name.replace("-", "_")
        if name in order or name in builtin:
            return
        if name not in paths:
            raise SystemExit("build.sh: kernel module %s is neither built in nor shipped" % name)
        for dep in elf.modinfo(paths[name]).get("depends", "").split(","):
            if dep:
                visit(dep)
        order.append(name)

    for m in MODULES:
        visit(m)
    lines = []
    for name in order:
        rel = os.path.relpath(paths[name], rootfs.src)
        rootfs.copy(rel)
        lines.append("/" + rel)
    rootfs.write("etc/modules.load", "\n".join(lines) + "\n")
    return kver, len(order)


def busybox(rootfs):
    step("busybox: %d applets" % len(APPLETS))
    rootfs.copy("bin/busybox")
    binary = open(rootfs.dest("bin/busybox"), "rb").read()
    for a in APPLETS:
        if b"\x00" + a.encode() + b"\x00" not in binary:
            raise SystemExit("build.sh: Debian's busybox-static has no applet %s" % a)
        os.symlink("busybox", rootfs.dest("bin/" + a))
        os.symlink("../bin/busybox", rootfs.dest("sbin/" + a))  # Buildroot's paths: /sbin/syslogd, /sbin/reboot
    os.symlink("bin/busybox", os.path.join(rootfs.path, "init"))


def python(rootfs):
    lines = [l.strip() for l in open(os.path.join(HERE, "stdlib.txt")) if l.strip() and not l.startswith("#")]
    step("python %s: interpreter, %d stdlib modules as .pyc, ujson, ruamel.yaml, uvloop, outpost" % (PYVER, len(lines)))
    rootfs.copy("usr/bin/python" + PYVER)
    os.symlink("python" + PYVER, rootfs.dest("usr/bin/python3"))
    lib = "usr/lib/python" + PYVER
    dynload = os.path.join(rootfs.src, lib, "lib-dynload")
    for entry in lines:
        if entry.startswith("lib-dynload/"):
            name = entry.split("/", 1)[1]
            for f in os.listdir(dynload):
                if f.split(".", 1)[0] == name:
                    rootfs.copy(os.path.join(lib, "lib-dynload", f))
            continue
        compile_py(os.path.join(rootfs.src, lib, entry), rootfs.dest(os.path.join(lib, entry)) + "c", "/" + lib + "/" + entry)
    dist = "usr/lib/python3/dist-packages"
    for f in os.listdir(os.path.join(rootfs.src, dist)):
        if f.startswith("ujson") and f.endswith(".so"):
            rootfs.copy(os.path.join(dist, f))
    tree(rootfs, os.path.join(rootfs.src, dist, "ruamel"), os.path.join(dist, "ruamel"))
    for f in os.listdir(os.path.join(rootfs.src, dist)):
        if f.startswith("_ruamel_yaml") and f.endswith(".so"):
            rootfs.copy(os.path.join(dist, f))
    tree(rootfs, os.path.join(rootfs.src, dist, "uvloop"), os.path.join(dist, "uvloop"))  # daemon.event_loop: uvloop
    tree(rootfs, os.path.join(ROOT, "firmware", "outpost"), os.path.join(dist, "outpost"))


def tree(rootfs, src, rel):
    for dirpath, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            s = os.path.join(dirpath, f)
            r = os.path.join(rel, os.path.relpath(s, src))
            if f.endswith(".py"):
                compile_py(s, rootfs.dest(r) + "c", "/" + r)
            elif f.endswith(".so"):
                shutil.copy2(s, rootfs.dest(r)) if os.path.isdir(os.path.dirname(rootfs.dest(r))) else None


def compile_py(src, dst, shown):
    """Sourceless .pyc, hash-based and unchecked: reproducible, no mtimes.
    Optimized as -OO would (no docstrings, no asserts): a sourceless .pyc
    is loaded as it is, whatever the interpreter's flags, and the
    docstrings alone are ~0.7 MB of the daemon's memory."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    py_compile.compile(src, cfile=dst, dfile=shown, doraise=True, optimize=2,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def nftables(rootfs):
    step("nftables")
    rootfs.copy("usr/sbin/nft")


def libraries(rootfs):
    """Copy the shared-library closure of every ELF file in the image."""
    dirs = ["lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib", "usr/lib"]
    done, todo, count = set(), [], 0
    for dirpath, _, files in os.walk(rootfs.path):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p) and elf.is_elf(p):
                todo.append(p)
    interp = None
    while todo:
        p = todo.pop()
        info = elf.dynamic(p)
        interp = interp or info["interp"]
        for lib in info["needed"]:
            if lib in done:
                continue
            done.add(lib)
            for d in dirs:
                if os.path.lexists(os.path.join(rootfs.src, d, lib)):
                    todo.append(rootfs.copy(os.path.join(d, lib)))
                    count += 1
                    break
            else:
                raise SystemExit("build.sh: shared library %s (needed by %s) is in none of the packages" % (lib, p))
    if interp:
        rootfs.copy(interp)
    step("shared libraries: %d, loader %s" % (count, interp))


def overlay(rootfs):
    step("rootfs_overlay/")
    src = os.path.join(ROOT, "rootfs_overlay")
    for dirpath, dirs, files in os.walk(src):
        dirs.sort()
        for f in sorted(files):
            s = os.path.join(dirpath, f)
            rel = os.path.relpath(s, src)
            if rel == "README.md":
                continue
            dst = rootfs.dest(rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(s, dst)
    # What Buildroot's package/outpost installs, the same file.
    shutil.copy2(os.path.join(ROOT, "package", "outpost", "S50outpost"), rootfs.dest("etc/init.d/S50outpost"))
    os.chmod(rootfs.dest("etc/init.d/S50outpost"), 0o755)  # as $(INSTALL) -m 0755 does
    os.chmod(rootfs.dest("etc/shadow"), 0o600)  # as Buildroot's device table has it
    for d in ("proc", "sys", "dev", "tmp", "run", "data", "var/log", "var/run", "root", "mnt"):
        os.makedirs(rootfs.dest(d), exist_ok=True)


def data_disk(images):
    path = os.path.join(images, "data.img")
    if os.path.exists(path):
        step("data.img exists: kept (config and state live there)")
        return
    step("data.img: new 64 MiB ext4 for config and state")
    seed = os.path.join(images, ".data-seed")
    shutil.rmtree(seed, ignore_errors=True)
    os.makedirs(os.path.join(seed, "etc", "outpost"))
    os.makedirs(os.path.join(seed, "state"))
    for name in ("outpost.yaml", "outpost.json"):
        shutil.copy2(os.path.join(ROOT, "rootfs_overlay", "etc", "outpost", name), os.path.join(seed, "etc", "outpost", name))
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-L", "outpost-data", "-d", seed, "-E", "root_owner=0:0", path, "64M"], check=True)
    shutil.rmtree(seed)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--pin", action="store_true", help="resolve the package closure again and rewrite packages.lock")
    ap.add_argument("--locked", action="store_true", help="refuse a pin the archive no longer has instead of following it")
    ap.add_argument("--lock", default=LOCK, help=argparse.SUPPRESS)  # tests: another lock
    ap.add_argument("--output", default=os.path.join(ROOT, "output"))
    ap.add_argument("--dl", default=os.environ.get("OUTPOST_DL", os.path.join(os.path.expanduser("~"), ".cache", "outpost", "dl")))
    args = ap.parse_args(argv)
    t0 = time.time()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "1767225600"))  # 2026-01-01, fixed for reproducible output
    if args.pin or not os.path.exists(args.lock):
        step("resolving the arm64 package closure")
        a = apt.Apt(os.path.join(args.dl, "apt"))
        a.update()
        lock.write(args.lock, resolve(a))
    debs, pins, moved = fetch(args.dl, lock.read(args.lock), args.locked)
    if moved:
        os.makedirs(args.output, exist_ok=True)
        lock.write(os.path.join(args.output, "packages.lock"), pins)
        step("%d packages moved on in the archive: the lock they were built from is %s (./build.sh pin takes it)" % (
            len(moved), os.path.join(args.output, "packages.lock")))
    src = unpack(args.dl, debs)
    images = os.path.join(args.output, "images")
    os.makedirs(images, exist_ok=True)
    rootfs = Rootfs(os.path.join(args.output, "build", "rootfs"), src)
    kver, nmods = kernel(rootfs, images)
    busybox(rootfs)
    python(rootfs)
    nftables(rootfs)
    libraries(rootfs)
    overlay(rootfs)
    step("rootfs.cpio.gz (SOURCE_DATE_EPOCH=%d)" % epoch)
    raw = cpio.archive(rootfs.path, epoch, devices=[("dev/console", 0o600, 5, 1), ("dev/null", 0o666, 1, 3)])
    with open(os.path.join(images, "rootfs.cpio.gz"), "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=9, filename="") as g:
            g.write(raw)
    data_disk(images)
    size = os.path.getsize(os.path.join(images, "rootfs.cpio.gz"))
    step("done in %.1f s: Image %.1f MB, initramfs %.1f MB (%.1f MB unpacked), kernel %s, %d modules" % (
        time.time() - t0, os.path.getsize(os.path.join(images, "Image")) / 1e6, size / 1e6, len(raw) / 1e6, kver, nmods))
    return 0


if __name__ == "__main__":
    sys.exit(main())
