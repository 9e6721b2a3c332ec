"""A framed SIP message's bytes and the edits recorded against them.

Edits are Kamailio's lumps: (start, end, bytes) against `raw`, applied once
by `serialise()`, so every byte nobody edited goes out as it came in, and
Content-Length follows edits to the body by itself.

Rules of this file: it knows header lines and byte offsets, never a header's
value; reading values is `sipmessage.Message`'s job, built on this class.
"""

from .errors import bad, LocalProtocolError
from .limits import MAX_EDITS
from .headers import canonical

CRLF = b"\r\n"


def add(lumps, start, end, data, limit):
    """Record an edit in `lumps`, a message's edit list: its own, or the
    one its Sdp was bound to (by list, not by a closure over the message:
    that would make every message with SDP a reference cycle, garbage
    only the cyclic collector frees)."""
    if not (0 <= start <= end <= limit):
        raise LocalProtocolError("edit outside the message")
    if len(lumps) >= MAX_EDITS:
        raise LocalProtocolError("too many edits")
    if isinstance(data, str):
        data = data.encode()
    # The sequence number keeps same-offset inserts in call order:
    # MicroPython's sort is not stable.
    lumps.append((start, end, len(lumps), data))


class Layout:
    """`raw`, its header lines indexed by field key, the body's span, and
    the edits to apply when sending."""

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
        self._lumps = []

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

    def lines_of(self, name):
        """[(line index, text)] of every line of field `name`, values unsplit."""
        return [(i, self._line_text(i)[0]) for i in self._index.get(name, ())]

    # -- editing -----------------------------------------------------------

    def edit(self, start, end, data):
        """Replace raw[start:end] with `data` when serialising."""
        add(self._lumps, start, end, data, self.body_end)

    def replace_line(self, i, data):
        """Header line i replaced whole, by line_bytes() of an edited copy."""
        ln = self._lines[i]
        self.edit(ln[1], ln[4], data)

    @property
    def edited(self):
        return bool(self._lumps)

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
        # In place: an Sdp bound to this message holds the same list.
        self._lumps[:] = [lp for lp in self._lumps
                       if not any(a <= lp[0] < b and lp[1] <= b and lp[1] > a for a, b in spans) and
                       not any(a < lp[0] < b for a, b in spans)]
        for a, b in spans:
            self.edit(a, b, b"")

    def _first_header(self):
        return self._lines[0][1] if self._lines else self._blank

    # -- sending -----------------------------------------------------------

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
