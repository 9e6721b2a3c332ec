"""Finding 2 of issue #11, as the attacks themselves: a Route naming the
router proved nothing, so any request became "one of our dialogs" and
skipped authentication, the stranger check and the trusted networks.
Now a dialog is proven by the keyed token in our own Record-Route."""

from attacksite import (ALICE, ROGUE, STRANGER, TRUNK, UPSTREAM, VICTIM, far_sdp, lose_upstream, make_site, not_probes, out, phone_sdp,
                        request, response, run_timers)

OUR_WAN_ROUTE = "Route: <sip:203.0.113.2;lr>"
OUR_LAN_ROUTE = "Route: <sip:192.0.2.1;lr>"


def answers_only(msgs, source):
    """Everything sent went back to the requester, and none of it was a request."""
    assert all(d == source and not m.is_request for m, d in msgs), [(m.method if m.is_request else m.status, d) for m, d in msgs]
    return [m.status for m, d in msgs]


def test_a_wan_stranger_with_our_route_reaches_no_trunk_in_normal_or_survival():
    """Toll fraud: INVITE sip:<number>@<trunk> with Route: <sip:WAN;lr>."""
    for local in (False, True):
        p = make_site()
        t = lose_upstream(p) if local else 0
        for i, ruri in enumerate(("sip:0123456789@198.51.100.50", "sip:0123456789@hq.example.com", "sip:112@198.51.100.50")):
            p.receive(request("INVITE", ruri, STRANGER, call_id="fraud%d" % i, branch="z9hG4bKf%d" % i, extra=(OUR_WAN_ROUTE,),
                              body=far_sdp()), STRANGER, t + 10 * i)
            assert answers_only(out(p), STRANGER) == [403]
        assert not any(d == TRUNK for m, d in run_timers(p, t + 100, t + 40000, 1000))


def test_a_wan_stranger_with_our_route_cannot_ring_a_lan_phone():
    p = make_site()
    p.receive(request("INVITE", "sip:100@192.0.2.10", STRANGER, extra=(OUR_WAN_ROUTE,), body=far_sdp()), STRANGER, 0)
    assert answers_only(out(p), STRANGER) == [403]
    p.receive(request("INVITE", "sip:100@192.0.2.10:5062", STRANGER, branch="z9hG4bKs2", extra=(OUR_LAN_ROUTE,), body=far_sdp()), STRANGER, 1)
    assert answers_only(out(p), STRANGER) == [403]


def test_a_route_naming_the_router_does_not_bypass_the_trusted_networks():
    """The shipped default: no users, relaying only for trusted networks."""
    p = make_site(users=False, relay=False)
    p.receive(request("INVITE", "sip:x@198.51.100.99", STRANGER, extra=(OUR_LAN_ROUTE,)), STRANGER, 0)
    assert answers_only(out(p), STRANGER) == [403]
    p.receive(request("MESSAGE", "sip:x@198.51.100.99", STRANGER, branch="z9hG4bKm", extra=("Route: <sip:192.0.2.1:5060;lr>, <sip:198.51.100.99;lr>",)),
              STRANGER, 1)
    assert answers_only(out(p), STRANGER) == [403]


def test_a_lan_host_reaches_the_trunk_only_with_a_users_credentials():
    p = make_site()
    t = lose_upstream(p)
    for i, route in enumerate((OUR_LAN_ROUTE, "Route: <sip:192.0.2.1;lr>, <sip:198.51.100.50;lr>")):
        p.receive(request("INVITE", "sip:0123456789@198.51.100.50", ROGUE, call_id="lan%d" % i, branch="z9hG4bKl%d" % i,
                          frm="sip:mallory@hq.example.com", extra=(route,), body=phone_sdp("192.0.2.66")), ROGUE, t + i)
        msgs = out(p)
        assert [m.status for m, d in msgs if not m.is_request] == [407] and not any(d == TRUNK for m, d in msgs)
    p = make_site()  # relaying (NORMAL): a preloaded Route to the trunk is no way around the upstream either
    p.receive(request("INVITE", "sip:0123456789@198.51.100.50", ROGUE, frm="sip:mallory@hq.example.com",
                      extra=("Route: <sip:192.0.2.1;lr>, <sip:198.51.100.50;lr>",), body=phone_sdp("192.0.2.66")), ROGUE, 0)
    msgs = out(p)
    assert [m.status for m, d in msgs if not m.is_request] == [407] and not any(d == TRUNK for m, d in msgs)


def test_one_spoofed_request_gets_one_answer_and_nothing_for_a_third_party():
    """Reflection: the source is the victim's address; OPTIONS used to be
    forwarded to a Request-URI of the attacker's choice and retransmitted
    eleven times, and a refused INVITE's answer is retransmitted by Timer G."""
    for method in ("OPTIONS", "INVITE", "MESSAGE"):
        for site in (make_site(), make_site(users=False, relay=False)):
            site.receive(request(method, "sip:x@198.51.100.99", VICTIM, extra=(OUR_WAN_ROUTE,)), VICTIM, 0)
            sent = not_probes(out(site) + run_timers(site, 0, 40000, 500))
            assert len(sent) == 1 and sent[0][1] == VICTIM and not sent[0][0].is_request, (method, [(m.method if m.is_request else m.status, d) for m, d in sent])


def test_a_made_up_token_or_one_from_another_call_proves_nothing():
    p = make_site()
    p.receive(request("INVITE", "sip:bob@hq.example.com", ALICE, call_id="real@192.0.2.10", body=phone_sdp()), ALICE, 0)
    inv = [m for m, d in out(p) if d == UPSTREAM][0]
    rr = inv.get("record-route")  # what any far end of this call sees
    assert ";ot=" in rr
    forged = rr.split(";ot=")[0] + ";ot=0123456789abcdef>"
    for i, (route, cid) in enumerate(((forged, "real@opx"), (rr, "other-call"), ("<sip:203.0.113.2;lr;ot>", "x"))):
        p.receive(request("BYE", "sip:alice@192.0.2.10:5062", STRANGER, call_id=cid, branch="z9hG4bKb%d" % i, to_tag="t",
                          extra=("Route: " + route,)), STRANGER, 10 + i)
        assert answers_only(out(p), STRANGER) == [403]


def test_a_far_end_cannot_aim_a_dialogs_requests_at_a_third_party():
    """The far end of a real call knows its token; it may end its own call,
    not make the router send its requests to another WAN address."""
    p = make_site()
    p.receive(request("INVITE", "sip:bob@hq.example.com", ALICE, call_id="real@192.0.2.10", body=phone_sdp()), ALICE, 0)
    inv = [m for m, d in out(p) if d == UPSTREAM][0]
    p.receive(response(inv, 200, "OK", far_sdp(), extra=("Contact: <sip:bob@203.0.113.20>",)), UPSTREAM, 10)
    out(p)
    bye = request("BYE", "sip:victim@198.51.100.99", STRANGER, call_id=inv.call_id, branch="z9hG4bKby", from_tag="up1", to_tag="f1",
                  extra=("Route: " + inv.get("record-route"),))
    p.receive(bye, STRANGER, 20)
    assert answers_only(out(p), STRANGER) in ([403], [404])


def test_acks_and_stray_responses_are_never_relayed_for_strangers():
    for site in (make_site(), make_site(users=False, relay=False)):
        site.receive(request("ACK", "sip:x@198.51.100.99", STRANGER, to_tag="t"), STRANGER, 0)
        site.receive(request("ACK", "sip:x@198.51.100.99", STRANGER, branch="z9hG4bKa2", to_tag="t", extra=(OUR_LAN_ROUTE,)), STRANGER, 1)
        stray = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 203.0.113.2;branch=z9hG4bKnope\r\nVia: SIP/2.0/UDP 198.51.100.99;branch=z9hG4bKv\r\n" \
                b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: s\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        site.receive(stray, STRANGER, 2)
        assert not_probes(out(site) + run_timers(site, 0, 5000, 500)) == []


def test_emergency_calls_skip_the_challenge_only_from_the_lan():
    p = make_site()
    t = lose_upstream(p)
    for i, src in enumerate((STRANGER, UPSTREAM)):
        p.receive(request("INVITE", "sip:112@hq.example.com", src, call_id="sos%d" % i, branch="z9hG4bKe%d" % i, body=far_sdp()), src, t + i)
        msgs = out(p)
        assert [m.status for m, d in msgs if not m.is_request] == [403] and not any(d == TRUNK for m, d in msgs)
    p.receive(request("INVITE", "sip:112@hq.example.com", ALICE, call_id="sos-lan", branch="z9hG4bKe9", body=phone_sdp()), ALICE, t + 5)
    assert [d for m, d in out(p) if m.is_request] == [TRUNK]


def test_a_response_counts_only_from_where_its_request_went():
    """Whoever saw the relayed INVITE knows its branch: a forged 200 with
    the forger's SDP must not reach the phone or open a pinhole."""
    p = make_site()
    p.receive(request("INVITE", "sip:bob@hq.example.com", ALICE, call_id="r1@192.0.2.10", body=phone_sdp()), ALICE, 0)
    inv = [m for m, d in out(p) if d == UPSTREAM][0]
    p.receive(response(inv, 200, "OK", far_sdp("198.51.100.66"), extra=("Contact: <sip:evil@198.51.100.66>",)), STRANGER, 10)
    assert not_probes(out(p)) == [] and [k for k, leg in p.relay.media.actions if k == "open"] == []
    p.receive(response(inv, 200, "OK", far_sdp(), extra=("Contact: <sip:bob@203.0.113.20>",)), UPSTREAM, 20)
    assert [m.status for m, d in out(p) if d == ALICE] == [200]
