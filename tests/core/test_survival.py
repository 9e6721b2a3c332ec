"""Upstream health and local survival: the state table with a fake clock,
and the proxy routing locally while the upstream does not answer."""

from support import sip, taken_events
from outpost.core.registrar import RegistrarPolicy
from outpost.core.survival import NORMAL, RECOVERING, SURVIVAL, Survival, SurvivalConfig, dial_match, PROBE_TIMEOUT_MS
from test_relay import make_relay, out, ALICE, UPSTREAM, PHONE_SDP

TRUNK = ("udp", "192.0.2.50", 5060, None)


def test_down_only_after_threshold_failures_in_a_row():
    s = Survival(SurvivalConfig(1000, 3, 5000), 0)
    s.observe(False, 1)
    s.observe(False, 2)
    s.observe(True, 3)  # one answer resets the count
    s.observe(False, 4)
    s.observe(False, 5)
    assert s.state == NORMAL and s.events == []
    s.observe(False, 6)
    assert s.state == SURVIVAL and s.events == [("UpstreamLost", NORMAL, SURVIVAL, 6)] and s.local


def test_flapping_upstream_does_not_bounce_the_site():
    s = Survival(SurvivalConfig(1000, 1, 5000), 0)
    s.observe(False, 0)
    for t in range(1000, 20000, 2000):  # up 1 s, down 1 s: faster than the 5 s stability period
        s.observe(True, t)
        assert s.state == RECOVERING and s.local
        s.observe(False, t + 1000)
        assert s.state == SURVIVAL and s.local
    assert all(e[0] != "UpstreamRestored" for e in s.events)


def test_failback_after_the_stability_period():
    s = Survival(SurvivalConfig(1000, 1, 5000), 0)
    s.observe(False, 0)
    for t in range(1000, 6000, 1000):
        s.observe(True, t)
        assert s.state == RECOVERING
    s.observe(True, 6000)
    assert s.state == NORMAL and not s.local and s.events[-1] == ("UpstreamRestored", RECOVERING, NORMAL, 6000)


def test_probe_schedule_and_timeout():
    s = Survival(SurvivalConfig(3000, 2, 5000), 0)
    b1 = s.probe_due(0, "salt1")
    assert b1 and s.probe_due(10, "salt2") is None and s.next_deadline() == PROBE_TIMEOUT_MS == s.timeout_ms
    s.probe_answered(b1, 200, 40)
    assert s.history[-1] == (40, True, 40, "200") and s.next_deadline() == 3000
    b2 = s.probe_due(3000, "salt3")
    assert s.probe_due(3000 + PROBE_TIMEOUT_MS, "salt4") is None and s.failures == 1  # timed out
    s.probe_answered(b2, 200, 3000 + PROBE_TIMEOUT_MS + 5)  # too late: already counted
    assert s.failures == 1
    b3 = s.probe_due(6000, "salt5")
    s.probe_answered(b3, 503, 6010)  # an overloaded server is no server
    assert s.state == SURVIVAL


def test_dial_patterns():
    assert dial_match("0XXXXXXXXX", "0123456789") and not dial_match("0XXXXXXXXX", "012345678")
    assert dial_match("+44.", "+442071234567") and not dial_match("+44.", "+44")
    assert dial_match("[2-5]XX", "305") and not dial_match("[2-5]XX", "605") and dial_match("[137]0", "70")
    assert dial_match("112", "112") and not dial_match("112", "1123") and not dial_match("X", "a")


def site_in_survival():
    p = make_relay()
    from outpost.core.survival import Survival as S
    p.config.survival = SurvivalConfig(1000, 2, 5000, 60, TRUNK, ["0XXXXXXXXX"], ["112"])
    p.config.survival_policy = RegistrarPolicy("hq.example.com", 60, 60, 60)
    p.survival = S(p.config.survival, 0)
    for t in (0, 1000, 2000, 3000):
        p.handle_timer(t)  # probes go out, nobody answers
    probes = [m for m, d in out(p) if d == UPSTREAM]
    assert probes and all(m.method == "OPTIONS" and b"192.0.2." not in m.serialise() for m in probes)
    assert p.survival.state == SURVIVAL and "UpstreamLost: NORMAL -> SURVIVAL" in [str(e) for e in taken_events(p)]
    return p


def invite(user, call_id, branch):
    return sip("INVITE sip:%s@hq.example.com SIP/2.0" % user, "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK%s;rport" % branch,
               "Max-Forwards: 70", "From: <sip:alice@hq.example.com>;tag=s1", "To: <sip:%s@hq.example.com>" % user,
               "Call-ID: %s" % call_id, "CSeq: 1 INVITE", "Contact: <sip:alice@192.0.2.10:5062>",
               "Content-Type: application/sdp", body=PHONE_SDP)


def test_survival_registers_locally_with_short_expires_and_routes_calls():
    p = site_in_survival()
    bob = ("udp", "192.0.2.11", 5060, None)
    p.receive(sip("REGISTER sip:hq.example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.11;branch=z9hG4bKsr1;rport", "Max-Forwards: 70",
                  "From: <sip:bob@hq.example.com>;tag=b", "To: <sip:bob@hq.example.com>", "Call-ID: sreg", "CSeq: 1 REGISTER",
                  "Contact: <sip:bob@192.0.2.11>", "Expires: 3600"), bob, 4000)
    ok = [m for m, d in out(p)][0]
    assert ok.status == 200 and ok.contacts[0].expires == 60  # answered here, back upstream soon
    # A call to bob stays on the LAN.
    p.receive(invite("bob", "c-local", "l1"), ALICE, 4100)
    sent = [(m, d) for m, d in out(p) if m.is_request]
    assert [(m.method, d) for m, d in sent] == [("INVITE", bob)] and b"40000" not in sent[0][0].serialise()
    # A national number goes to the fallback trunk, an emergency number too.
    p.receive(invite("0123456789", "c-trunk", "t1"), ALICE, 4200)
    p.receive(invite("112", "c-sos", "e1"), ALICE, 4300)
    sent = [(str(m.uri), d) for m, d in out(p) if m.is_request]
    assert sent == [("sip:0123456789@192.0.2.50:5060", TRUNK), ("sip:112@192.0.2.50:5060", TRUNK)]
    # Anything else: 503 with Retry-After.
    p.receive(invite("carol", "c-none", "n1"), ALICE, 4400)
    refused = [m for m, d in out(p) if not m.is_request and m.status != 100]
    assert [(m.status, m.get("retry-after")) for m in refused] == [(503, "1")]


def test_failback_relays_again_and_keeps_a_call_set_up_in_survival():
    p = site_in_survival()
    p.receive(invite("0123456789", "c-trunk", "t1"), ALICE, 4000)
    inv = [m for m, d in out(p) if m.is_request][0]
    # Upstream answers probes again; after the stability period, NORMAL.
    t = 4000
    while p.survival.state != NORMAL and t < 20000:
        t += 1000
        p.handle_timer(t)
        for m, d in out(p):
            if m.is_request and m.method == "OPTIONS":
                p.receive(sip("SIP/2.0 200 OK", "Via: " + m.top_via.text, "From: " + m.get("from"), "To: " + m.get("to") + ";tag=u",
                              "Call-ID: " + m.call_id, "CSeq: " + m.get("cseq")), UPSTREAM, t + 5)
    assert p.survival.state == NORMAL and 9000 <= t <= 11000
    # The trunk call set up during survival goes on: its BYE reaches the trunk.
    p.receive(sip("BYE sip:0123456789@192.0.2.50 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKby;rport", "Max-Forwards: 70",
                  "From: <sip:alice@hq.example.com>;tag=s1", "To: <sip:0123456789@hq.example.com>;tag=g", "Call-ID: c-trunk",
                  "CSeq: 2 BYE", "Route: " + inv.get("record-route")), ALICE, t + 100)
    assert [(m.method, d) for m, d in out(p) if m.is_request] == [("BYE", TRUNK)]
    # And a new call goes upstream again.
    p.receive(invite("carol", "c-new", "n2"), ALICE, t + 200)
    assert [(m.method, d) for m, d in out(p) if m.is_request] == [("INVITE", UPSTREAM)]


def test_an_unreachable_upstream_fails_the_probe_at_once():
    p = make_relay()
    p.config.survival = SurvivalConfig(1000, 2, 5000)
    p.survival = Survival(p.config.survival, 0)
    p.config.probe_port = 40123  # the runtime's socket connected to the upstream
    p.handle_timer(0)
    sent = p.datagrams_to_send()
    assert [d for _, d in sent] == [("probe", "203.0.113.10", 5060, None)]
    assert b"Via: SIP/2.0/UDP 203.0.113.2:40123;" in sent[0][0]
    p.transport_failed(sent[0][1], 10)  # ICMP port unreachable, 10 ms later
    assert p.survival.failures == 1 and p.survival.history[-1][3] == "unreachable"
    p.handle_timer(1000)
    p.transport_failed(sent[0][1], 1005)
    assert p.survival.state == SURVIVAL
