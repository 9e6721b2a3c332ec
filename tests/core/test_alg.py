"""The ALG's media side: SDP rewritten for the WAN, pinholes opened when both
ends are known and closed when the call, the stream or the hold says so."""

from support import sip, invite, raises, plain
from outpost.core.alg import MediaAlg
from outpost.core.media import PortPool
from outpost.core.message import parse_message
from outpost.core.errors import Refused

WAN = "203.0.113.2"
PHONE_SDP = ("v=0\r\no=alice 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n"
             "m=audio 4000 RTP/AVP 0 8\r\na=rtcp:4001 IN IP4 192.0.2.20\r\na=sendrecv\r\n")
REMOTE_SDP = ("v=0\r\no=pbx 7 7 IN IP4 203.0.113.10\r\ns=-\r\nc=IN IP4 203.0.113.10\r\nt=0 0\r\n"
              "m=audio 5004 RTP/AVP 0\r\na=sendrecv\r\n")


def answer(body, call_id="3848276298220188511@192.0.2.10", status="200 OK"):
    return parse_message(sip("SIP/2.0 " + status, "Via: SIP/2.0/UDP 203.0.113.2;branch=z9hG4bKa", "From: <sip:a@example.com>;tag=1",
                             "To: <sip:b@example.com>;tag=2", "Call-ID: " + call_id, "CSeq: 1 INVITE", "Content-Type: application/sdp", body=body))


def offer(body=PHONE_SDP, call_id=None):
    data = invite(body=body)
    if call_id:
        data = data.replace(b"3848276298220188511@192.0.2.10", call_id.encode())
    return parse_message(data).validate()


def opened(alg):
    out = [(k, plain(leg.lan), plain(leg.wan), plain(leg.remote)) for k, leg in alg.actions if k == "open"]
    return out


def test_outgoing_call_rewrites_sdp_and_opens_after_the_answer():
    alg = MediaAlg(WAN, PortPool(40000, 40099))
    inv = offer()
    alg.from_lan(inv)
    out = parse_message(inv.serialise())
    assert b"192.0.2." not in out.body
    s = out.sdp()
    assert s.origin.address == WAN and s.connection.address == WAN
    assert s.media[0].port == 40000 and s.media[0].rtcp.port == 40001 and s.media[0].rtcp.address == WAN
    assert alg.actions == []  # the remote end is not known yet
    alg.from_wan(answer(REMOTE_SDP))
    # The phone's side was known before the far end's: its legs hold its
    # media at once, no guard is needed (guards: test_relay's late offer).
    assert [k for k, _ in alg.actions] == ["open", "open"]
    assert opened(alg) == [("open", ("192.0.2.20", 4000), (WAN, 40000), ("203.0.113.10", 5004)),
                           ("open", ("192.0.2.20", 4001), (WAN, 40001), ("203.0.113.10", 5005))]
    alg.actions.clear()
    alg.end(inv.call_id)
    assert sorted(k for k, _ in alg.actions) == ["close", "close"] and len(alg.ports) == 0 and len(alg) == 0


def test_incoming_call_rewrites_the_phones_answer():
    alg = MediaAlg(WAN, PortPool(40000, 40099))
    inbound = offer(REMOTE_SDP)
    alg.from_wan(inbound)
    assert inbound.serialise() == inbound.raw  # SDP to the phone is left alone
    ok = answer(PHONE_SDP)
    alg.from_lan(ok)
    assert b"192.0.2." not in ok.serialise().split(b"\r\n\r\n", 1)[1]
    assert [leg[3] for leg in opened(alg)] == [("203.0.113.10", 5004), ("203.0.113.10", 5005)]


def test_reinvite_with_a_new_port_moves_the_pinhole_and_hold_closes_it():
    alg = MediaAlg(WAN, PortPool(40000, 40099))
    alg.from_lan(offer())
    alg.from_wan(answer(REMOTE_SDP))
    alg.actions.clear()
    alg.from_wan(answer(REMOTE_SDP.replace("5004", "6004")))
    kinds = [k for k, _ in alg.actions]
    assert kinds == ["close", "close", "open", "open"]
    assert plain(alg.actions[2][1].remote) == ("203.0.113.10", 6004) and plain(alg.actions[2][1].wan) == (WAN, 40000)
    alg.actions.clear()
    # The phone holds the call: nothing may come in any more, its music on
    # hold still goes out (and RTCP both ways).
    alg.from_lan(offer(PHONE_SDP.replace("a=sendrecv", "a=sendonly")))
    rtp = [leg for k, leg in alg.actions if k == "open" and leg.key[2] == "rtp"][0]
    assert (rtp.inbound, rtp.outbound) == (False, True)
    alg.actions.clear()
    alg.from_lan(offer(PHONE_SDP.replace("a=sendrecv", "a=inactive")))
    assert [k for k, leg in alg.actions if leg.key[2] == "rtp"] == ["close"]
    alg.actions.clear()
    alg.from_lan(offer())  # resumed
    assert [(k, leg.inbound, leg.outbound) for k, leg in alg.actions if leg.key[2] == "rtp"] == [("open", True, True)]
    alg.actions.clear()
    # RFC 2543 hold from the far end: it wants nothing, may still send.
    alg.from_wan(answer(REMOTE_SDP.replace("c=IN IP4 203.0.113.10", "c=IN IP4 0.0.0.0")))
    rtp = [leg for k, leg in alg.actions if k == "open" and leg.key[2] == "rtp"][0]
    assert (rtp.inbound, rtp.outbound, plain(rtp.remote)) == (True, False, ("203.0.113.10", 6004))


def test_maximum_call_duration_ends_the_call():
    alg = MediaAlg(WAN, PortPool(40000, 40099))
    alg.now = 1000
    alg.from_lan(offer())
    alg.from_wan(answer(REMOTE_SDP))
    alg.actions.clear()
    assert alg.expire(5000, 10000) == []
    assert alg.expire(11000, 10000) == [offer().call_id]
    assert [k for k, _ in alg.actions] == ["close", "close"] and len(alg.ports) == 0


def test_early_media_and_rejected_video():
    alg = MediaAlg(WAN, PortPool(40000, 40099))
    two = PHONE_SDP + "m=video 4002 RTP/AVP 96\r\n"
    inv = offer(two)
    alg.from_lan(inv)
    s = parse_message(inv.serialise()).sdp()
    assert [m.port for m in s.media] == [40000, 40002]
    alg.from_wan(answer(REMOTE_SDP + "m=video 0 RTP/AVP 96\r\n", status="183 Session Progress"))
    assert len(opened(alg)) == 2  # audio RTP and RTCP; the declined video gets nothing


def test_port_exhaustion_and_call_limit_are_503_without_leaks():
    """503, and the router's own refusal (Refused), not the phone's fault."""
    alg = MediaAlg(WAN, PortPool(40000, 40003), max_calls=5)
    alg.from_lan(offer(call_id="c1"))
    alg.from_lan(offer(call_id="c2"))
    e = raises(Refused, alg.from_lan, offer(call_id="c3"))
    assert e.status == 503 and len(alg) == 2 and len(alg.ports) == 2
    alg.end("c1")
    alg.from_lan(offer(call_id="c3"))
    small = MediaAlg(WAN, PortPool(40000, 40099), max_calls=1)
    small.from_lan(offer(call_id="a"))
    assert raises(Refused, small.from_lan, offer(call_id="b")).status == 503


def test_a_body_that_is_not_sdp_passes_unchanged():
    alg = MediaAlg(WAN)
    msg = parse_message(sip("MESSAGE sip:b@example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.20;branch=z9hG4bKm", "From: <sip:a@example.com>;tag=1",
                            "To: <sip:b@example.com>", "Call-ID: m1", "CSeq: 1 MESSAGE", "Content-Type: text/plain", body="c=IN IP4 192.0.2.20"))
    alg.from_lan(msg)
    assert msg.serialise() == msg.raw and alg.actions == [] and len(alg) == 0
