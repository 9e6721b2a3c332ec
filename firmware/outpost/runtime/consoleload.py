"""How a whole site file crosses the serial line into the console's `load`.

Two framings, and no line of the file can end either one early (before,
a line holding "." ended `load` and the rest of the file ran as console
commands):

- `load` (a person pasting): the console names a random end marker,
  "end the paste with a line holding only END-5c1e0a9f"; whoever wrote the
  file cannot know it.
- `load base64 NBYTES SHA256` (outpost-console): the file as base64 lines
  of BASE64_WIDTH characters, then a line `end`. The alphabet has no space,
  '.', '-' or control character, so no line is a marker or a command; the
  length and the SHA-256 are checked (line noise on a serial link).

Both read linearly (a running count), at most MAX_BYTES, and a framing
error never stops the reading early: lines are consumed up to the end
marker and only then is the load refused, so nothing in a block ever runs
as a command. A line holding Ctrl-C raises LoadCancelled: the console ends
the session, because what follows a cancelled paste would run as commands.
"""

import base64
import binascii
import hashlib
import os
import re

MAX_BYTES = 1 << 20  # a branch's site file is a few KiB
BASE64_WIDTH = 76  # a multiple of 4: every line but the last decodes alone
END = "end"
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")
_HEADER = re.compile(r"(\d{1,9}) ([0-9a-f]{64})")


class LoadCancelled(Exception):
    pass


def new_marker():
    return "END-" + os.urandom(4).hex()


def encode_block(text):
    """The lines outpost-console sends: header, base64, end marker."""
    data = text.encode("utf-8")
    b64 = base64.b64encode(data).decode()
    lines = ["load base64 %d %s" % (len(data), hashlib.sha256(data).hexdigest())]
    lines += [b64[i:i + BASE64_WIDTH] for i in range(0, len(b64), BASE64_WIDTH)]
    return lines + [END]


def _next(readline):
    line = readline().rstrip("\r\n")
    if "\x03" in line:
        raise LoadCancelled()
    return line


def read_paste(readline, marker):
    """Lines up to `marker` as the file's text; ValueError when too large."""
    parts, size, too_big = [], 0, False
    while True:
        line = _next(readline)
        if line.strip() == marker:
            break
        if too_big:
            continue  # consumed, never executed
        size += len(line.encode("utf-8", "surrogateescape")) + 1
        if size > MAX_BYTES:
            too_big, parts = True, []
            continue
        parts.append(line + "\n")
    if too_big:
        raise ValueError("load: site file larger than 1 MiB, refused")
    return "".join(parts)


def read_base64(readline, header):
    """`header` is what followed `load base64`; the block is read to its end
    marker whatever is wrong with it, then checked."""
    chunks, chars, error = [], 0, None
    limit = 4 * ((MAX_BYTES + 2) // 3)
    n = 0
    while True:
        line = _next(readline).strip()
        n += 1
        if line == END:
            break
        if error:
            continue
        if not _BASE64.fullmatch(line):
            error = "load: line %d of the block is not base64 (line noise?), refused" % n
        elif chars + len(line) > limit:
            error = "load: site file larger than 1 MiB, refused"
        else:
            chars += len(line)
            chunks.append(line)
    m = _HEADER.fullmatch(" ".join(header))
    if m is None:
        raise ValueError("usage: load base64 NBYTES SHA256 (then base64 lines, then '%s')" % END)
    if error:
        raise ValueError(error)
    return _decode("".join(chunks), int(m.group(1)), m.group(2))


def _decode(b64, size, digest):
    if size > MAX_BYTES:
        raise ValueError("load: site file larger than 1 MiB, refused")
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("load: the block is not valid base64 (line noise?), refused")
    if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        raise ValueError("load: %d bytes arrived, %d announced, or the checksum differs (line noise?), refused" % (len(data), size))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("load: the site file is not UTF-8 text, refused")


def receive(args, read_raw, stdin, say):
    """The site file `load` (args []) or `load base64 N SHA` brings in.
    `read_raw` reads one line under the idle timeout; Ctrl-C cancels."""
    from .consoleline import NoEcho  # here: it needs termios, and outpost-console imports this module on any host

    try:
        if args[:1] == ["base64"]:
            with NoEcho(stdin):  # half the traffic; the host tool reads the diff alone
                return read_base64(read_raw, args[1:])
        marker = new_marker()
        say("Paste the site file, then a line holding only %s (Ctrl-C cancels and logs out)." % marker)
        return read_paste(read_raw, marker)
    except KeyboardInterrupt:
        raise LoadCancelled()
