"""Survival benchmark: how fast the router notices the upstream is gone, how
soon a local call works, how long failback takes, and how many established
calls are dropped; against Kamailio's dispatcher probing the same upstream
with the same settings, in the same run.

Run as root (network namespaces): .venv/bin/python bench/survival.py
Prints one line. The site is tests/integration/routersite.py's: outpost in
`rtr`, phones in `lan`, Kamailio as the upstream in `wan`. The peer is a
second Kamailio inside `rtr` (the router's place) whose dispatcher probes
the same upstream: OPTIONS every 1 s, inactive after 3 failures, active
again after 5 answers (ds_inactive_threshold), a 800 ms transaction
timeout like outpost's probe timeout.
"""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from netns import ROUTER_WAN, sh  # noqa: E402
from routersite import ALICE, ALICE_RTP, BOB as CAROL, BOB_RTP as CAROL_RTP, DOMAIN, KAMAILIO, Site, stop  # noqa: E402
from outpost.core import digest  # noqa: E402

BOB = "192.0.2.11"
INTERVAL_S, THRESHOLD, STABILITY_S = 1, 3, 5
CALLS = 3  # established before the failure, each with RTP both ways

PEER_CFG = """#!KAMAILIO
debug=1
log_stderror=yes
children=1
auto_aliases=no
listen=udp:%(wan)s:5070
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "kex.so"
loadmodule "ctl.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "dispatcher.so"
modparam("ctl", "binrpc", "unix:%(ctl)s")
modparam("tm", "fr_timer", 800)
modparam("dispatcher", "list_file", "%(list)s")
modparam("dispatcher", "ds_ping_interval", %(interval)d)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", %(threshold)d)
modparam("dispatcher", "ds_inactive_threshold", %(stable)d)
request_route { sl_send_reply("404", "Not Found"); }
"""


class Peer:
    def __init__(self, site):
        self.site = site
        work = site.work
        self.ctl = os.path.join(work, "peer.ctl")
        lst = os.path.join(work, "peer.list")
        with open(lst, "w") as f:
            f.write("1 sip:%s:5060\n" % KAMAILIO)
        cfg = os.path.join(work, "peer.cfg")
        with open(cfg, "w") as f:
            f.write(PEER_CFG % {"wan": ROUTER_WAN, "ctl": self.ctl, "list": lst, "interval": INTERVAL_S, "threshold": THRESHOLD,
                                "stable": STABILITY_S // INTERVAL_S})
        self.proc = subprocess.Popen(["ip", "netns", "exec", site.topo.rtr, "kamailio", "-f", cfg, "-DD", "-E", "-m", "16", "-M", "4",
                                      "-w", work], stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "peer.log"), "wb"))
        site.procs.append(self.proc)

    def active(self):
        out = sh("ip", "netns", "exec", self.site.topo.rtr, "kamcmd", "-s", "unix:" + self.ctl, "dispatcher.list", check=False).stdout
        for line in out.splitlines():
            if "FLAGS:" in line:
                return line.split("FLAGS:")[1].strip().startswith("A")
        return None


def state(site):
    return (site.status().get("survival") or {}).get("state")


def until(fn, timeout, step=0.02):
    start = time.time()
    while time.time() - start < timeout:
        if fn():
            return time.time()
        time.sleep(step)
    raise RuntimeError("timed out")


def main():
    users = {u: {"ha1": {"MD5": digest.ha1("MD5", u, DOMAIN, u + "-secret")}} for u in ("alice", "bob")}
    site = Site(tempfile.mkdtemp(prefix="outpost-survival-"), prefix="b", lan_hosts=(ALICE, BOB), wan_hosts=(KAMAILIO, CAROL),
                survival={"probe_interval_s": INTERVAL_S, "failure_threshold": THRESHOLD, "stability_s": STABILITY_S, "expires_s": 30},
                users=users, auth={"algorithms": ["MD5"]})
    try:
        site.start_kamailio()
        site.start_outpost()
        peer = Peer(site)
        until(lambda: state(site) == "NORMAL" and peer.active(), 15)
        site.register("alice", ALICE)
        site.register("bob", BOB)
        far, calls, media = [], [], []
        for i in range(CALLS):  # carol0..2 at HQ, each its own phone
            user, sip_port, rtp = "carol%d" % i, 5160 + i, CAROL_RTP + 10 * i
            site.register(user, CAROL, sip_port, name="reg_" + user)
            far.append(site.answer(CAROL, rtp, user, port=sip_port))
        time.sleep(0.5)
        for i in range(CALLS):
            port = ALICE_RTP + 10 * i
            calls.append(site.call("alice", ALICE, "carol%d" % i, port, "call%d" % i, port=5090 + i, extra=("-d", str(26000 - 500 * i))))
            media.append(site.rtp_start(22 - 0.5 * i, (ALICE, port), (CAROL, CAROL_RTP + 10 * i)))
        time.sleep(1.5)

        t_stop = time.time()
        stop(site.kamailio)
        t_outpost = until(lambda: state(site) == "SURVIVAL", 10)
        t_peer = until(lambda: peer.active() is False, 15)
        bob = site.answer(BOB, 7290, "bob_uas", port=5080)
        time.sleep(0.2)
        local = site.call("alice", ALICE, "bob", 7282, "local", port=5099, extra=("-d", "200"))
        site.done(local)
        t_local = time.time()
        site.done(bob)

        t_back = time.time()
        site.start_kamailio()
        t_outpost_back = until(lambda: state(site) == "NORMAL", 20)
        t_peer_back = until(lambda: peer.active(), 20)

        dropped = 0
        for c in calls:
            try:
                site.done(c, 60)
            except AssertionError:
                dropped += 1
        for a, b in (site.rtp_result(m) for m in media):
            if max(a["max_gap_ms"], b["max_gap_ms"]) > 1000 or not a["received"] or not b["received"]:
                dropped += 1
        for f in far:
            stop(f)
        d_o, d_p = t_outpost - t_stop, t_peer - t_stop
        f_o, f_p = t_outpost_back - t_back, t_peer_back - t_back
        print("survival: outpost detection %.1f s, first local call %.1f s after detection, failback %.1f s, %d of %d established calls "
              "dropped | kamailio dispatcher (same probes: every %d s, down after %d, up after %d answers) detection %.1f s, "
              "failback %.1f s | detection %.2fx, failback %.2fx"
              % (d_o, t_local - t_outpost, f_o, min(dropped, CALLS), CALLS, INTERVAL_S, THRESHOLD, STABILITY_S // INTERVAL_S,
                 d_p, f_p, d_o / d_p, f_o / f_p))
    finally:
        site.close()


if __name__ == "__main__":
    main()
