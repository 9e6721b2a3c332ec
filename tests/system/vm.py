"""A booted image for the system tests: QEMU with its serial console on a
local TCP socket, driven through pyserial's socket:// URL, as an admin's
host tool would drive /dev/ttyUSB0."""

import os
import shutil
import subprocess
import sys
import time

import serial

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "qemu"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import boot as qemu_boot  # noqa: E402
from harness import free_port  # noqa: E402

IMAGES = os.path.join(ROOT, "output", "images")
PROMPT = "outpost# "  # the root shell's; the console's ends in "> "
PASSWORD = "system-test-pw"


def ensure_image():
    if not all(os.path.exists(os.path.join(IMAGES, f)) for f in ("Image", "rootfs.cpio.gz", "data.img")):
        subprocess.run([os.path.join(ROOT, "build.sh"), "build"], check=True)


class VM:
    def __init__(self, workdir, data=None, hostfwd=(), netns=False):
        ensure_image()
        # Namespaces and taps named after this process, so a leftover from
        # another run never collides; removed again by kill().
        self.netns = qemu_boot.Netns("op%d-" % (os.getpid() % 100000)) if netns else None
        self.data = data or os.path.join(str(workdir), "data.img")
        if data is None:
            shutil.copy(os.path.join(IMAGES, "data.img"), self.data)
        self.hostfwd = list(hostfwd)
        self.log = open(os.path.join(str(workdir), "console.log"), "ab")
        self.proc = None
        self.port = None

    def boot(self, timeout=90, login=True):
        """Boot; with login=False stop at the console's password prompt and
        let go of the serial line (for outpost-console to take it)."""
        self.port = free_port()
        if self.netns is not None:
            self.netns.create()
        cmd = qemu_boot.command(IMAGES, self.data, "tcp:%d" % self.port, "user", self.hostfwd, netns=self.netns)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                self.con = serial.serial_for_url("socket://127.0.0.1:%d" % self.port, timeout=0.2)
                break
            except serial.SerialException:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.t_boot = time.time()
        if self.netns is not None:
            self.netns.attach()
        if not login:
            self.read_until("assword: ", timeout)
            self.t_login = time.time() - self.t_boot
            self.con.close()
            return self
        self.console_login(timeout)
        self.write("shell\n")
        self.read_until(PROMPT, 30)
        return self

    def console_login(self, timeout=90):
        """The serial console: set the password on first boot, then log in."""
        out = self.read_until("assword: ", timeout)
        self.t_login = time.time() - self.t_boot
        if "New password: " in out:
            self.write(PASSWORD + "\n")
            self.read_until("Again: ")
            self.write(PASSWORD + "\n")
            self.read_until("Password: ")
        self.write(PASSWORD + "\n")
        self.read_until("> ", 30)

    def write(self, text):
        self.con.write(text.encode())

    def read_until(self, marker, timeout=30):
        buf = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            chunk = self.con.read(4096)
            if chunk:
                buf += chunk
                self.log.write(chunk)
                if marker.encode() in buf:
                    return buf.decode(errors="replace")
        raise TimeoutError("no %r on the console; last output:\n%s" % (marker, buf.decode(errors="replace")[-2000:]))

    def run(self, command, timeout=30):
        """Run a shell command on the console; its output, without the echo and prompt."""
        self.write(command + "\n")
        out = self.read_until(PROMPT, timeout)
        out = out.replace("\r", "")
        lines = out.split("\n")
        return "\n".join(lines[1:-1]) if len(lines) > 1 else ""

    def poweroff(self, timeout=60):
        self.write("poweroff\n")
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.con.close()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.netns is not None:
            self.netns.destroy()
        try:
            self.con.close()
        except Exception:
            pass
        self.log.close()
