"""What the console attack tests drive: the real Console on pipes, ptys and
a stand-in for QEMU's socket console, with the root shell replaced by a
recorder (an attack that reaches `shell` is seen, and runs nothing).

Only the Console API that the landed code (b35fe79) already had is used
here, so the same tests run against it and show what it let through."""

import io
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import threading
import time

from outpost.runtime.console import Console

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = "# Branch 17\nsip:\n  domain: example.com\n  listen:\n    - transport: udp\n      address: 192.0.2.1\n"
PASSWORD = "branch-17-secret"


class ShellRecorder:
    """Stands in for subprocess.call: `/bin/sh` becomes a fake root shell on
    the console's own line (prompt "outpost# ", reads commands until exit),
    and every call is recorded."""

    def __init__(self):
        self.calls = []
        self.typed = []  # what reached the fake root shell
        self.line = None  # (stdin, stdout) of the console whose shell it is

    def __call__(self, argv, *args, **kwargs):
        self.calls.append(list(argv))
        if argv[:1] == ["/bin/sh"] and self.line is not None:
            stdin, stdout = self.line
            while True:
                stdout.write("outpost# ")
                stdout.flush()
                line = stdin.readline()
                if not line or line.strip() == "exit":
                    return 0
                if line.strip() not in ("", "\x03"):  # a tty turns Ctrl-C into SIGINT, not input
                    self.typed.append(line.strip())
        return 0

    @property
    def shells(self):
        return [c for c in self.calls if c[:1] == ["/bin/sh"]]


def session(tmp_path, lines, passwords=None, **attrs):
    """One in-process session fed `lines`; passwords from `passwords` (or,
    when None, from the same input as a terminal would give them)."""
    if not (tmp_path / "outpost.yaml").exists():
        (tmp_path / "outpost.yaml").write_text(SITE)
    out = io.StringIO()
    kw = {}
    if passwords is not None:
        answers = iter(passwords)

        def ask(prompt):
            for answer in answers:
                return answer
            raise EOFError  # nobody types any more
        kw["ask_password"] = ask
    c = Console(str(tmp_path), str(tmp_path), stdin=io.StringIO("".join(line + "\n" for line in lines)), stdout=out,
                pidfile=str(tmp_path / "none.pid"), **kw)
    for k, v in attrs.items():
        setattr(c, k, v)
    rc = c.run()
    return rc, out.getvalue()


class Chardev:
    """A router's serial line as QEMU's socket chardev (or a console server)
    presents it: one line, on which the console runs one session after
    another (init respawns it), while TCP clients come and go without the
    router seeing them."""

    def __init__(self, site_dir, shell):
        self.site_dir = str(site_dir)
        rx_r, self.rx_w = os.pipe()
        self.tx_r, tx_w = os.pipe()
        self.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(rx_r, "r")), newline=None)
        self.stdout = io.TextIOWrapper(io.FileIO(tx_w, "w"), write_through=True)
        shell.line = (self.stdin, self.stdout)
        self.conn = None
        self.closing = False
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.url = "socket://127.0.0.1:%d" % self.port
        for target in (self._respawn, self._accept, self._transmit):
            threading.Thread(target=target, daemon=True).start()

    def _respawn(self):
        while not self.closing:
            Console(self.site_dir, self.site_dir, stdin=self.stdin, stdout=self.stdout,
                    pidfile=os.path.join(self.site_dir, "none.pid")).run()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conn = conn
            threading.Thread(target=self._receive, args=(conn,), daemon=True).start()

    def _receive(self, conn):
        while True:
            try:
                data = conn.recv(4096)
            except OSError:
                data = b""
            if not data:
                if self.conn is conn:
                    self.conn = None  # the client left; the router is not told
                return
            os.write(self.rx_w, data)

    def _transmit(self):
        while True:
            try:
                data = os.read(self.tx_r, 4096)
            except OSError:
                return
            if not data:
                return
            conn = self.conn
            if conn is not None:
                try:
                    conn.sendall(data)
                except OSError:
                    pass  # output with nobody connected is lost, as in QEMU

    def close(self):
        self.closing = True
        self.sock.close()
        os.close(self.rx_w)  # EOF: the last console session ends


def read_until(fd, marker, timeout=10):
    buf = b""
    deadline = time.time() + timeout
    while marker.encode() not in buf:
        r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
        if not r:
            raise TimeoutError("no %r in %r" % (marker, buf[-400:]))
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")


def spawn_pty(site_dir, *extra):
    """`outpost console` as init runs it: its own session, a pty as its
    controlling terminal. (pid, master fd)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["PYTHONPATH"] = os.path.join(ROOT, "firmware")
        os.execv(sys.executable, [sys.executable, "-m", "outpost", "console", "--site", str(site_dir), "--state", str(site_dir),
                                  "--pidfile", os.path.join(str(site_dir), "none.pid")] + list(extra))
    return pid, fd


def reap(pid, timeout=10):
    """The exit status, or None if it still ran after `timeout` (then killed)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def console_process(site_dir, env=None, **kw):
    """`outpost console` on pipes (a raw serial link without a tty)."""
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "firmware"), **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "outpost", "console", "--site", str(site_dir), "--state", str(site_dir),
                             "--pidfile", os.path.join(str(site_dir), "none.pid")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, **kw)
