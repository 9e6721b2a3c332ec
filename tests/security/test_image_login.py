"""The console is the only way into the image: no getty or login on any
tty, no login/passwd applets, root's password locked. Checked on what the
Debian assembler would put in the image (its busybox links and the
overlay, assembled into a scratch tree) and on the Buildroot defconfig."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOGIN_APPLETS = ("getty", "login", "su", "passwd", "chpasswd", "sulogin")


@pytest.fixture
def image(tmp_path, monkeypatch):
    """busybox() and overlay() of board/debian/assemble.py, run into a
    scratch root (a stand-in busybox binary naming every applet)."""
    sys.path.insert(0, os.path.join(ROOT, "board", "debian"))
    try:
        import assemble
    finally:
        sys.path.pop(0)
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    (src / "bin" / "busybox").write_bytes(b"\0" + b"\0".join(a.encode() for a in assemble.APPLETS + list(LOGIN_APPLETS)) + b"\0")
    rootfs = assemble.Rootfs(str(tmp_path / "rootfs"), str(src))
    monkeypatch.setattr(assemble, "step", lambda msg: None)
    assemble.busybox(rootfs)
    assemble.overlay(rootfs)
    return rootfs


def test_the_image_has_no_getty_login_or_password_applets(image):
    for d in ("bin", "sbin", "usr/bin", "usr/sbin"):
        for applet in LOGIN_APPLETS:
            assert not os.path.lexists(image.dest("%s/%s" % (d, applet))), "%s/%s in the image" % (d, applet)


def test_inittab_starts_the_outpost_console_and_nothing_that_logs_in(image):
    with open(image.dest("etc/inittab")) as f:
        entries = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    ttys = [e for e in entries if e.split(":")[2] in ("respawn", "askfirst", "once", "wait")]
    assert ttys and all("-m outpost console" in e for e in ttys)
    assert not [e for e in entries if "getty" in e or "login" in e or e.endswith("/bin/sh")]


def test_root_has_no_usable_password(image):
    with open(image.dest("etc/shadow")) as f:
        shadow = dict(line.split(":", 2)[:2] for line in f if line.strip())
    with open(image.dest("etc/passwd")) as f:
        passwd = dict(line.split(":", 2)[:2] for line in f if line.strip())
    assert shadow["root"][:1] in ("*", "!") and passwd["root"] == "x"
    assert all(v[:1] in ("*", "!") for v in shadow.values())
    assert all(v == "x" for v in passwd.values())  # no password hash or empty field in passwd either
    assert os.stat(image.dest("etc/shadow")).st_mode & 0o077 == 0


def test_buildroot_turns_off_getty_root_login_and_the_login_applets():
    with open(os.path.join(ROOT, "configs", "outpost_qemu_aarch64_virt_defconfig")) as f:
        lines = [line.strip() for line in f]
    assert "# BR2_TARGET_GENERIC_GETTY is not set" in lines
    assert "# BR2_TARGET_ENABLE_ROOT_LOGIN is not set" in lines  # Buildroot then writes root:* itself
    assert not [line for line in lines if line.startswith(("BR2_TARGET_GENERIC_GETTY", "BR2_TARGET_GENERIC_ROOT_PASSWD"))]
    fragments = [line.split("=", 1)[1].strip('"') for line in lines if line.startswith("BR2_PACKAGE_BUSYBOX_CONFIG_FRAGMENT_FILES=")]
    assert fragments
    with open(fragments[0].replace("$(BR2_EXTERNAL_OUTPOST_PATH)", ROOT)) as f:
        fragment = f.read()
    for applet in ("GETTY", "LOGIN", "SU", "PASSWD"):
        assert "# CONFIG_%s is not set" % applet in fragment
