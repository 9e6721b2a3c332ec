"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), and opaque others.

A URI keeps its components in their received (escaped) form so that it
serialises back to what was received; `unescape()` gives the octets for
comparisons. Unknown schemes (RFC 4475 unksm2) parse as opaque and are fine
in From/To/Contact; whether one is acceptable as a Request-URI (416) is the
validator's call, not the parser's.
"""

from .errors import bad
from .syntax import Param, ALNUM, parse_params, find_param, param_value, parse_uint

SIP_SCHEMES = ("sip", "sips")
KNOWN_SCHEMES = ("sip", "sips", "tel")

_HEX = "0123456789abcdefABCDEF"
# RFC 3261 §25.1 character sets, each with '%' for escapes (checked apart).
_USER_SAFE = ALNUM + "-_.!~*'()&=+$,;?/%"
_PASSWORD_SAFE = ALNUM + "-_.!~*'()&=+$,%"
_PARAM_SAFE = ALNUM + "-_.!~*'()[]/:&+$%"
_HEADER_SAFE = ALNUM + "-_.!~*'()[]/?:+$%"
_HOST_CHARS = ALNUM + "-._"
_SCHEME_CHARS = ALNUM + "+-."
_TEL_CHARS = "0123456789+-.()*#abcdefABCDEF"
# Printable ASCII but SP, '<', '>' and '"': what may appear in a URI at all.
_URI_CHARS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '<>"')


class URI:
    __slots__ = ("scheme", "user", "password", "host", "port", "params", "headers", "opaque", "_text")

    def __init__(self, scheme, user=None, password=None, host="", port=None, params=None, headers=None, opaque=None):
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.params = params if params is not None else []
        self.headers = headers if headers is not None else []
        self.opaque = opaque
        self._text = None

    @property
    def is_sip(self):
        return self.scheme in SIP_SCHEMES

    def param(self, name, default=None):
        return param_value(self.params, name, default)

    def has_param(self, name):
        return find_param(self.params, name) is not None

    @property
    def transport(self):
        t = self.param("transport")
        return t.lower() if t else None

    @property
    def hostport(self):
        return self.host if self.port is None else "%s:%d" % (self.host, self.port)

    def __str__(self):
        if self._text is not None:
            return self._text
        if self.opaque is not None:
            return self.scheme + ":" + self.opaque
        out = self.scheme + ":"
        if self.scheme == "tel":
            out += self.user
        else:
            if self.user is not None:
                out += self.user
                if self.password is not None:
                    out += ":" + self.password
                out += "@"
            out += self.hostport
        for p in self.params:
            out += ";" + p.name if p.value is None else ";%s=%s" % (p.name, p.value)
        if self.headers:
            out += "?" + "&".join(n + "=" + v for n, v in self.headers)
        return out

    def __repr__(self):
        return "URI(%r)" % str(self)

    def copy(self, **changes):
        u = URI(self.scheme, self.user, self.password, self.host, self.port, list(self.params), list(self.headers), self.opaque)
        for k in changes:
            setattr(u, k, changes[k])
        return u

    def with_params(self, drop=(), add=()):
        """A copy without the named params and with `add` [(name, value)] appended."""
        params = [p for p in self.params if p.name not in drop]
        for name, value in add:
            params.append(Param(name, value, 0, 0, 0))
        return self.copy(params=params)

    def __eq__(self, other):
        return isinstance(other, URI) and uri_equal(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((self.scheme, self.host.lower(), self.port))

    def aor(self):
        """Address-of-record key (RFC 3261 §10.3 step 5): no params, unescaped,
        host lower-cased."""
        if self.opaque is not None:
            return self.scheme + ":" + self.opaque
        user = "" if self.user is None else unescape_text(self.user)
        if self.scheme == "tel":
            return "tel:" + _tel_digits(user)
        host = self.host.lower()
        return "%s:%s@%s" % (self.scheme, user, host) if user else self.scheme + ":" + host


def unescape(s):
    """Percent-decoding to octets (RFC 3986); invalid escapes were refused at parse."""
    if "%" not in s:
        return s.encode()
    out = bytearray()
    raw = s.encode()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25 and i + 2 < n:
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def unescape_text(s):
    """Unescaped text; octets that are not UTF-8 stay escaped."""
    b = unescape(s)
    try:
        return b.decode()
    except UnicodeError:
        return "".join("%%%02X" % c if c >= 0x80 else chr(c) for c in b)


def _check_escaped(s, safe, what):
    """Every character is in `safe`, and every '%' starts a %XX escape."""
    if s.strip(safe):
        raise bad("Invalid character in " + what)
    i = s.find("%")
    while i >= 0:
        if s[i + 1:i + 2] == "" or s[i + 1] not in _HEX or s[i + 2:i + 3] == "" or s[i + 2] not in _HEX:
            raise bad("Invalid escape in " + what)
        i = s.find("%", i + 3)


def _check_scheme(s):
    return bool(s) and ("a" <= s[0] <= "z" or "A" <= s[0] <= "Z") and not s.strip(_SCHEME_CHARS)


def check_host(h, what):
    """hostname / IPv4address / [IPv6reference]; returns it as received."""
    if not h:
        raise bad("Missing host in " + what)
    if h[0] == "[":
        if h[-1] != "]" or not is_ipv6(h[1:-1]):
            raise bad("Malformed IPv6 reference in " + what)
        return h
    if h.strip(_HOST_CHARS):
        raise bad("Invalid character in host of " + what)
    if h[0] in "-." or ".." in h:
        raise bad("Malformed host in " + what)
    return h


def is_ipv4(s):
    parts = s.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p or len(p) > 3:
            return False
        for ch in p:
            if not "0" <= ch <= "9":
                return False
        if int(p) > 255:
            return False
    return True


def is_ipv6(s):
    if not s or len(s) > 45:
        return False
    if "." in s:  # IPv4 tail, e.g. ::ffff:192.0.2.1
        cut = s.rfind(":")
        if cut < 0 or not is_ipv4(s[cut + 1:]):
            return False
        s = s[:cut + 1] + "0:0"
    if s.count("::") > 1:
        return False
    groups = s.split(":")
    if "::" in s:
        if len(groups) > 9:
            return False
    elif len(groups) != 8:
        return False
    empties = 0
    for g in groups:
        if not g:
            empties += 1
            continue
        if len(g) > 4:
            return False
        for ch in g:
            if ch not in _HEX:
                return False
    return empties <= 3 and (empties == 0 or "::" in s)


def split_hostport(s, what):
    """'host[:port]' -> (host, port or None)."""
    if s.startswith("["):
        close = s.find("]")
        if close < 0:
            raise bad("Malformed IPv6 reference in " + what)
        host, rest = s[:close + 1], s[close + 1:]
        if rest and rest[0] != ":":
            raise bad("Malformed host in " + what)
        port = rest[1:] if rest else None
    else:
        host, colon, port = s.partition(":")
        if not colon:
            port = None
    check_host(host, what)
    if port is not None:
        port = parse_uint(port, "port in " + what, 65535)
    return host, port


def parse_uri(s, what="URI"):
    colon = s.find(":")
    if colon <= 0:
        raise bad("Malformed " + what)
    scheme_raw = s[:colon]
    if not _check_scheme(scheme_raw):
        raise bad("Malformed scheme in " + what)
    scheme = scheme_raw.lower()
    rest = s[colon + 1:]
    if rest.strip(_URI_CHARS):
        raise bad("Invalid character in " + what)
    if scheme in SIP_SCHEMES:
        u = _parse_sip(scheme, rest, what)
    elif scheme == "tel":
        u = _parse_tel(rest, what)
    else:
        if not rest:
            raise bad("Malformed " + what)
        u = URI(scheme, opaque=rest)
    u._text = s
    return u


def _parse_sip(scheme, s, what):
    # The user part may contain ';' and '?' (RFC 4475 semiuri) but never an
    # unescaped '@', and neither params nor headers may contain one: so the
    # first '@' ends the userinfo.
    user = password = None
    at = s.find("@")
    if at >= 0:
        userinfo = s[:at]
        s = s[at + 1:]
        user, colon, pw = userinfo.partition(":")
        if not user:
            raise bad("Empty user part in " + what)
        _check_escaped(user, _USER_SAFE, "user part of " + what)
        if colon:
            _check_escaped(pw, _PASSWORD_SAFE, "password of " + what)
            password = pw
    end = len(s)
    for sep in ";?":
        k = s.find(sep)
        if 0 <= k < end:
            end = k
    host, port = split_hostport(s[:end], what)
    headers = []
    q = s.find("?", end)
    ptext = s[end:q] if q >= 0 else s[end:]
    params = parse_params(ptext, 0, what) if ptext else []
    for p in params:
        _check_escaped(p.name, _PARAM_SAFE, "parameter of " + what)
        if p.value is not None:
            if p.value[0] == '"':
                raise bad("Quoted parameter value in " + what)
            _check_escaped(p.value, _PARAM_SAFE, "parameter of " + what)
    if q >= 0:
        for h in s[q + 1:].split("&"):
            name, eq, value = h.partition("=")
            if not name or not eq:
                raise bad("Malformed header in " + what)
            _check_escaped(name, _HEADER_SAFE, "header of " + what)
            _check_escaped(value, _HEADER_SAFE, "header of " + what)
            headers.append((name, value))
    return URI(scheme, user, password, host, port, params, headers)


def _parse_tel(s, what):
    semi = s.find(";")
    number = s if semi < 0 else s[:semi]
    if not number:
        raise bad("Empty number in " + what)
    if number.strip(_TEL_CHARS):
        raise bad("Invalid character in number of " + what)
    params = parse_params(s, semi, what) if semi >= 0 else []
    return URI("tel", user=number, params=params)


# RFC 3261 §19.1.4: these params must match when either side has them.
_MUST_MATCH = ("user", "ttl", "method", "maddr", "transport")


def uri_equal(a, b):
    if a.scheme != b.scheme:
        return False
    if a.opaque is not None or b.opaque is not None:
        return a.opaque == b.opaque
    if a.scheme == "tel":
        return _tel_digits(a.user) == _tel_digits(b.user)
    if _u(a.user) != _u(b.user) or _u(a.password) != _u(b.password):
        return False
    if a.host.lower() != b.host.lower() or a.port != b.port:
        return False
    for name in _MUST_MATCH:
        if (find_param(a.params, name) or find_param(b.params, name)) and not _same_param(a, b, name):
            return False
    for p in a.params:
        if find_param(b.params, p.name) is not None and not _same_param(a, b, p.name):
            return False
    ha = sorted((n.lower(), unescape(v)) for n, v in a.headers)
    hb = sorted((n.lower(), unescape(v)) for n, v in b.headers)
    return ha == hb


def _u(s):
    return None if s is None else unescape(s)


def _same_param(a, b, name):
    va, vb = a.param(name), b.param(name)
    if va is None or vb is None:
        return False
    return unescape(va).lower() == unescape(vb).lower()


def _tel_digits(n):
    return "".join(ch for ch in n if ch not in "-.()")
