"""Building responses: to a parsed request, or to one we could not parse.

RFC 3261 §8.2.6.2: a response copies Via, From, Call-ID and CSeq, and To
with a tag added. Lines are copied byte for byte, so a request whose From we
could not parse can still be answered with 400 naming what was wrong. A
response to a response, to an ACK, or to a message without Via is
impossible: those get None, and the caller drops the message.
"""

from .compat import md5
import binascii

from .errors import RemoteProtocolError
from .headers import canonical, field_key
from .message import parse_message
from .syntax import is_token

_COPY = ("via", "from", "to", "call-id", "cseq")


def _hex(data):
    return binascii.hexlify(data).decode()


def stateless_tag(*parts):
    """The same To tag for every retransmission of one request (§16.11):
    derived from what identifies it (top Via branch, Call-ID, From tag)."""
    h = md5()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"|")
    return _hex(h.digest())[:16]


def own_tag(req):
    """The To tag of an answer the proxy makes itself to `req`."""
    return stateless_tag(req.top_via.branch, req.call_id, req.from_.tag)


def make_response(req, status, reason, to_tag=None, headers=(), body=b"", content_type=None, record_route=False):
    """Response bytes for a parsed Request."""
    lines = []
    i = 0
    for key, _s, _v, _e, _end in req._lines:
        if key in _COPY or (record_route and key == "record-route"):
            lines.append((key, req.line_bytes(i)))
        i += 1
    return _build(lines, status, reason, to_tag, headers, body, content_type)


def error_response(data, exc, to_tag=None):
    """Bytes answering a message that failed with `exc`, or None to drop it."""
    if exc.status < 300:
        return None
    lines = _scan(data if exc.message is None else exc.message)
    if lines is None:
        return None
    if to_tag is None:
        to_tag = stateless_tag(*[raw for key, raw in lines if key in ("via", "call-id", "from")][:3])
    answer = _build(lines, exc.status, exc.reason, to_tag, exc.headers, b"", None)
    # Lines copied from a broken request can break the answer too (a bare CR,
    # a NUL in a folded line): never send what we could not parse ourselves.
    try:
        parse_message(answer)
    except RemoteProtocolError:
        return None
    return answer


def _scan(data):
    """Tolerant look at a message: the lines to copy, or None if unanswerable."""
    n = len(data)
    pos = 0
    while pos < n and data[pos] in b"\r\n":
        pos += 1
    nl = data.find(b"\n", pos)
    if nl < 0:
        return None
    first = data[pos:nl]
    sp = first.find(b" ")
    if sp <= 0 or first[:4].upper() == b"SIP/" or first[:sp] == b"ACK":
        return None
    lines = []
    pos = nl + 1
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            nl = n - 1
        line = data[pos:nl + 1]
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t"):
            if lines:
                lines[-1] = (lines[-1][0], lines[-1][1] + line)
        else:
            colon = line.find(b":")
            try:
                name = line[:colon].rstrip().decode() if colon > 0 else ""
            except UnicodeError:
                name = ""
            key = field_key(name) if is_token(name) else ""
            lines.append((key if key in _COPY else "", line))
        pos = nl + 1
    lines = [(k, l if l.endswith(b"\n") else l + b"\r\n") for k, l in lines if k]
    if not any(k == "via" for k, _ in lines):
        return None
    return lines


def _build(lines, status, reason, to_tag, headers, body, content_type):
    out = [b"SIP/2.0 %d %s\r\n" % (status, reason.encode())]
    for key, raw in lines:
        if key == "to" and to_tag and status > 100 and b"tag=" not in raw.lower():
            end = raw.rstrip()
            raw = end + b";tag=" + to_tag.encode() + b"\r\n"
        out.append(raw)
    for name, value in headers:
        out.append(("%s: %s\r\n" % (canonical(name), value)).encode())
    if body:
        out.append(("Content-Type: %s\r\n" % content_type).encode())
    out.append(b"Content-Length: %d\r\n\r\n" % len(body))
    out.append(body)
    return b"".join(out)
