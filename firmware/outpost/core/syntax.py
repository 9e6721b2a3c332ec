"""Low-level grammar shared by the parsers (RFC 3261 §25.1).

All functions work on `str` that the message layer decoded from one header
value. Folding was replaced by spaces of the same length (see
`message._unfold`), so offsets into an ASCII value equal byte offsets into
the received buffer; that is what lets edits land exactly.
"""

from .errors import bad
from .limits import MAX_DIGITS, MAX_PARAMS

WS = " \t"
DIGITS = "0123456789"
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" + DIGITS
TOKEN_CHARS = ALNUM + "-.!%*_+`'~"
# RFC 3261 §25.1 word: what a Call-ID is made of (with one "@" between two).
WORD_CHARS = TOKEN_CHARS + "()<>:\\\"/[]?{}"


def is_call_id(s):
    """word ["@" word]: no spaces, no control characters (RFC 3261 §25.1)."""
    word, at, host = s.partition("@")
    return bool(word) and not word.strip(WORD_CHARS) and (not at or (bool(host) and not host.strip(WORD_CHARS)))


def is_token(s):
    # "All characters allowed" is `not s.strip(ALLOWED)` here and in uri.py:
    # str.strip(chars) runs natively on both runtimes and, unlike
    # MicroPython's re, does not recurse per character (its re fails on
    # 1,000-character input).
    return bool(s) and not s.strip(TOKEN_CHARS)


def parse_uint(s, what, maximum):
    """Strict decimal: ASCII digits only (int() would take '+1', '1_0', '١')."""
    s = s.strip()
    if not s or len(s) > MAX_DIGITS or s.strip(DIGITS):
        raise bad("Malformed " + what)
    v = int(s)
    if v > maximum:
        raise bad(what + " out of range")
    return v


def delta_seconds(s, what):
    """RFC 3261 §20.19/§20.10: values past 2**32-1 mean 2**32-1."""
    s = s.strip()
    if not s or len(s) > MAX_DIGITS or s.strip(DIGITS):
        raise bad("Malformed " + what)
    v = int(s)
    return v if v < 0xFFFFFFFF else 0xFFFFFFFF


def skip_quoted(s, i, what):
    """`s[i]` is '"'; return the index just past the closing quote."""
    n = len(s)
    i += 1
    while i < n:
        ch = s[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        i += 1
    raise bad("Unterminated quoted string in " + what)


def unquote(s):
    """Quoted-string contents with quoted-pairs resolved; `s` includes quotes."""
    if "\\" not in s:
        return s[1:-1]
    out = []
    i, n = 1, len(s) - 1
    while i < n:
        ch = s[i]
        if ch == "\\" and i + 1 < n:
            i += 1
            ch = s[i]
        out.append(ch)
        i += 1
    return "".join(out)


def split_spans(s, sep, what, limit):
    """Split on `sep` outside quoted strings and <...>; spans are trimmed.

    Returns [(start, end)], one per element, empty elements included (the
    caller decides whether they are an error).
    """
    spans = []
    n = len(s)
    if '"' not in s and "<" not in s:
        return _split_plain(s, sep, what, limit)
    i = start = 0
    angle = False
    while i < n:
        ch = s[i]
        if ch == '"':
            i = skip_quoted(s, i, what)
            continue
        if ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif ch == sep and not angle:
            spans.append(_trim(s, start, i))
            if len(spans) >= limit:
                raise bad("Too many values in " + what)
            start = i + 1
        i += 1
    if angle:
        raise bad("Unterminated <...> in " + what)
    spans.append(_trim(s, start, n))
    return spans


def _split_plain(s, sep, what, limit):
    """split_spans without quotes or <...> to skip (a Via list, Allow):
    str.find instead of a loop over each character."""
    spans = []
    start = 0
    i = s.find(sep)
    while i >= 0:
        spans.append(_trim(s, start, i))
        if len(spans) >= limit:
            raise bad("Too many values in " + what)
        start = i + 1
        i = s.find(sep, start)
    spans.append(_trim(s, start, len(s)))
    return spans


def _trim(s, a, b):
    while a < b and s[a] in WS:
        a += 1
    while b > a and s[b - 1] in WS:
        b -= 1
    return (a, b)


class Param:
    """One `;name=value` with its span in the text it was parsed from.

    `start` is the offset of the ';' (so removing start..end removes the
    parameter cleanly); `vstart` the offset of the value (or of the end of
    the name when there is none), for in-place value edits.
    """

    __slots__ = ("name", "value", "start", "end", "vstart")

    def __init__(self, name, value, start, end, vstart):
        self.name = name
        self.value = value
        self.start = start
        self.end = end
        self.vstart = vstart


def parse_params(s, start, what, value_check=None):
    """Parse `;name[=value]` pairs from s[start:]. Names are lower-cased.

    Values may be tokens, hosts or quoted strings (kept with their quotes so
    re-serialising is exact; use `param_value()` to read them unquoted).
    """
    if s.find(";", start) < 0 and not s[start:].strip():
        return []
    if s.find('"', start) < 0:
        return _plain_params(s, start, what)
    return _scan_params(s, start, what)


def _plain_params(s, start, what):
    """parse_params without quoted strings: split at ';' with str.find.
    The same result, offsets and errors as _scan_params (tests/core
    compares them); every phone's Via, URI and tag params take this path,
    and the per-character scan was the largest cost of parsing a message."""
    semi = s.find(";", start)
    if semi < 0 or s[start:semi].strip(" \t"):
        raise bad("Malformed parameters in " + what)
    params = []
    n = len(s)
    while semi >= 0:
        e = s.find(";", semi + 1)
        if e < 0:
            e = n
        eq = s.find("=", semi + 1, e)
        name = s[semi + 1:(e if eq < 0 else eq)].strip()
        if not is_token(name):
            raise bad("Malformed parameter name in " + what)
        if eq < 0:
            value, vstart, end = None, e, e
        else:
            vstart = eq + 1
            while vstart < e and s[vstart] in WS:
                vstart += 1
            value = s[vstart:e].rstrip()
            if not value:
                raise bad("Empty parameter value in " + what)
            if " " in value or "\t" in value:
                raise bad("Malformed parameter value in " + what)
            end = vstart + len(value)
        params.append(Param(name.lower(), value, semi, end, vstart))
        if len(params) > MAX_PARAMS:
            raise bad("Too many parameters in " + what)
        semi = e if e < n else -1
    return params


def _scan_params(s, start, what):
    params = []
    n = len(s)
    i = start
    while i < n:
        while i < n and s[i] in WS:
            i += 1
        if i >= n:
            break
        if s[i] != ";":
            raise bad("Malformed parameters in " + what)
        semi = i
        i += 1
        j = i
        while j < n and s[j] not in ";=" and s[j] != '"':
            j += 1
        name = s[i:j].strip()
        if not is_token(name):
            raise bad("Malformed parameter name in " + what)
        value = None
        vstart = j
        if j < n and s[j] == "=":
            k = j + 1
            while k < n and s[k] in WS:
                k += 1
            vstart = k
            if k < n and s[k] == '"':
                e = skip_quoted(s, k, what)
            else:
                e = k
                while e < n and s[e] != ";":
                    e += 1
            value = s[k:e].rstrip()
            if not value:
                raise bad("Empty parameter value in " + what)
            if value[0] != '"' and (" " in value or "\t" in value):
                raise bad("Malformed parameter value in " + what)
            j = e
        else:
            while j < n and s[j] in WS:
                j += 1
        end = j
        while end > vstart and s[end - 1] in WS:
            end -= 1
        params.append(Param(name.lower(), value, semi, end, vstart))
        if len(params) > MAX_PARAMS:
            raise bad("Too many parameters in " + what)
        i = j
    return params


def find_param(params, name):
    for p in params:
        if p.name == name:
            return p
    return None


def param_value(params, name, default=None):
    """The unquoted value of a parameter; '' when present without a value."""
    p = find_param(params, name)
    if p is None:
        return default
    if p.value is None:
        return ""
    if p.value[0] == '"':
        return unquote(p.value)
    return p.value
