"""The Debian backend when the archive has moved on: a lock naming a
version Debian's index no longer lists (as every security update does to
libc6, libssl3, python3.11, the kernel) is followed to the version listed
now, said on one line, and the lock actually used is written next to the
image; `--locked` refuses, naming the package. Real apt against the real
archive, into a temporary output; the download cache is the build's own
(OUTPOST_DL or ~/.cache/outpost/dl), so only the index is fetched."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSEMBLE = os.path.join(ROOT, "board", "debian", "assemble.py")
GONE = "2.36-9+deb12u0"  # a libc6 version no index lists
OLD_ABI = "linux-image-6.1.0-1-cloud-arm64"  # a kernel ABI name long gone from the index


def stale_lock(path):
    """The real lock with libc6 pinned to a version that is gone, and the
    kernel to an ABI name that is gone."""
    lines = []
    for line in open(os.path.join(ROOT, "board", "debian", "packages.lock")):
        if line.startswith("libc6 "):
            line = "libc6 %s %s\n" % (GONE, "0" * 64)
        elif line.startswith("linux-image-"):
            line = "%s 6.1.1-1 %s\n" % (OLD_ABI, "0" * 64)
        lines.append(line)
    path.write_text("".join(lines))
    return str(path)


def assemble(*args):
    return subprocess.run([sys.executable, ASSEMBLE] + list(args), capture_output=True, text=True, timeout=900)


def test_a_pin_the_archive_no_longer_has_is_followed_and_said_and_locked_refuses(tmp_path):
    lock = stale_lock(tmp_path / "old.lock")
    out = assemble("--lock", lock, "--output", str(tmp_path / "out"))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    moved = sorted(ln for ln in out.stdout.splitlines() if ln.startswith("moved: "))
    assert len(moved) == 2 and moved[0].startswith("moved: libc6 %s -> 2.36-9+deb12u" % GONE), out.stdout
    # The kernel followed through linux-image-cloud-arm64 to the current ABI.
    assert moved[1].startswith("moved: %s 6.1.1-1 -> linux-image-6.1.0-" % OLD_ABI), out.stdout
    written = open(str(tmp_path / "out" / "packages.lock")).read()
    assert "libc6 " + GONE not in written and moved[0].split(" -> ")[1] in written and OLD_ABI not in written
    assert " ".join(moved[1].split(" -> ")[1].split()[:2]) in written
    assert os.path.getsize(str(tmp_path / "out" / "images" / "rootfs.cpio.gz")) > 1000000
    # The same lock and cache again: the same bytes (reproducible image).
    again = assemble("--lock", str(tmp_path / "out" / "packages.lock"), "--output", str(tmp_path / "out2"))
    assert again.returncode == 0, again.stderr[-2000:]
    for name in ("rootfs.cpio.gz", "Image"):
        assert open(str(tmp_path / "out" / "images" / name), "rb").read() == open(str(tmp_path / "out2" / "images" / name), "rb").read(), name
    refused = assemble("--lock", lock, "--output", str(tmp_path / "out3"), "--locked")
    assert refused.returncode != 0 and "libc6 %s is no longer in the archive" % GONE in refused.stderr, refused.stderr
