"""SIP header values read lazily, and edits to them.

A header's value is decoded and parsed only when asked for, then cached.
`validate()` parses what every request or response must carry and raises
the status to answer with. Byte-level edits and sending are `lumps.Layout`'s.

Offsets: a header value's folding (CRLF + WSP) is replaced by spaces of the
same length before decoding, so offsets inside an ASCII value are offsets in
`raw`. `Field.offset()` maps the rare non-ASCII value (a UTF-8 display name).
"""

from .errors import bad, RemoteProtocolError
from .limits import MAX_VALUES_PER_FIELD, MAX_VALUE_CACHE, MAX_CACHED_TEXT
from .syntax import is_call_id, is_token, parse_uint, delta_seconds, split_spans
from .headers import LIST_HEADERS, SINGLE_HEADERS, canonical, parse_via, parse_name_addr, parse_cseq, parse_auth, tokens
from .uri import parse_uri, KNOWN_SCHEMES
from .sdp import parse_sdp
from .lumps import Layout


class Field:
    """One header value: a whole line, or one element of a list line.

    `start`/`end` are absolute offsets in the message's `raw`; `line` is the
    index of the header line, `pos` the element's place in it, `count` how
    many elements share that line.
    """

    __slots__ = ("name", "text", "start", "end", "line", "pos", "count", "ascii")

    def __init__(self, name, text, start, end, line, pos, count, ascii):
        self.name = name
        self.text = text
        self.start = start
        self.end = end
        self.line = line
        self.pos = pos
        self.count = count
        self.ascii = ascii

    def offset(self, i):
        """Absolute offset of character i of `text`."""
        if self.ascii:
            return self.start + i
        return self.start + len(self.text[:i].encode())

    def __repr__(self):
        return "Field(%r, %r)" % (self.name, self.text)

class Message(Layout):
    """Common to requests and responses. Build with `message.parse_message()`."""

    is_request = False

    def __init__(self, raw, lines, body_start, body_end, blank):
        Layout.__init__(self, raw, lines, body_start, body_end, blank)
        self._cache = {}  # misc parsed values: "ruri", "sdp", "ctype"
        self._fields = {}  # field key -> [Field]
        self._parsed = {}  # field key -> [typed value]

    # -- reading -----------------------------------------------------------

    def fields(self, name):
        """All values of a field, list fields split at commas. Cached."""
        got = self._fields.get(name)
        if got is not None:
            return got
        out = []
        for i in self._index.get(name, ()):
            text, nbytes = self._line_text(i)
            start = self._lines[i][2]
            ascii = len(text) == nbytes
            if "," not in text or name not in LIST_HEADERS:
                out.append(Field(name, text, start, start + nbytes, i, 0, 1, ascii))
                continue
            spans = split_spans(text, ",", canonical(name), MAX_VALUES_PER_FIELD)
            k = 0
            for a, b in spans:
                f = Field(name, text[a:b], 0, 0, i, k, len(spans), ascii)
                f.start = start + (a if ascii else len(text[:a].encode()))
                f.end = f.start + (b - a if ascii else len(text[a:b].encode()))
                out.append(f)
                k += 1
        self._fields[name] = out
        return out

    def get(self, name, default=None):
        """Text of the first value of a field."""
        fs = self.fields(name)
        return fs[0].text if fs else default

    def _typed(self, name, parse):
        got = self._parsed.get(name)
        if got is None:
            got = []
            for f in self.fields(name):
                v = parse(f)
                v.field = f
                got.append(v)
            self._parsed[name] = got
        return got

    # The properties below are read many times a message (vias about six,
    # From and To four): a parsed field is taken from _parsed before any
    # parse function is named.

    @property
    def vias(self):
        got = self._parsed.get("via")
        return got if got is not None else self._typed("via", _via)

    @property
    def top_via(self):
        v = self.vias
        return v[0] if v else None

    def _one_addr(self, name):
        lst = self._parsed.get(name)
        if lst is None:
            lst = self._typed(name, _name_addr)
        return lst[0] if lst else None

    @property
    def from_(self):
        return self._one_addr("from")

    @property
    def to(self):
        return self._one_addr("to")

    @property
    def contacts(self):
        lst = self._parsed.get("contact")
        if lst is not None:
            return lst
        lst = self._typed("contact", _contact)
        if len(lst) > 1:
            for c in lst:
                if c.star:
                    del self._parsed["contact"]  # refused on every read, not only the first
                    raise bad("Contact * must stand alone")
        return lst

    @property
    def routes(self):
        got = self._parsed.get("route")
        return got if got is not None else self._typed("route", _route)

    @property
    def record_routes(self):
        got = self._parsed.get("record-route")
        return got if got is not None else self._typed("record-route", _route)

    @property
    def call_id(self):
        v = self._cache.get("callid", 0)
        if v != 0:
            return v
        v = self.get("call-id")
        if v is not None:
            v = v.strip()
            if not v or " " in v or "\t" in v:
                raise bad("Malformed Call-ID")
        self._cache["callid"] = v
        return v

    @property
    def cseq(self):
        lst = self._parsed.get("cseq")
        if lst is None:
            lst = self._typed("cseq", _cseq)
        return lst[0] if lst else None

    def _uint(self, name, maximum):
        v = self.get(name)
        return None if v is None else parse_uint(v, canonical(name), maximum)

    @property
    def max_forwards(self):
        return self._uint("max-forwards", 255)

    @property
    def expires(self):
        v = self.get("expires")
        return None if v is None else delta_seconds(v, "Expires")

    @property
    def min_expires(self):
        v = self.get("min-expires")
        return None if v is None else delta_seconds(v, "Min-Expires")

    @property
    def content_type(self):
        """'type/subtype' lower-cased, without parameters; None when absent."""
        got = self._cache.get("ctype", 0)
        if got != 0:
            return got
        v = self.get("content-type")
        if v is not None:
            mime = v.split(";", 1)[0].strip().lower()
            t, slash, sub = mime.partition("/")
            if not slash or not is_token(t.strip()) or not is_token(sub.strip()):
                raise bad("Malformed Content-Type")
            v = t.strip() + "/" + sub.strip()
        self._cache["ctype"] = v
        return v

    def auth(self, name):
        """Authorization, WWW-Authenticate, Proxy-* values as `Auth` objects."""
        return self._typed(name, lambda f: parse_auth(f.text, canonical(f.name)))

    def tokens(self, name):
        return tokens(self.fields(name))

    @property
    def body(self):
        return self.raw[self.body_start:self.body_end]

    def sdp(self):
        """The body as SDP, its edits bound to this message; None when the
        body is not SDP (such a body passes unchanged)."""
        if self.body_end == self.body_start or self.content_type != "application/sdp":
            return None
        s = self._cache.get("sdp")
        if s is None:
            s = parse_sdp(self.body)
            s._target = (self._lumps, self.body_start, self.body_end)
            self._cache["sdp"] = s
        return s

    # -- validation --------------------------------------------------------

    def validate(self):
        """Parse what RFC 3261 §8.1.1 requires of every message; raise the
        status to answer with (RFC 4475 §3.1.2 and §3.3)."""
        for name in SINGLE_HEADERS:
            if len(self._index.get(name, ())) > 1:
                raise bad("Multiple " + canonical(name) + " header fields")
        for name in ("via", "from", "to", "call-id", "cseq"):
            if name not in self._index:
                raise bad("Missing " + canonical(name) + " header field")
        if not self.call_id:
            raise bad("Empty Call-ID")
        if not is_call_id(self.call_id):
            raise bad("Malformed Call-ID")
        if self.from_.star or self.to.star:
            raise bad("Malformed From or To")
        self.cseq
        self.vias
        self.max_forwards
        self.expires
        self.contacts
        if self.content_type is None and self.body_end > self.body_start:
            raise bad("Missing Content-Type")  # RFC 3261 §20.15: a body says what it is
        return self

    # -- editing values ----------------------------------------------------

    def replace_field(self, field, text):
        """Replace one value (a Field, or a parsed value such as a Via)."""
        field = _as_field(field)
        self.edit(field.start, field.end, text)

    def remove_field(self, field):
        """Remove one value; its whole line when it stands alone."""
        field = _as_field(field)
        if field.count == 1:
            ln = self._lines[field.line]
            self.edit(ln[1], ln[4], b"")
            return
        sib = [f for f in self.fields(field.name) if f.line == field.line]
        if field.pos == 0:
            self.edit(field.start, sib[1].start, b"")
        else:
            self.edit(sib[field.pos - 1].end, field.end, b"")

    def remove_leading(self, name, n):
        """Remove the first `n` values of a list field (our own Routes, two
        of them on one line when a dialog crosses LAN and WAN)."""
        fs = self.fields(name)[:n + 1]
        i = 0
        while i < n:
            f = fs[i]
            on_line = [g for g in self.fields(name) if g.line == f.line]
            k = 0  # how many of this line's values go
            while i + k < n and k < len(on_line) and fs[i + k].line == f.line:
                k += 1
            if k == len(on_line):
                ln = self._lines[f.line]
                self.edit(ln[1], ln[4], b"")
            else:
                self.edit(on_line[0].start, on_line[k].start, b"")
            i += k

    def insert_before(self, field, data):
        """Raw header lines (CRLF-terminated bytes) before the line of `field`."""
        at = self._lines[_as_field(field).line][1]
        self.edit(at, at, data)

    def set_param(self, obj, name, value):
        """Set a parameter of a parsed header value (Via, NameAddr), in place.

        value None means a flag parameter (';lr'). An existing parameter's
        value is replaced; otherwise it is appended to the value's end.
        """
        f = obj.field
        for p in obj.params:
            if p.name == name:
                if value is None:
                    if p.value is not None:
                        self.edit(f.offset(p.vstart - 1), f.offset(p.end), b"")
                elif p.value is None:
                    # Replace the whole flag, not an insert at its end: an
                    # append at the same offset must come after the value.
                    self.edit(f.offset(p.start), f.offset(p.end), ";%s=%s" % (name, value))
                else:
                    self.edit(f.offset(p.vstart), f.offset(p.end), value)
                return
        text = ";" + name if value is None else ";%s=%s" % (name, value)
        self.edit(f.end, f.end, text)

    def remove_param(self, obj, name):
        f = obj.field
        for p in obj.params:
            if p.name == name:
                self.edit(f.offset(p.start), f.offset(p.end), b"")

    def set_uri(self, addr, uri):
        """Replace the URI of a parsed name-addr (Contact, Route...)."""
        f = addr.field
        text = str(uri)
        if not addr.angle and (uri.params or uri.headers):
            # Params on an addr-spec would read as header params: add <>.
            self.edit(f.offset(addr.uri_start), f.offset(addr.uri_end), "<" + text + ">")
        else:
            self.edit(f.offset(addr.uri_start), f.offset(addr.uri_end), text)

    def replace_body(self, body, content_type=None):
        self.edit(self.body_start, self.body_end, body)
        if content_type is not None:
            fs = self.fields("content-type")
            if fs:
                self.replace_field(fs[0], content_type)
            else:
                self.append_field("content-type", content_type)

    def fork(self):
        """A copy sharing the parse, with its own edits (one per fork branch)."""
        m = object.__new__(type(self))
        for k in ("raw", "_lines", "_index", "body_start", "body_end", "_blank", "_fields", "_parsed"):
            setattr(m, k, getattr(self, k))
        for k in ("method", "version", "_uri_span", "status", "reason"):
            if hasattr(self, k):
                setattr(m, k, getattr(self, k))
        m._cache = dict(self._cache)
        m._cache.pop("sdp", None)  # its edits are bound to this message
        m._lumps = list(self._lumps)
        return m


class Request(Message):
    is_request = True

    @property
    def uri(self):
        u = self._cache.get("ruri")
        if u is None:
            a, b = self._uri_span
            try:
                text = self.raw[a:b].decode()
            except UnicodeError:
                raise bad("Invalid UTF-8 in Request-URI")
            u = _URIS.get(text)
            if u is None:
                u = _remember(_URIS, text, text, parse_uri(text, "Request-URI"))
            self._cache["ruri"] = u
        return u

    def set_request_uri(self, uri):
        a, b = self._uri_span
        self.edit(a, b, str(uri))

    def validate(self):
        Message.validate(self)
        u = self.uri
        if u.scheme not in KNOWN_SCHEMES:
            raise RemoteProtocolError(416, "Unsupported URI Scheme")
        if u.headers:
            raise bad("Request-URI must not contain headers")
        if self.cseq.method != self.method:
            raise bad("CSeq method does not match request method")
        self.routes
        return self

    def __repr__(self):
        return "<Request %s %s>" % (self.method, self.raw[self._uri_span[0]:self._uri_span[1]])


class Response(Message):
    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.reason)


def _as_field(x):
    return x if isinstance(x, Field) else x.field


def _nonempty(f):
    if not f.text:
        raise bad("Empty value in " + canonical(f.name))
    return f.text


def _via(f):
    return parse_via(_nonempty(f))


def _name_addr(f):
    return _addr(f, False)


def _contact(f):
    return _addr(f, True)


def _cseq(f):
    return parse_cseq(f.text)


def _route(f):
    a = _addr(f, False)
    if not a.angle:
        raise bad(canonical(f.name) + " requires <...>")
    return a


# (field key, value text) -> its parsed name-addr, shared and never edited:
# a call's From, To, Contact and Route values recur in each of its messages,
# and parsing them was a fifth of the CPU a relayed call cost. Only what
# parsed is kept; at the bound the cache starts over (limits.MAX_VALUE_CACHE),
# so a peer sending new values each time only pays for its own parses.
_ADDRS = {}
_URIS = {}  # Request-URI text -> URI: a dialog's requests all carry the same


def _remember(cache, key, text, value):
    """`value`, kept in `cache` under `key` when its `text` is short (a
    phone's values are; a peer's 60 KB ones are parsed, used and dropped),
    the cache starting over at its bound (limits.py)."""
    if len(text) <= MAX_CACHED_TEXT:
        if len(cache) >= MAX_VALUE_CACHE:
            cache.clear()
        cache[key] = value
    return value


def _addr(f, allow_star):
    key = (f.name, f.text)
    a = _ADDRS.get(key)
    if a is None:
        a = _remember(_ADDRS, key, f.text, parse_name_addr(_nonempty(f), canonical(f.name), allow_star))
    return a.copy()  # its own `field`; the URI and params are shared, read-only
