"""A branch site in three namespaces for the router tests: outpost in
`rtr` (relaying to upstream, the image's nftables ruleset), sipp phones in
`lan`, Kamailio (the upstream registrar and proxy, digest auth) and far
phones in `wan`, tshark on the WAN link. Every process is started here
and killed here, by PID; the namespaces are deleted.
"""

import json
import os
import signal
import subprocess
import sys
import time

from netns import ROUTER_WAN, Topology, sh

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCEN = os.path.join(HERE, "scenarios", "relay")
DOMAIN = "hq.example.com"
ALICE, KAMAILIO, BOB = "192.0.2.10", "203.0.113.10", "203.0.113.20"
ALICE_RTP, ALICE_RTP2, BOB_RTP = 7078, 7080, 8078


def ns_popen(ns, cmd, log, **kw):
    """A process in a namespace, leading its own process group: stop() ends
    it and whatever it forked (Kamailio's workers outlive a killed main)."""
    return subprocess.Popen(["ip", "netns", "exec", ns] + cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, **kw)


def stop(proc, sig=signal.SIGTERM):
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its group (our pid by start_new_session): no orphaned worker stays
    except OSError:
        pass


class Site:
    def __init__(self, work, prefix="a", lan_hosts=(ALICE,), wan_hosts=(KAMAILIO, BOB), **cfg):
        self.work = str(work)
        self.topo = Topology(prefix, lan_hosts=lan_hosts, wan_hosts=wan_hosts).up()
        self.procs = []
        self.outpost = None
        self.kamailio = None
        self.extra_cfg = cfg

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
        if os.path.exists(self.ctl):
            os.unlink(self.ctl)
        p = ns_popen(self.topo.wan, ["kamailio", "-f", path, "-DD", "-E", "-m", "32", "-M", "4", "-w", self.work],
                     open(self.kamailio_log, "ab"))
        self.procs.append(p)
        self.kamailio = p
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
            "media": {"idle_timeout_s": 10},
            "state": {"dir": os.path.join(self.work, "state"), "write_delay_ms": 200,
                      "status_file": os.path.join(self.work, "status.json")},
            "log": {"level": "debug"},
        }
        for k, v in self.extra_cfg.items():
            cfg.setdefault(k, {}).update(v)
        self.config_path = os.path.join(self.work, "outpost.json")
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)
        self.outpost_log = os.path.join(self.work, "outpost.log")
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "firmware"))
        self.outpost = ns_popen(self.topo.rtr, [sys.executable, "-m", "outpost", "run", "--config", self.config_path],
                                open(self.outpost_log, "ab"), env=env)
        assert self.wait_log("listening on udp"), self.log()

    def status(self):
        try:
            with open(os.path.join(self.work, "status.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def kamailio_has(self, user):
        out = sh("ip", "netns", "exec", self.topo.wan, "kamcmd", "-s", "unix:" + self.ctl, "ul.lookup", "location",
                 "%s@%s" % (user, DOMAIN), check=False).stdout
        return "sip:%s@%s:5060;oc=" % (user, ROUTER_WAN) in out

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

    def _phone(self, ip):
        """A phone's namespace and where it sends: LAN phones through the
        router, WAN phones to Kamailio."""
        if ip.startswith("192.0.2."):
            return self.topo.lan, "192.0.2.1:5060"
        return self.topo.wan, KAMAILIO + ":5060"

    def register(self, user, ip, contact_port=5080, name=None):
        """user registers (password user-secret) and the test waits for it."""
        ns, target = self._phone(ip)
        self.done(self.sipp(ns, ip, "register.xml", target, "-key", "user", user, "-key", "contact_port", str(contact_port),
                            "-au", user, "-ap", user + "-secret", port=5070, name=name or "reg_%s_%d" % (user, time.time() * 1000)))

    def call(self, user, ip, callee, rtp_port, name, scenario="uac_call.xml", port=5090, extra=()):
        """user at ip calls callee (a sipp UAC, running): media on rtp_port."""
        ns, target = self._phone(ip)
        return self.sipp(ns, ip, scenario, target, "-key", "user", user, "-s", callee, "-key", "rtp_port", str(rtp_port),
                         "-au", user, "-ap", user + "-secret", *extra, port=port, name=name)

    def answer(self, ip, rtp_port, name, scenario="uas_answer.xml", port=5060, extra=()):
        """A phone at ip that answers (a sipp UAS, running): media on rtp_port."""
        return self.sipp(self._phone(ip)[0], ip, scenario, None, "-key", "rtp_port", str(rtp_port), *extra, port=port, name=name)

    def rtp_start(self, seconds, lan=(ALICE, ALICE_RTP), far=(BOB, BOB_RTP), wan_port=None):
        """RTP both ways: the phone to the far end's SDP address, the far end
        to the router's WAN media port. Returns the two processes."""
        if wan_port is None:
            wan_port = self.wan_port(lan[1], phone=lan[0])
        cmd = [sys.executable, os.path.join(HERE, "rtp.py")]
        # The far end starts 100 ms later, as a far end does (a round trip
        # away). Two first packets crossing the router within microseconds
        # of each other make conntrack's NAT clash, and the kernel then
        # gives the later flow a new source port: real, but not what this checks.
        a = subprocess.Popen(["ip", "netns", "exec", self.topo.lan] + cmd + [lan[0], str(lan[1]), far[0], str(far[1]), str(seconds)],
                             stdout=subprocess.PIPE, text=True)
        time.sleep(0.1)
        b = subprocess.Popen(["ip", "netns", "exec", self.topo.wan] + cmd + [far[0], str(far[1]), ROUTER_WAN, str(wan_port), str(seconds)],
                             stdout=subprocess.PIPE, text=True)
        return a, b

    @staticmethod
    def rtp_result(procs, timeout=60):
        return [json.loads(p.communicate(timeout=timeout)[0]) for p in procs]

    def rtp(self, seconds=2.0, alice_port=ALICE_RTP, wan_port=None):
        """RTP both ways at once; (what alice got, what bob got) by source."""
        ra, rb = self.rtp_result(self.rtp_start(seconds, (ALICE, alice_port), wan_port=wan_port))
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

    def wan_port(self, phone_port, timeout=5, phone=ALICE):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for key, value in self.tuples()["media_dnat"]:
                if value == (phone, phone_port) and key % 2 == 0:
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


