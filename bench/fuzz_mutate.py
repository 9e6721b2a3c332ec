"""Mutators for the fuzz campaign (bench/fuzz.py): bytes, header lines,
values from a dictionary of nasty ones, SDP, and the headers that decide
routing. Each takes (data, rng, plant) and returns new bytes and a short
name; `plant(text)` returns text with a fresh injection marker in it (and
records it), so the oracle can tell planted text from the router's own.
"""

MARKER = b"INJ"  # + 6 hex digits + "Q": see fuzz.plant()

NASTY = [
    "0", "-1", "65536", "65535", "99999", "4294967296", "18446744073709551617", "9" * 40, "1e9", "0x10", "+5060",
    "0.0.0.0", "255.255.255.255", "127.0.0.1", "224.0.0.1", "192.0.2.1", "192.0.2.10", "192.0.2.255", "192.0.2.11:5064",
    "203.0.113.2", "203.0.113.50", "198.51.100.99", "198.51.100.99:5060", "10.0.0.1", "01.002.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1",
    "[::1]", "::1", "[2001:db8::1]:5060", "2001:db8::1", "evil.example.com", "localhost", "hq.example.com",
    "%31%39%32.0.2.10", "%0d%0a", "\u00e9\u4e2d\u0661\u0662", "\x1b[2J\x1b]0;pwn\x07", "\x00", "\x7f", "$(reboot)", "`id`",
    "../../etc/passwd", "%s%s%n", "A" * 300, "B" * 3000, "C" * 20000, "", " ", "\t", ";", ",", "<", ">", "\"",
    "sip:", "sip:@", "<sip:198.51.100.99;lr>", "sip:x@198.51.100.99;maddr=198.51.100.99", "tel:+123", "sips:a@b",
]
# Injection strings: {} is where the marker goes.
INJECT = [
    "1.2.3.4\t{} ; }} flush ruleset; {{", "x\r\n{}-Header: evil", "x\n{}: evil", "x\r{}", "\"a\r\n {}\"", "{}\x1b]0;pwn\x07",
    "x;{}=1", "<sip:{}@198.51.100.99>", "1.2.3.4\r\na=rtcp:9 IN IP4 {}", "5060\r\nRoute: <sip:{}@198.51.100.99;lr>",
    "{}\r\n\r\nINVITE sip:x@198.51.100.99 SIP/2.0", "a%0d%0a{}", "{} flush ruleset",
]
TOKENS = [b"\r\n", b"\n", b"\r", b" ", b"\t", b",", b";", b":", b"=", b'"', b"\\", b"<", b">", b"@", b"%", b"[", b"]",
          b"\r\n ", b"\r\n\r\n", b"SIP/2.0", b"sip:", b";lr", b";tag=", b";branch=", b";rport", b";received=", b";maddr=198.51.100.99",
          b"Content-Length: ", b"-1", b"99999999999999999999999", b"\xff", b"\xc3", b"\x00", b"*", b"Via: ", b"Contact: ",
          b"m=audio ", b"c=IN IP4 ", b"a=rtcp:", b"v=0\r\n", b"\x1b", b"\x07"]
ROUTING = [
    "Route: <sip:203.0.113.2;lr>", "Route: <sip:192.0.2.1;lr>", "Route: <sip:203.0.113.2:5060;lr>, <sip:198.51.100.99;lr>",
    "Route: <sip:203.0.113.2;lr>, <sip:192.0.2.10:5062;lr>", "Route: <sip:203.0.113.50;lr>", "Route: <sip:198.51.100.99;lr>",
    "Route: <sip:203.0.113.2;lr;maddr=198.51.100.99>", "Route: <sip:203.0.113.2>", "Record-Route: <sip:198.51.100.99;lr>",
    "Record-Route: <sip:192.0.2.10;lr>", "Via: SIP/2.0/UDP 198.51.100.99:5060;branch=z9hG4bKevil;rport",
    "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKlan;received=198.51.100.99;rport=9", "Via: SIP/2.0/TCP 198.51.100.99;branch=z9hG4bKt",
    "Contact: <sip:x@198.51.100.99>", "Contact: <sip:x@192.0.2.77:5062>", "Contact: *", "Contact: <sip:x@203.0.113.2;oc=0000000000>",
    "Contact: <sip:x@203.0.113.50;transport=tcp>", "Call-ID: x@192.0.2.10:5060", "Call-ID: x@192.0.2.10",
    "Max-Forwards: 0", "Max-Forwards: 1", "Expires: 0", "Expires: 4294967296", "Require: 100rel", "Proxy-Require: evil",
    "Refer-To: <sip:carol@192.0.2.12>", "From: <sip:alice@192.0.2.10>;tag=z", "P-Asserted-Identity: <sip:100@192.0.2.10>",
    "Content-Type: application/sdp", "Content-Type: multipart/mixed;boundary=x", "Content-Length: 99999", "Content-Length: -1",
]
RURIS = ["sip:0123456789@203.0.113.50", "sip:112@hq.example.com", "sip:100@192.0.2.10:5062", "sip:192.0.2.1", "sip:203.0.113.2;lr",
         "sip:x@198.51.100.99", "sip:x@198.51.100.99;maddr=198.51.100.98", "sip:alice@203.0.113.2;oc=0000000000", "sip:*@*",
         "sip:x@[2001:db8::1]", "sip:x@evil.example.com:0", "sip:x@203.0.113.2;transport=tcp", "tel:+123"]
SDP_LINES = [
    "c=IN IP4 {a}", "c=IN IP6 {a}", "c=IN IP4 {a}/127/3", "o=- 1 1 IN IP4 {a}", "m=audio {p} RTP/AVP 0", "m=audio {p}/3 RTP/AVP 0",
    "m=audio {p}/2 RTP/AVP 0", "m=video {p} RTP/SAVP 96", "m=audio {p} TCP/RTP/AVP 0", "m=application {p} UDP/BFCP *",
    "a=rtcp:{p} IN IP4 {a}", "a=rtcp:{p}", "a=candidate:1 1 UDP 2130706431 {a} {p} typ host",
    "a=candidate:2 1 UDP 1694498815 {a} {p} typ srflx raddr 192.0.2.10 rport 7078", "a=inactive", "a=sendonly", "a=recvonly",
    "a=rtpmap:0 PCMU/8000", "a=fmtp:101 0-16", "c=IN IP4 0.0.0.0",
]
ADDRS = ["0.0.0.0", "255.255.255.255", "127.0.0.1", "224.0.0.1", "192.0.2.10", "192.0.2.1", "203.0.113.2", "198.51.100.99", "10.0.0.1",
         "::1", "2001:db8::1", "evil.example.com", "1.2.3", "01.2.3.4", "256.0.0.1", "1.2.3.4 ", "1.2.3.4\t;", "\u0661.2.3.4", ""]
PORTS = ["0", "1", "65535", "65536", "99999", "-1", "4000/3", "7078/2", "9" * 30, "", "x", "40000", "40001"]


def _lines(data):
    return data.split(b"\r\n")


def _head_body(data):
    i = data.find(b"\r\n\r\n")
    return (data, b"") if i < 0 else (data[:i], data[i + 4:])


def flip(data, rng, plant):
    if not data:
        return data, "flip"
    i = rng.randrange(len(data))
    return data[:i] + bytes((rng.randrange(256),)) + data[i + 1:], "flip"


def insert(data, rng, plant):
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.choice(TOKENS) + data[i:], "insert"


def delete(data, rng, plant):
    i = rng.randrange(len(data) + 1)
    return data[:i] + data[i + rng.randrange(1, 24):], "delete"


def truncate(data, rng, plant):
    return data[:rng.randrange(len(data) + 1)], "truncate"


def header_op(data, rng, plant):
    """Duplicate, remove or reorder header lines."""
    head, body = _head_body(data)
    lines = _lines(head)
    if len(lines) < 3:
        return data, "header"
    i, j = rng.randrange(1, len(lines)), rng.randrange(1, len(lines))
    op = rng.randrange(3)
    if op == 0:
        lines.insert(j, lines[i])
    elif op == 1:
        del lines[i]
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body, ("dup-header", "drop-header", "swap-headers")[op]


def _nasty(rng, plant):
    if rng.random() < 0.3:
        return plant(rng.choice(INJECT)), "inject"
    return rng.choice(NASTY), "nasty"


def substitute(data, rng, plant):
    """Replace one value on one line (a host, a number, a parameter value, a
    whole header value) with a nasty value or an injection."""
    lines = _lines(data)
    i = rng.randrange(len(lines))
    line = lines[i].decode("latin-1")
    value, name = _nasty(rng, plant)
    spans = []
    start = 0
    for k, ch in enumerate(line + " "):
        edge = ch in " \t;,:<>@=/\"" or k == len(line)
        if edge:
            if k > start:
                spans.append((start, k))
            start = k + 1
    if not spans:
        return data, name
    a, b = rng.choice(spans)
    if rng.random() < 0.15 and ":" in line:
        a, b = line.index(":") + 1, len(line)  # the whole value
    lines[i] = (line[:a] + value + line[b:]).encode("utf-8", "surrogateescape")
    return b"\r\n".join(lines), name


def routing(data, rng, plant):
    """Add a header that decides where things go (Route, Via, Contact, ...),
    or change the Request-URI."""
    head, body = _head_body(data)
    lines = _lines(head)
    if rng.random() < 0.3 and not lines[0].startswith(b"SIP/"):
        parts = lines[0].split(b" ")
        if len(parts) == 3:
            lines[0] = b" ".join((parts[0], rng.choice(RURIS).encode(), parts[2]))
        return b"\r\n".join(lines) + b"\r\n\r\n" + body, "request-uri"
    extra = rng.choice(ROUTING)
    if rng.random() < 0.2:
        extra = extra.replace("198.51.100.99", plant("{}.example.com"))
    lines.insert(rng.randrange(1, len(lines) + 1), extra.encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body, "routing"


def sdp(data, rng, plant):
    """SDP-specific: c=/o=/m=/a=rtcp/a=candidate values, many m= lines, odd
    port counts; a body is added to a message that had none."""
    head, body = _head_body(data)
    if not body.startswith(b"v=0"):
        body = (b"v=0\r\no=x 1 1 IN IP4 203.0.113.20\r\ns=-\r\nc=IN IP4 203.0.113.20\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\n")
        head = b"\r\n".join(ln for ln in _lines(head) if not ln.lower().startswith((b"content-type", b"content-length")))
        head += b"\r\nContent-Type: application/sdp\r\nContent-Length: %d" % len(body)
    lines = body.split(b"\r\n")
    op = rng.randrange(4)
    a, p = rng.choice(ADDRS), rng.choice(PORTS)
    if rng.random() < 0.2:
        a = plant(rng.choice(INJECT))
    new = rng.choice(SDP_LINES).replace("{a}", a).replace("{p}", p).encode("utf-8", "surrogateescape")
    if op == 0:  # replace a line of the same type, or add it
        for k, ln in enumerate(lines):
            if ln[:2] == new[:2]:
                lines[k] = new
                break
        else:
            lines.insert(len(lines) - 1, new)
    elif op == 1:
        lines.insert(rng.randrange(len(lines) + 1), new)
    elif op == 2:  # many streams
        lines[-1:-1] = [b"m=audio %d RTP/AVP 0" % (8000 + 2 * k) for k in range(rng.choice([2, 10, 64, 300]))]
    else:
        if len(lines) > 2:
            del lines[rng.randrange(len(lines) - 1)]
    body = b"\r\n".join(lines)
    return _fix_length(head, body, rng), "sdp"


def _fix_length(head, body, rng):
    if rng.random() < 0.9:
        lines = [ln for ln in _lines(head) if not ln.lower().startswith(b"content-length")]
        head = b"\r\n".join(lines) + b"\r\nContent-Length: %d" % len(body)
    return head + b"\r\n\r\n" + body


MUTATORS = [(flip, 8), (insert, 8), (delete, 5), (truncate, 3), (header_op, 10), (substitute, 26), (routing, 20), (sdp, 20)]
_TABLE = [m for m, w in MUTATORS for _ in range(w)]


def mutate(data, rng, plant):
    """1-3 mutations; returns (bytes, [names])."""
    names = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        data, name = rng.choice(_TABLE)(data, rng, plant)
        names.append(name)
    return data, names
