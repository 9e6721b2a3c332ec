"""What a message leaving on the WAN must not say about the LAN (sans-I/O).

Rules of this file:
- relay.py rewrites the places a LAN address belongs (Contact, Call-ID,
  Refer-To, Via, SDP); this file finds the ones it does not rewrite and
  removes them: a header line naming a LAN address goes whole (never one
  value of a list line, whose edits would overlap the line's others), a
  From or To that still names one after its host was rewritten is rebuilt
  from its user, host and tag alone, a Contact parameter naming one goes.
- "Naming" is generous: percent-escapes are decoded, and dotted quads with
  leading zeros are read as decimal and as octal (inet_aton's reading).
- Topology hiding for what the router does not know: a header field not in
  KNOWN (RFC 3261's and the extensions phones and servers use) nor in the
  admin's allow list (`upstream.pass_headers`) goes, whatever it says.
  Vendor fields carry LAN addresses in shapes no sweep can foresee
  (baresip's `X-RTP-Stat: ...,IP=192.0.2.10:10008`).
- A message needing more than MAX_DROPPED_LINES removals is refused (400):
  no phone sends that, and each removal is an edit of a bounded budget.
"""

from .addr import lenient_quads
from .errors import RemoteProtocolError
from .uri import URI

MAX_DROPPED_LINES = 32
# Fields rewritten elsewhere (relay.py, party(), contact_params()) or that
# cannot name an address; every other field is swept. A credential's uri
# is what the phone signed (a standard phone signs the Request-URI, which
# never names the LAN on the WAN; sipp signs the router's address):
# rewriting it breaks the login, so only the rest of the line is judged.
REWRITTEN = ("contact", "from", "to", "call-id", "refer-to", "content-length", "content-type")
CREDENTIALS = ("authorization", "proxy-authorization")
# Fields passed to the WAN side (still swept for LAN addresses): RFC 3261
# and the extensions SIP servers and trunks act on. Anything else leaves
# only when the admin lists it.
KNOWN = frozenset((
    "accept", "accept-contact", "accept-encoding", "accept-language", "alert-info", "allow", "allow-events",
    "authentication-info", "authorization", "call-id", "call-info", "contact", "content-disposition",
    "content-encoding", "content-language", "content-length", "content-type", "cseq", "date", "diversion",
    "error-info", "event", "expires", "from", "history-info", "identity", "in-reply-to", "info-package",
    "join", "max-breadth", "max-forwards", "mime-version", "min-expires", "min-se", "organization",
    "p-asserted-identity", "p-early-media", "p-preferred-identity", "path", "priority", "privacy",
    "proxy-authenticate", "proxy-authorization", "proxy-require", "rack", "reason", "record-route",
    "recv-info", "refer-sub", "refer-to", "referred-by", "reject-contact", "remote-party-id", "replaces",
    "reply-to", "request-disposition", "require", "resource-priority", "retry-after", "route", "rseq",
    "security-client", "security-server", "security-verify", "server", "service-route", "session-expires",
    "sip-etag", "sip-if-match", "subject", "subscription-state", "supported", "target-dialog", "timestamp",
    "to", "unsupported", "user-agent", "user-to-user", "via", "warning", "www-authenticate",
))


def names(text, networks):
    """Does `text` name an address inside `networks`, escaped or not?"""
    for t in (text, unescape(text)) if "%" in text else (text,):
        for a in lenient_quads(t):
            if a.within(networks):
                return True
    return False


def sweep(msg, networks, allowed=None):
    """Drop every header line naming a LAN address (in its value or its
    name), but lines already rewritten (ours for the WAN, the Vias kept
    for the phone) and the fields rewritten elsewhere. A Route or
    Record-Route of ours still naming the LAN here cannot work on the WAN.
    With `allowed` (names, lower case), a field neither KNOWN nor allowed
    goes whole."""
    drop = []
    seen = []
    for n in msg.names():
        if n in seen or n in REWRITTEN:
            continue
        seen.append(n)
        if allowed is not None and n not in KNOWN and n not in allowed:
            drop += [i for i, _ in msg.lines_of(n)]
            continue
        for i, text in msg.lines_of(n):
            if msg.line_edited(i):
                continue  # rewritten (or removed) by whoever knows the field
            if n in CREDENTIALS:
                text = _without_uri(text)
            if names(text, networks) or names(n, networks):
                drop.append(i)
    if len(drop) > MAX_DROPPED_LINES:
        raise RemoteProtocolError(400, "Bad Request (too many header fields naming LAN addresses)")
    for i in drop:
        msg.remove_line(i)


def _without_uri(text):
    """A credential's text less its uri="..." parameter."""
    i = text.lower().find("uri=\"")
    if i < 0:
        return text
    j = text.find("\"", i + 5)
    return text[:i] + (text[j + 1:] if j >= 0 else "")


def party(msg, addr, networks, wan_host):
    """From or To: a LAN host becomes the WAN address; if the display name,
    user or a parameter still names the LAN, the value is rebuilt."""
    uri = addr.uri
    lan_host = uri.is_sip and names(uri.host, networks)
    text = addr.field.text
    if not lan_host and not names(text, networks):
        return
    if not uri.is_sip:
        raise RemoteProtocolError(400, "Bad Request (%s names a LAN address)" % addr.field.name)
    host = wan_host if lan_host else uri.host
    user = uri.user if uri.user and not names(uri.user, networks) else "anonymous"
    new = "<%s>" % URI("sip", user, None, host, None if lan_host else uri.port)
    if addr.tag is not None:
        new += ";tag=" + addr.tag
    msg.replace_field(addr.field, new)


def contact_params(msg, contact, networks):
    """A Contact's header parameters naming a LAN address (+sip.instance
    with an address in it, a vendor's) go."""
    for p in contact.params:
        if p.value is not None and names(p.value, networks):
            msg.remove_param(contact, p.name)


def unescape(text):
    """%XX sequences decoded (RFC 3986); malformed ones kept as they are."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "%" and i + 2 < n and _is_hex(text[i + 1:i + 3]):
            out.append(chr(int(text[i + 1:i + 3], 16)))
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _is_hex(s):
    for ch in s:
        if not ("0" <= ch <= "9" or "a" <= ch.lower() <= "f"):
            return False
    return len(s) == 2


def escape(text):
    """What may stand in a URI header value as it is; the rest %XX."""
    out = []
    for c in text:
        if "a" <= c.lower() <= "z" or "0" <= c <= "9" or c in "-_.!~*'()[]/:+$":
            out.append(c)
        else:
            out.append("%%%02X" % ord(c))
    return "".join(out)
