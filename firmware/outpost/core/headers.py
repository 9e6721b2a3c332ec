"""Header names and the typed values a proxy reads (RFC 3261 §20).

Every parser here takes the text of one header value (one element of a
comma-separated list) and returns an object that keeps that text and the
offsets of its parts, so the message layer can edit a parameter in place.
"""

from .errors import bad
from .limits import MAX_PARAMS
from .syntax import WS, ALNUM, DIGITS, is_token, parse_uint, delta_seconds, skip_quoted, unquote, split_spans, parse_params, param_value, find_param
from .uri import parse_uri, split_hostport, is_ipv4, is_ipv6

# RFC 3261 §7.3.3 and the IANA registry's compact forms.
COMPACT = {
    "i": "call-id", "m": "contact", "f": "from", "t": "to", "v": "via",
    "l": "content-length", "c": "content-type", "k": "supported", "s": "subject",
    "e": "content-encoding", "o": "event", "u": "allow-events", "r": "refer-to",
    "b": "referred-by", "y": "identity", "x": "session-expires", "a": "accept-contact",
    "j": "reject-contact", "d": "request-disposition", "n": "identity-info",
}

# Fields whose grammar is `#element`: several values may share one line,
# separated by commas (RFC 3261 §7.3.1). Others are never split, since a comma
# is legal inside them (Date, auth credentials, Subject, unknown headers).
LIST_HEADERS = {
    "via": 1, "contact": 1, "route": 1, "record-route": 1, "path": 1, "service-route": 1,
    "allow": 1, "supported": 1, "require": 1, "proxy-require": 1, "unsupported": 1,
    "accept": 1, "accept-encoding": 1, "accept-language": 1, "allow-events": 1,
    "content-encoding": 1, "content-language": 1, "in-reply-to": 1, "alert-info": 1,
    "call-info": 1, "error-info": 1, "warning": 1, "p-asserted-identity": 1,
}

# Fields a message may carry at most once (RFC 4475 multi01, mcl01).
SINGLE_HEADERS = ("call-id", "cseq", "from", "to", "max-forwards", "content-length", "content-type", "expires", "min-expires")

# How we spell a field name when we add one.
_SPELLING = {
    "call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate",
    "rack": "RAck", "rseq": "RSeq", "mime-version": "MIME-Version",
}


def canonical(name):
    """'record-route' -> 'Record-Route'."""
    s = _SPELLING.get(name)
    if s is None:
        s = "-".join(w[:1].upper() + w[1:] for w in name.split("-"))
        if name in LIST_HEADERS or name in SINGLE_HEADERS:
            _SPELLING[name] = s  # a fixed set: the table stays bounded
    return s


def field_key(raw_name):
    """Header name as received -> the key fields are indexed by."""
    n = raw_name.lower()
    if len(n) == 1:
        return COMPACT.get(n, n)
    return n


class Via:
    """`SIP/2.0/UDP host:port;branch=...` (RFC 3261 §20.42, RFC 3581)."""

    __slots__ = ("text", "protocol", "transport", "host", "port", "params", "field")

    def __init__(self, text, protocol, transport, host, port, params):
        self.text = text
        self.protocol = protocol
        self.transport = transport
        self.host = host
        self.port = port
        self.params = params
        self.field = None

    def param(self, name, default=None):
        return param_value(self.params, name, default)

    @property
    def branch(self):
        return self.param("branch")

    @property
    def received(self):
        return self.param("received")

    @property
    def rport(self):
        """None: absent. -1: present without value (RFC 3581 request). Else the port."""
        v = self.param("rport")
        if v is None:
            return None
        return -1 if v == "" else int(v)

    @property
    def maddr(self):
        return self.param("maddr")

    @property
    def ttl(self):
        v = self.param("ttl")
        return None if v is None else int(v)

    @property
    def sent_by(self):
        return self.host if self.port is None else "%s:%d" % (self.host, self.port)


def parse_via(text):
    what = "Via"
    s1 = text.find("/")
    s2 = text.find("/", s1 + 1) if s1 >= 0 else -1
    if s2 < 0:
        raise bad("Malformed Via")
    name = text[:s1].strip()
    version = text[s1 + 1:s2].strip()
    if name.upper() != "SIP" or version != "2.0":
        raise bad("Malformed Via protocol")
    i, n = s2 + 1, len(text)
    while i < n and text[i] in WS:
        i += 1
    j = i
    while j < n and text[j] not in WS:
        j += 1
    transport = text[i:j]
    if not is_token(transport):
        raise bad("Malformed Via transport")
    k = text.find(";", j)
    if k < 0:
        k = n
    sent_by = text[j:k].strip()
    if " " in sent_by or "\t" in sent_by:
        sent_by = "".join(sent_by.split())  # "host : 5060" (SWS around COLON)
    host, port = split_hostport(sent_by, what)
    params = parse_params(text, k, what)
    for p in params:
        v = p.value
        if p.name == "ttl":
            parse_uint(v or "", "Via ttl", 255)
        elif p.name == "rport":
            if v is not None:
                parse_uint(v, "Via rport", 65535)
        elif p.name == "maddr":
            if v is None:
                raise bad("Malformed Via maddr")
            split_hostport(v, "Via maddr")
        elif p.name == "received":
            # An address, IPv6 unbracketed or bracketed (RFC 3261 §20.42, RFC 5118 §4.5).
            a = v[1:-1] if v and v[0] == "[" and v[-1] == "]" else v
            if not a or not (is_ipv4(a) or is_ipv6(a)):
                raise bad("Malformed Via received")
        elif p.name == "branch":
            if not is_token(v or ""):
                raise bad("Malformed Via branch")
    return Via(text, "SIP/2.0", transport.upper(), host, port, params)


class NameAddr:
    """name-addr / addr-spec with header params: From, To, Contact, Route...

    `uri_start`/`uri_end` locate the URI in `text`, so the ALG can replace it
    without touching the display name or params.
    """

    __slots__ = ("text", "display", "uri", "params", "uri_start", "uri_end", "angle", "field")

    def __init__(self, text, display, uri, params, uri_start, uri_end, angle):
        self.text = text
        self.display = display
        self.uri = uri
        self.params = params
        self.uri_start = uri_start
        self.uri_end = uri_end
        self.angle = angle
        self.field = None

    def copy(self):
        """The same value for another field (sipmessage's value cache)."""
        return NameAddr(self.text, self.display, self.uri, self.params, self.uri_start, self.uri_end, self.angle)

    @property
    def star(self):
        return self.uri is None

    def param(self, name, default=None):
        return param_value(self.params, name, default)

    def has_param(self, name):
        return find_param(self.params, name) is not None

    @property
    def tag(self):
        return self.param("tag")

    @property
    def expires(self):
        v = self.param("expires")
        return None if v is None else delta_seconds(v, "expires parameter")

    @property
    def q(self):
        """q-value in thousandths (RFC 3261 §20.10: 0 to 1, three decimals)."""
        v = self.param("q")
        return 1000 if v is None else _qvalue(v)


def _qvalue(v):
    whole, _, frac = v.partition(".")
    if whole not in ("0", "1") or len(frac) > 3 or frac.strip(DIGITS):
        raise bad("Malformed q-value")
    q = int(whole) * 1000 + (int((frac + "000")[:3]) if frac else 0)
    if q > 1000:
        raise bad("Malformed q-value")
    return q


def parse_name_addr(text, what, allow_star=False):
    n = len(text)
    if not n:
        raise bad("Empty " + what)
    if text == "*":
        if not allow_star:
            raise bad("Invalid * in " + what)
        return NameAddr(text, None, None, [], 0, 1, False)
    display = None
    i = 0
    if text[0] == '"':
        i = skip_quoted(text, 0, what)
        display = unquote(text[:i])
        while i < n and text[i] in WS:
            i += 1
        if i >= n or text[i] != "<":
            raise bad("Missing <...> after display name in " + what)
    else:
        lt = text.find("<")
        if lt >= 0:
            words = text[:lt].split()
            for w in words:
                if not is_token(w):
                    raise bad("Invalid display name in " + what)
            display = " ".join(words) if words else None
            i = lt
    if i < n and text[i] == "<":
        gt = text.find(">", i)
        if gt < 0:
            raise bad("Unterminated <...> in " + what)
        a, b = i + 1, gt
        # RFC 4475 badaspec: spaces inside <...> are invalid, but RFC 4475
        # allows ignoring them; phones in the field send them.
        while a < b and text[a] in WS:
            a += 1
        while b > a and text[b - 1] in WS:
            b -= 1
        uri = parse_uri(text[a:b], what)
        params = parse_params(text, gt + 1, what)
        return NameAddr(text, display, uri, params, a, b, True)
    # addr-spec: the URI ends at the first ';', whose params belong to the
    # header; so it may not contain ';', '?' or ',' (RFC 3261 §20.10).
    semi = text.find(";")
    end = n if semi < 0 else semi
    spec = text[:end].rstrip()
    if "?" in spec or "," in spec:
        raise bad("URI with headers must be enclosed in <> in " + what)
    for ch in spec:
        if ch in WS:
            raise bad("Malformed " + what)
    uri = parse_uri(spec, what)
    params = parse_params(text, end, what)
    return NameAddr(text, None, uri, params, 0, len(spec), False)


class CSeq:
    __slots__ = ("seq", "method", "field")

    def __init__(self, seq, method):
        self.seq = seq
        self.method = method
        self.field = None


def parse_cseq(text):
    parts = text.split()
    if len(parts) != 2 or not is_token(parts[1]):
        raise bad("Malformed CSeq")
    # RFC 3261 §8.1.1.5: less than 2**31.
    return CSeq(parse_uint(parts[0], "CSeq", 0x7FFFFFFF), parts[1])


class Auth:
    """A challenge or credentials: scheme plus auth-params (RFC 7235 §2.1).

    `params` maps lower-cased names to unquoted values. Unknown schemes whose
    data is a token68 (RFC 4475 regaut01) keep it in `token68`.
    """

    __slots__ = ("scheme", "params", "token68", "text", "field")

    def __init__(self, scheme, params, token68, text):
        self.scheme = scheme
        self.params = params
        self.token68 = token68
        self.text = text
        self.field = None

    def get(self, name, default=None):
        return self.params.get(name, default)


def parse_auth(text, what):
    text = text.strip()
    sp = 0
    while sp < len(text) and text[sp] not in WS:
        sp += 1
    scheme = text[:sp]
    if not is_token(scheme):
        raise bad("Malformed " + what)
    rest = text[sp:].strip()
    params = {}
    if not rest:
        return Auth(scheme, params, None, text)
    if _is_token68(rest):
        return Auth(scheme, params, rest, text)
    spans = split_spans(rest, ",", what, MAX_PARAMS)
    for a, b in spans:
        item = rest[a:b]
        if not item:
            continue  # RFC 7235: empty list elements are ignored
        name, eq, value = item.partition("=")
        name = name.strip().lower()
        value = value.strip()
        if not eq or not is_token(name) or not value:
            raise bad("Malformed " + what)
        if value[0] == '"':
            if skip_quoted(value, 0, what) != len(value):
                raise bad("Malformed " + what)
            value = unquote(value)
        elif not is_token(value):
            raise bad("Malformed " + what)
        params[name] = value
    return Auth(scheme, params, None, text)


def _is_token68(s):
    s = s.rstrip("=")
    return bool(s) and not s.strip(ALNUM + "-._~+/")


def tokens(fields):
    """Token-list fields (Require, Supported, Allow...): lower-cased, empties skipped."""
    out = []
    for f in fields:
        t = f.text.strip()
        if t:
            if not is_token(t):
                raise bad("Malformed " + canonical(f.name))
            out.append(t.lower())
    return out
