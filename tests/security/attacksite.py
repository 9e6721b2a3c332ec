"""The router's core as an attacker meets it: a relaying branch site with
users, survival and a fallback trunk on the internet, fed real bytes.

Addresses (documentation ranges only):
  LAN 192.0.2.0/24: router 192.0.2.1, alice 192.0.2.10, a rogue host 192.0.2.66
  WAN: router 203.0.113.2, upstream 203.0.113.10, trunk 198.51.100.50,
       a stranger 198.51.100.66, a victim 198.51.100.99
"""

from outpost.core import digest
from outpost.core.auth import Authenticator, Credentials, Nonces, parse_networks
from outpost.core.message import parse_message
from outpost.core.proxy import Proxy, ProxyConfig
from outpost.core.registrar import RegistrarPolicy
from outpost.core.relay import RelayConfig
from outpost.core.survival import SurvivalConfig

LAN_IP, WAN_IP = "192.0.2.1", "203.0.113.2"
ALICE = ("udp", "192.0.2.10", 5062, None)
ROGUE = ("udp", "192.0.2.66", 5060, None)
UPSTREAM = ("udp", "203.0.113.10", 5060, None)
TRUNK = ("udp", "198.51.100.50", 5060, None)
STRANGER = ("udp", "198.51.100.66", 5060, None)
VICTIM = ("udp", "198.51.100.99", 5060, None)
DOMAIN = "hq.example.com"
PASSWORDS = {"alice": "alice-secret-1", "bob": "bob-secret-22"}
INJECT = "203.0.113.10\t.\t1\t}\tflush\truleset"


def phone_sdp(addr="192.0.2.10", port=7078, extra=""):
    return ("v=0\r\no=alice 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\n%sa=sendrecv\r\n"
            % (addr, addr, port, extra))


def far_sdp(addr="203.0.113.20", port=8078, extra=""):
    return ("v=0\r\no=pbx 7 7 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\n%sa=sendrecv\r\n"
            % (addr, addr, port, extra))


def make_site(users=True, survival=True, relay=True, secret=b"s" * 32):
    creds = {u: Credentials.from_password(u, DOMAIN, p) for u, p in PASSWORDS.items()}
    auth = Authenticator(DOMAIN, creds, Nonces(b"k" * 32)) if users else None
    cfg = ProxyConfig(DOMAIN, {"udp": (LAN_IP, 5060)}, secret, auth, RegistrarPolicy(DOMAIN))
    cfg.aliases = [(LAN_IP, 5060), (WAN_IP, 5060)]
    cfg.trusted = parse_networks(["127.0.0.0/8", "192.0.2.0/24"])
    if relay:
        cfg.relay = RelayConfig(parse_networks(["192.0.2.0/24"]), LAN_IP, WAN_IP, UPSTREAM)
        cfg.relay.peers = {"203.0.113.10"}
        cfg.media = (40000, 40999, 200, 3600000)
        if survival:
            cfg.survival = SurvivalConfig(1000, 2, 5000, 60, TRUNK, ["0XXXXXXXXX"], ["112"])
            cfg.survival_policy = RegistrarPolicy(DOMAIN, 60, 60, 60)
    return Proxy(cfg, 0)


def sip(*lines, body=""):
    body = body.encode() if isinstance(body, str) else body
    head = [ln.encode() if isinstance(ln, str) else ln for ln in lines]
    if body:
        head.append(b"Content-Type: application/sdp")
    head.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def request(method, ruri, src, call_id="c1", branch="z9hG4bKatk1", from_tag="f1", to_tag=None, cseq=1, extra=(), body="",
            frm="sip:alice@hq.example.com"):
    return sip("%s %s SIP/2.0" % (method, ruri), "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (src[1], src[2], branch),
               "Max-Forwards: 70", "From: <%s>;tag=%s" % (frm, from_tag),
               "To: <%s>%s" % (ruri.split("?")[0], ";tag=" + to_tag if to_tag else ""), "Call-ID: " + call_id,
               "CSeq: %d %s" % (cseq, method), "Contact: <sip:x@%s:%d>" % (src[1], src[2]), *extra, body=body)


def response(req, status, reason, body="", to_tag="up1", extra=()):
    lines = ["SIP/2.0 %d %s" % (status, reason)] + ["Via: " + v.text for v in req.vias]
    lines += ["From: " + req.get("from"), "To: " + req.get("to") + (";tag=" + to_tag if req.to.tag is None else ""),
              "Call-ID: " + req.call_id, "CSeq: " + req.get("cseq")]
    lines += ["Record-Route: " + f.text for f in req.fields("record-route")] + list(extra)
    return sip(*lines, body=body)


def out(p):
    return [(parse_message(d), dest) for d, dest in p.datagrams_to_send()]


def run_timers(p, start, end, step=250):
    """Every datagram the core sends while its timers run from start to end."""
    sent = []
    t = start
    while t <= end:
        p.handle_timer(t)
        sent += out(p)
        t += step
    return sent


def credentials(challenge, user, method, uri, header="proxy-authenticate", nc="00000001", cnonce="0a4f113b"):
    """Answered as a phone does: the first algorithm offered (the site's
    default, MD5)."""
    for ch in challenge.auth(header):
        alg = ch.get("algorithm") or "MD5"
        ha1 = digest.ha1(alg, user, DOMAIN, PASSWORDS[user])
        return digest.credentials(user, DOMAIN, ha1, ch.get("nonce"), method, uri, alg, "auth", nc, cnonce)
    raise AssertionError("no digest challenge")


def lose_upstream(p, t=0):
    """Probes go unanswered until the site routes locally."""
    for now in range(t, t + 4001, 1000):
        p.handle_timer(now)
    out(p)
    assert p.survival.local
    return t + 4000


def not_probes(msgs):
    """What was sent, less the router's own OPTIONS probes to the upstream."""
    return [(m, d) for m, d in msgs if not (m.is_request and m.method == "OPTIONS" and d == UPSTREAM and "outpost-probe" in m.get("from"))]


def register_alice(p, t=0):
    """alice registers through the router; returns her WAN contact (the
    URI with the router's token that the upstream calls her at)."""
    p.receive(request("REGISTER", "sip:hq.example.com", ALICE, call_id="reg-a@x", branch="z9hG4bKreg", frm="sip:alice@hq.example.com",
                      extra=("Expires: 600",)), ALICE, t)
    up = [m for m, d in out(p) if d == UPSTREAM][0]
    contact = str(up.contacts[0].uri)
    p.receive(response(up, 200, "OK", extra=("Contact: <%s>;expires=600" % contact,)), UPSTREAM, t + 1)
    out(p)
    return contact


def register(src, cseq, branch, contact, extra=(), user="alice", expires=600):
    """A REGISTER of user's own address-of-record (its To is the AOR, which
    request() would make the Request-URI)."""
    return sip("REGISTER sip:hq.example.com SIP/2.0", "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (src[1], src[2], branch),
               "Max-Forwards: 70", "From: <sip:%s@hq.example.com>;tag=ra" % user, "To: <sip:%s@hq.example.com>" % user,
               "Call-ID: reg-" + user, "CSeq: %d REGISTER" % cseq, "Contact: <%s>" % contact, "Expires: %d" % expires, *extra)
