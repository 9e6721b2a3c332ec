"""Findings 1 (core side) and 3 of issue #11, as the attacks themselves:
SDP addresses reached the pinhole helper as text, and media sessions
leaked until every call got 503."""

from outpost.core.addr import IPv4
from attacksite import (ALICE, INJECT, ROGUE, STRANGER, UPSTREAM, far_sdp, make_site, out, phone_sdp, register_alice, request,
                        response, run_timers)


def call(p, src=ALICE, body=None, call_id="m1@192.0.2.10", branch="z9hG4bKm1", t=0):
    p.receive(request("INVITE", "sip:bob@hq.example.com", src, call_id=call_id, branch=branch,
                      body=phone_sdp(src[1]) if body is None else body), src, t)
    return out(p)


def status_to(msgs, dest):
    return [m.status for m, d in msgs if d == dest and not m.is_request and m.status != 100]


def legs(p):
    return [leg for kind, leg in p.relay.media.actions if kind == "open"]


def test_sdp_that_is_not_an_ipv4_address_is_refused_with_488_and_allocates_nothing():
    bad = (INJECT, "evil.example.com", "2001:db8::1", "203.0.113.10;flush", "192.0.2.10\tx", "1.2.3", "010.0.0.1")
    for i, addr in enumerate(bad):
        p = make_site()
        msgs = call(p, body=phone_sdp().replace("c=IN IP4 192.0.2.10", "c=IN IP4 " + addr), call_id="b%d@x" % i)
        assert status_to(msgs, ALICE) == [488] and not any(d == UPSTREAM for m, d in msgs), addr
        assert len(p.relay.media) == 0 and len(p.relay.media.ports) == 0
        assert [e for e in p.events if type(e).__name__ == "RequestRefused" and e.status == 488]  # and a log line says why
    p = make_site()  # the same through a=rtcp
    msgs = call(p, body=phone_sdp(extra="a=rtcp:7079 IN IP4 " + INJECT + "\r\n"))
    assert status_to(msgs, ALICE) == [488] and len(p.relay.media.ports) == 0


def test_a_far_ends_injected_sdp_opens_no_pinhole():
    p = make_site()
    msgs = call(p)
    inv = [m for m, d in msgs if d == UPSTREAM][0]
    p.relay.media.actions.clear()
    p.receive(response(inv, 200, "OK", far_sdp(INJECT)), UPSTREAM, 10)
    assert legs(p) == [] and [m for m, d in out(p) if d == ALICE] == []  # dropped, never half-applied
    p.receive(response(inv, 200, "OK", far_sdp(), to_tag="up2"), UPSTREAM, 20)
    opened = legs(p)
    assert opened and all(isinstance(x[0], IPv4) and isinstance(x[1], int) for leg in opened for x in (leg.lan, leg.wan, leg.remote))


def test_media_may_not_be_aimed_at_the_router_the_lan_or_a_multicast_group():
    for i, body in enumerate((phone_sdp("192.0.2.1", 22), phone_sdp("203.0.113.10"), phone_sdp("224.0.0.1"), phone_sdp("127.0.0.1"))):
        p = make_site()
        assert status_to(call(p, body=body, call_id="own%d" % i), ALICE) == [488]
    for i, addr in enumerate(("192.0.2.20", "192.0.2.1", "255.255.255.255", "127.0.0.1")):
        p = make_site()
        inv = [m for m, d in call(p) if d == UPSTREAM][0]
        p.relay.media.actions.clear()
        p.receive(response(inv, 200, "OK", far_sdp(addr)), UPSTREAM, 10)
        assert legs(p) == [] and [m for m, d in out(p) if d == ALICE] == [], addr
    p = make_site()
    contact = register_alice(p)
    p.receive(request("INVITE", contact, UPSTREAM, body=far_sdp("192.0.2.20")), UPSTREAM, 10)
    assert status_to(out(p), UPSTREAM) == [488]  # a far end may not point a phone's media at another LAN host


def test_a_relayed_invite_that_times_out_frees_its_ports():
    """A few hundred unanswered INVITEs used to empty the pool for max_call_s."""
    p = make_site()
    for i in range(8):
        call(p, call_id="to%d@192.0.2.10" % i, branch="z9hG4bKto%d" % i, t=i)
    assert len(p.relay.media) == 8
    sent = run_timers(p, 0, 40000, 500)  # Timer B: 64 x T1
    assert sorted(set(m.call_id for m, d in sent if d == ALICE and m.status == 408)) == ["to%d@192.0.2.10" % i for i in range(8)]
    assert len(p.relay.media) == 0 and len(p.relay.media.ports) == 0


def test_a_call_ringing_forever_frees_its_ports_at_timer_c():
    p = make_site()
    inv = [m for m, d in call(p) if d == UPSTREAM][0]
    p.receive(response(inv, 180, "Ringing"), UPSTREAM, 10)
    out(p)
    run_timers(p, 0, 240000, 1000)
    assert len(p.relay.media) == 0 and len(p.relay.media.ports) == 0


def test_an_ack_with_sdp_never_creates_a_session():
    p = make_site(users=False)
    for i in range(50):
        p.receive(request("ACK", "sip:x@203.0.113.20", ROGUE, call_id="ack%d" % i, branch="z9hG4bKa%d" % i, to_tag="t",
                          body=phone_sdp("192.0.2.66")), ROGUE, i)
    out(p)
    assert len(p.relay.media) == 0 and len(p.relay.media.ports) == 0


def test_one_lan_host_cannot_take_every_media_port():
    p = make_site(users=False)
    answers = []
    for i in range(40):
        answers += status_to(call(p, ROGUE, call_id="hog%d@x" % i, branch="z9hG4bKh%d" % i, t=i), ROGUE)
    assert answers.count(503) == 40 - 16 and len(p.relay.media) == 16
    assert [d for m, d in call(p, call_id="alice@x", branch="z9hG4bKok", t=50) if m.is_request] == [UPSTREAM]  # the others still call


def test_refused_and_failed_calls_leave_nothing_behind():
    p = make_site()
    inv = [m for m, d in call(p) if d == UPSTREAM][0]
    p.receive(response(inv, 486, "Busy Here", far_sdp()), UPSTREAM, 10)
    out(p)
    assert len(p.relay.media) == 0 and len(p.relay.media.ports) == 0
    p = make_site()
    p.relay.media.ports.high = 40001  # one pair: the second stream cannot be served
    two = phone_sdp() + "m=video 9078 RTP/AVP 96\r\n"
    assert status_to(call(p, body=two), ALICE) == [503]
    assert len(p.relay.media) == 0 and len(p.relay.media.ports) == 0


def test_a_stranger_cannot_create_sessions_from_the_wan():
    p = make_site()
    for i in range(30):
        p.receive(request("INVITE", "sip:alice@203.0.113.2", STRANGER, call_id="w%d" % i, branch="z9hG4bKw%d" % i, body=far_sdp()), STRANGER, i)
    out(p)
    assert len(p.relay.media) == 0


def test_a_phone_that_refuses_a_forked_call_frees_its_leg_while_another_rings():
    """The upstream calls an AOR with two phones: one answers 486 at once
    (do-not-disturb), the other rings and answers. The refusing phone's
    session and ports used to stay until max_call_s (4 h per such call)."""
    p = make_site()
    contacts = []
    for src, user_port in ((ALICE, 5062), (("udp", "192.0.2.11", 5064, None), 5064)):
        p.receive(request("REGISTER", "sip:hq.example.com", src, call_id="reg%d@x" % user_port, branch="z9hG4bKr%d" % user_port,
                          extra=("Expires: 600",)).replace(b"To: <sip:hq.example.com>", b"To: <sip:alice@hq.example.com>"), src, 0)
        up = [m for m, d in out(p) if d == UPSTREAM][0]
        contacts.append(str(up.contacts[0].uri))
        p.receive(response(up, 200, "OK", extra=("Contact: <%s>;expires=600" % contacts[-1],)), UPSTREAM, 1)
        out(p)
    p.receive(request("INVITE", "sip:alice@hq.example.com", UPSTREAM, call_id="fork1", body=far_sdp()), UPSTREAM, 10)
    legs = {d: m for m, d in out(p) if m.is_request}
    assert len(legs) == 2 and len(p.relay.media) == 2
    busy, rings = sorted(legs)
    p.receive(response(legs[busy], 486, "Busy Here", to_tag="b1"), busy, 20)
    out(p)
    assert len(p.relay.media) == 1  # the refusing phone's leg is gone at once
    p.receive(response(legs[rings], 200, "OK", phone_sdp(rings[1]), to_tag="r1",
                       extra=("Contact: <sip:alice@%s:%d>" % (rings[1], rings[2]),)), rings, 30)
    out(p)
    assert len(p.relay.media) == 1 and len(p.relay.media.ports) == 1


def test_a_phone_cannot_name_its_neighbours_address_as_its_media():
    """Review of #14, finding 1: alice's INVITE says c=192.0.2.30 m=4500
    (the office VPN box's NAT-T flow) and an accomplice answers from the
    VPN server's address: the router would NAT, guard and reset the
    neighbour's flow. A phone's SDP must name the phone (488 otherwise);
    only a configured LAN gateway (an on-site PBX) may name another host."""
    p = make_site()
    msgs = call(p, body=phone_sdp("192.0.2.30", 4500))
    assert status_to(msgs, ALICE) == [488] and not any(d == UPSTREAM for m, d in msgs)
    assert len(p.relay.media) == 0 and p.relay.media.actions == []
    p = make_site()
    msgs = call(p, body=phone_sdp(extra="a=rtcp:4501 IN IP4 192.0.2.30\r\n"))  # the same through a=rtcp
    assert status_to(msgs, ALICE) == [488]
    p = make_site()
    p.config.relay.media_gateways = frozenset([ALICE[1]])
    p.relay.set_config(p.config.relay)
    msgs = call(p, body=phone_sdp("192.0.2.30", 4500))
    assert any(d == UPSTREAM for m, d in msgs)  # the admin said this host speaks for others


def test_a_caller_cannot_guard_the_phone_off_low_ports_nor_beyond_ringing():
    """Review of #14, finding 3: an INVITE from the upstream naming
    c=8.8.8.8 m=53 and a=rtcp:123 would have installed guards keeping the
    called phone from DNS and NTP for the call's length. Guards exist only
    while the phone has not answered, and never below port 1024."""
    p = make_site()
    contact = register_alice(p)
    p.relay.media.actions.clear()
    p.receive(request("INVITE", contact, UPSTREAM, call_id="g1", body=far_sdp("198.51.100.53", 53,
                                                                            "a=rtcp:123 IN IP4 198.51.100.123\r\n")), UPSTREAM, 10)
    to_alice = [m for m, d in out(p) if d[1] == ALICE[1]]
    assert to_alice and [a for a in p.relay.media.actions if a[0] == "guard"] == []
    p.receive(request("INVITE", contact, UPSTREAM, call_id="g2", branch="z9hG4bKg2", body=far_sdp(port=20000)), UPSTREAM, 20)
    inv = [m for m, d in out(p) if d[1] == ALICE[1] and m.is_request][0]
    guards = [g for k, g in p.relay.media.actions if k == "guard"]
    assert [str(g.phone) for g in guards] == [ALICE[1], ALICE[1]] and sorted(g.remote[1] for g in guards) == [20000, 20001]
    p.relay.media.actions.clear()
    p.receive(response(inv, 200, "OK", phone_sdp()), ALICE, 30)  # answered: the legs take over
    kinds = sorted(k for k, _ in p.relay.media.actions)
    assert kinds == ["open", "open", "unguard", "unguard"], kinds


def drain(p):
    events = []
    while True:
        e = p.next_event()
        if e is None:
            return events
        events.append(e)


class _Recording:
    """ctnetlink stand-in that counts; the kernel side is test_pinhole_nft's."""

    def __init__(self):
        self.primed, self.failed = [], False

    def forget(self, tuples):
        return 0

    def prime(self, legs):
        self.primed += legs
        return len(legs)


def test_a_far_end_re_offering_in_a_loop_makes_no_conntrack_entry_per_offer():
    """Review of #14, finding 2: every new SDP from the far end replaces the
    call's legs; priming a conntrack entry for each would let one caller
    fill the router's whole conntrack table (every LAN host's connections
    fail). Only a stream new to the call gets an entry."""
    from outpost.runtime.firewall import Firewall
    from outpost.runtime.pinhole import NftPinholes

    p = make_site()
    # The statements are test_pinhole_nft's; here only which legs are primed.
    d = Firewall(120, "sdp", pinholes=NftPinholes(120, nft=["true"]), conntrack=_Recording())
    inv = [m for m, dest in call(p) if dest == UPSTREAM][0]
    p.receive(response(inv, 200, "OK", far_sdp()), UPSTREAM, 10)
    out(p)
    d.apply(drain(p))
    assert len(d.conntrack.primed) == 2  # RTP and RTCP of the new call
    for i in range(50):
        p.receive(response(inv, 200, "OK", far_sdp(port=10000 + 2 * i)), UPSTREAM, 20 + i)
        out(p)
        d.apply(drain(p))
    assert len(d.conntrack.primed) == 2 and len(d.pinholes.live) == 2
