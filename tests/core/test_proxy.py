"""The proxy and registrar core, driven with real bytes and a fake clock.
Phones here are scripted byte builders; tests/integration does the same
against sipp over real sockets."""

from support import sip
from outpost.core import digest
from outpost.core.auth import Authenticator, Credentials, Nonces
from outpost.core.message import parse_message
from outpost.core.proxy import Proxy, ProxyConfig
from outpost.core.registrar import RegistrarPolicy

ROUTER = ("192.0.2.1", 5060)
ALICE = ("udp", "192.0.2.10", 5060, None)
BOB = ("udp", "192.0.2.20", 5060, None)
BOB2 = ("tcp", "192.0.2.21", 40000, 7)
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}


def make_proxy(now=0, **kw):
    users = {u: Credentials.from_password(u, "example.com", p) for u, p in PASSWORDS.items()}
    auth = Authenticator("example.com", users, Nonces(b"k" * 32), ("SHA-256", "MD5"))
    cfg = ProxyConfig("example.com", {"udp": ROUTER, "tcp": ROUTER}, b"s" * 32, auth, RegistrarPolicy("example.com"), **kw)
    return Proxy(cfg, now)


def sent(p):
    return [(parse_message(d), dest) for d, dest in p.datagrams_to_send()]


def only(p, dest=None):
    out = sent(p)
    assert len(out) == 1, [(m, d) for m, d in out]
    m, d = out[0]
    if dest is not None:
        assert d == dest, (d, dest)
    return m


def register(user, src, cseq=1, auth_from=None, expires=3600, contact=None, call_id=None, extra=()):
    return sip(
        "REGISTER sip:example.com SIP/2.0",
        "Via: SIP/2.0/%s %s:%d;branch=z9hG4bKreg%s%d;rport" % (src[0].upper(), src[1], src[2], user, cseq),
        "Max-Forwards: 70",
        "From: <sip:%s@example.com>;tag=r%s" % (user, user),
        "To: <sip:%s@example.com>" % user,
        "Call-ID: reg-%s" % (call_id or user),
        "CSeq: %d REGISTER" % cseq,
        "Contact: <%s>" % (contact or "sip:%s@%s:%d" % (user, src[1], src[2])),
        "Expires: %d" % expires,
        *extra,
    )


def answer(challenge_msg, user, method, uri, header, alg="SHA-256", nc="00000001", password=None):
    for ch in challenge_msg.auth(header):
        if ch.get("algorithm") == alg:
            ha1 = digest.ha1(alg, user, "example.com", password or PASSWORDS[user])
            return digest.credentials(user, "example.com", ha1, ch.get("nonce"), method, uri, alg, "auth", nc, "0a4f113b")
    raise AssertionError("no %s challenge" % alg)


def registered(p, user, src, now=0, contact=None, cseq=1):
    p.receive(register(user, src, cseq, contact=contact), src, now)
    ch = only(p, src)
    assert ch.status == 401
    cred = answer(ch, user, "REGISTER", "sip:example.com", "www-authenticate")
    p.receive(register(user, src, cseq + 1, contact=contact, extra=("Authorization: " + cred,)), src, now)
    ok = only(p, src)
    assert ok.status == 200, ok.status
    return ok


def invite(frm="alice", to="bob", src=ALICE, cseq=1, extra=(), branch="z9hG4bKinv1"):
    return sip(
        "INVITE sip:%s@example.com SIP/2.0" % to,
        "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (src[1], src[2], branch),
        "Max-Forwards: 70",
        "From: <sip:%s@example.com>;tag=a1" % frm,
        "To: <sip:%s@example.com>" % to,
        "Call-ID: call-1@%s" % src[1],
        "CSeq: %d INVITE" % cseq,
        "Contact: <sip:%s@%s:%d>" % (frm, src[1], src[2]),
        "Content-Type: application/sdp",
        *extra,
        body="v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n" % (src[1], src[1]),
    )


def authed_invite(p, now=0, **kw):
    p.receive(invite(**kw), kw.get("src", ALICE), now)
    ch = only(p)
    assert ch.status == 407
    ack = sip("ACK sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinv1;rport", "From: <sip:alice@example.com>;tag=a1",
              "To: <sip:bob@example.com>;tag=%s" % ch.to.tag, "Call-ID: call-1@192.0.2.10", "CSeq: 1 ACK", "Max-Forwards: 70")
    p.receive(ack, ALICE, now)
    assert sent(p) == []  # ACK for the 407 is absorbed
    cred = answer(ch, kw.get("frm", "alice"), "INVITE", "sip:%s@example.com" % kw.get("to", "bob"), "proxy-authenticate")
    kw2 = dict(kw, cseq=2, branch="z9hG4bKinv2", extra=("Proxy-Authorization: " + cred,) + tuple(kw.get("extra", ())))
    p.receive(invite(**kw2), kw.get("src", ALICE), now)


def invite_reaches_bob():
    """A proxy with bob registered, and alice's authenticated INVITE as it reached bob."""
    p = make_proxy()
    registered(p, "bob", BOB)
    authed_invite(p)
    return p, [m for m, d in sent(p) if m.is_request][0]


def reply(req, status, reason, tag="b1", extra=(), body=""):
    """A UAS response to a forwarded request: every Via copied back."""
    lines = ["SIP/2.0 %d %s" % (status, reason)]
    for v in req.fields("via"):
        lines.append("Via: " + v.text)
    for rr in req.fields("record-route"):
        lines.append("Record-Route: " + rr.text)
    lines += ["From: " + req.get("from"), "To: %s%s" % (req.get("to"), "" if status == 100 or ";tag=" in req.get("to") else ";tag=" + tag),
              "Call-ID: " + req.call_id, "CSeq: " + req.get("cseq"), "Contact: <sip:bob@192.0.2.20:5060>"]
    return sip(*(lines + list(extra)), body=body)


# -- registrar ---------------------------------------------------------------------

def test_register_is_challenged_then_accepted_with_sha256_and_md5():
    p = make_proxy()
    p.receive(register("alice", ALICE), ALICE, 0)
    ch = only(p, ALICE)
    assert ch.status == 401 and [a.get("algorithm") for a in ch.auth("www-authenticate")] == ["SHA-256", "MD5"]
    assert ch.top_via.received == "192.0.2.10" and ch.top_via.rport == 5060  # RFC 3581 §4
    for alg, cseq in (("SHA-256", 2), ("MD5", 3)):
        cred = answer(ch, "alice", "REGISTER", "sip:example.com", "www-authenticate", alg, nc="%08x" % cseq)
        p.receive(register("alice", ALICE, cseq, extra=("Authorization: " + cred,)), ALICE, 10)
        ok = only(p, ALICE)
        assert ok.status == 200 and ok.contacts[0].expires == 3600, alg
    assert [b.uri.host for b in p.location.lookup("sip:alice@example.com", 10)] == ["192.0.2.10"]
    assert type(p.events[-1]).__name__ == "BindingChanged"


def test_wrong_password_replay_and_foreign_aor_are_refused():
    p = make_proxy()
    p.receive(register("alice", ALICE), ALICE, 0)
    ch = only(p)
    bad_cred = answer(ch, "alice", "REGISTER", "sip:example.com", "www-authenticate", password="guess")
    p.receive(register("alice", ALICE, 2, extra=("Authorization: " + bad_cred,)), ALICE, 0)
    assert only(p).status == 401
    cred = answer(ch, "alice", "REGISTER", "sip:example.com", "www-authenticate")
    p.receive(register("alice", ALICE, 3, extra=("Authorization: " + cred,)), ALICE, 0)
    assert only(p).status == 200
    p.receive(register("alice", ALICE, 4, extra=("Authorization: " + cred,)), ALICE, 0)  # same nc again
    assert only(p).status == 401
    # Bob's valid credentials cannot register alice's address-of-record.
    p.receive(register("bob", BOB), BOB, 0)
    ch = only(p)
    cred = answer(ch, "bob", "REGISTER", "sip:example.com", "www-authenticate")
    p.receive(register("alice", BOB, 7, call_id="x", extra=("Authorization: " + cred.replace('username="bob"', 'username="bob"'),)).replace(b"From: <sip:alice", b"From: <sip:bob"), BOB, 0)
    assert only(p).status == 403


def test_stale_nonce_gets_stale_true():
    p = make_proxy()
    p.receive(register("alice", ALICE), ALICE, 0)
    ch = only(p)
    cred = answer(ch, "alice", "REGISTER", "sip:example.com", "www-authenticate")
    p.receive(register("alice", ALICE, 2, extra=("Authorization: " + cred,)), ALICE, 400000)
    again = only(p)
    assert again.status == 401 and again.auth("www-authenticate")[0].get("stale") == "true"


def test_expiry_rules():
    p = make_proxy()
    registered(p, "alice", ALICE)
    p.receive(register("alice", ALICE, 10, expires=30), ALICE, 0)
    ch = only(p)
    cred = answer(ch, "alice", "REGISTER", "sip:example.com", "www-authenticate")
    p.receive(register("alice", ALICE, 11, expires=30, extra=("Authorization: " + cred,)), ALICE, 0)
    brief = only(p)
    assert brief.status == 423 and brief.get("min-expires") == "60"
    cred = answer(ch, "alice", "REGISTER", "sip:example.com", "www-authenticate", nc="00000002")
    p.receive(register("alice", ALICE, 12, expires=999999, extra=("Authorization: " + cred,)), ALICE, 0)
    assert only(p).contacts[0].expires == 7200  # capped at the maximum
    p.handle_timer(7200 * 1000)
    assert p.location.lookup("sip:alice@example.com", 7200 * 1000) == []
    assert type(p.events[-1]).__name__ == "BindingExpired"


def test_star_removes_every_binding_and_per_aor_bound_is_503():
    p = make_proxy(max_per_aor=2)
    registered(p, "alice", ALICE, contact="sip:alice@192.0.2.10:5060")
    registered(p, "alice", ALICE, contact="sip:alice@192.0.2.11:5060", cseq=5)
    p.receive(register("alice", ALICE, 20, contact="sip:alice@192.0.2.12:5060"), ALICE, 0)
    ch = only(p)
    cred = answer(ch, "alice", "REGISTER", "sip:example.com", "www-authenticate")
    p.receive(register("alice", ALICE, 21, contact="sip:alice@192.0.2.12:5060", extra=("Authorization: " + cred,)), ALICE, 0)
    full = only(p)
    assert full.status == 503 and full.get("retry-after")
    star = register("alice", ALICE, 22, expires=0, extra=("Authorization: " + answer(ch, "alice", "REGISTER", "sip:example.com", "www-authenticate", nc="00000002"),))
    p.receive(star.replace(b"Contact: <sip:alice@192.0.2.10:5060>", b"Contact: *"), ALICE, 0)
    assert only(p).status == 200 and p.location.lookup("sip:alice@example.com", 0) == []


# -- calls ------------------------------------------------------------------------

def test_call_through_the_proxy():
    p = make_proxy()
    registered(p, "bob", BOB)
    authed_invite(p)
    out = sent(p)
    trying = [m for m, d in out if not m.is_request]
    fwd = [(m, d) for m, d in out if m.is_request]
    assert [m.status for m in trying] == [100]
    inv, dest = fwd[0]
    assert dest == BOB and str(inv.uri) == "sip:bob@192.0.2.20:5060"
    assert inv.max_forwards == 69 and not inv.has("proxy-authorization")
    rr = str(inv.record_routes[0].uri)
    assert rr.startswith("sip:192.0.2.1:5060;lr;ot=")  # with the dialog's token (dialogtoken.py)
    assert inv.vias[0].host == "192.0.2.1" and inv.vias[1].received == "192.0.2.10" and inv.vias[1].rport == 5060
    p.receive(reply(inv, 180, "Ringing"), BOB, 100)
    ringing = only(p, ALICE)
    assert ringing.status == 180 and len(ringing.vias) == 1
    p.receive(reply(inv, 200, "OK"), BOB, 200)
    ok = only(p, ALICE)
    assert ok.status == 200 and ok.to.tag == "b1" and str(ok.record_routes[0].uri) == rr
    p.receive(reply(inv, 200, "OK"), BOB, 700)  # 2xx retransmission goes upstream too
    assert only(p, ALICE).status == 200
    ack = sip("ACK sip:bob@192.0.2.20:5060 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKack1;rport", "Route: <%s>" % rr,
              "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=a1", "To: <sip:bob@example.com>;tag=b1", "Call-ID: call-1@192.0.2.10", "CSeq: 2 ACK")
    p.receive(ack, ALICE, 300)
    fwd_ack = only(p, BOB)
    assert fwd_ack.method == "ACK" and not fwd_ack.has("route") and len(fwd_ack.vias) == 2
    bye = sip("BYE sip:alice@192.0.2.10:5060 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKbye1;rport", "Route: <%s>" % rr,
              "Max-Forwards: 70", "From: <sip:bob@example.com>;tag=b1", "To: <sip:alice@example.com>;tag=a1", "Call-ID: call-1@192.0.2.10", "CSeq: 1 BYE")
    p.receive(bye, BOB, 5000)
    fwd_bye = only(p, ("udp", "192.0.2.10", 5060, None))
    p.receive(reply(fwd_bye, 200, "OK"), ALICE, 5100)
    assert only(p, BOB).status == 200


def test_cancel_before_answer():
    p, inv = invite_reaches_bob()
    p.receive(reply(inv, 180, "Ringing"), BOB, 100)
    sent(p)
    cancel = invite(cseq=2, branch="z9hG4bKinv2").split(b"\r\n\r\n")[0].replace(b"INVITE sip:bob", b"CANCEL sip:bob").replace(b"CSeq: 2 INVITE", b"CSeq: 2 CANCEL")
    cancel = b"\r\n".join(l for l in cancel.split(b"\r\n") if not l.startswith((b"Content-", b"Contact"))) + b"\r\nContent-Length: 0\r\n\r\n"
    p.receive(cancel, ALICE, 200)
    out = sent(p)
    assert [(m.status, d) for m, d in out if not m.is_request] == [(200, ALICE)]
    (c, d), = [(m, d) for m, d in out if m.is_request]
    assert c.method == "CANCEL" and d == BOB and c.top_via.branch == inv.top_via.branch
    p.receive(reply(c, 200, "OK"), BOB, 210)
    p.receive(reply(inv, 487, "Request Terminated"), BOB, 220)
    out = sent(p)
    assert sorted(((m.method if m.is_request else str(m.status)), d) for m, d in out) == [("487", ALICE), ("ACK", BOB)]


def test_busy_is_passed_back_and_unknown_users_get_404_or_480():
    p, inv = invite_reaches_bob()
    p.receive(reply(inv, 486, "Busy Here"), BOB, 100)
    statuses = sorted(str(m.method if m.is_request else m.status) for m, d in sent(p))
    assert statuses == ["486", "ACK"]
    q = make_proxy()
    authed_invite(q, to="carol")  # a user with no binding
    assert [m.status for m, d in sent(q)] == [480]
    r = make_proxy()
    authed_invite(r, to="nobody")
    assert [m.status for m, d in sent(r)] == [404]


def test_parallel_fork_cancels_the_losing_branch():
    p = make_proxy()
    registered(p, "bob", BOB, contact="sip:bob@192.0.2.20:5060")
    registered(p, "bob", BOB2, contact="sip:bob@192.0.2.21:40000;transport=tcp", cseq=5)
    authed_invite(p)
    fwd = [(m, d) for m, d in sent(p) if m.is_request]
    assert sorted(d for _, d in fwd) == sorted([BOB, BOB2])
    by_dest = dict((d, m) for m, d in fwd)
    assert by_dest[BOB2].vias[0].transport == "TCP"
    p.receive(reply(by_dest[BOB], 180, "Ringing"), BOB, 50)
    p.receive(reply(by_dest[BOB2], 180, "Ringing", tag="b2"), BOB2, 60)
    sent(p)
    p.receive(reply(by_dest[BOB2], 200, "OK", tag="b2"), BOB2, 100)
    out = sent(p)
    assert [(m.status, d) for m, d in out if not m.is_request] == [(200, ALICE)]
    (c, d), = [(m, d) for m, d in out if m.is_request]
    assert c.method == "CANCEL" and d == BOB


def test_callee_that_never_answers_gives_408():
    p = make_proxy()
    registered(p, "bob", BOB)
    authed_invite(p)
    sent(p)
    t = 0
    while True:
        t = p.next_deadline()
        if t is None or t > 40000:
            break
        p.handle_timer(t)
    out = [(m.status, d) for m, d in sent(p) if not m.is_request]
    assert out[0] == (408, ALICE) and set(out) == {(408, ALICE)}  # then Timer G repeats it: no ACK here


def test_requests_the_proxy_refuses():
    p = make_proxy()
    options = sip("OPTIONS sip:192.0.2.1:5060 SIP/2.0", "Via: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKo1", "Max-Forwards: 0",
                  "From: <sip:ping@203.0.113.10>;tag=1", "To: <sip:192.0.2.1>", "Call-ID: o1", "CSeq: 1 OPTIONS")
    src = ("udp", "203.0.113.10", 5060, None)
    p.receive(options, src, 0)
    ok = only(p, src)
    assert ok.status == 200 and "INVITE" in ok.get("allow")
    p.receive(options.replace(b"OPTIONS sip:192.0.2.1:5060", b"OPTIONS sip:x@203.0.113.99").replace(b"z9hG4bKo1", b"z9hG4bKo2"), src, 0)
    assert only(p).status == 483
    p.receive(options.replace(b"Max-Forwards: 0", b"Max-Forwards: 9\r\nProxy-Require: foo").replace(b"z9hG4bKo1", b"z9hG4bKo3"), src, 0)
    e = only(p)
    assert e.status == 420 and e.get("unsupported") == "foo"
    p.receive(b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKg\r\nCSeq: x\r\n\r\n", src, 0)
    assert only(p, src).status == 400
    p.receive(b"\x16\x03\x01 not sip at all", src, 0)
    assert sent(p) == [] and p.counters["malformed"] == 2


def test_rate_limit_drops_a_flood_from_one_source():
    p = make_proxy(rate=10, burst=5)
    src = ("udp", "203.0.113.66", 5060, None)
    for i in range(50):
        p.receive(b"OPTIONS sip:192.0.2.1 SIP/2.0\r\n\r\n", src, 0)
    assert p.counters["rate_limited"] == 45


def test_retransmitted_invite_is_absorbed():
    p = make_proxy()
    registered(p, "bob", BOB)
    authed_invite(p)
    sent(p)
    p.receive(invite(cseq=2, branch="z9hG4bKinv2", extra=("Proxy-Authorization: x",)), ALICE, 300)
    again = sent(p)
    assert [m.status for m, d in again] == [100]  # the last provisional, from the transaction


def test_2xx_ack_reusing_the_invite_branch_is_still_forwarded():
    """RFC 6026 §7.1: phones that put the INVITE's branch on the 2xx ACK."""
    p, inv = invite_reaches_bob()
    p.receive(reply(inv, 200, "OK"), BOB, 100)
    sent(p)
    ack = sip("ACK sip:bob@192.0.2.20:5060 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinv2;rport", "Route: <%s>" % inv.record_routes[0].uri,
              "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=a1", "To: <sip:bob@example.com>;tag=b1", "Call-ID: call-1@192.0.2.10", "CSeq: 2 ACK")
    p.receive(ack, ALICE, 200)
    fwd = only(p, BOB)
    assert fwd.method == "ACK" and fwd.cseq.seq == 2


def test_response_with_no_via_left_is_answered_by_us():
    """§16.7 step 3: a response whose only Via was ours is not forwarded as
    is; the caller gets the same status from a response the proxy builds."""
    p, inv = invite_reaches_bob()
    bare = reply(inv, 486, "Busy Here").replace(b"Via: " + inv.vias[1].field.text.encode() + b"\r\n", b"")
    p.receive(bare, BOB, 100)
    up = [m for m, d in sent(p) if not m.is_request]
    assert [m.status for m in up] == [486] and up[0].top_via.branch == "z9hG4bKinv2"


def test_location_heap_expires_in_order_and_stays_bounded():
    from outpost.core.location import LocationTable, Binding
    t = LocationTable()
    for i in range(50):
        t.put(Binding("sip:u%d@example.com" % i, "sip:u%d@192.0.2.%d" % (i, i + 1), 1000 + i, 1000, "c", 1, ALICE))
    for r in range(400):  # refreshes of one binding leave stale heap entries
        t.put(Binding("sip:u0@example.com", "sip:u0@192.0.2.1", 5000 + r, 1000, "c", 2 + r, ALICE))
    assert len(t._heap) <= 4 * len(t) + 64
    assert t.next_expiry() == 1001
    assert [b.aor for b in t.expire(1010)] == ["sip:u%d@example.com" % i for i in range(1, 11)]
    assert t.next_expiry() == 1011 and len(t) == 40
    assert t.expire(5398) and t.lookup("sip:u0@example.com", 5398)[0].expires_at == 5399


def test_options_to_the_domain_itself_is_answered_by_the_router():
    p = make_proxy()
    src = ("udp", "203.0.113.10", 5060, None)
    p.receive(sip("OPTIONS sip:example.com SIP/2.0", "Via: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKdom1", "Max-Forwards: 70",
                  "From: <sip:ping@203.0.113.10>;tag=1", "To: <sip:example.com>", "Call-ID: dom1", "CSeq: 1 OPTIONS"), src, 0)
    assert only(p, src).status == 200


def test_a_user_limited_to_a_network_is_refused_elsewhere():
    from outpost.core.auth import parse_networks
    p = make_proxy()
    p.config.authenticator.users["alice"].networks = parse_networks(["198.51.100.0/24"])
    p.receive(register("alice", ALICE), ALICE, 0)
    ch = only(p)
    cred = answer(ch, "alice", "REGISTER", "sip:example.com", "www-authenticate")
    p.receive(register("alice", ALICE, 2, extra=("Authorization: " + cred,)), ALICE, 0)
    refused = only(p)
    assert refused.status == 403 and refused.reason == "Forbidden (not from an allowed network)"
    inside = ("udp", "198.51.100.7", 5060, None)
    p.receive(register("alice", inside, 3), inside, 0)
    cred = answer(only(p), "alice", "REGISTER", "sip:example.com", "www-authenticate")
    p.receive(register("alice", inside, 4, extra=("Authorization: " + cred,)), inside, 0)
    assert only(p).status == 200


def stranger_invite(extra=(), to_tag=""):
    return sip("INVITE sip:+1900555@203.0.113.50 SIP/2.0", "Via: SIP/2.0/UDP 198.51.100.66:5060;branch=z9hG4bKtoll1;rport",
               "Max-Forwards: 70", "From: <sip:mallory@evil.example>;tag=m1", "To: <sip:+1900555@203.0.113.50>" + to_tag,
               "Call-ID: toll-1@198.51.100.66", "CSeq: 1 INVITE", "Contact: <sip:m@198.51.100.66>", *extra)


def test_no_open_relay_for_toll_fraud():
    """A request leaving for another domain needs one of our users'
    credentials, whatever its From says."""
    mallory = ("udp", "198.51.100.66", 5060, None)
    p = make_proxy()
    p.receive(stranger_invite(), mallory, 0)
    ch = only(p, mallory)
    assert ch.status == 407
    cred = answer(ch, "alice", "INVITE", "sip:+1900555@203.0.113.50", "proxy-authenticate")
    p.receive(stranger_invite(("Proxy-Authorization: " + cred,)).replace(b"toll1", b"toll2").replace(b"CSeq: 1", b"CSeq: 2"), mallory, 1)
    fwd = [(m, d) for m, d in sent(p) if m.is_request]
    assert fwd[0][1] == ("udp", "203.0.113.50", 5060, None) and not fwd[0][0].has("proxy-authorization")


def test_strangers_in_dialog_requests_and_acks_are_not_relayed():
    mallory = ("udp", "198.51.100.66", 5060, None)
    p = make_proxy()
    bye = stranger_invite(to_tag=";tag=x").replace(b"INVITE sip:", b"BYE sip:").replace(b"CSeq: 1 INVITE", b"CSeq: 2 BYE")
    p.receive(bye, mallory, 0)
    refused = only(p, mallory)
    assert refused.status == 403 and refused.reason == "Forbidden (not a dialog of this proxy)"
    ack = stranger_invite(to_tag=";tag=x").replace(b"INVITE sip:", b"ACK sip:").replace(b"CSeq: 1 INVITE", b"CSeq: 1 ACK")
    p.receive(ack, mallory, 0)
    assert sent(p) == []


def test_open_mode_relays_without_credentials():
    p = make_proxy()
    p.config.auth_invite = False  # auth.invite: false, as the Kamailio bench runs it
    p.receive(stranger_invite(), ("udp", "198.51.100.66", 5060, None), 0)
    assert [d for m, d in sent(p) if m.is_request] == [("udp", "203.0.113.50", 5060, None)]


def test_without_users_only_trusted_networks_register_and_relay():
    from outpost.core.auth import parse_networks
    cfg = ProxyConfig("example.com", {"udp": ROUTER}, b"s" * 32, None, RegistrarPolicy("example.com"))
    cfg.trusted = parse_networks(["127.0.0.0/8", "192.0.2.0/24"])
    p = Proxy(cfg, 0)
    wan = ("udp", "203.0.113.66", 5060, None)
    p.receive(register("bob", wan), wan, 0)
    assert only(p, wan).reason == "Forbidden (registration only from trusted networks)"
    p.receive(register("bob", BOB), BOB, 0)
    assert only(p, BOB).status == 200  # the LAN phone registers without credentials
    p.receive(stranger_invite().replace(b"198.51.100.66", b"203.0.113.66"), wan, 0)
    assert only(p, wan).reason == "Forbidden (relaying only for trusted networks)"
    p.receive(invite(frm="carol", src=wan).replace(b"Call-ID: call-1", b"Call-ID: in-1"), wan, 0)  # an incoming call to bob
    assert [d for m, d in sent(p) if m.is_request] == [BOB]


def _spiral_proxy():
    from outpost.core.auth import parse_networks
    cfg = ProxyConfig("example.com", {"udp": ROUTER}, b"s" * 32, None, RegistrarPolicy("example.com"))
    cfg.trusted = parse_networks(["192.0.2.0/24", "198.51.100.0/24"])
    return Proxy(cfg, 0)


def _back_from(m, hop, keep_route):
    """`m` as the next hop sends it back to us: its Via on top, its own
    Route popped (a spiral) or left as it was (a loop)."""
    head, body = m.serialise().decode().split("\r\n\r\n", 1)
    lines = head.split("\r\n")
    lines.insert(1, "Via: SIP/2.0/UDP %s:5060;branch=z9hG4bKhop%d" % (hop, keep_route))
    if not keep_route:
        lines = [ln for ln in lines if not ln.lower().startswith("route:")]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def test_a_request_back_with_another_route_set_is_a_spiral_and_unchanged_is_a_loop():
    """RFC 3261 §16.3 item 4 / §16.6 step 8: the loop hash covers the Route
    values. A BYE between two LAN phones through an upstream that does not
    anchor media passes the router twice with one Request-URI and another
    Route set: that is a spiral, forwarded; only an unchanged request is a
    loop (482)."""
    hop = ("udp", "198.51.100.7", 5060, None)
    target = ("udp", "198.51.100.50", 5060, None)
    req = sip("BYE sip:carol@198.51.100.50 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKsp1;rport",
              "Max-Forwards: 70", "Route: <sip:198.51.100.7;lr>", "From: <sip:alice@example.com>;tag=a1",
              "To: <sip:carol@example.com>;tag=c1", "Call-ID: spiral-no-host", "CSeq: 2 BYE")
    for keep_route, want in ((False, target), (True, None)):
        p = _spiral_proxy()
        p.receive(req, ALICE, 0)
        fwd = only(p, hop)
        p.receive(_back_from(fwd, hop[1], keep_route), hop, 10)
        back = only(p)
        if want is None:
            assert not back.is_request and back.status == 482, back
        else:
            assert back.is_request and back.method == "BYE", back
            assert len(back.vias) == 4  # ours, the hop's, ours, alice's: it went on


def _algorithms_offered(auth, user, src):
    p = Proxy(ProxyConfig("example.com", {"udp": ROUTER}, b"s" * 32, auth, RegistrarPolicy("example.com")), 0)
    p.receive(register(user, src), src, 0)
    return [ch.get("algorithm") for ch in only(p, src).auth("www-authenticate")]


def test_digest_algorithms_by_user_then_network_then_site_and_md5_by_default():
    """baresip 1.0 and many desk phones give up on a challenge that has any
    SHA-256 in it: the default is MD5 alone; SHA-256 is offered where the
    admin says, per user or per network, and only what is offered is taken."""
    from outpost.core.auth import parse_networks
    users = {u: Credentials.from_password(u, "example.com", p) for u, p in PASSWORDS.items()}
    users["bob"].algorithms = ("SHA-256",)
    auth = Authenticator("example.com", users, Nonces(b"k" * 32),
                         by_network=[(parse_networks(["192.0.2.128/25"]), ("SHA-256", "MD5"))])
    assert _algorithms_offered(auth, "alice", ALICE) == ["MD5"]
    assert _algorithms_offered(auth, "alice", ("udp", "192.0.2.130", 5060, None)) == ["SHA-256", "MD5"]
    assert _algorithms_offered(auth, "bob", ALICE) == ["SHA-256"]
    # A credential in an algorithm this phone was not offered is refused.
    p = Proxy(ProxyConfig("example.com", {"udp": ROUTER}, b"s" * 32, auth, RegistrarPolicy("example.com")), 0)
    p.receive(register("alice", ALICE), ALICE, 0)
    ch = only(p, ALICE)
    nonce = ch.auth("www-authenticate")[0].get("nonce")
    for alg, status in (("SHA-256", 401), ("MD5", 200)):
        cred = digest.credentials("alice", "example.com", digest.ha1(alg, "alice", "example.com", "alice-secret"), nonce,
                                  "REGISTER", "sip:example.com", alg, "auth", "00000001" if alg == "SHA-256" else "00000002", "0a4f113b")
        p.receive(register("alice", ALICE, cseq=2 if alg == "SHA-256" else 3, extra=("Authorization: " + cred,)), ALICE, 1)
        assert only(p, ALICE).status == status, alg


def test_only_the_request_that_could_not_go_fails_when_its_next_hop_is_unreachable():
    """A lookup failing for one request must not fail another one the
    runtime delivered to that host on an earlier lookup: the runtime says
    which bytes it could not send, and only their transaction answers 503
    at once (RFC 3263 §4.3); the other still waits for its answer."""
    p = _spiral_proxy()
    sent = []
    for i in (1, 2):
        p.receive(sip("OPTIONS sip:carol@far.example SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKun%d;rport" % i,
                      "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=u%d" % i, "To: <sip:carol@far.example>",
                      "Call-ID: unreach%d" % i, "CSeq: 1 OPTIONS"), ALICE, 0)
        sent += p.datagrams_to_send()
    assert [d[1] for _, d in sent] == ["far.example", "far.example"]
    p.transport_failed(sent[1][1], 10, sent[1][0])
    back = only(p, ALICE)
    assert back.status == 503 and back.call_id == "unreach2"
    p.transport_failed(("udp", "other.example", 5060), 20)
    assert p.datagrams_to_send() == []  # another host's failure fails nothing here
