"""outpost-console against the real console CLI, over a socket:// link as
pyserial opens QEMU's console (the system tests do it against the image)."""

import os
import socket
import subprocess
import sys
import threading

import pytest

from outpost.hosttool import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = "# Branch 17\nsip:\n  domain: example.com\n  listen:\n    - transport: udp\n      address: 192.0.2.1\n"


class ConsoleServer:
    """A console process per TCP connection, stdin/stdout on the socket."""

    def __init__(self, site_dir):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.site_dir = site_dir
        self.procs = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "firmware"))
            self.procs.append(subprocess.Popen([sys.executable, "-m", "outpost", "console", "--site", self.site_dir, "--state", self.site_dir,
                                                "--pidfile", os.path.join(self.site_dir, "none.pid")],
                                               stdin=conn.fileno(), stdout=conn.fileno(), stderr=subprocess.DEVNULL, env=env))
            conn.close()

    def close(self):
        self.sock.close()
        for p in self.procs:
            p.kill()
            p.wait()


@pytest.fixture
def router(tmp_path):
    (tmp_path / "outpost.yaml").write_text(SITE)
    srv = ConsoleServer(str(tmp_path))
    yield srv, tmp_path
    srv.close()


def tool(srv, tmp_path, *args):
    pw = tmp_path / "pw"
    pw.write_text("branch-17-secret\n")
    return main(["--port", "socket://127.0.0.1:%d" % srv.port, "--password-file", str(pw), "--quiet"] + list(args))


def test_apply_sets_the_first_boot_password_and_commits(router, capsys):
    srv, d = router
    site = d / "new.yaml"
    site.write_text(SITE.replace("domain: example.com", "domain: branch17.example.com") + "registrar:\n  default_expires: 900\n")
    assert tool(srv, d, "apply", str(site)) == 0
    out = capsys.readouterr().out
    assert "+  domain: branch17.example.com" in out and "+  default_expires: 900" in out
    text = (d / "outpost.yaml").read_text()
    assert "branch17.example.com" in text and "password_hash" in text  # first boot happened on the way
    assert tool(srv, d, "show", "config", "registrar.default_expires") == 0
    assert capsys.readouterr().out.strip() == "900"


def test_a_rejected_site_file_changes_nothing(router, capsys):
    srv, d = router
    assert tool(srv, d, "run", "show status") == 0
    before = (d / "outpost.yaml").read_text()
    bad = d / "bad.yaml"
    bad.write_text(SITE.replace("address: 192.0.2.1", "address: 192.0.2.1\n      port: 70000") + "sip2: {}\n")
    assert tool(srv, d, "apply", str(bad)) == 1
    err = capsys.readouterr().err
    assert "sip.listen[0].port: 70000 is not a port (1-65535)" in err and "sip2: unknown key" in err
    assert (d / "outpost.yaml").read_text() == before


def test_wrong_password_and_no_router(router, tmp_path, capsys):
    srv, d = router
    assert tool(srv, d, "get") == 0
    (tmp_path / "pw2").write_text("not-the-password\n")
    assert main(["--port", "socket://127.0.0.1:%d" % srv.port, "--password-file", str(tmp_path / "pw2"), "--quiet", "get"]) == 2
    assert "login incorrect" in capsys.readouterr().err
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    assert main(["--port", "socket://127.0.0.1:%d" % port, "--password-file", str(tmp_path / "pw2"), "--quiet", "get"]) == 2


def test_shell_bridges_to_the_routers_shell_and_back(router, monkeypatch, capsys):
    import io as _io
    srv, d = router
    monkeypatch.setattr(sys, "stdin", _io.StringIO("echo bridged-$((6*7))\nexit\n"))
    assert tool(srv, d, "shell") == 0
    assert "bridged-42" in capsys.readouterr().out
