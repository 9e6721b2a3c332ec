"""Representative messages: what phones, PBXs and ITSPs send. Seeds for the
round-trip tests and for the property tests' mutations."""

from support import sip, invite, register

SDP_ANSWER = (
    "v=0\r\no=bob 2808844564 2808844564 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\n"
    "t=0 0\r\nm=audio 3456 RTP/AVP 0\r\na=rtcp:3457\r\na=rtpmap:0 PCMU/8000\r\n"
)

VALID = [
    invite(),
    register(),
    sip(
        "SIP/2.0 200 OK",
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;received=203.0.113.7;rport=40021",
        "Record-Route: <sip:203.0.113.2;lr>",
        "From: Alice <sip:alice@example.com>;tag=9fxced76sl",
        "To: Bob <sip:bob@example.com>;tag=8321234356",
        "Call-ID: 3848276298220188511@192.0.2.10",
        "CSeq: 1 INVITE",
        "Contact: <sip:bob@192.0.2.20>",
        "Content-Type: application/sdp",
        body=SDP_ANSWER,
    ),
    sip(
        "SIP/2.0 100 Trying",
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport=5060;received=192.0.2.10",
        "From: Alice <sip:alice@example.com>;tag=9fxced76sl",
        "To: Bob <sip:bob@example.com>",
        "Call-ID: 3848276298220188511@192.0.2.10",
        "CSeq: 1 INVITE",
    ),
    sip(
        "SIP/2.0 401 Unauthorized",
        "Via: SIP/2.0/UDP 192.0.2.11:5060;branch=z9hG4bKnashds7;rport=5060",
        "From: <sip:bob@example.com>;tag=a73kszlfl",
        "To: <sip:bob@example.com>;tag=1410948204",
        "Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.11",
        "CSeq: 1826 REGISTER",
        'WWW-Authenticate: Digest realm="example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", algorithm=SHA-256, qop="auth", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
        'WWW-Authenticate: Digest realm="example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", algorithm=MD5, qop="auth"',
    ),
    register(('Authorization: Digest username="bob", realm="example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sip:example.com", response="dfe56131d1958046689d83306477ecc", algorithm=MD5, qop=auth, nc=00000001, cnonce="0a4f113b"',)),
    sip(
        "ACK sip:bob@192.0.2.20 SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds9",
        "Route: <sip:203.0.113.2;lr>",
        "Max-Forwards: 70",
        "From: Alice <sip:alice@example.com>;tag=9fxced76sl",
        "To: Bob <sip:bob@example.com>;tag=8321234356",
        "Call-ID: 3848276298220188511@192.0.2.10",
        "CSeq: 1 ACK",
    ),
    sip(
        "BYE sip:alice@192.0.2.10 SIP/2.0",
        "v: SIP/2.0/TCP 192.0.2.20:5060;branch=z9hG4bKnashds10",
        "Max-Forwards: 70",
        "f: Bob <sip:bob@example.com>;tag=8321234356",
        "t: Alice <sip:alice@example.com>;tag=9fxced76sl",
        "i: 3848276298220188511@192.0.2.10",
        "CSeq: 231 BYE",
        cl=False,
    ) ,
    sip(
        "CANCEL sip:bob@example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9",
        "Max-Forwards: 70",
        "From: Alice <sip:alice@example.com>;tag=9fxced76sl",
        "To: Bob <sip:bob@example.com>",
        "Call-ID: 3848276298220188511@192.0.2.10",
        "CSeq: 1 CANCEL",
    ),
    sip(
        "OPTIONS sip:203.0.113.2 SIP/2.0",
        "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKopt1",
        "Max-Forwards: 70",
        "From: <sip:ping@203.0.113.10>;tag=opt1",
        "To: <sip:203.0.113.2>",
        "Call-ID: opt1@203.0.113.10",
        "CSeq: 1 OPTIONS",
        "Accept: application/sdp",
        "Supported: path, outbound, gruu",
    ),
    # LF-only line endings, as some embedded stacks send.
    b"OPTIONS sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKlf\nFrom: <sip:a@example.com>;tag=1\n"
    b"To: <sip:bob@example.com>\nCall-ID: lf@192.0.2.4\nCSeq: 2 OPTIONS\nContent-Length: 0\n\n",
]

# (message, status the server must answer with)
INVALID = [
    (sip("INVITE sip:bob@example.com SIP/7.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1"), 505),
    (sip("INVITE nobody:x SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@b>;tag=1", "To: <sip:c@d>", "Call-ID: x", "CSeq: 1 INVITE"), 416),
    (sip("INVITE sip:%s@example.com SIP/2.0" % ("u" * 3000), "Via: SIP/2.0/UDP h;branch=z9hG4bK1"), 414),
    (sip("INVITE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Bogus header line"), 400),
    (sip("INVITE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@b>;tag=1", "To: <sip:c@d>", "Call-ID: x", "CSeq: 1 INVITE", body="x" * 40000), 413),
]
