"""The fuzz campaign's cast and its seed conversations (bench/fuzz.py).

A flow is a list of steps; a step is a function of the world (what the
proxy has sent so far in this conversation) returning one of

    ("msg", source, data, kind)   feed data from source; kind "req"/"resp"
    ("tick", ms)                  advance the fake clock, firing timers
    ("probes", answered)          the upstream answers survival probes or not
    None                          the message this step answers never came

so a conversation stays real after one of its messages was mutated: each
answer is built from what the router actually sent (its branches, its
Record-Route, its WAN contact tokens), like a real peer would.
"""

from outpost.core import digest
from outpost.core.message import parse_message
from outpost.core.errors import RemoteProtocolError

DOMAIN = "hq.example.com"
LAN_IP, WAN_IP = "192.0.2.1", "203.0.113.2"
UPSTREAM = ("udp", "203.0.113.10", 5060, None)
TRUNK = ("udp", "203.0.113.50", 5060, None)
FAR = ("udp", "203.0.113.20", 5060, None)  # the far end's Contact: in-dialog requests go there directly
PHONES = {"alice": ("udp", "192.0.2.10", 5062, None), "bob": ("udp", "192.0.2.11", 5064, None)}
STRANGERS = [("udp", "198.51.100.66", 5060, None), ("udp", "198.51.100.67", 5099, None)]
VICTIM = "198.51.100.99"  # where a stranger would like the router to send
PASSWORD = "correct horse"
PROBE_FROM = "outpost-probe"  # core/upstream.py: the From user of survival probes


def sip(*lines, body=b""):
    if isinstance(body, str):
        body = body.encode()
    head = [ln.encode() if isinstance(ln, str) else ln for ln in lines if ln is not None]
    head.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def phone_sdp(ip, port, variant=0):
    s = "v=0\r\no=%s 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0 8 101\r\n" % ("ph", ip, ip, port)
    s += "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
    if variant == 1:
        s += "a=rtcp:%d IN IP4 %s\r\n" % (port + 1, ip)
    elif variant == 2:
        s += "a=ice-ufrag:F7gI\r\na=candidate:1 1 UDP 2130706431 %s %d typ host\r\n" % (ip, port)
    elif variant == 3:
        s += "a=sendrecv\r\nm=video %d RTP/AVP 96\r\nc=IN IP4 %s\r\na=rtpmap:96 H264/90000\r\n" % (port + 100, ip)
    elif variant == 4:
        s += "a=sendonly\r\n"  # hold
    return s + "a=sendrecv\r\n" if variant != 4 else s


def far_sdp(ip="203.0.113.20", port=8078, variant=0):
    s = "v=0\r\no=pbx 7 7 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\n" % (ip, ip, port)
    if variant == 1:
        s += "a=rtcp:%d\r\n" % (port + 1)
    elif variant == 2:
        s += "m=video 0 RTP/AVP 96\r\n"  # declined
    return s + "a=sendrecv\r\n"


def parsed(data):
    try:
        return parse_message(data)
    except RemoteProtocolError:
        return None


def respond(req, status, reason, body="", to_tag="up1", extra=()):
    """A UAS's answer to `req` (a parsed request as the router sent it)."""
    try:
        lines = ["SIP/2.0 %d %s" % (status, reason)] + ["Via: " + v.text for v in req.vias]
        to = req.get("to") + (";tag=" + to_tag if req.to.tag is None and status > 100 else "")
        lines += ["From: " + req.get("from"), "To: " + to, "Call-ID: " + req.call_id, "CSeq: %d %s" % (req.cseq.seq, req.method)]
        lines += ["Record-Route: " + r.field.text for r in req.record_routes if r.field.text] + list(extra)
    except (RemoteProtocolError, TypeError, AttributeError):
        return None  # the router sent something a peer cannot answer (an oracle reports it)
    if body:
        lines.append("Content-Type: application/sdp")
    return sip(*lines, body=body)


def in_dialog(method, msg, uac_is_caller, cseq, via, extra=(), body=""):
    """A request inside the dialog `msg` set up, from the side that holds it:
    msg is the 2xx the caller got (uac_is_caller) or the INVITE the callee got."""
    try:
        if uac_is_caller:
            target = msg.contacts[0].uri
            routes = [r.field.text for r in reversed(msg.record_routes)]
            frm, to = msg.get("from"), msg.get("to")
        else:
            target = msg.contacts[0].uri
            routes = [r.field.text for r in msg.record_routes]
            frm, to = msg.get("to") + (";tag=cl%d" % cseq if msg.to.tag is None else ""), msg.get("from")
        lines = ["%s %s SIP/2.0" % (method, target), "Via: " + via, "Max-Forwards: 70", "From: " + frm, "To: " + to,
                 "Call-ID: " + msg.call_id, "CSeq: %d %s" % (cseq, method)] + ["Route: " + r for r in routes] + list(extra)
    except (RemoteProtocolError, IndexError, TypeError, AttributeError):
        return None
    if body:
        lines.append("Content-Type: application/sdp")
    return sip(*lines, body=body)


# -- steps that answer what the router sent --------------------------------------------

def _sent(w, host, want):
    for m, data, dest in reversed(w.sent):
        if dest[1] == host and m is not None and want(m):
            return m
    return None


def request_to(w, host, method):
    return _sent(w, host, lambda m: m.is_request and m.method == method)


def response_to(w, host, status, method):
    return _sent(w, host, lambda m: not m.is_request and m.status == status and m.cseq is not None and m.cseq.method == method)


def answer(source, method, status, reason, body="", to_tag="up1", extra=(), at=None):
    """A step: `source` answers the last `method` the router sent it."""
    def step(w):
        req = request_to(w, at or source[1], method)
        data = respond(req, status, reason, body, to_tag, extra) if req is not None else None
        return ("msg", source, data, "resp") if data else None
    return step


def answer_with_contact(source, method, status, reason, expires=600):
    """Upstream's 2xx to a REGISTER: the Contacts it was asked for."""
    def step(w):
        req = request_to(w, source[1], method)
        if req is None:
            return None
        try:
            contacts = ["Contact: <%s>;expires=%d" % (c.uri, expires) for c in req.contacts if not c.star]
            if contacts:
                w.wan_contact[req.from_.uri.user] = str(req.contacts[0].uri)
        except (RemoteProtocolError, AttributeError):
            contacts = []
        data = respond(req, status, reason, extra=contacts)
        return ("msg", source, data, "resp") if data else None
    return step


def fixed(source, data, kind="req"):
    return lambda w: ("msg", source, data, kind)


def later(fn, kind="req"):
    """A step computed from the world: fn(w) -> (source, data) or None."""
    def step(w):
        got = fn(w)
        return ("msg", got[0], got[1], kind) if got and got[1] else None
    return step


# -- the phones ----------------------------------------------------------------

def phone_request(phone, method, ruri, n, cseq, to_user, extra=(), body="", branch=None, to_tag=None, call_id=None):
    src = PHONES[phone]
    ct = "application/sdp" if body.startswith("v=0") else "text/plain"
    return sip("%s %s SIP/2.0" % (method, ruri), "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (src[1], src[2], branch or "z9hG4bK%s%d%s%d" % (phone, n, method[:2], cseq)),
               "Max-Forwards: 70", "From: <sip:%s@%s>;tag=%s%d" % (phone, DOMAIN, phone[0], n),
               "To: <sip:%s@%s>%s" % (to_user, DOMAIN, ";tag=" + to_tag if to_tag else ""),
               "Call-ID: %s" % (call_id or "c%d@%s" % (n, src[1])), "CSeq: %d %s" % (cseq, method),
               "Contact: <sip:%s@%s:%d>" % (phone, src[1], src[2]), "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, UPDATE",
               "User-Agent: Yealink SIP-T46U 108.86.0.20", *extra, ("Content-Type: " + ct) if body else None, body=body)


def register_flow(phone, n):
    """Through the router to upstream: 401, again with credentials, 200."""
    src = PHONES[phone]
    ruri = "sip:" + DOMAIN

    def reg(cseq, extra=()):
        return phone_request(phone, "REGISTER", ruri, n, cseq, phone, ("Expires: 600",) + extra, call_id="reg%d@%s" % (n, src[1]))
    cred = 'Authorization: Digest username="%s", realm="%s", nonce="un%d", uri="%s", response="%s", algorithm=MD5' % (phone, DOMAIN, n, ruri, "0" * 32)
    return [fixed(src, reg(1)), answer(UPSTREAM, "REGISTER", 401, "Unauthorized", extra=['WWW-Authenticate: Digest realm="%s", nonce="un%d", algorithm=MD5' % (DOMAIN, n)]),
            fixed(src, reg(2, (cred,))), answer_with_contact(UPSTREAM, "REGISTER", 200, "OK")]


def outgoing_call_flow(n, rng):
    """alice calls bob through upstream: 407, ACK, again, 183, 200, ACK,
    re-INVITE to the far end, BYE from the far end."""
    alice = PHONES["alice"]
    sdp = phone_sdp(alice[1], 7078 + 2 * (n % 50), rng.randrange(5))
    callee = rng.choice(["bob", "0123456789", "+442071234567"])
    ruri = "sip:%s@%s" % (callee, DOMAIN)
    inv1 = phone_request("alice", "INVITE", ruri, n, 1, callee, body=sdp)
    auth = 'Proxy-Authorization: Digest username="alice", realm="%s", nonce="up%d", uri="%s", response="%s", algorithm=MD5' % (DOMAIN, n, ruri, "1" * 32)
    inv2 = phone_request("alice", "INVITE", ruri, n, 2, callee, (auth,), body=sdp)
    fsdp = far_sdp(variant=rng.randrange(3))
    far_contact = "Contact: <sip:%s@203.0.113.20>" % callee

    def ack407(w):
        r = response_to(w, alice[1], 407, "INVITE")
        if r is None:
            return None
        return alice, phone_request("alice", "ACK", ruri, n, 1, callee, branch="z9hG4bKalice%dIN1" % n, to_tag=r.to.tag)

    def ack200(cseq):
        def fn(w):
            ok = response_to(w, alice[1], 200, "INVITE")
            return (alice, in_dialog("ACK", ok, True, cseq, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKack%d.%d;rport" % (n, cseq))) if ok else None
        return fn

    def reinvite(w):
        ok = response_to(w, alice[1], 200, "INVITE")
        body = phone_sdp(alice[1], 7200 + 2 * (n % 50), rng.randrange(5))
        return (alice, in_dialog("INVITE", ok, True, 3, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKre%d;rport" % n,
                                 ("Contact: <sip:alice@192.0.2.10:5062>",), body)) if ok else None

    def far_bye(w):
        inv = request_to(w, UPSTREAM[1], "INVITE")
        if inv is None:
            return None
        try:
            lines = ["BYE %s SIP/2.0" % inv.contacts[0].uri, "Via: SIP/2.0/UDP 203.0.113.20;branch=z9hG4bKfb%d" % n, "Max-Forwards: 70",
                     "From: %s;tag=up%d" % (inv.get("to"), n), "To: " + inv.get("from"), "Call-ID: " + inv.call_id, "CSeq: 9 BYE"]
            lines += ["Route: " + r.field.text for r in inv.record_routes]
        except (RemoteProtocolError, IndexError, AttributeError):
            return None
        return FAR, sip(*lines)

    return [fixed(alice, inv1), answer(UPSTREAM, "INVITE", 407, "Proxy Authentication Required", to_tag="up%d" % n,
                                       extra=['Proxy-Authenticate: Digest realm="%s", nonce="up%d", algorithm=MD5, qop="auth"' % (DOMAIN, n)]),
            later(ack407), fixed(alice, inv2),
            answer(UPSTREAM, "INVITE", 183, "Session Progress", fsdp, "up%d" % n, (far_contact,)),
            answer(UPSTREAM, "INVITE", 200, "OK", fsdp, "up%d" % n, (far_contact,)),
            later(ack200(2)), later(reinvite), answer(FAR, "INVITE", 200, "OK", far_sdp(port=8090), "up%d" % n, (far_contact,)),
            later(ack200(3)), later(far_bye), answer(alice, "BYE", 200, "OK")]


def incoming_call_flow(n, rng):
    """Upstream calls alice's WAN contact: 180, 200 with SDP, ACK, BYE from alice."""
    alice = PHONES["alice"]
    rr = rng.random() < 0.5

    def inv(w):
        contact = w.wan_contact.get("alice")
        if contact is None:
            return None
        return UPSTREAM, sip("INVITE %s SIP/2.0" % contact, "Via: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKin%d" % n, "Max-Forwards: 70",
                             "From: <sip:bob@%s>;tag=f%d" % (DOMAIN, n), "To: <sip:alice@%s>" % DOMAIN, "Call-ID: in%d@pbx" % n, "CSeq: 1 INVITE",
                             "Contact: <sip:bob@203.0.113.20>", "Record-Route: <sip:203.0.113.10;lr>" if rr else None,
                             "Content-Type: application/sdp", body=far_sdp(variant=rng.randrange(3)))

    def up_ack(w):
        ok = response_to(w, UPSTREAM[1], 200, "INVITE")
        return (UPSTREAM, in_dialog("ACK", ok, True, 1, "SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKia%d" % n)) if ok else None

    def alice_bye(w):
        got = request_to(w, alice[1], "INVITE")
        if got is None:
            return None
        data = in_dialog("BYE", got, False, 2, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKab%d;rport" % n)
        return alice, data and data.replace(b";tag=cl2", b";tag=al%d" % n)

    def bye_answer(w):
        for m, data, dest in reversed(w.sent):
            if m is not None and m.is_request and m.method == "BYE":
                return dest, respond(m, 200, "OK")
        return None

    alice_contact = ("Contact: <sip:alice@192.0.2.10:5062>",)
    return register_flow("alice", n) + [
        later(inv), answer(alice, "INVITE", 180, "Ringing", to_tag="al%d" % n, extra=alice_contact),
        answer(alice, "INVITE", 200, "OK", phone_sdp(alice[1], 7300 + 2 * (n % 50), rng.randrange(5)), "al%d" % n, alice_contact),
        later(up_ack), later(alice_bye), later(bye_answer, "resp")]


def cancel_flow(n, rng):
    alice = PHONES["alice"]
    ruri = "sip:bob@" + DOMAIN
    sdp = phone_sdp(alice[1], 7400 + 2 * (n % 50), rng.randrange(5))

    def ack487(w):
        r = response_to(w, alice[1], 487, "INVITE")
        return (alice, phone_request("alice", "ACK", ruri, n, 1, "bob", branch="z9hG4bKalice%dIN1" % n, to_tag=r.to.tag)) if r else None
    return [fixed(alice, phone_request("alice", "INVITE", ruri, n, 1, "bob", body=sdp)),
            answer(UPSTREAM, "INVITE", 180, "Ringing", to_tag="up%d" % n),
            fixed(alice, phone_request("alice", "CANCEL", ruri, n, 1, "bob", branch="z9hG4bKalice%dIN1" % n)),
            answer(UPSTREAM, "CANCEL", 200, "OK", to_tag="up%d" % n),
            answer(UPSTREAM, "INVITE", 487, "Request Terminated", to_tag="up%d" % n), later(ack487)]


def non_invite_flow(n, rng):
    """OPTIONS, MESSAGE, SUBSCRIBE + NOTIFY, REFER + NOTIFY from alice."""
    alice = PHONES["alice"]
    method = rng.choice(["OPTIONS", "MESSAGE", "SUBSCRIBE", "REFER", "PUBLISH"])
    extra, body = (), ""
    if method == "MESSAGE":
        body = "Meet me at the lab, door code 4711."
    elif method == "SUBSCRIBE":
        extra = ("Event: presence", "Expires: 600", "Accept: application/pidf+xml")
    elif method == "REFER":
        extra = ("Refer-To: <sip:carol@%s?Replaces=abc%%40host%%3Bto-tag%%3D1>" % DOMAIN, "Referred-By: <sip:alice@%s>" % DOMAIN)
    elif method == "PUBLISH":
        extra = ("Event: presence",)
    ruri = "sip:bob@" + DOMAIN
    status = rng.choice([200, 202, 404, 407, 503])

    def notify(w):
        req = request_to(w, UPSTREAM[1], method)
        if req is None:
            return None
        event = "refer" if method == "REFER" else "presence"
        data = in_dialog("NOTIFY", req, False, 1, "SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKno%d" % n,
                         ("Event: " + event, "Subscription-State: active;expires=600", "Contact: <sip:bob@203.0.113.20>"))
        if data and method == "REFER":
            data = data.replace(b"Content-Length: 0", b"Content-Type: message/sipfrag\r\nContent-Length: 16") + b"SIP/2.0 200 OK\r\n"
        return UPSTREAM, data and data.replace(b";tag=cl1", b";tag=up%d" % n)
    steps = [fixed(alice, phone_request("alice", method, ruri, n, 1, "bob", extra, body)),
             answer(UPSTREAM, method, status, "Whatever", to_tag="up%d" % n,
                    extra=['Proxy-Authenticate: Digest realm="%s", nonce="x%d"' % (DOMAIN, n)] if status == 407 else ())]
    if method in ("SUBSCRIBE", "REFER"):
        steps += [later(notify), answer(alice, "NOTIFY", 200, "OK", to_tag="a%d" % n)]
    return steps


def survival_flow(n, rng):
    """Probes unanswered until SURVIVAL; local REGISTER with real digest,
    a trunk call, an emergency call, a local call; probes answered again."""
    alice, bob = PHONES["alice"], PHONES["bob"]

    def creds(w, phone, status, method, ruri):
        r = response_to(w, PHONES[phone][1], status, method)
        if r is None:
            return None
        try:
            ch = r.auth("www-authenticate" if status == 401 else "proxy-authenticate")[-1]
            alg = ch.get("algorithm", "MD5")
            ha1 = digest.ha1(alg, phone, DOMAIN, PASSWORD)
            return digest.credentials(phone, DOMAIN, ha1, ch.get("nonce"), method, ruri, alg, "auth", "00000001", "c%d" % n)
        except (RemoteProtocolError, IndexError, AttributeError, TypeError, ValueError):
            return None

    def local_register(phone, cseq):
        ruri = "sip:" + DOMAIN

        def fn(w):
            c = creds(w, phone, 401, "REGISTER", ruri)
            return (PHONES[phone], phone_request(phone, "REGISTER", ruri, n, cseq, phone, ("Expires: 3600", "Authorization: " + c),
                                                 call_id="sreg%d@x" % n)) if c else None
        return [fixed(PHONES[phone], phone_request(phone, "REGISTER", ruri, n, cseq - 1, phone, ("Expires: 3600",), call_id="sreg%d@x" % n)), later(fn)]

    def call(callee, tag, answerer):
        ruri = "sip:%s@%s" % (callee, DOMAIN)
        sdp = phone_sdp(alice[1], 7500 + 2 * (n % 50), rng.randrange(5))
        cid = "s%s%d@192.0.2.10" % (tag, n)

        def authed(w):
            c = creds(w, "alice", 407, "INVITE", ruri)
            return (alice, phone_request("alice", "INVITE", ruri, n, 2, callee, ("Proxy-Authorization: " + c,), sdp, call_id=cid)) if c else None

        def ack(w):
            ok = response_to(w, alice[1], 200, "INVITE")
            return (alice, in_dialog("ACK", ok, True, 2, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKsa%s%d;rport" % (tag, n))) if ok else None

        def bye(w):
            ok = response_to(w, alice[1], 200, "INVITE")
            return (alice, in_dialog("BYE", ok, True, 3, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKsb%s%d;rport" % (tag, n))) if ok else None
        def ack407(w):
            r = response_to(w, alice[1], 407, "INVITE")
            return (alice, phone_request("alice", "ACK", ruri, n, 1, callee, branch="z9hG4bKalice%dIN1" % n, to_tag=r.to.tag, call_id=cid)) if r else None
        contact = ("Contact: <sip:%s@%s:%d>" % (callee, answerer[1], answerer[2]),)
        steps = [fixed(alice, phone_request("alice", "INVITE", ruri, n, 1, callee, body=sdp, call_id=cid))]
        if callee != "112":
            steps += [later(ack407), later(authed)]
        return steps + [answer(answerer, "INVITE", 200, "OK", far_sdp(answerer[1], 9000) if answerer[1] != bob[1] else phone_sdp(bob[1], 7600),
                               "t%d" % n, contact), later(ack), later(bye), answer(answerer, "BYE", 200, "OK", to_tag="t%d" % n)]

    steps = [lambda w: ("probes", False), lambda w: ("tick", 45000)]
    steps += local_register("alice", 2) + local_register("bob", 2)
    steps += call("0123456789", "tr", TRUNK) + call("112", "em", TRUNK) + call("bob", "lo", bob)
    return steps + [lambda w: ("probes", True), lambda w: ("tick", 45000)]


# -- strangers on the WAN --------------------------------------------------------------

def stranger_request(src, method, ruri, n, extra=(), body=""):
    return sip("%s %s SIP/2.0" % (method, ruri), "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bKst%d;rport" % (src[1], src[2], n), "Max-Forwards: 70",
               "From: \"sipvicious\" <sip:100@%s>;tag=s%d" % (src[1], n), "To: <%s>" % ruri.split(";")[0], "Call-ID: st%d@%s" % (n, src[1]),
               "CSeq: 1 %s" % method, "Contact: <sip:100@%s:%d>" % (src[1], src[2]), "User-Agent: friendly-scanner", *extra,
               "Content-Type: application/sdp" if body else None, body=body)


def stranger_flow(n, rng):
    src = rng.choice(STRANGERS)
    me = "<sip:%s;lr>" % WAN_IP
    sdp = far_sdp(src[1], 10000)
    one = rng.randrange(9)
    if one == 0:
        return [fixed(src, stranger_request(src, "INVITE", "sip:100@%s" % WAN_IP, n, body=sdp))]
    if one == 1:
        return [fixed(src, stranger_request(src, rng.choice(["OPTIONS", "REGISTER", "MESSAGE"]), "sip:100@%s" % WAN_IP, n))]
    if one == 2:  # toll fraud: "ours" by a Route naming the router
        return [fixed(src, stranger_request(src, "INVITE", "sip:0123456789@%s" % TRUNK[1], n, ("Route: " + me,), sdp))]
    if one == 3:  # ring a LAN phone
        return [fixed(src, stranger_request(src, "INVITE", "sip:100@192.0.2.10:5062", n, ("Route: " + me,), sdp))]
    if one == 4:  # reflection towards a victim
        return [fixed(src, stranger_request(src, "OPTIONS", "sip:x@%s" % VICTIM, n, ("Route: " + me,)))]
    if one == 5:  # strict routing: the router's address as Request-URI, the target as last Route
        return [fixed(src, stranger_request(src, "INVITE", "sip:%s;lr" % WAN_IP, n, ("Route: <sip:0123456789@%s>" % TRUNK[1],), sdp))]
    if one == 6:  # a WAN contact token sniffed from upstream traffic, reached via a Route to the router
        def fn(w):
            contact = w.wan_contact.get("alice")
            return (src, stranger_request(src, "NOTIFY", contact, n, ("Route: " + me, "Event: check-sync"))) if contact else None
        return register_flow("alice", n) + [later(fn)]
    if one == 7:  # a forged answer to a request the router sent upstream
        def forged(w):
            req = request_to(w, UPSTREAM[1], "INVITE")
            return (src, respond(req, rng.choice([200, 183, 503, 486]), "Forged", far_sdp(src[1], 10002), "fx%d" % n)) if req else None
        return [fixed(PHONES["alice"], phone_request("alice", "INVITE", "sip:bob@" + DOMAIN, n, 1, "bob", body=phone_sdp("192.0.2.10", 7700))),
                later(forged, "resp"), answer(UPSTREAM, "INVITE", 486, "Busy Here", to_tag="up%d" % n), later(_ack_to_486(n))]

    def probe_answer(w):  # the probe's branch is a counter: forge its 503
        req = request_to(w, UPSTREAM[1], "OPTIONS")
        return (src, respond(req, 503, "Forged", to_tag="fp")) if req else None
    return [lambda w: ("tick", 10001), later(probe_answer, "resp")]


def _ack_to_486(n):
    def fn(w):
        r = response_to(w, "192.0.2.10", 486, "INVITE")
        return (PHONES["alice"], phone_request("alice", "ACK", "sip:bob@" + DOMAIN, n, 1, "bob", branch="z9hG4bKalice%dIN1" % n, to_tag=r.to.tag)) if r else None
    return fn


def upstream_flow(n, rng):
    """Upstream's own requests: OPTIONS keep-alive, a call for an unknown
    token, a MESSAGE to the AOR, a NOTIFY out of the blue."""
    what = rng.randrange(4)
    ruri = ["sip:%s" % WAN_IP, "sip:alice@%s;oc=0123456789" % WAN_IP, "sip:alice@" + DOMAIN, "sip:bob@%s" % WAN_IP][what]
    method = ["OPTIONS", "INVITE", "MESSAGE", "NOTIFY"][what]
    data = sip("%s %s SIP/2.0" % (method, ruri), "Via: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKu%d" % n, "Max-Forwards: 70",
               "From: <sip:pbx@%s>;tag=u%d" % (DOMAIN, n), "To: <%s>" % ruri, "Call-ID: u%d@pbx" % n, "CSeq: 1 " + method,
               "Contact: <sip:pbx@203.0.113.10>", "Event: keep-alive" if method == "NOTIFY" else None,
               "Content-Type: application/sdp" if method == "INVITE" else None, body=far_sdp() if method == "INVITE" else "")
    return register_flow("bob", n) + [fixed(UPSTREAM, data)] if what == 3 else [fixed(UPSTREAM, data)]


def registration_flow(n, rng):
    return register_flow(rng.choice(["alice", "bob"]), n)


FLOWS = [(outgoing_call_flow, 24), (incoming_call_flow, 16), (cancel_flow, 10), (non_invite_flow, 14),
         (registration_flow, 8), (stranger_flow, 22), (upstream_flow, 5), (survival_flow, 1)]
