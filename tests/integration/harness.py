"""Integration-test plumbing: a real outpost daemon on loopback and real sipp.

Everything binds to 127.0.0.1 on ports the kernel picks for us; every
process is started here and killed here, by PID.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = os.path.join(ROOT, "tests", "integration", "scenarios")
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from outpost.core import digest  # noqa: E402

PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()


def users(algorithms=("SHA-256", "MD5"), realm="example.com"):
    return {u: {"ha1": {a: digest.ha1(a, u, realm, p) for a in algorithms}} for u, p in PASSWORDS.items()}


class Daemon:
    def __init__(self, workdir, algorithms=("SHA-256", "MD5"), **overrides):
        self.port = free_port()
        self.workdir = str(workdir)
        self.config_path = os.path.join(self.workdir, "outpost.json")
        cfg = {
            "sip": {"domain": "example.com", "listen": [
                {"transport": "udp", "address": "127.0.0.1", "port": self.port},
                {"transport": "tcp", "address": "127.0.0.1", "port": self.port}]},
            "auth": {"algorithms": list(algorithms)},
            "users": users(algorithms),
            "state": {"dir": os.path.join(self.workdir, "state"), "write_delay_ms": 200},
            "log": {"level": "debug"},
        }
        for k, v in overrides.items():
            cfg.setdefault(k, {}).update(v)
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)
        self.log_path = os.path.join(self.workdir, "outpost.log")
        self.proc = None

    def start(self):
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "firmware"))
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "outpost", "run", "--config", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.wait_ready()
        return self

    def wait_ready(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("outpost exited: " + self.read_log())
            if self.options() == 200:
                return
            time.sleep(0.05)
        raise RuntimeError("outpost did not answer OPTIONS: " + self.read_log())

    def options(self, timeout=0.3):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        try:
            s.bind(("127.0.0.1", 0))
            lp = s.getsockname()[1]
            branch = "z9hG4bK%x" % int(time.time() * 1e6)
            s.sendto(("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\nMax-Forwards: 70\r\n"
                      "From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                      % (self.port, lp, branch, branch)).encode(), ("127.0.0.1", self.port))
            data = s.recv(65535)
            return int(data.split(b" ", 2)[1])
        except (OSError, ValueError, IndexError):
            return None
        finally:
            s.close()

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=5):
        """True once `text` is in the log: the daemon answers first and logs
        right after, so a reply can arrive before its log line."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.read_log():
                return True
            time.sleep(0.05)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def kill9(self):
        self.stop(signal.SIGKILL)

    def bindings_file(self):
        try:
            with open(os.path.join(self.workdir, "state", "bindings.json")) as f:
                return json.load(f).get("bindings", [])
        except (OSError, ValueError):
            return []


class Sipp:
    """One sipp process against the daemon (a Daemon, or just the port it
    answers on); `wait()` returns its exit code (0: every call succeeded)."""

    def __init__(self, daemon, workdir, scenario, *args, port=None, transport="u1", calls=1, name="sipp", timeout=60):
        self.port = port or free_port()
        self.name = name
        self.workdir = str(workdir)
        sf = ["-sn", scenario] if scenario in ("uac", "uas") else ["-sf", os.path.join(SCENARIOS, scenario)]  # an absolute path stays
        port = daemon if isinstance(daemon, int) else daemon.port
        target = [] if scenario == "uas" or (args and "-no_target" in args) else ["127.0.0.1:%d" % port]
        args = [a for a in args if a != "-no_target"]
        cmd = ["sipp"] + target + sf + ["-i", "127.0.0.1", "-p", str(self.port), "-t", transport, "-m", str(calls),
                                         "-timeout", str(timeout), "-timeout_error", "-nostdin", "-trace_err", "-trace_screen",
                                         "-error_file", os.path.join(self.workdir, name + "_errors.log"),
                                         "-screen_file", os.path.join(self.workdir, name + "_screen.log")] + list(args)
        self.out = open(os.path.join(self.workdir, name + ".out"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir)

    def wait(self, timeout=90):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        finally:
            self.out.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def errors(self):
        out = []
        for suffix in ("_errors.log", ".out"):
            try:
                with open(os.path.join(self.workdir, self.name + suffix), "rb") as f:
                    out.append(f.read().decode(errors="replace")[-3000:])
            except OSError:
                pass
        return "\n".join(out)


def register(daemon, workdir, user, contact_port, transport="u1", name=None):
    s = Sipp(daemon, workdir, "register.xml", "-key", "user", user, "-key", "contact_port", str(contact_port),
             "-au", user, "-ap", PASSWORDS[user], transport=transport, name=name or "reg_" + user)
    rc = s.wait(30)
    assert rc == 0, s.errors()
