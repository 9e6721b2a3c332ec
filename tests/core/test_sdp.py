"""SDP parsing and ALG edits through the message's lumps."""

from support import sip, invite, remote_status, SDP_OFFER, raises
from outpost.core.message import parse_message
from outpost.core.sdp import parse_sdp
from outpost.core.errors import LocalProtocolError


def offer(body):
    return parse_message(invite(body=body)).validate()


def test_session_and_media_level_fields():
    s = offer(SDP_OFFER).sdp()
    assert s.origin.address == "192.0.2.10" and s.origin.sess_id == "2890844526"
    assert s.connection.address == "192.0.2.10" and s.connection.addrtype == "IP4"
    (a,) = s.media
    assert (a.kind, a.port, a.port_count, a.proto, a.formats) == ("audio", 49170, 1, "RTP/AVP", ["0", "8", "101"])
    assert a.address == "192.0.2.10" and a.direction == "sendrecv" and a.rtcp_port == 49171
    assert a.attribute("rtpmap") == "101 telephone-event/8000"


def test_audio_video_hold_rejected_and_rtcp():
    body = (
        "v=0\r\no=- 1 2 IN IP6 2001:db8::10\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=sendonly\r\n"
        "m=audio 40000 RTP/AVP 0\r\nc=IN IP6 2001:db8::10\r\na=rtcp:40011 IN IP6 2001:db8::11\r\n"
        "m=video 0 RTP/AVP 96\r\na=inactive\r\n"
        "m=audio 40002/2 RTP/AVP 8\r\n"
    )
    s = offer(body).sdp()
    a, v, a2 = s.media
    assert s.connection.is_hold and a.address == "2001:db8::10" and a.connection.addrtype == "IP6"
    assert a.direction == "sendonly" and a.rtcp.port == 40011 and a.rtcp.address == "2001:db8::11"
    assert v.rejected and v.direction == "inactive"
    assert a2.port_count == 2 and a2.address == "0.0.0.0"


def test_alg_rewrite_changes_only_addresses_and_ports():
    body = SDP_OFFER.replace("a=sendrecv\r\n", "a=rtcp:49171 IN IP4 192.0.2.10\r\na=sendrecv\r\n")
    m = offer(body)
    s = m.sdp()
    s.set_origin_address("203.0.113.2")
    s.set_connection(s.connection, "203.0.113.2")
    s.set_port(s.media[0], 30000)
    s.set_rtcp(s.media[0], 30001, "203.0.113.2")
    out = parse_message(m.serialise()).validate()
    expected = body.replace("192.0.2.10", "203.0.113.2").replace("49170", "30000").replace("49171", "30001")
    assert out.body == expected.encode()
    assert out.get("content-length") == "%d" % len(expected)


def test_family_change_rewrites_addrtype():
    m = offer(SDP_OFFER)
    s = m.sdp()
    s.set_connection(s.connection, "2001:db8::2", "IP6")
    assert b"c=IN IP6 2001:db8::2\r\n" in m.serialise()


def test_set_direction_replaces_or_adds():
    m = offer(SDP_OFFER)
    s = m.sdp()
    s.set_direction(s.media[0], "inactive")
    assert parse_message(m.serialise()).sdp().media[0].direction == "inactive"
    body = SDP_OFFER.replace("a=sendrecv\r\n", "")
    m = offer(body)
    m.sdp().set_direction(m.sdp().media[0], "sendonly")
    assert m.serialise().endswith(b"a=sendonly\r\n")
    raises(LocalProtocolError, m.sdp().set_direction, m.sdp().media[0], "sideways")


def test_lf_only_sdp():
    s = parse_sdp(SDP_OFFER.replace("\r\n", "\n").encode())
    assert s.media[0].port == 49170 and s.connection.address == "192.0.2.10"


def test_not_sdp_is_none():
    m = parse_message(sip("MESSAGE sip:a@b SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Content-Type: text/plain", body="v=0 not sdp"))
    assert m.sdp() is None


def test_malformed_sdp_is_400():
    for body in ("x=0\r\n", "v=1\r\n", "v=0\r\no=only three fields\r\n", "v=0\r\ns=-\r\n",
                 "v=0\r\no=- 1 2 IN IP4 h\r\nm=audio notaport RTP/AVP 0\r\nc=IN IP4 h\r\n",
                 "v=0\r\no=- 1 2 IN IP4 h\r\nm=audio 70000 RTP/AVP 0\r\nc=IN IP4 h\r\n",
                 "v=0\r\no=- 1 2 IN IP4 h\r\nc=IN IP9 h\r\n",
                 "v=0\r\no=- 1 2 IN IP4 h\r\nm=audio 5 RTP/AVP 0\r\n",
                 "v=0\r\no=- 1 2 IN IP4 h\r\nc=IN IP4 h\r\nm=audio 5 RTP/AVP 0\r\na=rtcp:x\r\n",
                 "v=0\r\no=- 1 2 IN IP4 h\r\n\r\nc=IN IP4 h\r\n",
                 b"v=0\r\no=- 1 2 IN IP4 \xff\r\n"):
        assert remote_status(lambda: offer(body).sdp()) == 400, body
