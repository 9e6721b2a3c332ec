"""Attacks an independent review found after the first fixes (issue #11,
"think beyond the list"): each is the reproducer, run against the core."""

import re

from attacksite import (ALICE, ROGUE, UPSTREAM, credentials, far_sdp, lose_upstream, make_site, not_probes, out, phone_sdp, register,
                        request, response, run_timers, sip)

FAR_END = ("udp", "203.0.113.20", 5060, None)


def lan_lines(data):
    return sorted(set(l for l in data.decode(errors="replace").split("\r\n") if re.search(r"192\.0\.2\.", l)))


def test_a_list_line_naming_the_lan_twice_neither_crashes_nor_strands_a_transaction():
    """Two values on one line, each removed alone, were overlapping edits:
    an exception out of the core and a transaction stuck in Trying forever
    (8,192 datagrams filled the table: every call then got 503)."""
    p = make_site()
    for i in range(50):
        p.receive(request("MESSAGE", "sip:bob@hq.example.com", ROGUE, call_id="ov%d" % i, branch="z9hG4bKov%d" % i,
                          extra=('Warning: 399 192.0.2.66 "a", 399 192.0.2.66 "b"',) + ('X-L: 192.0.2.7, 192.0.2.8',) * 40), ROGUE, i)
    sent = out(p) + run_timers(p, 0, 40000, 1000)
    assert all(d != UPSTREAM or b"192.0.2." not in m.serialise() for m, d in sent)
    assert len(p.txns.servers) == 0 and len(p.contexts) == 0


def test_another_lan_host_cannot_take_a_phones_tcp_contact():
    alice, rogue = ("tcp", "192.0.2.10", 5062, 7), ("tcp", "192.0.2.66", 40001, 9)

    def reg(src, cid, branch):
        return sip("REGISTER sip:hq.example.com SIP/2.0", "Via: SIP/2.0/TCP %s:%d;branch=%s" % (src[1], src[2], branch), "Max-Forwards: 70",
                   "From: <sip:alice@hq.example.com>;tag=%s" % branch[-4:], "To: <sip:alice@hq.example.com>", "Call-ID: " + cid,
                   "CSeq: 1 REGISTER", "Contact: <sip:alice@192.0.2.10:5062;transport=tcp>", "Expires: 600")
    p = make_site()
    p.receive(reg(alice, "reg-a", "z9hG4bKrega"), alice, 0)
    up = [m for m, d in out(p) if d == UPSTREAM][0]
    contact = str(up.contacts[0].uri)
    p.receive(response(up, 200, "OK", extra=("Contact: <%s>;expires=600" % contact,)), UPSTREAM, 1)
    out(p)
    p.receive(reg(rogue, "reg-r", "z9hG4bKregr"), rogue, 10)  # the same Contact text, from another host
    up2 = [m for m, d in out(p) if d == UPSTREAM][0]
    assert str(up2.contacts[0].uri) != contact
    p.receive(response(up2, 401, "Unauthorized"), UPSTREAM, 11)
    out(p)
    p.receive(request("INVITE", contact, UPSTREAM, call_id="in1", body=far_sdp()), UPSTREAM, 20)
    assert [d for m, d in out(p) if m.is_request] == [alice]


def established(p):
    p.receive(request("INVITE", "sip:bob@hq.example.com", ALICE, call_id="real@192.0.2.10", body=phone_sdp()), ALICE, 0)
    inv = [m for m, d in out(p) if d == UPSTREAM][0]
    p.receive(response(inv, 200, "OK", far_sdp(), extra=("Contact: <sip:bob@203.0.113.20>",)), UPSTREAM, 10)
    out(p)
    return inv


def test_a_far_end_cannot_route_its_dialog_anywhere_else():
    """With one call's token: extra Routes to a victim (11 retransmissions),
    the trunk, any LAN host:port, the router's own loopback."""
    p = make_site()
    inv = established(p)
    rr = inv.get("record-route")
    for i, hop in enumerate(("<sip:198.51.100.99;lr>", "<sip:198.51.100.50;lr>", "<sip:192.0.2.20:53;lr>",
                             "<sip:127.0.0.1:22;transport=tcp;lr>", "<sip:192.0.2.10:5062;lr>")):
        p.receive(request("OPTIONS", "sip:victim@198.51.100.99", FAR_END, call_id=inv.call_id, branch="z9hG4bKx%d" % i, from_tag="up1",
                          to_tag="f1", cseq=5 + i, extra=("Route: %s, %s" % (rr, hop),)), FAR_END, 20 + i)
        sent = not_probes(out(p) + run_timers(p, 20 + i, 20 + i + 33000, 1000))
        assert [(m.status, d) for m, d in sent] == [(403, FAR_END)], hop


def test_a_token_from_a_call_between_lan_phones_never_leads_to_the_wan():
    """In survival a rogue rings a local phone (no challenge) and reads the
    router's Record-Route in the 180: it must not reach the trunk with it."""
    p = make_site()
    t = lose_upstream(p)
    contact = "sip:alice@192.0.2.10:5062"
    p.receive(register(ALICE, 1, "z9hG4bKlr1", contact, expires=60), ALICE, t)
    ch = [m for m, d in out(p)][0]
    auth = "Authorization: " + credentials(ch, "alice", "REGISTER", "sip:hq.example.com", "www-authenticate")
    p.receive(register(ALICE, 2, "z9hG4bKlr2", contact, (auth,), expires=60), ALICE, t + 1)
    out(p)
    p.receive(request("INVITE", "sip:alice@hq.example.com", ROGUE, call_id="rg1", from_tag="rf", frm="sip:mallory@evil.example",
                      body=phone_sdp("192.0.2.66")), ROGUE, t + 10)
    to_alice = [m for m, d in out(p) if d == ALICE and m.is_request][0]
    p.receive(response(to_alice, 180, "Ringing", to_tag="al1"), ALICE, t + 20)
    rr = [m for m, d in out(p) if d == ROGUE][0].get("record-route")
    for i, (ruri, route) in enumerate((("sip:0900123456@198.51.100.50", rr), ("sip:x@other.example", rr + ", <sip:198.51.100.77;lr>"))):
        p.receive(request("INVITE", ruri, ROGUE, call_id="rg1", branch="z9hG4bKrt%d" % i, from_tag="rf", to_tag="w%d" % i, cseq=2 + i,
                          frm="sip:mallory@evil.example", extra=("Route: " + route,), body=phone_sdp("192.0.2.66")), ROGUE, t + 30 + i)
        sent = out(p)
        assert not any(d[1].startswith(("198.51.100.", "203.0.113.")) for m, d in sent), [(m.status, d) for m, d in sent]


def test_a_far_end_cannot_fill_the_port_pool_with_reinvites():
    p = make_site()
    inv = established(p)
    rr = inv.get("record-route")
    p.receive(request("BYE", "sip:bob@203.0.113.20", ALICE, call_id="real@192.0.2.10", branch="z9hG4bKbye", to_tag="up1", cseq=2,
                      extra=("Route: <sip:192.0.2.1;lr>",)), ALICE, 30)
    out(p)
    many = phone_sdp().replace("192.0.2.10", "203.0.113.20") + "".join("m=audio %d RTP/AVP 0\r\n" % (9000 + 2 * k) for k in range(15))
    for i in range(60):
        p.receive(request("INVITE", "sip:alice@192.0.2.10:5062", FAR_END, call_id=inv.call_id, branch="z9hG4bKre%d" % i, from_tag="up1",
                          to_tag="f1", cseq=10 + i, extra=("Route: %s, <sip:192.0.2.%d:%d;lr>" % (rr, 20 + i, 5000 + i),), body=many), FAR_END, 40 + i)
    run_timers(p, 40, 240000, 5000)
    assert len(p.relay.media) == 0 and len(p.relay.media.ports) == 0


def test_sdp_with_two_connection_lines_at_one_level_is_refused():
    for where in ("session", "media"):
        p = make_site()
        body = phone_sdp()
        if where == "session":
            body = body.replace("c=IN IP4 192.0.2.10\r\n", "c=IN IP4 192.0.2.10\r\nc=IN IP4 203.0.113.2\r\n")
        else:
            body = body.replace("a=sendrecv", "c=IN IP4 192.0.2.10\r\nc=IN IP4 203.0.113.9\r\na=rtcp:7079 IN IP4 192.0.2.10\r\na=rtcp:7079\r\na=sendrecv")
        p.receive(request("INVITE", "sip:bob@hq.example.com", ALICE, body=body), ALICE, 0)
        sent = out(p)
        assert [m.status for m, d in sent if d == ALICE and m.status != 100] == [400] and not any(d == UPSTREAM for m, d in sent)


def test_no_corner_of_a_phones_invite_names_the_lan_on_the_wan():
    cases = (('From: "192.0.2.10" <sip:alice@hq.example.com>;tag=f1', None), ('From: <sip:alice@hq.example.com;x=192.0.2.10>;tag=f1', None),
             ('From: <sip:192.0.2.10@hq.example.com>;tag=f1', None), (None, "Record-Route: <sip:192.0.2.10;lr>"),
             (None, "Contact: <sip:alice@198.51.100.1;maddr=192.0.2.10>"), (None, 'Contact: <sip:alice@192.0.2.10>;+sip.instance="<urn:x:192.0.2.10>"'),
             (None, "Call-ID: x@192.0.2.010"), (None, "X-Foo: 192%2e0%2e2%2e10"))
    for frm, extra in cases:
        lines = ["INVITE sip:bob@hq.example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1;rport", "Max-Forwards: 70",
                 frm or "From: <sip:alice@hq.example.com>;tag=f1", "To: <sip:bob@hq.example.com>", "CSeq: 1 INVITE"]
        lines += [extra] if extra else []
        lines += [] if extra and extra.startswith("Call-ID") else ["Call-ID: c1@x"]
        lines += [] if extra and extra.startswith("Contact") else ["Contact: <sip:alice@192.0.2.10:5062>"]
        p = make_site(users=False)
        p.receive(sip(*lines, body=phone_sdp().replace("o=alice 1 1", "o=192.0.2.10 1 1")), ALICE, 0)
        wan = [raw for raw, d in p.datagrams_to_send() if not d[1].startswith("192.0.2.")]
        assert len(wan) == 1 and lan_lines(wan[0]) == [], (frm, extra, lan_lines(wan[0]) if wan else None)
    p = make_site(users=False)
    p.receive(request("INVITE", "sip:bob@192.0.2.20", ALICE, body=phone_sdp()), ALICE, 0)
    assert [(m.status, d) for m, d in out(p) if m.status != 100] == [(404, ALICE)]  # a LAN address is not reached via the upstream


def test_our_route_and_a_strict_route_request_uri_at_once_neither_crash_nor_route():
    """From bench/fuzz.py: a Request-URI naming the router with ;lr and a
    Route of ours above another on one line made two overlapping edits."""
    p = make_site()
    p.receive(sip("OPTIONS sip:203.0.113.2;lr SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKs1;rport", "Max-Forwards: 70",
                  "From: <sip:alice@hq.example.com>;tag=a1", "To: <sip:bob@hq.example.com>", "Call-ID: s1@x", "CSeq: 1 OPTIONS",
                  "Route: <sip:203.0.113.2:5060;lr>, <sip:other.example.com;lr>"), ALICE, 0)
    sent = out(p)
    assert len(sent) == 1 and not any(d[1] == "other.example.com" for m, d in sent)


def test_sdp_under_another_content_type_is_refused_not_passed_unrewritten():
    p = make_site()
    p.receive(request("INVITE", "sip:bob@hq.example.com", ALICE, body=phone_sdp()).replace(b"application/sdp", b"application/sdc"), ALICE, 0)
    sent = out(p)
    assert [m.status for m, d in sent if m.status != 100] == [415] and not any(d == UPSTREAM for m, d in sent)


def test_the_lans_broadcast_address_is_no_phone_and_survival_contacts_stay_on_the_lan():
    """From the million-message fuzz run: a phone's SDP naming 192.0.2.255
    got a pinhole (DNAT to the LAN's broadcast address), and in survival an
    authenticated user could register a contact at the trunk's address."""
    p = make_site()
    p.receive(request("INVITE", "sip:bob@hq.example.com", ALICE, body=phone_sdp("192.0.2.255")), ALICE, 0)
    assert [m.status for m, d in out(p) if m.status != 100] == [488] and len(p.relay.media.ports) == 0
    p = make_site()
    t = lose_upstream(p)
    p.receive(register(ALICE, 1, "z9hG4bKsr1", "sip:x@198.51.100.50;transport=tcp", expires=60), ALICE, t)
    assert [(m.status, m.reason) for m, d in out(p)] == [(403, "Forbidden (Contact outside the LAN)")]
    assert p.location.lookup("sip:alice@hq.example.com", t) == []
