"""SDP (RFC 4566) as much as a SIP ALG needs: o=, c=, m=, a=rtcp (RFC 3605)
and the direction attributes, with the offsets of every rewritable part.

Edits go through the owning message's lumps (`Message.sdp()` binds them),
so an ALG changing an address and a port leaves every other byte of the
body as received, and Content-Length follows by itself.
"""

from .errors import bad, LocalProtocolError, RemoteProtocolError
from .limits import MAX_SDP_LINES, MAX_SDP_MEDIA
from .syntax import parse_uint
from .lumps import add

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# Separate runs of lines drop_lines() may delete from one body: a phone's
# ICE candidates are one run; many runs is a body built to exhaust edits.
MAX_DROPPED_RUNS = 16


class Connection:
    """c=IN IP4 192.0.2.1[/ttl[/count]]; `start`/`end` locate the address."""

    __slots__ = ("nettype", "addrtype", "address", "suffix", "start", "end")

    def __init__(self, nettype, addrtype, address, suffix, start, end):
        self.nettype = nettype
        self.addrtype = addrtype
        self.address = address
        self.suffix = suffix
        self.start = start
        self.end = end

    @property
    def is_hold(self):
        """RFC 2543 hold: c= 0.0.0.0 (RFC 3264 §8.4 still asks us to honour it)."""
        return self.address == "0.0.0.0"


class Origin:
    __slots__ = ("username", "sess_id", "sess_version", "nettype", "addrtype", "address", "start", "end", "user_start")

    def __init__(self, fields, start, end, user_start=0):
        self.username, self.sess_id, self.sess_version, self.nettype, self.addrtype, self.address = fields
        self.start = start
        self.end = end
        self.user_start = user_start


class Rtcp:
    """a=rtcp:port [IN IP4 addr]; spans of the port and of the address."""

    __slots__ = ("port", "address", "port_span", "addr_span", "line_end")

    def __init__(self, port, address, port_span, addr_span, line_end):
        self.port = port
        self.address = address
        self.port_span = port_span
        self.addr_span = addr_span
        self.line_end = line_end


class Media:
    __slots__ = ("kind", "port", "port_count", "proto", "formats", "connection", "rtcp", "own_direction", "attributes", "port_span", "start", "end", "session_connection", "session_direction")

    def __init__(self, session, kind, port, port_count, proto, formats, port_span, start):
        # The session level's c= and direction, final once an m= line is
        # read (RFC 4566 §5: they come first). Copied, not a reference to
        # the Sdp: that would make every SDP a reference cycle.
        self.session_connection = session.connection
        self.session_direction = session.direction
        self.kind = kind
        self.port = port
        self.port_count = port_count
        self.proto = proto
        self.formats = formats
        self.port_span = port_span
        self.start = start
        self.end = start
        self.connection = None
        self.rtcp = None
        self.own_direction = None
        self.attributes = []

    @property
    def direction(self):
        return self.own_direction or self.session_direction or "sendrecv"

    @property
    def address(self):
        """The connection address in force for this stream."""
        c = self.connection or self.session_connection
        return c.address if c else None

    @property
    def rejected(self):
        return self.port == 0

    @property
    def rtcp_port(self):
        """RTCP port: a=rtcp, else RTP + 1 (RFC 3550 §11)."""
        if self.rtcp is not None:
            return self.rtcp.port
        return self.port + 1 if self.port else 0

    def attribute(self, name):
        for n, v in self.attributes:
            if n == name:
                return v
        return None


class Sdp:
    def __init__(self, body):
        self.body = body
        self.origin = None
        self.connection = None
        self.direction = None
        self.media = []
        self.attributes = []
        self._target = None  # (the message's edit list, body offset, body end): Message.sdp() binds it

    # -- edits (bound by Message.sdp()) ---------------------------------------

    def _replace(self, span, text):
        self._edit(span[0], span[1], text)

    def _edit(self, start, end, text):
        """An edit of body[start:end], recorded in the message's edit list."""
        if self._target is None:
            raise LocalProtocolError("SDP not bound to a message")
        lumps, base, limit = self._target
        add(lumps, base + start, base + end, text, limit)

    def set_connection(self, conn, address, addrtype=None):
        """Rewrite a c= address (and its IP4/IP6 when it changes family)."""
        self._replace((conn.start, conn.end), address)
        if addrtype and addrtype != conn.addrtype:
            a = conn.start - 1 - len(conn.addrtype)
            self._replace((a, a + len(conn.addrtype)), addrtype)

    def set_origin_address(self, address, addrtype=None):
        o = self.origin
        self._replace((o.start, o.end), address)
        if addrtype and addrtype != o.addrtype:
            a = o.start - 1 - len(o.addrtype)
            self._replace((a, a + len(o.addrtype)), addrtype)

    def set_origin_user(self, username):
        o = self.origin
        self._replace((o.user_start, o.user_start + len(o.username.encode())), username)

    def set_port(self, media, port):
        self._replace(media.port_span, "%d" % port)

    def set_rtcp(self, media, port, address=None):
        r = media.rtcp
        if r is None:
            raise LocalProtocolError("no a=rtcp on this stream")
        self._replace(r.port_span, "%d" % port)
        if address is not None and r.addr_span is not None:
            self._replace(r.addr_span, address)

    def set_direction(self, media, direction):
        """Set a stream's direction attribute, adding one when it has none."""
        if direction not in DIRECTIONS:
            raise LocalProtocolError("unknown direction " + direction)
        span = _find_attr_span(self.body, media.start, media.end, DIRECTIONS)
        if span:
            self._replace(span, direction)
        else:
            eol = b"\r\n" if self.body.find(b"\r\n") >= 0 else b"\n"
            self._edit(media.end, media.end, ("a=" + direction).encode() + eol)


    def line_start(self, offset):
        """Where the line holding body offset `offset` starts."""
        return self.body.rfind(b"\n", 0, offset) + 1

    def drop_lines(self, pred, keep=()):
        """Delete the lines for which pred(text) is true, but those starting
        at an offset in `keep` (their values are rewritten, not dropped).
        Adjacent lines go in one edit; a body needing more than
        MAX_DROPPED_RUNS edits is refused (488), not half-cleaned."""
        body = self.body
        runs = []
        pos, n = 0, len(body)
        while pos < n:
            nl = body.find(b"\n", pos)
            end = n if nl < 0 else nl + 1
            text = body[pos:end].decode()
            if pos not in keep and pred(text):
                if runs and runs[-1][1] == pos:
                    runs[-1][1] = end
                else:
                    runs.append([pos, end])
            pos = end
        if len(runs) > MAX_DROPPED_RUNS:
            raise RemoteProtocolError(488, "Not Acceptable Here (SDP names LAN addresses in too many places)")
        for a, b in runs:
            self._edit(a, b, b"")


def _find_attr_span(body, start, end, names):
    for name in names:
        key = b"a=" + name.encode()
        i = body.find(key, start, end)
        while i >= 0:
            after = i + len(key)
            if (i == 0 or body[i - 1] == 10) and body[after:after + 1] in (b"\r", b"\n", b""):
                return (i + 2, after)
            i = body.find(key, after, end)
    return None


def parse_sdp(body):
    if isinstance(body, memoryview):
        body = bytes(body)
    sdp = Sdp(body)
    n = len(body)
    pos = 0
    count = 0
    cur = None  # the m= section being read; None at session level
    while pos < n:
        nl = body.find(b"\n", pos)
        if nl < 0:
            nl = n
        end = nl - 1 if nl > pos and body[nl - 1] == 13 else nl
        if end == pos:  # blank line: tolerated at the end only
            if body[nl + 1:].strip():
                raise bad("Malformed SDP: empty line")
            break
        count += 1
        if count > MAX_SDP_LINES:
            raise bad("SDP too long")
        kind, value = _line(body, pos, end)
        if count == 1 and (kind != "v" or value != "0"):
            raise bad("SDP must start with v=0")
        cur = _take(sdp, cur, kind, value, pos, nl)
        pos = nl + 1
    if cur is not None:
        cur.end = min(pos, n)
    if sdp.origin is None:
        raise bad("SDP without o= line")
    for m in sdp.media:
        if m.port and m.connection is None and sdp.connection is None:
            raise bad("SDP stream without c= line")
    return sdp


def _line(body, pos, end):
    """An SDP line's type letter and value, 'x=value' (RFC 4566 §5)."""
    if end - pos < 2 or body[pos + 1] != 61 or not (97 <= body[pos] <= 122):
        raise bad("Malformed SDP line")
    try:
        return chr(body[pos]), body[pos + 2:end].decode()
    except UnicodeError:
        raise bad("Invalid UTF-8 in SDP")


def _take(sdp, cur, kind, value, pos, nl):
    """Record the line at `pos` (ending at `nl`); return the m= section that
    is read next."""
    vstart = pos + 2
    if kind == "m":
        if len(sdp.media) >= MAX_SDP_MEDIA:
            raise bad("Too many SDP media descriptions")
        if cur is not None:
            cur.end = pos
        cur = _media(sdp, value, vstart, pos)
        sdp.media.append(cur)
    elif kind == "c":
        c = _connection(value, vstart)
        # One c= per level (RFC 4566 §5): a second one is a message
        # that means two things, one for us and one for the far end.
        if (sdp.connection if cur is None else cur.connection) is not None:
            raise bad("Duplicate SDP c= line")
        if cur is None:
            sdp.connection = c
        else:
            cur.connection = c
    elif kind == "o":
        if cur is not None or sdp.origin is not None:
            raise bad("Misplaced SDP o= line")
        sdp.origin = _origin(value, vstart)
    elif kind == "a":
        _attribute(sdp, cur, value, vstart, nl + 1)
    return cur


def _media(sdp, value, vstart, line_start):
    parts = value.split(" ")
    if len(parts) < 3 or "" in parts:
        raise bad("Malformed SDP m= line")
    kind, port_text, proto = parts[0], parts[1], parts[2]
    count = 1
    if "/" in port_text:
        port_text, _, c = port_text.partition("/")
        count = parse_uint(c, "SDP port count", 65535)
    port = parse_uint(port_text, "SDP port", 65535)
    a = vstart + len(kind) + 1
    return Media(sdp, kind, port, count, proto, parts[3:], (a, a + len(port_text)), line_start)


def _connection(value, vstart):
    parts = value.split(" ")
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise bad("Malformed SDP c= line")
    addr, slash, suffix = parts[2].partition("/")
    if not addr:
        raise bad("Malformed SDP c= line")
    a = vstart + len(parts[0]) + len(parts[1]) + 2
    return Connection(parts[0], parts[1], addr, slash + suffix, a, a + len(addr))


def _origin(value, vstart):
    parts = value.split(" ")
    if len(parts) != 6 or "" in parts:
        raise bad("Malformed SDP o= line")
    a = vstart + len(value) - len(parts[5])
    return Origin(parts, a, a + len(parts[5]), vstart)


def _attribute(sdp, cur, value, vstart, line_end):
    name, colon, rest = value.partition(":")
    if name in DIRECTIONS and not colon:
        if cur is None:
            sdp.direction = name
        else:
            cur.own_direction = name
        return
    (sdp.attributes if cur is None else cur.attributes).append((name, rest if colon else None))
    if name == "rtcp" and cur is not None:
        if cur.rtcp is not None:
            raise bad("Duplicate SDP a=rtcp line")
        cur.rtcp = _rtcp(rest, vstart + len(name) + 1, line_end)


def _rtcp(rest, start, line_end):
    parts = rest.split(" ")
    port = parse_uint(parts[0], "SDP a=rtcp port", 65535)
    port_span = (start, start + len(parts[0]))
    address = addr_span = None
    if len(parts) == 4:
        address = parts[3]
        a = start + len(rest) - len(address)
        addr_span = (a, a + len(address))
    elif len(parts) != 1:
        raise bad("Malformed SDP a=rtcp")
    return Rtcp(port, address, port_span, addr_span, line_end)

