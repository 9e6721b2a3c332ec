"""Helpers for the core tests. These files run under pytest on CPython and
under tests/mpy_run.py on MicroPython, so they use nothing but plain asserts
and what both runtimes have."""

from outpost.core.errors import RemoteProtocolError


def raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("%s did not raise %s" % (getattr(fn, "__name__", fn), exc_type.__name__))


def remote_status(fn, *args):
    """The status of the RemoteProtocolError that fn raises."""
    return raises(RemoteProtocolError, fn, *args).status


def sip(*lines, body=b"", cl=True):
    """A message from text lines joined with CRLF. cl=True adds a correct
    Content-Length as the last header; a str/int cl is written as given."""
    head = [ln.encode() if isinstance(ln, str) else ln for ln in lines]
    if isinstance(body, str):
        body = body.encode()
    if cl is True:
        head.append(b"Content-Length: %d" % len(body))
    elif cl is not False and cl is not None:
        head.append(b"Content-Length: " + str(cl).encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body


SDP_OFFER = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=sendrecv\r\n"
)


def invite(body=SDP_OFFER, uri="sip:bob@example.com", extra=()):
    return sip(
        "INVITE %s SIP/2.0" % uri,
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport",
        "Max-Forwards: 70",
        "From: Alice <sip:alice@example.com>;tag=9fxced76sl",
        "To: Bob <sip:bob@example.com>",
        "Call-ID: 3848276298220188511@192.0.2.10",
        "CSeq: 1 INVITE",
        "Contact: <sip:alice@192.0.2.10:5060;transport=udp>",
        "Content-Type: application/sdp",
        *extra,
        body=body,
    )


def register(extra=()):
    return sip(
        "REGISTER sip:example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.11:5060;branch=z9hG4bKnashds7;rport",
        "Max-Forwards: 70",
        "From: <sip:bob@example.com>;tag=a73kszlfl",
        "To: <sip:bob@example.com>",
        "Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.11",
        "CSeq: 1826 REGISTER",
        "Contact: <sip:bob@192.0.2.11:5060>;expires=3600",
        "Expires: 3600",
        *extra,
    )


def plain(pair):
    """A leg's (IPv4, port) as ("a.b.c.d", port), for comparing with text."""
    return None if pair is None else (str(pair[0]), pair[1])


def taken_events(proxy):
    """Every event the proxy has for the runtime, as the runtime takes them."""
    out = []
    e = proxy.next_event()
    while e is not None:
        out.append(e)
        e = proxy.next_event()
    return out
