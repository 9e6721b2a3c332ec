"""Property tests: whatever bytes arrive, only RemoteProtocolError escapes
the core, whole or split at every byte for the TCP framer; and whatever
parses serialises back byte for byte."""

from hypothesis import given, settings, strategies as st, HealthCheck

from corpus import VALID, INVALID
from outpost.core.errors import RemoteProtocolError
from outpost.core.framer import StreamFramer
from outpost.core.message import parse_message
from outpost.core.response import error_response
from outpost.core import digest

SEEDS = VALID + [m for m, _ in INVALID if len(m) < 4000]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Fragments that steer mutations towards the parser's corners.
TOKENS = [b"\r\n", b"\n", b" ", b"\t", b",", b";", b":", b"=", b'"', b"\\", b"<", b">", b"@", b"%", b"%0", b"[", b"]",
          b"\r\n ", b"\r\n\r\n", b"SIP/2.0", b"sip:", b"tel:", b";tag=", b";branch=", b";rport", b";received=",
          b"Content-Length: ", b"l: ", b"-1", b"99999999999999999999999", b"\xff", b"\xc3", b"\x00", b"*",
          b"Via: ", b"Contact: ", b"m=audio ", b"c=IN IP4 ", b"a=rtcp:", b"v=0\r\n"]


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 4))
        i = draw(st.integers(0, len(data)))
        if op == 0 and data:  # flip a byte
            data[min(i, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == 1:  # insert a steering fragment
            data[i:i] = draw(st.sampled_from(TOKENS))
        elif op == 2:  # delete a run
            del data[i:i + draw(st.integers(1, 20))]
        elif op == 3:  # truncate
            del data[i:]
        else:  # duplicate a run (repeated headers, params)
            j = draw(st.integers(i, min(len(data), i + 80)))
            data[j:j] = data[i:j]
    return bytes(data)


messages = st.one_of(mutated(), st.binary(max_size=600), st.sampled_from(SEEDS))


def read_everything(m):
    """Touch every accessor a proxy, registrar or ALG may call."""
    m.vias, m.from_, m.to, m.contacts, m.routes, m.record_routes, m.cseq, m.call_id
    m.max_forwards, m.expires, m.min_expires, m.content_type
    for name in ("authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate"):
        for a in m.auth(name):
            if a.scheme.lower() == "digest" and "response" in a.params:
                digest.verify(a, "0" * 32, "REGISTER")
    m.tokens("require"), m.tokens("proxy-require"), m.tokens("supported")
    for c in m.contacts:
        if not c.star:
            c.expires, c.q, c.uri.aor()
    if m.is_request:
        m.uri.aor()
    s = m.sdp()
    if s is not None:
        for media in s.media:
            media.address, media.direction, media.rtcp_port


def only_remote_errors(data):
    try:
        m = parse_message(data)
    except RemoteProtocolError as e:
        answer = error_response(data, e)
        assert answer is None or parse_message(answer).status == e.status
        return
    assert m.serialise() == data[:m.body_end]
    try:
        m.validate()
        read_everything(m)
    except RemoteProtocolError as e:
        answer = error_response(data, e)
        assert answer is None or parse_message(answer).status == e.status


@FUZZ
@given(messages)
def test_only_remote_errors_escape_the_parser(data):
    only_remote_errors(data)


def frame(chunks):
    f = StreamFramer()
    out = []
    try:
        for c in chunks:
            out += f.feed(c)
    except RemoteProtocolError as e:
        return out + list(e.framed), e.status
    return out, f.pending()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(mutated(), st.sampled_from([b"\r\n\r\n", b"\r\n"])), min_size=1, max_size=3))
def test_framer_split_at_every_byte_agrees_with_whole(parts):
    stream = b"".join(parts)
    whole = frame([stream])
    assert frame([stream[i:i + 1] for i in range(len(stream))]) == whole
    for msg in whole[0]:
        if msg != b"\r\n\r\n":
            only_remote_errors(msg)


@FUZZ
@given(st.sampled_from(VALID), st.integers(0, 10 ** 6))
def test_framer_any_two_way_split_agrees_with_whole(msg, cut):
    stream = msg if b"Content-Length" in msg else msg
    cut %= len(stream) + 1
    assert frame([stream[:cut], stream[cut:]]) == frame([stream])


def _live_proxy():
    from test_proxy import make_proxy, registered, BOB, ALICE
    p = make_proxy()
    registered(p, "bob", BOB)
    registered(p, "alice", ALICE)
    return p


PROXY_SEEDS = None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages, min_size=1, max_size=4), st.integers(0, 40000))
def test_proxy_never_raises_on_peer_input(batch, later):
    """Whatever arrives, the proxy answers, forwards or drops: no exception
    of any type (a LocalProtocolError here would be our bug)."""
    from test_proxy import invite, ALICE
    p = _live_proxy()
    p.receive(invite(), ALICE, 0)
    for data in batch:
        p.receive(data, ("udp", "192.0.2.99", 5060, None), 1)
        p.receive(data, ALICE, 2)
    run_timers_and_check_output(p, later)


def run_timers_and_check_output(p, later):
    """Fire every timer up to `later`; everything the proxy sends parses."""
    t = p.next_deadline()
    while t is not None and t <= later:
        p.handle_timer(t)
        t = p.next_deadline()
    for data, dest in p.datagrams_to_send():
        parse_message(data)


RELAY_SEEDS = []


def _relay_seeds():
    """Messages a relaying router meets: its own traffic towards upstream and
    back, plus SDP-bearing requests from both sides."""
    if not RELAY_SEEDS:
        from test_relay import PHONE_SDP, FAR_SDP, register
        from support import sip
        RELAY_SEEDS.append(register())
        RELAY_SEEDS.append(sip("INVITE sip:bob@hq.example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKf1;rport",
                               "Max-Forwards: 70", "From: <sip:alice@hq.example.com>;tag=a1", "To: <sip:bob@hq.example.com>",
                               "Call-ID: fz@192.0.2.10", "CSeq: 1 INVITE", "Contact: <sip:alice@192.0.2.10:5062>",
                               "Record-Route: <sip:192.0.2.1;lr>, <sip:203.0.113.2;lr>", "Content-Type: application/sdp", body=PHONE_SDP))
        RELAY_SEEDS.append(sip("INVITE sip:alice@203.0.113.2:5060;oc=0123456789 SIP/2.0", "Via: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKf2",
                               "Max-Forwards: 70", "From: <sip:bob@hq.example.com>;tag=b1", "To: <sip:alice@hq.example.com>",
                               "Call-ID: in@opx12345678", "CSeq: 1 INVITE", "Route: <sip:203.0.113.2;lr>",
                               "Content-Type: application/sdp", body=FAR_SDP.replace("203.0.113.20", "203.0.113.2").replace("8078", "40000")))
    return RELAY_SEEDS


@settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "200")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.integers(0, 40000))
def test_relaying_proxy_never_raises_on_input_from_either_side(data, later):
    """The ALG path (relay, SDP rewriting, media table, survival probes) under
    mutated input from the LAN, from the upstream and from strangers."""
    from test_relay import make_relay, ALICE, UPSTREAM
    from outpost.core.survival import Survival, SurvivalConfig
    p = make_relay()
    p.config.survival = SurvivalConfig(1000, 2, 3000)
    p.survival = Survival(p.config.survival, 0)
    from test_relay import respond, FAR_SDP
    seeds = list(_relay_seeds())
    p.receive(seeds[1], ALICE, 0)  # a call on its way upstream: its answers are seeds too
    for sent, dest in p.datagrams_to_send():
        m = parse_message(sent)
        if m.is_request and m.method == "INVITE":
            seeds.append(respond(m, 183, "Session Progress", FAR_SDP))
            seeds.append(respond(m, 200, "OK", FAR_SDP, extra=["Contact: <sip:bob@203.0.113.20>", "Record-Route: <sip:203.0.113.2;lr>"]))
            seeds.append(respond(m, 486, "Busy Here"))
    for _ in range(data.draw(st.integers(1, 5))):
        raw = bytearray(data.draw(st.sampled_from(seeds)))
        for _ in range(data.draw(st.integers(0, 4))):
            i = data.draw(st.integers(0, len(raw)))
            raw[i:i] = data.draw(st.sampled_from(TOKENS))
        source = data.draw(st.sampled_from([ALICE, UPSTREAM, ("udp", "198.51.100.66", 5060, None)]))
        p.receive(bytes(raw), source, data.draw(st.integers(0, 5000)))
    run_timers_and_check_output(p, later)
