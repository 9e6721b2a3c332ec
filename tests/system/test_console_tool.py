"""outpost-console against the booted image's serial console, as an admin
would run it from a laptop: a fresh router configured by one command."""

import time

from vm import VM, free_port
from harness import Sipp, PASSWORDS, users

from outpost.hosttool import main as console

SITE = """\
# Test branch: phones register here, MD5 only (sipp answers nothing else).
sip:
  domain: example.com
  listen:
    - {transport: udp, address: 0.0.0.0, port: 5060}
  advertise: 192.0.2.1
auth:
  algorithms: [MD5]
users:
%s
state:
  dir: /data/state
  write_delay_ms: 200
log:
  level: info
  syslog: true
"""


def site_file(tmp_path):
    u = users(("MD5",))
    body = "".join('  %s:\n    ha1:\n      MD5: "%s"\n' % (name, u[name]["ha1"]["MD5"]) for name in sorted(u))
    path = tmp_path / "site.yaml"
    path.write_text(SITE % body.rstrip("\n"))
    return path


def test_outpost_console_configures_a_fresh_router(tmp_path, capsys):
    sip_port = free_port()
    vm = VM(tmp_path, hostfwd=["udp:127.0.0.1:%d-:5060" % sip_port]).boot(login=False)
    pw = tmp_path / "pw"
    pw.write_text("laptop-console-pw\n")
    port = ["--port", "socket://127.0.0.1:%d" % vm.port, "--password-file", str(pw), "--quiet"]
    try:
        assert console(port + ["apply", str(site_file(tmp_path))]) == 0
        assert "+  domain: example.com" in capsys.readouterr().out
        # The daemon took the change without a reboot: sipp registers with digest.
        # -auth_uri: sipp signs the address it sends to (here QEMU's port
        # forward on 127.0.0.1), not the Request-URI as phones do; the router
        # takes a digest uri that is the Request-URI, itself or its domain.
        reg = Sipp(sip_port, tmp_path, "register.xml", "-key", "user", "alice", "-key", "contact_port", "5999",
                   "-au", "alice", "-ap", PASSWORDS["alice"], "-auth_uri", "example.com", name="reg_alice")
        assert reg.wait(60) == 0, reg.errors()
        deadline = time.time() + 20
        while True:
            assert console(port + ["show", "registrations"]) == 0
            out = capsys.readouterr().out
            if "sip:alice@example.com" in out or time.time() > deadline:
                break
            time.sleep(1)
        assert "sip:alice@example.com" in out
        assert console(port + ["show", "pinholes"]) == 0
        assert capsys.readouterr().out.strip() == "no pinholes"
        assert console(port + ["run", "log 50"]) == 0
        assert "registered sip:alice@example.com" in capsys.readouterr().out  # the daemon's syslog line
        # A broken site file is refused whole; the router keeps what it had.
        bad = tmp_path / "bad.yaml"
        bad.write_text(site_file(tmp_path).read_text().replace("port: 5060", "port: 0"))
        assert console(port + ["apply", str(bad)]) == 1
        assert "sip.listen[0].port: 0 is not a port (1-65535)" in capsys.readouterr().err
        assert console(port + ["show", "config", "sip.listen[0].port"]) == 0
        assert capsys.readouterr().out.strip() == "5060"
    finally:
        vm.kill()
    # A power cut (QEMU killed), then a boot from the same data disk.
    again = VM(tmp_path, data=vm.data).boot(login=False)
    try:
        assert console(port[:1] + ["socket://127.0.0.1:%d" % again.port] + port[2:] + ["get"]) == 0
        text = capsys.readouterr().out
        assert "domain: example.com" in text and "# Test branch" in text
    finally:
        again.kill()
