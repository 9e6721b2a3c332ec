"""Cutting a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3).

Messages are framed by Content-Length, which a stream message must carry.
CRLFs before a message are skipped (§7.5); a double CRLF on its own is an
RFC 5626 keep-alive ping, reported as KEEPALIVE so the runtime can answer
with a single CRLF pong. Nothing beyond MAX_MESSAGE_BYTES is buffered.

After a framing error the stream cannot be resynchronised: the error
carries in `framed` the messages its chunk held before the bad one, every
later feed() raises it again, and the runtime answers it if it can
(`response.error_response(err.message, err)`) and closes the connection.
"""

from .errors import bad, RemoteProtocolError
from .headers import field_key
from .limits import MAX_MESSAGE_BYTES, MAX_BODY_BYTES
from .syntax import parse_uint

KEEPALIVE = b"\r\n\r\n"


class StreamFramer:
    def __init__(self):
        self._buf = b""
        self._scan = 0  # where the search for the header end resumes
        self._need = -1  # total length of the current message, once known
        self._error = None
        # Chunks held back while they cannot complete anything: a peer
        # trickling a message a byte at a time would otherwise cost a copy
        # of the whole buffer per byte (quadratic). Joined once, when they
        # may finish a header or a body.
        self._held = []
        self._held_len = 0
        self._tail = b""  # the last bytes received, to see a header end across chunks

    def feed(self, data):
        """Add received bytes; return the complete messages (bytes) and
        KEEPALIVE markers, in order."""
        if self._error is not None:
            raise self._error
        if self._can_wait(data):
            self._held.append(data)
            self._held_len += len(data)
            self._tail = (self._tail + data)[-3:]
            return []
        self._buf = self._buf + b"".join(self._held) + data
        self._held, self._held_len = [], 0
        self._tail = self._buf[-3:]
        out = []
        try:
            while self._next(out):
                pass
        except RemoteProtocolError as e:
            e.framed = out  # what this chunk held before the error: handle it, then close
            self._error = e
            self._buf = b""
            self._held, self._held_len = [], 0
            raise
        return out

    def pending(self):
        """Bytes held for an incomplete message."""
        return len(self._buf) + self._held_len

    def _can_wait(self, data):
        """Can `data` be held without looking? Only inside a message already
        begun (never between messages, where pings are answered at once):
        a body still short, or a header whose end is not in these bytes."""
        if not self._buf or self._buf[0] in b"\r\n":
            return False
        have = len(self._buf) + self._held_len + len(data)
        if self._need >= 0:
            return have < self._need
        seam = self._tail + data
        return have <= MAX_MESSAGE_BYTES and seam.find(b"\n\n") < 0 and seam.find(b"\n\r\n") < 0

    def _next(self, out):
        buf = self._buf
        if self._need < 0:
            # Between messages, walk the CR/LF run one byte at a time: a
            # ping wherever one starts, anything else stray (§7.5). Waiting
            # only on a buffer that may still become a ping keeps the result
            # independent of how the stream was chunked.
            i, n = 0, len(buf)
            while i < n and buf[i] in b"\r\n":
                if buf[i:i + 4] == KEEPALIVE:
                    out.append(KEEPALIVE)
                    i += 4
                elif n - i < 4 and KEEPALIVE.startswith(buf[i:]):
                    break
                else:
                    i += 1
            if i:
                buf = buf[i:]
                self._scan = 0
            self._buf = buf
            if not buf or buf[0] in b"\r\n":
                return False
            end = _header_end(buf, self._scan)
            if end < 0:
                if len(buf) > MAX_MESSAGE_BYTES:
                    raise RemoteProtocolError(513, "Message Too Large")
                self._scan = max(0, len(buf) - 3)
                return False
            self._need = end + _content_length(buf[:end])
            if self._need > MAX_MESSAGE_BYTES:
                e = RemoteProtocolError(513, "Message Too Large")
                e.message = buf[:end]
                raise e
        if len(buf) < self._need:
            return False
        out.append(buf[:self._need])
        self._buf = buf[self._need:]
        self._need = -1
        self._scan = 0
        return True


def _header_end(buf, start):
    """Offset just past the empty line ending the headers, or -1."""
    i = buf.find(b"\n", start)
    while i >= 0:
        j = i + 1
        if buf[j:j + 1] == b"\n":
            return j + 1
        if buf[j:j + 2] == b"\r\n":
            return j + 2
        i = buf.find(b"\n", j)
    return -1


def _content_length(head):
    value = None
    for line in head.split(b"\n")[1:]:
        colon = line.find(b":")
        if colon <= 0 or line[:1] in (b" ", b"\t"):
            continue
        try:
            key = field_key(line[:colon].strip().decode())
        except UnicodeError:
            continue
        if key == "content-length":
            if value is not None:
                raise _answerable(bad("Multiple Content-Length header fields"), head)
            value = line[colon + 1:]
    if value is None:
        raise _answerable(bad("Missing Content-Length"), head)
    try:
        n = parse_uint(value.decode(), "Content-Length", 0xFFFFFFFF)
    except (UnicodeError, RemoteProtocolError):
        raise _answerable(bad("Malformed Content-Length"), head)
    if n > MAX_BODY_BYTES:
        raise _answerable(RemoteProtocolError(413, "Request Entity Too Large"), head)
    return n


def _answerable(e, head):
    e.message = head
    return e
