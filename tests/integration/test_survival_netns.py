"""Local survival against a real upstream: Kamailio stopped, the WAN link
cut, a flapping link; local calls and the fallback trunk while upstream is
gone, failback when it returns, and a call established before the failure
that keeps its RTP throughout and ends with a normal BYE.

  lan  alice 192.0.2.10, bob 192.0.2.11 (phones), the fallback trunk
       192.0.2.50 (an analog gateway: a sipp UAS)
  rtr  outpost: probes every 1 s, down after 3 failures, back after 5 s
  wan  Kamailio 203.0.113.10 (tests/integration/kamailio/upstream.cfg),
       carol 203.0.113.20 (a phone at HQ)
"""

import os
import time

import pytest

from netns import sh
from routersite import ALICE, ALICE_RTP, BOB as CAROL, BOB_RTP as CAROL_RTP, DOMAIN, KAMAILIO, Site, stop

import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "firmware"))
from outpost.core import digest  # noqa: E402

BOB, TRUNK = "192.0.2.11", "192.0.2.50"
INTERVAL_S, THRESHOLD, STABILITY_S = 1, 3, 5
SURVIVAL = {"probe_interval_s": INTERVAL_S, "failure_threshold": THRESHOLD, "stability_s": STABILITY_S, "expires_s": 30,
            "fallback_trunk": TRUNK, "fallback_patterns": ["0XXXXXXXXX"]}
USERS = {u: {"ha1": {"MD5": digest.ha1("MD5", u, DOMAIN, u + "-secret")}} for u in ("alice", "bob")}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("survival"), prefix="s", lan_hosts=(ALICE, BOB, TRUNK), wan_hosts=(KAMAILIO, CAROL),
             survival=SURVIVAL, users=USERS, auth={"algorithms": ["MD5"]})
    try:
        s.start_kamailio()
        s.start_outpost()
        yield s
    finally:
        s.close()


def state(site):
    return (site.status().get("survival") or {}).get("state")


def wait_state(site, want, timeout):
    start = time.time()
    while time.time() - start < timeout:
        if state(site) == want:
            return time.time() - start
        time.sleep(0.05)
    raise AssertionError("still %s after %.1f s, not %s\n%s" % (state(site), timeout, want, site.log()[-3000:]))


def call(site, callee, rtp_port, hold_ms, port, name):
    return site.call("alice", ALICE, callee, rtp_port, name, port=port, extra=("-d", str(hold_ms)))


def test_failover_local_calls_trunk_and_failback_with_no_call_dropped(site):
    wait_state(site, "NORMAL", 5)
    site.register("alice", ALICE)
    site.register("bob", BOB)
    assert site.kamailio_has("alice") and site.kamailio_has("bob")
    # carol at HQ, and a call alice -> carol established before the failure.
    site.register("carol", CAROL, 5060, name="reg_carol")
    carol = site.answer(CAROL, CAROL_RTP, "carol_uas")
    time.sleep(0.5)
    established = call(site, "carol", ALICE_RTP, 30000, 5090, "alice_long")
    media = site.rtp_start(24)
    time.sleep(1.0)

    # Upstream goes away.
    stop(site.kamailio)
    detect = wait_state(site, "SURVIVAL", INTERVAL_S * THRESHOLD + 3)
    assert detect <= INTERVAL_S * THRESHOLD + 1, detect
    # A call between two local phones, and one to the fallback trunk.
    t0 = time.time()
    bob = site.answer(BOB, 7090, "bob_uas", port=5080)
    time.sleep(0.3)
    site.done(call(site, "bob", 7082, 500, 5091, "alice_to_bob"))
    first_local = time.time() - t0
    site.done(bob)
    trunk = site.answer(TRUNK, 7092, "trunk_uas")
    time.sleep(0.3)
    site.done(call(site, "0123456789", 7084, 500, 5092, "alice_to_trunk"))
    site.done(trunk)
    assert "survival: INVITE fallback -> sip:0123456789@%s:5060" % TRUNK in site.log()
    # Phones refresh their registrations: answered here, with the short Expires.
    site.register("alice", ALICE)
    assert "expires in 30s" in site.log().rsplit("registered sip:alice", 1)[1]

    # Upstream returns: back to NORMAL only after the stability period.
    site.start_kamailio()
    back = wait_state(site, "NORMAL", STABILITY_S + 5)
    assert back >= STABILITY_S - 0.5, back
    # The phones' next refresh (within the 30 s) goes upstream again.
    site.register("alice", ALICE)
    site.register("bob", BOB)
    assert site.kamailio_has("alice") and site.kamailio_has("bob")

    # The call from before the failure ends with its own BYE, media unbroken.
    site.done(established, 60)
    site.done(carol, 30)
    got_alice, got_carol = site.rtp_result(media)
    assert got_alice["max_gap_ms"] < 500 and got_carol["max_gap_ms"] < 500, (got_alice, got_carol)
    assert sum(got_alice["received"].values()) > 0.9 * 24 * 50 and sum(got_carol["received"].values()) > 0.9 * 24 * 50
    print("survival: detection %.1f s, first local call %.1f s after, failback %.1f s after upstream returned, 0 calls dropped"
          % (detect, first_local, back))


def test_wan_link_cut_and_restored(site):
    wait_state(site, "NORMAL", 15)
    sh("ip", "-n", site.topo.rtr, "link", "set", "wan0", "down")
    try:
        detect = wait_state(site, "SURVIVAL", INTERVAL_S * THRESHOLD + 3)
        assert detect <= INTERVAL_S * THRESHOLD + 1, detect
        bob = site.answer(BOB, 7090, "bob_uas2", port=5080)
        time.sleep(0.3)
        site.done(call(site, "bob", 7082, 500, 5091, "alice_to_bob2"))
        site.done(bob)
    finally:
        sh("ip", "-n", site.topo.rtr, "link", "set", "wan0", "up")
    wait_state(site, "NORMAL", STABILITY_S + 5)
    assert site.outpost.poll() is None


def test_a_flapping_link_does_not_bounce_the_site(site):
    wait_state(site, "NORMAL", 15)
    seen = []

    def link(up, seconds):
        sh("ip", "-n", site.topo.rtr, "link", "set", "wan0", "up" if up else "down")
        end = time.time() + seconds
        while time.time() < end:
            st = state(site)
            if not seen or seen[-1] != st:
                seen.append(st)
            time.sleep(0.05)

    # Short drops (fewer than THRESHOLD probes) while NORMAL: nothing moves.
    for _ in range(2):
        link(False, 1.2)
        link(True, 3)
    assert seen == ["NORMAL"], seen
    # Down long enough: SURVIVAL. Then up and down faster than the stability
    # period: it stays local (RECOVERING is local routing too), never NORMAL.
    link(False, INTERVAL_S * THRESHOLD + 2)
    for _ in range(3):
        link(True, 2)
        link(False, 2)
    assert "NORMAL" not in seen[1:], seen
    link(True, 0)
    wait_state(site, "NORMAL", STABILITY_S + 5)
