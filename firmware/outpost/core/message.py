"""SIP messages: lazy parsing and edits recorded against the received buffer.

Parsing (`parse_message`) splits the start line and the header lines once
and indexes them by name; a header's value is decoded and parsed only when
asked for, then cached. `validate()` parses what every request or response
must carry and raises the status to answer with.

Edits are Kamailio's lumps: (start, end, bytes) against `raw`, applied once
by `serialise()`, so every byte nobody edited goes out as it came in, and
Content-Length follows edits to the body by itself.

Offsets: a header value's folding (CRLF + WSP) is replaced by spaces of the
same length before decoding, so offsets inside an ASCII value are offsets in
`raw`. `Field.offset()` maps the rare non-ASCII value (a UTF-8 display name).
"""

from .errors import bad, LocalProtocolError, RemoteProtocolError
from .limits import MAX_MESSAGE_BYTES, MAX_BODY_BYTES, MAX_HEADER_FIELDS, MAX_VALUES_PER_FIELD, MAX_REQUEST_URI, MAX_EDITS, MAX_NAME_CACHE
from .syntax import is_call_id, is_token, parse_uint, delta_seconds, split_spans
from .headers import LIST_HEADERS, SINGLE_HEADERS, canonical, field_key, parse_via, parse_name_addr, parse_cseq, parse_auth, tokens
from .uri import parse_uri, KNOWN_SCHEMES
from .sdp import parse_sdp

CRLF = b"\r\n"


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


class Message:
    """Common to requests and responses. Build with `parse_message()`."""

    is_request = False

    def __init__(self, raw, lines, body_start, body_end, blank):
        self.raw = raw
        # Header lines: [key, line_start, value_start, value_end, line_end].
        self._lines = lines
        self._index = {}
        for i in range(len(lines)):
            k = lines[i][0]
            lst = self._index.get(k)
            if lst is None:
                self._index[k] = [i]
            else:
                lst.append(i)
        self.body_start = body_start
        self.body_end = body_end
        self._blank = blank  # offset of the empty line ending the headers
        self._cache = {}  # misc parsed values: "ruri", "sdp", "ctype"
        self._fields = {}  # field key -> [Field]
        self._parsed = {}  # field key -> [typed value]
        self._lumps = []

    # -- reading -----------------------------------------------------------

    def has(self, name):
        return name in self._index

    def count(self, name):
        return len(self._index.get(name, ()))

    def names(self):
        """Field keys in order of appearance (repeats included)."""
        return [ln[0] for ln in self._lines]

    def _line_text(self, i):
        ln = self._lines[i]
        b = self.raw[ln[2]:ln[3]]
        if 13 in b or 10 in b:
            b = b.replace(b"\r", b" ").replace(b"\n", b" ")
        try:
            return b.decode(), ln[3] - ln[2]
        except UnicodeError:
            raise bad("Invalid UTF-8 in " + canonical(ln[0]))

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

    @property
    def vias(self):
        return self._typed("via", lambda f: parse_via(_nonempty(f)))

    @property
    def top_via(self):
        v = self.vias
        return v[0] if v else None

    def _one_addr(self, name):
        lst = self._typed(name, lambda f: parse_name_addr(_nonempty(f), canonical(f.name)))
        return lst[0] if lst else None

    @property
    def from_(self):
        return self._one_addr("from")

    @property
    def to(self):
        return self._one_addr("to")

    @property
    def contacts(self):
        lst = self._typed("contact", lambda f: parse_name_addr(_nonempty(f), "Contact", True))
        if len(lst) > 1:
            for c in lst:
                if c.star:
                    raise bad("Contact * must stand alone")
        return lst

    @property
    def routes(self):
        return self._typed("route", lambda f: _route(f))

    @property
    def record_routes(self):
        return self._typed("record-route", lambda f: _route(f))

    @property
    def call_id(self):
        v = self.get("call-id")
        if v is None:
            return None
        v = v.strip()
        if not v or " " in v or "\t" in v:
            raise bad("Malformed Call-ID")
        return v

    @property
    def cseq(self):
        lst = self._typed("cseq", lambda f: parse_cseq(f.text))
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
            base = self.body_start
            s._edit = lambda a, b, text: self.edit(base + a, base + b, text)
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

    # -- editing -----------------------------------------------------------

    def edit(self, start, end, data):
        """Replace raw[start:end] with `data` when serialising."""
        if not (0 <= start <= end <= self.body_end):
            raise LocalProtocolError("edit outside the message")
        if len(self._lumps) >= MAX_EDITS:
            raise LocalProtocolError("too many edits")
        if isinstance(data, str):
            data = data.encode()
        # The sequence number keeps same-offset inserts in call order:
        # MicroPython's sort is not stable.
        self._lumps.append((start, end, len(self._lumps), data))

    @property
    def edited(self):
        return bool(self._lumps)

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

    def lines_of(self, name):
        """[(line index, text)] of every line of field `name`, values unsplit."""
        return [(i, self._line_text(i)[0]) for i in self._index.get(name, ())]

    def line_edited(self, i):
        """Has an edit been recorded inside header line `i` (or removed it)?"""
        a, b = self._lines[i][1], self._lines[i][4]
        for start, end, _, _ in self._lumps:
            if a <= start < b or (start < a < end):
                return True
        return False

    def remove_line(self, i):
        """Remove header line `i` whole (all the values on it)."""
        ln = self._lines[i]
        self.edit(ln[1], ln[4], b"")

    def insert_field(self, name, text, before=None):
        """Add a header line: before the first line of `before` (a field key),
        else before the first line of `name`, else after the start line.
        Lines inserted at the same place come out in the order of the calls."""
        key = before or name
        lines = self._index.get(key)
        at = self._lines[lines[0]][1] if lines else self._first_header()
        self.edit(at, at, "%s: %s\r\n" % (canonical(name), text))

    def append_field(self, name, text):
        """Add a header line after the last one."""
        self.edit(self._blank, self._blank, "%s: %s\r\n" % (canonical(name), text))

    def header_lines(self, name):
        """Every line of field `name` as it would be sent (with the edits
        made inside it), for the ALG to keep and put back later."""
        return [self.line_bytes(i) for i in self._index.get(name, ())]

    def drop_lines(self, name):
        """Remove every line of field `name`, and any edit made inside them."""
        spans = [(self._lines[i][1], self._lines[i][4]) for i in self._index.get(name, ())]
        if not spans:
            return
        # Inserts at a line's start belong before it (a header added above): kept.
        self._lumps = [lp for lp in self._lumps
                       if not any(a <= lp[0] < b and lp[1] <= b and lp[1] > a for a, b in spans) and
                       not any(a < lp[0] < b for a, b in spans)]
        for a, b in spans:
            self.edit(a, b, b"")

    def insert_before(self, field, data):
        """Raw header lines (CRLF-terminated bytes) before the line of `field`."""
        at = self._lines[_as_field(field).line][1]
        self.edit(at, at, data)

    def _first_header(self):
        return self._lines[0][1] if self._lines else self._blank

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

    def line_bytes(self, i):
        """Header line i as it would be sent: the edits made inside it (a
        Via's received and rport) applied, lines inserted around it not."""
        ln = self._lines[i]
        start, end = ln[1], ln[4]
        raw = self.raw
        if not self._lumps:
            return raw[start:end]
        out = []
        pos = start
        for a, b, _, data in sorted(self._lumps):
            if a < start or b > end or a == end or (a == b == start):
                continue
            if a < pos:
                raise LocalProtocolError("overlapping edits at offset %d" % a)
            out.append(raw[pos:a])
            out.append(data)
            pos = b
        out.append(raw[pos:end])
        return b"".join(out)

    def serialise(self):
        raw = self.raw
        if not self._lumps:
            return raw if self.body_end == len(raw) else raw[:self.body_end]
        lumps = self._with_content_length(sorted(self._lumps))
        out = []
        pos = 0
        for start, end, _, data in lumps:
            if start < pos:
                raise LocalProtocolError("overlapping edits at offset %d" % start)
            out.append(raw[pos:start])
            out.append(data)
            pos = end
        out.append(raw[pos:self.body_end])
        return b"".join(out)

    def _with_content_length(self, lumps):
        delta = 0
        for start, end, _, data in lumps:
            if start >= self.body_start:
                delta += len(data) - (end - start)
        if not delta:
            return lumps
        n = b"%d" % (self.body_end - self.body_start + delta)
        cl = self._index.get("content-length")
        if cl:
            ln = self._lines[cl[0]]
            for start, end, _, _ in lumps:
                if start < ln[3] and end > ln[2]:
                    return lumps  # the caller set it explicitly
            lumps.append((ln[2], ln[3], len(lumps), n))
        else:
            lumps.append((self._blank, self._blank, len(lumps), b"Content-Length: " + n + CRLF))
        return sorted(lumps)


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
            u = parse_uri(text, "Request-URI")
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


def _route(f):
    a = parse_name_addr(_nonempty(f), canonical(f.name))
    if not a.angle:
        raise bad(canonical(f.name) + " requires <...>")
    return a


def is_keepalive(data):
    """CRLF keep-alives (RFC 5626 §4.4.1) and stray whitespace datagrams."""
    return len(data) <= 8 and not data.strip()


def parse_message(data):
    """Frame and index one message (a UDP datagram or a framed TCP message).

    Raises RemoteProtocolError with the status to answer; trailing octets
    beyond Content-Length are ignored (RFC 4475 dblreq).
    """
    if not isinstance(data, (bytes, bytearray)):
        raise LocalProtocolError("parse_message takes bytes")
    n = len(data)
    if n > MAX_MESSAGE_BYTES:
        raise RemoteProtocolError(513, "Message Too Large")
    pos = 0
    while pos < n and data[pos] in b"\r\n":  # RFC 3261 §7.5
        pos += 1
    sl_start = pos
    nl = data.find(b"\n", pos)
    if nl < 0:
        raise bad("Incomplete message")
    start_line = data[pos:nl - 1] if nl > pos and data[nl - 1] == 13 else data[pos:nl]
    lines = []
    pos = nl + 1
    blank = -1
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        end = nl - 1 if nl > pos and data[nl - 1] == 13 else nl
        if end == pos:
            blank = pos
            pos = nl + 1
            break
        c = data[pos]
        if c == 32 or c == 9:  # folded continuation of the previous field
            if not lines:
                raise bad("Continuation line before any header field")
            ln = lines[-1]
            e = end
            while e > pos and data[e - 1] in b" \t":
                e -= 1
            if data[pos:e].strip():
                if ln[2] == ln[3]:  # "To :" CRLF " sip:..." (RFC 4475 wsinv)
                    v = pos
                    while data[v] in b" \t":
                        v += 1
                    ln[2] = v
                ln[3] = e
            ln[4] = nl + 1
        else:
            lines.append(_header_line(data, pos, end, nl))
            if len(lines) > MAX_HEADER_FIELDS:
                raise RemoteProtocolError(513, "Too many header fields")
        pos = nl + 1
    if blank < 0:
        raise bad("Missing empty line after header fields")
    body_start = pos
    body_end = _body_end(data, lines, body_start)
    if start_line[:4].upper() == b"SIP/":
        msg = Response(data, lines, body_start, body_end, blank)
        _response_line(msg, start_line)
    else:
        msg = Request(data, lines, body_start, body_end, blank)
        _request_line(msg, start_line, sl_start)
    return msg


# Header name as received (bytes) -> field key; see limits.MAX_NAME_CACHE.
_KEYS = {}


def _header_line(data, pos, end, nl):
    colon = data.find(b":", pos, end)
    if colon < 0:
        raise bad("Header field without colon")
    raw = data[pos:colon].rstrip()
    key = _KEYS.get(raw)
    if key is None:
        try:
            name = raw.decode()
        except UnicodeError:
            raise bad("Malformed header field name")
        if not is_token(name):
            raise bad("Malformed header field name")
        key = field_key(name)
        if len(_KEYS) < MAX_NAME_CACHE:
            _KEYS[raw] = key
    v = colon + 1
    while v < end and data[v] in b" \t":
        v += 1
    e = end
    while e > v and data[e - 1] in b" \t":
        e -= 1
    return [key, pos, v, e, nl + 1]


def _body_end(data, lines, body_start):
    cl = [ln for ln in lines if ln[0] == "content-length"]
    avail = len(data) - body_start
    if not cl:
        length = avail
    else:
        if len(cl) > 1:
            raise bad("Multiple Content-Length header fields")
        ln = cl[0]
        try:
            text = data[ln[2]:ln[3]].decode()
        except UnicodeError:
            raise bad("Malformed Content-Length")
        length = parse_uint(text.replace("\r", " ").replace("\n", " "), "Content-Length", 0xFFFFFFFF)
        if length > avail:
            raise bad("Content-Length larger than message")
    if length > MAX_BODY_BYTES:
        raise RemoteProtocolError(413, "Request Entity Too Large")
    return body_start + length


def _version(v):
    """505 for a well-formed other version, 400 for garbage."""
    if v.upper() == b"SIP/2.0":
        return
    if v[:4].upper() == b"SIP/":
        major, dot, minor = v[4:].partition(b".")
        if dot and major.isdigit() and minor.isdigit():
            raise RemoteProtocolError(505, "Version Not Supported")
    raise bad("Malformed SIP version")


def _request_line(msg, line, base):
    sp1 = line.find(b" ")
    sp2 = line.rfind(b" ")
    if sp1 <= 0 or sp2 == sp1 or sp2 == len(line) - 1:
        raise bad("Malformed Request-Line")
    method = line[:sp1]
    uri = line[sp1 + 1:sp2]
    _version(line[sp2 + 1:])
    if b" " in uri or b"\t" in uri or not uri:
        raise bad("Malformed Request-URI")
    if len(uri) > MAX_REQUEST_URI:
        raise RemoteProtocolError(414, "Request-URI Too Long")
    try:
        method = method.decode()
    except UnicodeError:
        raise bad("Malformed method")
    if not is_token(method):
        raise bad("Malformed method")
    msg.method = method
    msg.version = "SIP/2.0"
    msg._uri_span = (base + sp1 + 1, base + sp2)


def _response_line(msg, line):
    parts = line.split(b" ", 2)
    if len(parts) < 2:
        raise bad("Malformed Status-Line")
    _version(parts[0])
    code = parts[1]
    if len(code) != 3 or not code.isdigit() or not (b"100" <= code <= b"699"):
        raise bad("Malformed status code")
    msg.status = int(code)
    try:
        msg.reason = parts[2].decode() if len(parts) > 2 else ""
    except UnicodeError:
        raise bad("Invalid UTF-8 in reason phrase")
    msg.version = "SIP/2.0"
