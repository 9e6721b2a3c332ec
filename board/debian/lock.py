"""packages.lock: the image's Debian packages, pinned (name version sha256),
and what the build does when the archive has moved on.

Debian's security archive replaces versions (libc6, libssl3, python3.11,
the kernel) and the old ones leave the index: a build pinned to them
would break on any day after a point release or DSA. So a pin the signed
index no longer lists is followed to the version it lists now for that
package in the same suite, checked against the index's SHA256 like any
pin, said on one line ("moved: libc6 2.36-9+deb12u14 -> 2.36-9+deb12u15"),
and the updated lock is written next to the image (output/packages.lock)
for `./build.sh pin` or a commit to take. A kernel package whose ABI name
left the index (linux-image-6.1.0-N-cloud-arm64) is followed through the
metapackage to the current one; the image's module list is resolved from
whatever kernel is unpacked. `--locked` (release builds) refuses instead,
naming the package.
"""

import re

# Metapackages are followed, never pinned: their versions move with every
# kernel update and they carry no files.
META = {"linux-image-cloud-arm64"}
KERNEL = re.compile(r"linux-image-\d+\.\d+\.\d+-\d+-cloud-arm64$")
HEADER = ("# Debian bookworm arm64 packages of the image: name version sha256.\n"
          "# Written by ./build.sh pin (board/debian/assemble.py --pin); the build checks every .deb against it.\n")


def read(path):
    pins = []
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            name, version, sha = line.split()
            pins.append((name, version, sha))
    return pins


def write(path, pins):
    with open(path, "w") as f:
        f.write(HEADER)
        for p in sorted(pins):
            f.write("%s %s %s\n" % p)


def follow(a, pins, locked=False, say=print):
    """`pins` with every one the index no longer lists replaced by what it
    lists now; [(old pin, new pin)] of those. SystemExit when `locked`, or
    when a package is gone for good."""
    out, moved = [], []
    for pin in pins:
        name, version, _ = pin
        if a.has(name, version):
            out.append(pin)
            continue
        if locked:
            raise SystemExit("build.sh: %s %s is no longer in the archive (--locked: not following it; ./build.sh pin)" % (name, version))
        now = _current(a, name)
        if now is None:
            raise SystemExit("build.sh: %s is no longer in the archive at all; ./build.sh pin resolves the closure again" % name)
        new = (now["Package"], now["Version"], now["SHA256"])
        say("moved: %s %s -> %s" % (name, version, new[1] if new[0] == name else "%s %s" % new[:2]))
        out.append(new)
        moved.append((pin, new))
    return out, moved


def _current(a, name):
    """The index's stanza for `name` now; for a kernel whose ABI name is
    gone, the one the kernel metapackage depends on."""
    now = a.candidate(name)
    if now is None and KERNEL.match(name):
        meta = a.candidate("linux-image-cloud-arm64")
        dep = meta and meta.get("Depends", "").split(",")[0].split("(")[0].strip()
        now = a.candidate(dep) if dep else None
    return now
