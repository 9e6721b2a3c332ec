"""Phones call through the booted image: lan and wan namespaces on the
guest's NICs, a fresh router configured with outpost-console over its
serial line, Kamailio as the upstream registrar in wan, sipp phones in
lan, a far phone in wan, real RTP both ways through the guest's kernel,
the pinholes seen in the guest and gone after BYE.

  lan  alice 192.0.2.10, bob 192.0.2.11        guest lan0 192.0.2.1
  wan  Kamailio 203.0.113.10, carol 203.0.113.20  guest wan0 203.0.113.2
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from vm import VM, ROOT

from outpost.hosttool import main as console
from routersite import stop

SCEN = os.path.join(ROOT, "tests", "integration", "scenarios", "relay")
RTP = os.path.join(ROOT, "tests", "integration", "rtp.py")
DOMAIN = "hq.example.com"
ALICE, BOB, KAMAILIO, CAROL, GUEST_WAN = "192.0.2.10", "192.0.2.11", "203.0.113.10", "203.0.113.20", "203.0.113.2"

SITE = """\
# Branch 17: phones register with HQ (Kamailio) through this router.
interfaces:
  lan0: {mac: "52:54:00:4f:50:01", method: static, address: 192.0.2.1/24}
  wan0: {mac: "52:54:00:4f:50:02", method: dhcp}
sip:
  domain: hq.example.com
  listen:
    - {transport: udp, address: 0.0.0.0, port: 5060}
upstream: {host: 203.0.113.10}
media: {idle_timeout_s: 30}
state: {dir: /data/state, write_delay_ms: 200}
log: {level: info, syslog: true}
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


class Far:
    """Processes in the test's namespaces, killed by PID at the end."""

    def __init__(self, vm, work):
        self.vm, self.work, self.procs = vm, str(work), []

    def popen(self, ns, cmd, name, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, stdout=open(os.path.join(self.work, name + ".out"), "wb"),
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.work, start_new_session=True, **kw)
        p.name = name
        self.procs.append(p)
        return p

    def sipp(self, ns, ip, scenario, target, *args, port=5060, name="sipp"):
        cmd = ["sipp"] + ([target] if target else []) + ["-sf", os.path.join(SCEN, scenario), "-i", ip, "-p", str(port), "-m", "1",
                                                         "-key", "domain", DOMAIN, "-auth_uri", DOMAIN, "-timeout", "60", "-timeout_error",
                                                         "-nostdin", "-trace_err", "-error_file", os.path.join(self.work, name + "_err.log")]
        return self.popen(ns, cmd + list(args), name)

    def done(self, p, timeout=90):
        rc = p.wait(timeout)
        if rc != 0:
            raise AssertionError("%s exited %d:\n%s" % (p.name, rc, open(os.path.join(self.work, p.name + ".out")).read()[-2500:]))

    def close(self):
        for p in self.procs:
            stop(p)  # SIGTERM, then its whole group: Kamailio's workers outlive a killed main


def test_two_phones_register_upstream_and_a_call_crosses_the_router_with_rtp(tmp_path, capsys):
    vm = VM(tmp_path, netns=True).boot(login=False)
    ns = vm.netns
    far = Far(vm, tmp_path)
    pw = tmp_path / "pw"
    pw.write_text("branch-17-console\n")
    port = ["--port", "socket://127.0.0.1:%d" % vm.port, "--password-file", str(pw), "--quiet"]
    try:
        ns.ip("-n", ns.lan, "addr", "add", BOB + "/24", "dev", ns.lan_tap)
        ns.ip("-n", ns.wan, "addr", "add", CAROL + "/24", "dev", ns.wan_tap)
        with open(os.path.join(ROOT, "tests", "integration", "kamailio", "upstream.cfg")) as f:
            cfg = f.read().replace("@DOMAIN@", DOMAIN).replace("@ADDRESS@", KAMAILIO).replace("@CTL@", str(tmp_path / "kam.ctl"))
        (tmp_path / "kamailio.cfg").write_text(cfg)
        far.popen(ns.wan, ["kamailio", "-f", str(tmp_path / "kamailio.cfg"), "-DD", "-E", "-m", "32", "-M", "4", "-w", str(tmp_path)], "kamailio")
        # The admin's one command: a fresh router becomes the site's ALG.
        site = tmp_path / "site.yaml"
        site.write_text(SITE)
        assert console(port + ["apply", str(site)]) == 0, capsys.readouterr()
        capsys.readouterr()
        time.sleep(1)
        for user, ip in (("alice", ALICE), ("bob", BOB)):
            far.done(far.sipp(ns.lan, ip, "register.xml", "192.0.2.1:5060", "-key", "user", user, "-key", "contact_port", "5080",
                              "-au", user, "-ap", user + "-secret", port=5070, name="reg_" + user))
        far.done(far.sipp(ns.wan, CAROL, "register.xml", KAMAILIO + ":5060", "-key", "user", "carol", "-key", "contact_port", "5060",
                          "-au", "carol", "-ap", "carol-secret", port=5070, name="reg_carol"))
        assert console(port + ["show", "registrations"]) == 0
        regs = capsys.readouterr().out
        assert "sip:alice@hq.example.com" in regs and "sip:bob@hq.example.com" in regs, regs

        carol = far.sipp(ns.wan, CAROL, "uas_answer.xml", None, "-key", "rtp_port", "8078", name="carol")
        time.sleep(0.5)
        # Alice hangs up after 40 s. Until then this test makes two or three
        # console round trips (each a fresh login on an emulated CPU: 4 s
        # here, more on a loaded CI machine) and 3 s of RTP; at 15 s a slow
        # run met the BYE halfway. sipp's -timeout 60 still bounds the call.
        alice = far.sipp(ns.lan, ALICE, "uac_call.xml", "192.0.2.1:5060", "-key", "user", "alice", "-s", "carol",
                         "-key", "rtp_port", "7078", "-au", "alice", "-ap", "alice-secret", "-d", "40000", port=5090, name="alice")
        wan_port = None
        deadline = time.time() + 20
        while wan_port is None and time.time() < deadline:
            assert console(port + ["show", "calls"]) == 0
            calls = capsys.readouterr().out
            m = re.search(r"192\.0\.2\.10:7078\s+(\d+)\s+203\.0\.113\.20:8078\s+both", calls)
            wan_port = int(m.group(1)) if m else None
        assert wan_port, calls
        assert console(port + ["show", "pinholes"]) == 0
        holes = capsys.readouterr().out
        assert str(wan_port) in holes and "192.0.2.10:7078" in holes and str(wan_port + 1) in holes, holes
        a = far.popen(ns.lan, [sys.executable, RTP, ALICE, "7078", CAROL, "8078", "3"], "rtp_alice")
        time.sleep(0.1)
        c = far.popen(ns.wan, [sys.executable, RTP, CAROL, "8078", GUEST_WAN, str(wan_port), "3"], "rtp_carol")
        a.wait(30), c.wait(30)
        got_alice = json.loads(open(tmp_path / "rtp_alice.out").read())["received"]
        got_carol = json.loads(open(tmp_path / "rtp_carol.out").read())["received"]
        assert got_alice.get("%s:8078" % CAROL, 0) > 75 and got_carol.get("%s:%d" % (GUEST_WAN, wan_port), 0) > 75, (got_alice, got_carol)
        far.done(alice)
        far.done(carol)
        deadline = time.time() + 10
        while True:
            assert console(port + ["show", "pinholes"]) == 0
            holes = capsys.readouterr().out
            if holes.strip() == "no pinholes" or time.time() > deadline:
                break
            time.sleep(0.5)
        assert holes.strip() == "no pinholes", holes
    finally:
        far.close()
        vm.kill()
