"""Framing: one datagram or framed TCP message into a Request or Response.

`parse_message` splits the start line and the header lines once and indexes
them by name; everything else is parsed lazily by `sipmessage.Message`.
"""

from .errors import bad, LocalProtocolError, RemoteProtocolError
from .limits import MAX_MESSAGE_BYTES, MAX_BODY_BYTES, MAX_HEADER_FIELDS, MAX_REQUEST_URI, MAX_NAME_CACHE
from .syntax import is_token, parse_uint
from .headers import field_key
from .sipmessage import Request, Response


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
    if len(data) > MAX_MESSAGE_BYTES:
        raise RemoteProtocolError(513, "Message Too Large")
    pos = 0
    while pos < len(data) and data[pos] in b"\r\n":  # RFC 3261 §7.5
        pos += 1
    sl_start = pos
    nl = data.find(b"\n", pos)
    if nl < 0:
        raise bad("Incomplete message")
    start_line = data[pos:nl - 1] if nl > pos and data[nl - 1] == 13 else data[pos:nl]
    lines = []
    blank, body_start = _header_lines(data, nl + 1, lines)
    body_end = _body_end(data, lines, body_start)
    if start_line[:4].upper() == b"SIP/":
        msg = Response(data, lines, body_start, body_end, blank)
        _response_line(msg, start_line)
    else:
        msg = Request(data, lines, body_start, body_end, blank)
        _request_line(msg, start_line, sl_start)
    return msg


def _header_lines(data, pos, lines):
    """Index the header lines from `pos` into `lines`; return the offsets of
    the empty line and of the body."""
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        end = nl - 1 if nl > pos and data[nl - 1] == 13 else nl
        if end == pos:
            return pos, nl + 1
        c = data[pos]
        if c == 32 or c == 9:  # folded continuation of the previous field
            if not lines:
                raise bad("Continuation line before any header field")
            _fold(data, lines[-1], pos, end, nl)
        else:
            lines.append(_header_line(data, pos, end, nl))
            if len(lines) > MAX_HEADER_FIELDS:
                raise RemoteProtocolError(513, "Too many header fields")
        pos = nl + 1
    raise bad("Missing empty line after header fields")


def _fold(data, ln, pos, end, nl):
    """Extend header line `ln` over a continuation line data[pos:end]."""
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


# The methods a router sees, as the strings every parse of them shares.
_METHODS = {m.encode(): m for m in ("INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "MESSAGE", "SUBSCRIBE", "NOTIFY", "REFER",
                                    "INFO", "UPDATE", "PRACK", "PUBLISH")}

# Header name as received (bytes) -> field key; see limits.MAX_NAME_CACHE.
_KEYS = {}


def _header_line(data, pos, end, nl):
    colon = data.find(b":", pos, end)
    if colon < 0:
        raise bad("Header field without colon")
    raw = data[pos:colon].rstrip()
    key = _KEYS.get(raw)
    if key is None:
        key = field_key(_token(raw, "header field name"))
        if len(_KEYS) < MAX_NAME_CACHE:
            _KEYS[raw] = key
    v = colon + 1
    while v < end and data[v] in b" \t":
        v += 1
    e = end
    while e > v and data[e - 1] in b" \t":
        e -= 1
    return [key, pos, v, e, nl + 1]


def _token(raw, what):
    """Bytes that must be a token (a header name, a method), as str; 400
    naming `what` otherwise."""
    try:
        text = raw.decode()
    except UnicodeError:
        raise bad("Malformed " + what)
    if not is_token(text):
        raise bad("Malformed " + what)
    return text


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
    # A known method is one shared string: a lingering context keeps its method.
    msg.method = _METHODS.get(method) or _token(method, "method")
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
