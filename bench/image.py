"""The image's figures: sizes, boot time to a login prompt and to the daemon
answering OPTIONS, and the daemon's memory in the guest idle and with 200
registered phones, and the call rate it carries (bench/proxy.sh's strict
ladder, sipp on the host through QEMU's port forward, calling a sipp UAS
on the host at 10.0.2.2) with the daemon's RSS after it. Prints one line.

The peer, booted in the same run with the same QEMU line and the same
kernel: an initramfs holding nothing but Debian's static busybox, whose
/init prints a marker on the console. What outpost adds to the boot is the
difference between the two.

    .venv/bin/python bench/image.py [--loop uvloop]   (builds the image first if needed)

--loop uvloop measures the daemon with daemon.event_loop set to uvloop.
"""

import os
import socket
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests", "system"), os.path.join(ROOT, "tests", "integration"), os.path.join(ROOT, "firmware")]
from vm import VM, IMAGES, PASSWORD, free_port  # noqa: E402

PHONES = 200


def sip(sock, port, text):
    sock.sendto(text.encode(), ("127.0.0.1", port))
    try:
        return int(sock.recv(65535).split(b" ", 2)[1])
    except (socket.timeout, ValueError, IndexError):
        return None


def request(method, n, lp, extra=""):
    return ("%s sip:branch.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKimg%d%x;rport\r\nMax-Forwards: 70\r\n"
            "From: <sip:phone%d@branch.example.com>;tag=t%d\r\nTo: <sip:phone%d@branch.example.com>\r\nCall-ID: img-%d-%x\r\n"
            "CSeq: 1 %s\r\n%sContent-Length: 0\r\n\r\n" % (method, lp, n, int(time.time() * 1e6), n, n, n, n, int(time.time() * 1e6), method, extra))


GUEST_RATES = (10, 20, 50, 100, 150, 200, 300, 400, 500)


def guest_calls(vm, port, work, seconds=10):
    """(highest passing step or None, first failing step or None). The
    proxy's CPU and PSS in these steps are QEMU's, not the daemon's; the
    daemon's RSS is read in the guest afterwards."""
    import subprocess
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import loadstep

    uas_port = free_port()
    uas = subprocess.Popen(["sipp", "-sf", os.path.join(ROOT, "bench", "uas_load.xml"), "-i", "127.0.0.1", "-p", str(uas_port), "-nostdin",
                            "-key", "contact_host", "10.0.2.2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    time.sleep(0.5)
    best = None
    try:
        for rate in GUEST_RATES:
            n = int(rate * seconds)
            args = ["10.0.2.2:%d" % uas_port, "-rsa", "127.0.0.1:%d" % port, "-sn", "uac", "-r", str(rate), "-m", str(n), "-p", str(free_port())]
            s = loadstep.run(args, work, vm.proc.pid, port, rate, n, seconds, [uas.pid])
            print(s.line("guest", "call"), file=sys.stderr, flush=True)
            if s.reason is not None:
                return best, s
            best = s
            time.sleep(3)  # the guest settles: its retransmission timers end
    finally:
        uas.terminate()
        uas.wait(10)
    return best, None


def rss_kb(vm):
    out = vm.run("grep VmRSS /proc/$(cat /var/run/outpost.pid)/status")
    return int(out.split()[1])


def trust_the_host(vm, work, loop):
    """The default config has no users, so only the LAN may register; the
    phones here come through QEMU's user network: trust it, with the host
    tool, as an admin would."""
    from outpost.hosttool import main as console

    with open(os.path.join(ROOT, "rootfs_overlay", "etc", "outpost", "outpost.yaml")) as f:
        site = f.read().replace("\nsip:\n", "\nsip:\n  trusted_networks: [10.0.2.0/24]\n", 1)
    if loop != "asyncio":
        site += "\ndaemon:\n  event_loop: %s\n" % loop
    path = os.path.join(work, "site.yaml")
    with open(path, "w") as f:
        f.write(site)
    with open(os.path.join(work, "pw"), "w") as f:
        f.write(PASSWORD + "\n")
    import contextlib
    import io

    said = io.StringIO()  # the diff it applied: not this bench's one line
    with contextlib.redirect_stdout(said):
        rc = console(["--port", "socket://127.0.0.1:%d" % vm.port, "--password-file", os.path.join(work, "pw"), "--quiet", "apply", path])
    if rc != 0:
        raise SystemExit("could not apply the bench's site file:\n" + said.getvalue())


def bare_boot(work):
    """Seconds from QEMU's start to the bare busybox initramfs's marker, and
    that initramfs's size (MB)."""
    import gzip
    import shutil
    import subprocess

    sys.path.insert(0, os.path.join(ROOT, "board", "debian"))
    sys.path.insert(0, os.path.join(ROOT, "qemu"))
    import boot as qemu_boot
    import cpio

    tree = os.path.join(work, "bare")
    os.makedirs(os.path.join(tree, "bin"))
    shutil.copy(os.path.join(ROOT, "output", "build", "rootfs", "bin", "busybox"), os.path.join(tree, "bin", "busybox"))
    with open(os.path.join(tree, "init"), "w") as f:
        f.write("#!/bin/busybox sh\n/bin/busybox echo BARE-BUSYBOX-READY\nexec /bin/busybox sleep 600\n")
    os.chmod(os.path.join(tree, "init"), 0o755)
    images = os.path.join(work, "bare-images")
    os.makedirs(images)
    os.symlink(os.path.join(IMAGES, "Image"), os.path.join(images, "Image"))
    with gzip.open(os.path.join(images, "rootfs.cpio.gz"), "wb") as f:
        f.write(cpio.archive(tree, 0, [("dev/console", 0o600, 5, 1)]))
    shutil.copy(os.path.join(IMAGES, "data.img"), os.path.join(images, "data.img"))
    cmd = qemu_boot.command(images, None, "stdio")
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    buf = b""
    try:
        while b"BARE-BUSYBOX-READY" not in buf and time.time() - t0 < 60:
            chunk = p.stdout.read1(4096)
            if not chunk:
                break
            buf += chunk
        took = time.time() - t0
    finally:
        p.kill()
        p.wait()
    if b"BARE-BUSYBOX-READY" not in buf:
        raise SystemExit("the bare initramfs did not boot: " + buf[-500:].decode(errors="replace"))
    return took, os.path.getsize(os.path.join(images, "rootfs.cpio.gz")) / 1e6


def main(argv=None):
    import argparse
    import serial

    ap = argparse.ArgumentParser()
    ap.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio", help="the daemon's daemon.event_loop")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="outpost-image-")
    port = free_port()
    vm = VM(work, hostfwd=["udp:127.0.0.1:%d-:5060" % port])
    t0 = time.time()
    vm.boot(login=False)
    t_login = vm.t_login  # the console's first prompt; later logins do not count
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    lp = s.getsockname()[1]
    try:
        while sip(s, port, request("OPTIONS", 0, lp)) != 200:
            if time.time() - t0 > 120:
                raise SystemExit("the daemon never answered")
        t_sip = time.time() - t0
        trust_the_host(vm, work, args.loop)
        vm.con = serial.serial_for_url("socket://127.0.0.1:%d" % vm.port, timeout=0.2)
        vm.write("\n")  # the respawned console's prompt went to nobody: ask again
        vm.console_login()
        if args.loop != "asyncio":
            vm.write("restart\n")  # the event loop is chosen at start
            vm.read_until("daemon running again", 60)
        vm.write("shell\n")
        vm.read_until("outpost# ", 30)
        if args.loop != "asyncio" and "event loop: " + args.loop not in vm.run("logread | grep 'event loop'"):
            raise SystemExit("the daemon did not start on " + args.loop)
        time.sleep(2)
        idle = rss_kb(vm)
        ok = 0
        for n in range(PHONES):
            contact = "Contact: <sip:phone%d@192.0.2.%d:5060>;expires=3600\r\n" % (n, 10 + n % 200)
            ok += sip(s, port, request("REGISTER", n, lp, contact)) == 200
        busy = rss_kb(vm)
        calls, fail = guest_calls(vm, port, work)
        after = rss_kb(vm)
    finally:
        s.close()
        vm.kill()
    bare_s, bare_mb = bare_boot(work)
    size = lambda f: os.path.getsize(os.path.join(IMAGES, f)) / 1e6  # noqa: E731
    import gzip
    unpacked = len(gzip.open(os.path.join(IMAGES, "rootfs.cpio.gz")).read()) / 1e6
    print("image: kernel Image %.1f MB, initramfs %.1f MB (%.1f MB unpacked), data.img %.0f MB | boot to login %.1f s, to OPTIONS answered %.1f s "
          "| daemon (%s) RSS %.1f MB idle, %.1f MB with %d registered phones (%d of %d REGISTERs 200) "
          "| calls through the guest: %d/s pass (first failing: %s), daemon RSS %.1f MB after | bare busybox initramfs on the same kernel: "
          "%.1f MB, boot to its shell %.1f s (outpost's userland adds %.1f s to the login prompt) | qemu -M virt -cpu cortex-a53, TCG"
          % (size("Image"), size("rootfs.cpio.gz"), unpacked, size("data.img"), t_login, t_sip, args.loop, idle / 1024, busy / 1024, ok, ok, PHONES,
             calls.rate if calls else 0, "%d/s, %s" % (fail.rate, fail.reason) if fail else "none", after / 1024,
             bare_mb, bare_s, t_login - bare_s))


if __name__ == "__main__":
    main()
