"""The router as ALG between real phones and a real upstream server.

One site for the module, made here and removed afterwards:
  lan  sipp phones: alice 192.0.2.10
  rtr  outpost (relaying to upstream), the image's nftables ruleset
  wan  Kamailio 203.0.113.10 (registrar and proxy for hq.example.com,
       digest auth), bob's sipp phone 203.0.113.20, and tshark on eth0
Media is real RTP (tests/integration/rtp.py) through the kernel's NAT.
Every process is killed by PID; the namespaces are deleted.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from netns import ROUTER_WAN, Topology, sh

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCEN = os.path.join(HERE, "scenarios", "relay")
DOMAIN = "hq.example.com"
ALICE, KAMAILIO, BOB = "192.0.2.10", "203.0.113.10", "203.0.113.20"
ALICE_RTP, ALICE_RTP2, BOB_RTP = 7078, 7080, 8078
IDLE_S = 10  # media.idle_timeout_s: what a kill -9 leaves lives this long

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


def ns_popen(ns, cmd, log, **kw):
    return subprocess.Popen(["ip", "netns", "exec", ns] + cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)


def stop(proc, sig=signal.SIGTERM):
    if proc is not None and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Site:
    def __init__(self, work):
        self.work = str(work)
        self.topo = Topology("a", lan_hosts=(ALICE,), wan_hosts=(KAMAILIO, BOB)).up()
        self.procs = []
        self.outpost = None

    # -- processes -------------------------------------------------------------------

    def start_capture(self):
        self.pcap = os.path.join(self.work, "wan.pcap")
        log = open(os.path.join(self.work, "tshark.log"), "wb")
        p = ns_popen(self.topo.wan, ["tshark", "-q", "-i", "eth0", "-w", self.pcap, "-f", "udp"], log)
        self.procs.append(p)
        self.capture = p
        deadline = time.time() + 15
        while time.time() < deadline and b"Capturing on" not in open(log.name, "rb").read():
            time.sleep(0.1)

    def start_kamailio(self):
        with open(os.path.join(HERE, "kamailio", "upstream.cfg")) as f:
            text = f.read().replace("@DOMAIN@", DOMAIN).replace("@ADDRESS@", KAMAILIO)
        self.ctl = os.path.join(self.work, "kamailio.ctl")
        text = text.replace("@CTL@", self.ctl)
        path = os.path.join(self.work, "kamailio.cfg")
        with open(path, "w") as f:
            f.write(text)
        self.kamailio_log = os.path.join(self.work, "kamailio.log")
        p = ns_popen(self.topo.wan, ["kamailio", "-f", path, "-DD", "-E", "-m", "32", "-M", "4", "-w", self.work],
                     open(self.kamailio_log, "wb"))
        self.procs.append(p)
        deadline = time.time() + 10
        while time.time() < deadline and not os.path.exists(self.ctl):
            assert p.poll() is None, open(self.kamailio_log).read()[-2000:]
            time.sleep(0.1)

    def start_outpost(self):
        cfg = {
            "interfaces": {"lan0": {"mac": "52:54:00:4f:50:01", "address": "192.0.2.1/24"},
                           "wan0": {"mac": "52:54:00:4f:50:02", "address": ROUTER_WAN + "/24"}},
            "sip": {"domain": DOMAIN, "listen": [{"transport": "udp", "address": "0.0.0.0", "port": 5060}]},
            "upstream": {"host": KAMAILIO},
            "media": {"idle_timeout_s": IDLE_S},
            "state": {"dir": os.path.join(self.work, "state"), "write_delay_ms": 200,
                      "status_file": os.path.join(self.work, "status.json")},
            "log": {"level": "debug"},
        }
        self.config_path = os.path.join(self.work, "outpost.json")
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)
        self.outpost_log = os.path.join(self.work, "outpost.log")
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "firmware"))
        self.outpost = ns_popen(self.topo.rtr, [sys.executable, "-m", "outpost", "run", "--config", self.config_path],
                                open(self.outpost_log, "ab"), env=env)
        assert self.wait_log("listening on udp"), self.log()

    def log(self):
        with open(self.outpost_log, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    def close(self):
        stop(self.outpost)
        for p in self.procs:
            stop(p)
        self.topo.down()

    # -- phones ------------------------------------------------------------------------

    def sipp(self, ns, ip, scenario, target, *args, port=5060, name="sipp", timeout=40):
        cmd = ["sipp"] + ([target] if target else []) + ["-sf", os.path.join(SCEN, scenario), "-i", ip, "-p", str(port), "-m", "1",
               "-key", "domain", DOMAIN, "-timeout", str(timeout), "-timeout_error", "-nostdin",
               "-trace_err", "-error_file", os.path.join(self.work, name + "_errors.log"),
               # The digest uri a phone sends: its Request-URI's domain (sipp's
               # default is the address it sends to, here the router's LAN one).
               "-auth_uri", DOMAIN] + list(args)
        out = open(os.path.join(self.work, name + ".out"), "wb")
        p = ns_popen(ns, cmd, out, cwd=self.work)
        p.name = name
        self.procs.append(p)
        return p

    def done(self, p, timeout=60):
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            stop(p, signal.SIGKILL)
            rc = None
        if rc != 0:
            texts = []
            for suffix in ("_errors.log", ".out"):
                try:
                    texts.append(open(os.path.join(self.work, p.name + suffix), "rb").read().decode(errors="replace")[-2500:])
                except OSError:
                    pass
            raise AssertionError("%s exited %r:\n%s\n--- outpost:\n%s" % (p.name, rc, "\n".join(texts), self.log()[-3000:]))

    def register_alice(self, contact_port):
        p = self.sipp(self.topo.lan, ALICE, "register.xml", "192.0.2.1:5060", "-key", "user", "alice", "-key", "contact_port",
                      str(contact_port), "-au", "alice", "-ap", "alice-secret", port=5070, name="reg_alice")
        self.done(p)

    def register_bob(self):
        p = self.sipp(self.topo.wan, BOB, "register.xml", KAMAILIO + ":5060", "-key", "user", "bob", "-key", "contact_port", "5060",
                      "-au", "bob", "-ap", "bob-secret", port=5070, name="reg_bob")
        self.done(p)

    def rtp(self, seconds=2.0, alice_port=ALICE_RTP, wan_port=None):
        """RTP both ways at once: alice to bob's SDP address, bob to the
        router's WAN media port. Returns (what alice got, what bob got)."""
        if wan_port is None:
            wan_port = self.wan_port(alice_port)
        cmd = [sys.executable, os.path.join(HERE, "rtp.py")]
        # Bob starts 100 ms later, as a far end does (a round trip away).
        # Two first packets crossing the router within microseconds of each
        # other make conntrack's NAT clash, and the kernel then gives the
        # later flow a new source port: real, but not what this checks.
        a = subprocess.Popen(["ip", "netns", "exec", self.topo.lan] + cmd + [ALICE, str(alice_port), BOB, str(BOB_RTP), str(seconds)],
                             stdout=subprocess.PIPE, text=True)
        time.sleep(0.1)
        b = subprocess.Popen(["ip", "netns", "exec", self.topo.wan] + cmd + [BOB, str(BOB_RTP), ROUTER_WAN, str(wan_port), str(seconds)],
                             stdout=subprocess.PIPE, text=True)
        ra, rb = json.loads(a.communicate(timeout=30)[0]), json.loads(b.communicate(timeout=30)[0])
        return ra["received"], rb["received"]

    # -- the router's nftables ----------------------------------------------------------

    def tuples(self):
        """What nft holds, as comparable tuples."""
        def val(e):
            return e["elem"]["val"] if isinstance(e, dict) and "elem" in e else e

        def concat(v):
            return tuple(v["concat"]) if isinstance(v, dict) and "concat" in v else v

        out = {}
        for kind, name in (("map", "media_dnat"), ("map", "media_snat"), ("set", "media_in"), ("set", "media_out")):
            items = set()
            for e in self.topo.elements(kind, name):
                if isinstance(e, list):  # map: [key, value]
                    items.add((concat(val(e[0])), concat(e[1])))
                else:
                    items.add(concat(val(e)))
            out[name] = items
        return out

    def wan_port(self, phone_port, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for key, value in self.tuples()["media_dnat"]:
                if value == (ALICE, phone_port) and key % 2 == 0:
                    return key
            time.sleep(0.1)
        raise AssertionError("no pinhole for %s:%d: %r\n%s" % (ALICE, phone_port, self.tuples(), self.log()[-3000:]))

    def wait_no_pinholes(self, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            t = self.tuples()
            if not any(t.values()):
                return True
            time.sleep(0.1)
        return False


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("alg"))
    try:
        s.start_capture()
        s.start_kamailio()
        s.start_outpost()
        yield s
    finally:
        s.close()


def test_phone_registers_upstream_through_the_router(site):
    site.register_alice(5080)
    site.register_bob()
    assert site.wait_log("registered sip:alice@%s at sip:alice@%s:5080" % (DOMAIN, ALICE))
    # Upstream holds alice at the router's WAN address, never at her LAN one.
    out = sh("ip", "netns", "exec", site.topo.wan, "kamcmd", "-s", "unix:" + site.ctl, "ul.lookup", "location",
             "alice@" + DOMAIN).stdout
    assert "sip:alice@%s:5060;oc=" % ROUTER_WAN in out and ALICE not in out, out


def test_outgoing_call_carries_rtp_both_ways_through_exact_pinholes(site):
    bob = site.sipp(site.topo.wan, BOB, "uas_answer.xml", None, "-key", "rtp_port", str(BOB_RTP), name="bob_uas")
    time.sleep(0.5)
    alice = site.sipp(site.topo.lan, ALICE, "uac_call.xml", "192.0.2.1:5060", "-key", "user", "alice", "-s", "bob",
                      "-key", "rtp_port", str(ALICE_RTP), "-au", "alice", "-ap", "alice-secret", "-d", "6000", port=5090, name="alice_uac")
    wan = site.wan_port(ALICE_RTP)
    t = site.tuples()
    # Exactly the negotiated RTP and RTCP tuples, nothing else.
    assert t["media_dnat"] == {(wan, (ALICE, ALICE_RTP)), (wan + 1, (ALICE, ALICE_RTP + 1))}
    assert t["media_snat"] == {((ALICE, ALICE_RTP), (ROUTER_WAN, wan)), ((ALICE, ALICE_RTP + 1), (ROUTER_WAN, wan + 1))}
    assert t["media_in"] == t["media_out"] == {(BOB, BOB_RTP, ALICE, ALICE_RTP), (BOB, BOB_RTP + 1, ALICE, ALICE_RTP + 1)}
    got_alice, got_bob = site.rtp(2.0, wan_port=wan)
    assert got_alice.get("%s:%d" % (BOB, BOB_RTP), 0) > 50, got_alice
    assert got_bob.get("%s:%d" % (ROUTER_WAN, wan), 0) > 50, got_bob  # alice's media, from the router's WAN port
    # A port the SDP did not name is closed.
    got_alice, _ = site.rtp(1.0, wan_port=wan + 2)
    assert got_alice == {}, got_alice
    site.done(alice)
    site.done(bob)
    assert site.wait_no_pinholes(), site.tuples()
    got_alice, got_bob = site.rtp(1.0, wan_port=wan)
    assert got_alice == {} and got_bob == {}, (got_alice, got_bob)


def test_incoming_call_reaches_the_phone_and_media_flows(site):
    alice = site.sipp(site.topo.lan, ALICE, "uas_answer.xml", None, "-key", "rtp_port", str(ALICE_RTP), port=5080, name="alice_uas")
    time.sleep(0.5)
    bob = site.sipp(site.topo.wan, BOB, "uac_call.xml", KAMAILIO + ":5060", "-key", "user", "bob", "-s", "alice",
                    "-key", "rtp_port", str(BOB_RTP), "-au", "bob", "-ap", "bob-secret", "-d", "5000", port=5090, name="bob_uac")
    wan = site.wan_port(ALICE_RTP)
    assert site.tuples()["media_in"] == {(BOB, BOB_RTP, ALICE, ALICE_RTP), (BOB, BOB_RTP + 1, ALICE, ALICE_RTP + 1)}
    got_alice, got_bob = site.rtp(2.0, wan_port=wan)
    assert got_alice.get("%s:%d" % (BOB, BOB_RTP), 0) > 50 and got_bob.get("%s:%d" % (ROUTER_WAN, wan), 0) > 50, (got_alice, got_bob)
    site.done(bob)
    site.done(alice)
    assert site.wait_no_pinholes(), site.tuples()


def test_reinvite_moves_the_pinhole_and_hold_closes_inbound_media(site):
    bob = site.sipp(site.topo.wan, BOB, "uas_answer.xml", None, "-key", "rtp_port", str(BOB_RTP), name="bob_uas2")
    time.sleep(0.5)
    alice = site.sipp(site.topo.lan, ALICE, "uac_reinvite.xml", "192.0.2.1:5060", "-key", "user", "alice", "-s", "bob",
                      "-key", "rtp_port", str(ALICE_RTP), "-key", "rtp_port2", str(ALICE_RTP2), "-au", "alice", "-ap", "alice-secret",
                      port=5090, name="alice_reinvite")
    wan = site.wan_port(ALICE_RTP)
    # The re-INVITE moves the phone to another port: same WAN port, new tuple.
    assert site.wan_port(ALICE_RTP2, timeout=8) == wan
    t = site.tuples()
    assert t["media_in"] == {(BOB, BOB_RTP, ALICE, ALICE_RTP2), (BOB, BOB_RTP + 1, ALICE, ALICE_RTP2 + 1)}, t
    assert all(v[0] != (ALICE, ALICE_RTP) for v in t["media_snat"]), t
    # Then alice holds (sendonly): nothing may come in, her stream still goes out.
    deadline = time.time() + 8
    while time.time() < deadline and (BOB, BOB_RTP, ALICE, ALICE_RTP2) in site.tuples()["media_in"]:
        time.sleep(0.1)
    t = site.tuples()
    assert (BOB, BOB_RTP, ALICE, ALICE_RTP2) not in t["media_in"] and (BOB, BOB_RTP, ALICE, ALICE_RTP2) in t["media_out"], t
    got_alice, got_bob = site.rtp(1.0, alice_port=ALICE_RTP2, wan_port=wan)
    assert got_alice == {} and got_bob.get("%s:%d" % (ROUTER_WAN, wan), 0) > 20, (got_alice, got_bob)
    site.done(alice)
    site.done(bob)
    assert site.wait_no_pinholes(), site.tuples()


def test_early_media_opens_on_183_and_cancel_closes(site):
    bob = site.sipp(site.topo.wan, BOB, "uas_early.xml", None, "-key", "rtp_port", str(BOB_RTP), name="bob_early")
    time.sleep(0.5)
    alice = site.sipp(site.topo.lan, ALICE, "uac_cancel.xml", "192.0.2.1:5060", "-key", "user", "alice", "-s", "bob",
                      "-key", "rtp_port", str(ALICE_RTP), "-au", "alice", "-ap", "alice-secret", port=5090, name="alice_cancel")
    wan = site.wan_port(ALICE_RTP)
    got_alice, _ = site.rtp(1.0, wan_port=wan)
    assert got_alice.get("%s:%d" % (BOB, BOB_RTP), 0) > 20, got_alice  # the ringback tone reaches the phone
    site.done(alice)
    site.done(bob)
    assert site.wait_no_pinholes(), site.tuples()


def test_a_busy_answer_after_early_media_closes_the_pinholes(site):
    bob = site.sipp(site.topo.wan, BOB, "uas_early_busy.xml", None, "-key", "rtp_port", str(BOB_RTP), name="bob_busy")
    time.sleep(0.5)
    alice = site.sipp(site.topo.lan, ALICE, "uac_busy.xml", "192.0.2.1:5060", "-key", "user", "alice", "-s", "bob",
                      "-key", "rtp_port", str(ALICE_RTP), "-au", "alice", "-ap", "alice-secret", port=5090, name="alice_busy")
    site.wan_port(ALICE_RTP)
    site.done(alice)
    site.done(bob)
    assert site.wait_no_pinholes(), site.tuples()


def test_no_lan_address_leaves_on_the_wan(site):
    """Everything SIP that crossed wan0 in the tests above, as tshark saw it."""
    stop(site.capture, signal.SIGINT)
    out = sh("tshark", "-r", site.pcap, "-Y", "udp.port == 5060", "-T", "fields", "-e", "ip.src", "-e", "udp.payload").stdout
    seen = 0
    for line in out.splitlines():
        src, _, payload = line.partition("\t")
        data = bytes.fromhex(payload.replace(":", ""))
        seen += 1
        assert b"192.0.2." not in data, (src, data.decode(errors="replace"))
    assert seen > 40  # registrations and five calls


def test_pinholes_of_a_killed_daemon_expire_by_themselves(site):
    bob = site.sipp(site.topo.wan, BOB, "uas_answer.xml", None, "-key", "rtp_port", str(BOB_RTP), name="bob_uas3")
    time.sleep(0.5)
    alice = site.sipp(site.topo.lan, ALICE, "uac_call.xml", "192.0.2.1:5060", "-key", "user", "alice", "-s", "bob",
                      "-key", "rtp_port", str(ALICE_RTP), "-au", "alice", "-ap", "alice-secret", "-d", "30000", port=5090, name="alice_long")
    site.wan_port(ALICE_RTP)
    stop(site.outpost, signal.SIGKILL)
    killed = time.time()
    assert any(site.tuples().values())
    assert site.wait_no_pinholes(IDLE_S + 3), site.tuples()
    assert time.time() - killed <= IDLE_S + 3
    stop(alice, signal.SIGKILL)
    stop(bob, signal.SIGKILL)
