"""Parse + edit + serialise rate of the SIP core, against sippy in the same run.

    .venv/bin/python bench/parse.py [--seconds S]

The work per message is what the router does to each request it relays:
parse and validate (Request-URI, From and To tags, Call-ID, CSeq: what
transaction and dialog matching need; sippy is made to read them too), add received/rport to the top Via, put its own Via on
top, decrement Max-Forwards, rewrite the Contact host and port, and for the
INVITE rewrite SDP o=, c= and m= (ALG), then serialise. It is measured for
outpost on CPython and on MicroPython (this file re-run under `micropython`
as a worker), and for the PyPI package sippy's message classes doing the
same edits on CPython (sippy works on str, so its decode/encode counts).

Prints one line: messages per second for each, and outpost/sippy ratios.
"""

import sys

MPY = sys.implementation.name == "micropython"
if MPY:
    import time

    def clock_us():
        return time.ticks_us()

    def elapsed_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)
else:
    import time

    def clock_us():
        return time.perf_counter_ns() // 1000

    def elapsed_us(t0):
        return clock_us() - t0

_here = __file__ if __file__.startswith("/") else (__import__("os").getcwd() + "/" + __file__)
ROOT = _here.rsplit("/", 2)[0]
sys.path.insert(0, ROOT + "/firmware")

from outpost.core.message import parse_message  # noqa: E402

SDP = (
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 9 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
)
INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: \"Alice\" <sip:alice@example.com>;tag=9fxced76sl\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: Yealink SIP-T46U 108.86.0.20\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: %d\r\n\r\n" % len(SDP)
) + SDP
REGISTER = (
    b"REGISTER sip:example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.11:5060;branch=z9hG4bKnashds7;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:bob@example.com>;tag=a73kszlfl\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.11\r\n"
    b"CSeq: 1826 REGISTER\r\n"
    b"Contact: <sip:bob@192.0.2.11:5060>;expires=3600\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY\r\n"
    b"User-Agent: Yealink SIP-T46U 108.86.0.20\r\n"
    b"Content-Length: 0\r\n\r\n"
)
WAN = "203.0.113.2"
OUR_VIA = "SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bKout1"


def outpost_relay(data):
    m = parse_message(data).validate()
    v = m.top_via
    m.set_param(v, "received", "203.0.113.7")
    m.set_param(v, "rport", "40021")
    m.insert_field("via", OUR_VIA)
    m.replace_field(m.fields("max-forwards")[0], "%d" % (m.max_forwards - 1))
    c = m.contacts[0]
    m.set_uri(c, c.uri.copy(host=WAN, port=40000))
    s = m.sdp()
    if s is not None:
        s.set_origin_address(WAN)
        s.set_connection(s.connection, WAN)
        s.set_port(s.media[0], 30000)
    return m.serialise()


def sippy_relay(data):
    from sippy.SipRequest import SipRequest
    from sippy.SipHeader import SipHeader
    from sippy.SipVia import SipVia

    req = SipRequest(buf=data.decode())
    # What outpost's validate() reads and a proxy needs for transaction and
    # dialog matching: the same work on both sides.
    req.getRURI().host
    req.getHFBody("from").getTag(), req.getHFBody("to").getTag()
    req.getHFBody("call-id").body, req.getHFBody("cseq").getCSeq()
    via = req.getHFBody("via")
    via.params["received"] = "203.0.113.7"
    via.params["rport"] = "40021"
    req.insertHeaderBefore(req.getHFs("via")[0], SipHeader(name="via", body=SipVia(OUR_VIA)))
    req.getHFBody("max-forwards").number -= 1
    u = req.getHFBody("contact").getUrl()
    u.host = WAN
    u.port = 40000
    body = req.getBody()
    if body is not None:
        body.parse()
        s = body.content
        s.o_header.address = WAN
        s.sections[0].c_header.addr = WAN
        s.sections[0].m_header.port = 30000
    return req.localStr().encode()


def rate(fn, data, seconds):
    """Messages per second, over at least `seconds` after a warm-up."""
    for _ in range(50):
        fn(data)
    n = 0
    budget = int(seconds * 1000000)
    t0 = clock_us()
    while True:
        for _ in range(100):
            fn(data)
        n += 100
        spent = elapsed_us(t0)
        if spent >= budget:
            return n * 1000000 // spent


def check(out):
    m = parse_message(out).validate()
    assert m.vias[0].branch == "z9hG4bKout1" and m.vias[1].received == "203.0.113.7"
    assert m.contacts[0].uri.host == WAN and m.max_forwards == 69
    s = m.sdp()
    assert s is None or (s.media[0].port == 30000 and s.media[0].address == WAN)


def worker(seconds):
    check(outpost_relay(INVITE))
    check(outpost_relay(REGISTER))
    print("%d %d" % (rate(outpost_relay, INVITE, seconds), rate(outpost_relay, REGISTER, seconds)))


def main(argv):
    seconds = 1.0
    if "--seconds" in argv:
        seconds = float(argv[argv.index("--seconds") + 1])
    if MPY or "--worker" in argv:
        worker(seconds)
        return 0
    import os
    import platform
    import subprocess

    mpy = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(mpy):
        mpy = "micropython"
    out = subprocess.run([mpy, os.path.abspath(__file__), "--worker", "--seconds", str(seconds)], capture_output=True, text=True, check=True)
    mp_inv, mp_reg = (int(x) for x in out.stdout.split())
    mp_version = subprocess.run([mpy, "-c", "import sys; print(sys.implementation.version[0], sys.implementation.version[1], sys.implementation.version[2])"],
                                capture_output=True, text=True).stdout.split()
    for data in (INVITE, REGISTER):
        check(outpost_relay(data))
        check(sippy_relay(data))
    cp_inv, cp_reg = rate(outpost_relay, INVITE, seconds), rate(outpost_relay, REGISTER, seconds)
    sp_inv, sp_reg = rate(sippy_relay, INVITE, seconds), rate(sippy_relay, REGISTER, seconds)
    print(
        "parse+edit+serialise msg/s: INVITE+SDP outpost/CPython %d, outpost/MicroPython %d, sippy/CPython %d (outpost %.1fx, MicroPython %.1fx sippy)"
        " | REGISTER outpost/CPython %d, outpost/MicroPython %d, sippy/CPython %d (outpost %.1fx, MicroPython %.1fx sippy)"
        " | CPython %s, MicroPython %s, %.1f s per figure"
        % (cp_inv, mp_inv, sp_inv, cp_inv / sp_inv, mp_inv / sp_inv, cp_reg, mp_reg, sp_reg, cp_reg / sp_reg, mp_reg / sp_reg,
           platform.python_version(), ".".join(mp_version), seconds)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
