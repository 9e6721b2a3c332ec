"""The proxy as ALG between LAN phones and an upstream server, driven with
real bytes and a fake clock: what leaves on the WAN names no LAN address,
what comes back is mapped to the phone, pinholes follow offer and answer."""

from support import sip, plain
from outpost.core.auth import parse_networks
from outpost.core.message import parse_message
from outpost.core.proxy import Proxy, ProxyConfig
from outpost.core.registrar import RegistrarPolicy
from outpost.core.relay import RelayConfig

LAN_IP, WAN_IP = "192.0.2.1", "203.0.113.2"
ALICE = ("udp", "192.0.2.10", 5062, None)
UPSTREAM = ("udp", "203.0.113.10", 5060, None)
BOB = ("udp", "203.0.113.20", 5060, None)  # the far end's Contact: in-dialog requests go there
PHONE_SDP = ("v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
             "m=audio 7078 RTP/AVP 0\r\na=sendrecv\r\n")
FAR_SDP = ("v=0\r\no=pbx 7 7 IN IP4 203.0.113.20\r\ns=-\r\nc=IN IP4 203.0.113.20\r\nt=0 0\r\n"
           "m=audio 8078 RTP/AVP 0\r\na=sendrecv\r\n")


def make_relay():
    cfg = ProxyConfig("hq.example.com", {"udp": (LAN_IP, 5060)}, b"s" * 32, None, RegistrarPolicy("hq.example.com"))
    cfg.aliases = [(LAN_IP, 5060), (WAN_IP, 5060)]
    cfg.trusted = parse_networks(["127.0.0.0/8", "192.0.2.0/24"])
    cfg.relay = RelayConfig(parse_networks(["192.0.2.0/24"]), LAN_IP, WAN_IP, UPSTREAM)
    cfg.media = (40000, 40099, 10, 3600000)
    return Proxy(cfg, 0)


def out(p):
    return [(parse_message(d), dest) for d, dest in p.datagrams_to_send()]


def to(p, dest):
    """The one message sent to dest (100 Trying to the phone aside)."""
    msgs = [m for m, d in out(p) if d[1] == dest[1] and not (not m.is_request and m.status == 100)]
    assert len(msgs) == 1, msgs
    return msgs[0]


def no_lan(m):
    data = m.serialise()
    assert b"192.0.2." not in data, data.decode()
    return m


def respond(req, status, reason, body="", to_tag="up1", extra=()):
    lines = ["SIP/2.0 %d %s" % (status, reason)] + ["Via: " + v.text for v in req.vias]
    lines += ["From: " + req.get("from"), "To: " + req.get("to") + (";tag=" + to_tag if req.to.tag is None else ""),
              "Call-ID: " + req.call_id, "CSeq: " + req.get("cseq")]
    lines += [r.field.text and "Record-Route: " + r.field.text for r in req.record_routes] + list(extra)
    if body:
        lines.append("Content-Type: application/sdp")
    return sip(*lines, body=body)


def register(cseq=1):
    return sip("REGISTER sip:hq.example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKr%d;rport" % cseq,
               "Max-Forwards: 70", "From: <sip:alice@hq.example.com>;tag=ra", "To: <sip:alice@hq.example.com>",
               "Call-ID: reg1@192.0.2.10", "CSeq: %d REGISTER" % cseq, "Contact: <sip:alice@192.0.2.10:5062>", "Expires: 600")


def test_registration_is_relayed_and_learned_only_from_upstreams_2xx():
    p = make_relay()
    p.receive(register(), ALICE, 0)
    up = no_lan(to(p, UPSTREAM))
    assert len(up.vias) == 1 and up.top_via.host == WAN_IP  # the phone's Via stays here
    assert up.call_id == "reg1@opx" + up.call_id.split("@opx")[1]
    contact = up.contacts[0].uri
    assert contact.host == WAN_IP and contact.user == "alice" and contact.param("oc")
    assert len(p.location) == 0  # not from the request alone
    p.receive(respond(up, 401, "Unauthorized", extra=['WWW-Authenticate: Digest realm="hq.example.com", nonce="n1"']), UPSTREAM, 10)
    back = to(p, ALICE)
    assert back.status == 401 and back.call_id == "reg1@192.0.2.10" and back.top_via.host == "192.0.2.10"
    assert len(p.location) == 0
    p.receive(register(2), ALICE, 20)
    up = to(p, UPSTREAM)
    p.receive(respond(up, 200, "OK", extra=["Contact: <%s>;expires=300" % up.contacts[0].uri]), UPSTREAM, 30)
    ok = to(p, ALICE)
    assert ok.status == 200 and str(ok.contacts[0].uri) == "sip:alice@192.0.2.10:5062"  # the phone sees its own Contact
    b = p.location.lookup("sip:alice@hq.example.com", 30)
    assert [x.contact for x in b] == ["sip:alice@192.0.2.10:5062"] and b[0].expires_at == 30 + 300000
    # A call from upstream to that contact reaches the phone.
    p.receive(sip("INVITE %s SIP/2.0" % contact, "Via: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKin1", "Max-Forwards: 70",
                  "From: <sip:bob@hq.example.com>;tag=b1", "To: <sip:alice@hq.example.com>", "Call-ID: in1", "CSeq: 1 INVITE",
                  "Contact: <sip:bob@203.0.113.20>", "Content-Type: application/sdp", body=FAR_SDP), UPSTREAM, 40)
    inv = to(p, ALICE)
    assert str(inv.uri) == "sip:alice@192.0.2.10:5062" and inv.record_routes[0].uri.host == LAN_IP


def test_late_offer_in_200_and_answer_in_ack_and_update_and_a_non_sdp_body():
    p = make_relay()
    p.receive(sip("INVITE sip:bob@hq.example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKlo1;rport",
                  "Max-Forwards: 70", "From: <sip:alice@hq.example.com>;tag=a1", "To: <sip:bob@hq.example.com>",
                  "Call-ID: late@192.0.2.10", "CSeq: 1 INVITE", "Contact: <sip:alice@192.0.2.10:5062>"), ALICE, 0)
    up = no_lan(to(p, UPSTREAM))
    assert up.record_routes[0].uri.host == WAN_IP
    p.receive(respond(up, 200, "OK", FAR_SDP, extra=["Contact: <sip:bob@203.0.113.20>"]), UPSTREAM, 10)
    ok = to(p, ALICE)
    assert ok.sdp().connection.address == "203.0.113.20" and ok.record_routes[0].uri.host == LAN_IP
    # The phone's side is not known before the ACK, but it may send RTP as
    # soon as it has this offer: the far end is guarded, nothing is open.
    assert [(k, plain(g.remote)) for k, g in p.relay.media.actions] == [("guard", ("203.0.113.20", 8078)), ("guard", ("203.0.113.20", 8079))]
    p.relay.media.actions.clear()
    route = "<%s>" % ok.record_routes[0].uri  # our Record-Route, with the dialog's token
    in_dialog = ["Max-Forwards: 70", "From: <sip:alice@hq.example.com>;tag=a1", "To: <sip:bob@hq.example.com>;tag=up1",
                 "Call-ID: late@192.0.2.10", "Route: " + route]
    p.receive(sip("ACK sip:bob@203.0.113.20 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKack1;rport", "CSeq: 1 ACK",
                  *in_dialog, "Content-Type: application/sdp", body=PHONE_SDP), ALICE, 20)
    ack = no_lan(to(p, BOB))
    assert ack.sdp().media[0].port == 40000 and ack.sdp().connection.address == WAN_IP
    opened = [leg for kind, leg in p.relay.media.actions if kind == "open"]
    assert [(plain(leg.lan), plain(leg.remote)) for leg in opened] == [(("192.0.2.10", 7078), ("203.0.113.20", 8078)),
                                                         (("192.0.2.10", 7079), ("203.0.113.20", 8079))]
    p.relay.media.actions.clear()
    # UPDATE moves the phone's stream: the pinhole follows.
    p.receive(sip("UPDATE sip:bob@203.0.113.20 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKup1;rport", "CSeq: 2 UPDATE",
                  *in_dialog, "Contact: <sip:alice@192.0.2.10:5062>", "Content-Type: application/sdp",
                  body=PHONE_SDP.replace("7078", "7090")), ALICE, 30)
    upd = no_lan(to(p, BOB))
    assert upd.sdp().media[0].port == 40000
    assert [(k, plain(leg.lan)) for k, leg in p.relay.media.actions if leg.key[2] == "rtp"] == [("close", ("192.0.2.10", 7078)), ("open", ("192.0.2.10", 7090))]
    # INFO with a body that is not SDP: passes as it is.
    p.receive(sip("INFO sip:bob@203.0.113.20 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKinfo;rport", "CSeq: 3 INFO",
                  *in_dialog, "Content-Type: application/dtmf-relay", body="Signal=5\r\nDuration=160\r\n"), ALICE, 40)
    info = to(p, BOB)
    assert info.body == b"Signal=5\r\nDuration=160\r\n"
    # BYE from upstream: mapped back to the phone, and the pinholes close.
    p.relay.media.actions.clear()
    p.receive(sip("BYE %s SIP/2.0" % up.contacts[0].uri, "Via: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKbye", "Max-Forwards: 70",
                  "From: <sip:bob@hq.example.com>;tag=up1", "To: <sip:alice@hq.example.com>;tag=a1",
                  "Call-ID: " + up.call_id, "CSeq: 9 BYE", "Route: <sip:%s:5060;lr>" % WAN_IP), UPSTREAM, 50)
    bye = to(p, ALICE)
    assert bye.call_id == "late@192.0.2.10" and str(bye.uri) == "sip:alice@192.0.2.10:5062"
    assert sorted(k for k, _ in p.relay.media.actions) == ["close", "close"] and len(p.relay.media) == 0


def test_wan_strangers_cannot_relay_through_the_router():
    p = make_relay()
    p.receive(sip("INVITE sip:someone@198.51.100.7 SIP/2.0", "Via: SIP/2.0/UDP 198.51.100.66;branch=z9hG4bKx1", "Max-Forwards: 70",
                  "From: <sip:x@198.51.100.66>;tag=x", "To: <sip:someone@198.51.100.7>", "Call-ID: fraud1", "CSeq: 1 INVITE"),
              ("udp", "198.51.100.66", 5060, None), 0)
    msgs = out(p)
    assert [(m.status, d[1]) for m, d in msgs] == [(403, "198.51.100.66")]


def test_no_media_ports_left_is_503_and_said_so():
    p = make_relay()
    p.relay.media.ports.high = 40003  # two port pairs
    for i in range(3):
        p.receive(sip("INVITE sip:bob@hq.example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKx%d;rport" % i,
                      "Max-Forwards: 70", "From: <sip:alice@hq.example.com>;tag=a%d" % i, "To: <sip:bob@hq.example.com>",
                      "Call-ID: full%d@192.0.2.10" % i, "CSeq: 1 INVITE", "Contact: <sip:alice@192.0.2.10:5062>",
                      "Content-Type: application/sdp", body=PHONE_SDP), ALICE, i)
    answers = [(m.status, m.call_id) for m, d in out(p) if not m.is_request and m.status != 100]
    assert answers == [(503, "full2@192.0.2.10")]
    assert [str(e) for e in p.events if type(e).__name__ == "RequestRefused"] == ["INVITE full2@192.0.2.10: 503 No media ports left"]
    assert len(p.relay.media) == 2 and len(p.relay.media.ports) == 2


def test_a_new_call_from_the_wan_must_come_through_the_upstream():
    """Scanners on the internet call sip:100@<public address>; the phones
    ring only for the site's server (in-dialog requests in our dialogs
    still pass, whoever the far end is)."""
    p = make_relay()
    p.relay.config.peers = {"203.0.113.10"}
    p.receive(register(), ALICE, 0)
    up = to(p, UPSTREAM)
    p.receive(respond(up, 200, "OK", extra=["Contact: <%s>;expires=300" % up.contacts[0].uri]), UPSTREAM, 10)
    out(p)
    scanner = ("udp", "198.51.100.66", 5060, None)
    for ruri in (str(up.contacts[0].uri), "sip:alice@203.0.113.2", "sip:100@203.0.113.2"):
        p.receive(sip("INVITE %s SIP/2.0" % ruri, "Via: SIP/2.0/UDP 198.51.100.66;branch=z9hG4bKscan%d" % len(ruri), "Max-Forwards: 70",
                      "From: <sip:100@198.51.100.66>;tag=s", "To: <%s>" % ruri, "Call-ID: scan%d" % len(ruri), "CSeq: 1 INVITE"), scanner, 20)
        assert [(m.status, d[1]) for m, d in out(p)] == [(403, "198.51.100.66")]


def test_two_phones_of_the_site_through_a_proxy_upstream_talk_on_the_lan():
    """alice calls bob; the upstream is a proxy (Kamailio) that sends the
    INVITE back to this router unchanged, media not anchored: the SDP bob
    gets names the router's WAN port of alice's stream. The router puts
    alice's LAN address there (and bob's in the answer): RTP stays on the
    LAN, no pinhole, one Call-ID for two legs kept apart."""
    p = make_relay()
    bob = ("udp", "192.0.2.11", 5064, None)
    p.receive(sip("REGISTER sip:hq.example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.11:5064;branch=z9hG4bKrb;rport", "Max-Forwards: 70",
                  "From: <sip:bob@hq.example.com>;tag=rb", "To: <sip:bob@hq.example.com>", "Call-ID: regb", "CSeq: 1 REGISTER",
                  "Contact: <sip:bob@192.0.2.11:5064>", "Expires: 600"), bob, 0)
    up = to(p, UPSTREAM)
    bob_wan = up.contacts[0].uri
    p.receive(respond(up, 200, "OK", extra=["Contact: <%s>;expires=600" % bob_wan]), UPSTREAM, 1)
    out(p)
    p.receive(sip("INVITE sip:bob@hq.example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKhp1;rport",
                  "Max-Forwards: 70", "From: <sip:alice@hq.example.com>;tag=a1", "To: <sip:bob@hq.example.com>",
                  "Call-ID: hair@192.0.2.10", "CSeq: 1 INVITE", "Contact: <sip:alice@192.0.2.10:5062>",
                  "Content-Type: application/sdp", body=PHONE_SDP), ALICE, 10)
    inv = no_lan(to(p, UPSTREAM))
    assert inv.sdp().media[0].port == 40000
    # The proxy upstream sends it back to bob's contact: its own Via on top.
    raw = inv.serialise().decode()
    head, body = raw.split("\r\n\r\n", 1)
    lines = head.split("\r\n")
    lines[0] = "INVITE %s SIP/2.0" % bob_wan
    lines.insert(1, "Via: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKkam1")
    p.receive(("\r\n".join(lines) + "\r\n\r\n" + body).encode(), UPSTREAM, 20)
    to_bob = to(p, bob)
    sdp = to_bob.sdp()
    assert (sdp.connection.address, sdp.media[0].port) == ("192.0.2.10", 7078)
    assert to_bob.call_id == "hair@192.0.2.10"
    # bob answers; upstream relays the 200 back to alice's leg.
    p.receive(sip("SIP/2.0 200 OK", *["Via: " + v.text for v in to_bob.vias], "From: " + to_bob.get("from"),
                  "To: " + to_bob.get("to") + ";tag=b1", "Call-ID: " + to_bob.call_id, "CSeq: 1 INVITE",
                  "Contact: <sip:bob@192.0.2.11:5064>", "Content-Type: application/sdp",
                  body=PHONE_SDP.replace("192.0.2.10", "192.0.2.11").replace("7078", "7090")), bob, 30)
    ok_up = no_lan(to(p, UPSTREAM))
    assert ok_up.sdp().media[0].port == 40002
    p.receive(respond(inv, 200, "OK", ok_up.body.decode(), to_tag="b1", extra=["Contact: <%s>" % ok_up.contacts[0].uri]), UPSTREAM, 40)
    to_alice = to(p, ALICE)
    sdp = to_alice.sdp()
    assert (sdp.connection.address, sdp.media[0].port) == ("192.0.2.11", 7090)
    assert [a for a in p.relay.media.actions if a[0] == "open"] == []  # the router is not in the media path
    assert len(p.relay.media) == 2  # alice's leg and bob's leg, one Call-ID


def test_unknown_header_fields_do_not_leave_on_the_wan_unless_the_admin_allows_them():
    """Topology hiding: baresip's X-RTP-Stat names the phone's address in a
    shape no sweep foresees; a field the router does not know leaves only
    when upstream.pass_headers lists it (and is still swept for the LAN)."""
    p = make_relay()
    p.config.relay.pass_headers = frozenset(["x-billing-code", "x-site-note"])
    raw = register().decode().replace("Expires: 600\r\n", "Expires: 600\r\n" + "".join(
        h + "\r\n" for h in ("X-RTP-Stat: CS=0;CD=3;PR=150;IP=10.0.0.1:1,192.0.2.10:10008", "X-Vendor-Thing: harmless",
                             "P-Asserted-Identity: <sip:alice@hq.example.com>", "X-Billing-Code: 4711",
                             "X-Site-Note: phone at 192.0.2.10", "User-Agent: baresip v1.0.0 (x86_64/linux)")))
    p.receive(raw.encode(), ALICE, 0)
    up = no_lan(to(p, UPSTREAM))
    names = [n for n in up.names()]
    assert "x-rtp-stat" not in names and "x-vendor-thing" not in names and "x-site-note" not in names
    assert up.get("x-billing-code") == "4711" and up.get("p-asserted-identity") == "<sip:alice@hq.example.com>"
    assert up.get("user-agent") == "baresip v1.0.0 (x86_64/linux)"


def test_a_phones_gruu_contact_becomes_ours_so_the_ack_reaches_it():
    """linphone answers with its GRUU as Contact (sip:carol@DOMAIN;gr=...,
    RFC 5627). Upstream sends the ACK and BYE to that name, which nobody on
    the WAN can reach: the router puts its own contact for the phone there,
    and the ACK to it reaches the phone."""
    p = make_relay()
    p.relay.config.peers = {"203.0.113.10"}
    p.receive(register(), ALICE, 0)
    up = to(p, UPSTREAM)
    p.receive(respond(up, 200, "OK", extra=["Contact: <%s>;expires=300" % up.contacts[0].uri]), UPSTREAM, 10)
    out(p)
    p.receive(sip("INVITE %s SIP/2.0" % up.contacts[0].uri, "Via: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKgr1", "Max-Forwards: 70",
                  "Record-Route: <sip:203.0.113.10;lr>", "From: <sip:bob@hq.example.com>;tag=b1", "To: <sip:alice@hq.example.com>",
                  "Call-ID: gruu-call", "CSeq: 1 INVITE", "Contact: <sip:bob@203.0.113.20>"), UPSTREAM, 20)
    inv = to(p, ALICE)
    gruu = "sip:alice@hq.example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
    p.receive(sip("SIP/2.0 200 OK", *["Via: " + v.text for v in inv.vias], *["Record-Route: " + r.field.text for r in inv.record_routes],
                  "From: " + inv.get("from"), "To: " + inv.get("to") + ";tag=a9", "Call-ID: gruu-call", "CSeq: 1 INVITE",
                  "Contact: <%s>" % gruu), ALICE, 30)
    ok = no_lan(to(p, UPSTREAM))
    contact = ok.contacts[0].uri
    assert contact.host == WAN_IP and contact.param("oc") and not contact.has_param("gr")
    rr = [r.field.text for r in ok.record_routes]
    p.receive(sip("ACK %s SIP/2.0" % contact, "Via: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKgr2", "Max-Forwards: 70",
                  *["Route: " + r for r in rr if "203.0.113.10" not in r], "From: <sip:bob@hq.example.com>;tag=b1",
                  "To: <sip:alice@hq.example.com>;tag=a9", "Call-ID: gruu-call", "CSeq: 1 ACK"), UPSTREAM, 40)
    ack = to(p, ALICE)
    assert ack.method == "ACK" and ack.uri.host == ALICE[1]


def test_timer_c_is_the_sites_and_restarts_with_each_provisional():
    """sip.timers.timer_c_s: a call ringing that long without an answer is
    cancelled upstream (RFC 3261 §16.6 step 11)."""
    p = make_relay()
    p.config.timer_c = 200000
    p.receive(sip("INVITE sip:bob@hq.example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKtc1;rport",
                  "Max-Forwards: 70", "From: <sip:alice@hq.example.com>;tag=a1", "To: <sip:bob@hq.example.com>",
                  "Call-ID: tc@192.0.2.10", "CSeq: 1 INVITE", "Contact: <sip:alice@192.0.2.10:5062>"), ALICE, 0)
    up = to(p, UPSTREAM)
    p.receive(respond(up, 180, "Ringing"), UPSTREAM, 1000)
    out(p)
    cancels = []
    for t in range(2000, 202000, 1000):
        p.handle_timer(t)
        cancels += [(t, m) for m, d in out(p) if d == UPSTREAM and m.is_request and m.method == "CANCEL"]
    assert [t for t, m in cancels] == [201000]  # 200 s after the last provisional, not the default 181


def test_counters_by_method_and_response_class_cannot_be_grown_by_a_sender():
    p = make_relay()
    for i, method in enumerate(("OPTIONS", "FOO", "BAR%d" % 1)):
        p.receive(sip("%s sip:hq.example.com SIP/2.0" % method, "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKm%d;rport" % i,
                      "Max-Forwards: 70", "From: <sip:alice@hq.example.com>;tag=a1", "To: <sip:hq.example.com>",
                      "Call-ID: m%d@192.0.2.10" % i, "CSeq: 1 %s" % method), ALICE, i)
    t = p.status(10)["traffic"]
    assert t["methods"]["OPTIONS"] == 1 and t["methods"]["other"] == 2 and len(t["methods"]) == 14
    assert sorted(t["classes"]) == ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"]
