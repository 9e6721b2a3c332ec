"""Finding 8 of issue #11 (the core's part), as the attacks themselves:
LAN addresses leaking to the WAN in relay mode and in the default
config, and a source at its datagram allowance burning a core with 64 KB
messages."""

from outpost.core.auth import parse_networks
from attacksite import (ALICE, STRANGER, UPSTREAM, far_sdp, make_site, out, phone_sdp, request, response, run_timers)

LAN_TEXT = b"192.0.2."


def leaves_on_wan(msgs):
    return [m for m, d in msgs if not d[1].startswith("192.0.2.")]


def test_no_lan_address_hides_in_what_the_relay_sends_upstream():
    p = make_site()
    candidates = ("a=candidate:1 1 UDP 2130706431 192.0.2.10 7078 typ host\r\n"
                  "a=candidate:2 1 UDP 1694498815 198.51.100.7 7078 typ srflx raddr 192.0.2.10 rport 7078\r\n"
                  "a=remote-candidates:1 192.0.2.10 7078\r\n")
    inv = request("INVITE", "sip:bob@hq.example.com", ALICE, call_id="x1@192.0.2.10:5060", frm="sip:alice@192.0.2.10",
                  extra=("P-Asserted-Identity: <sip:alice@192.0.2.10>", "Warning: 399 192.0.2.10 \"lan\"",
                         "X-Debug: host192.0.2.10", "Diversion: <sip:100@192.0.2.10>;reason=unconditional"),
                  body=phone_sdp(extra=candidates))
    p.receive(inv, ALICE, 0)
    up = leaves_on_wan(out(p))
    assert len(up) == 1 and LAN_TEXT not in up[0].serialise(), up[0].serialise().decode()
    assert up[0].call_id.startswith("x1@opx") and up[0].sdp().media[0].port == 40000
    assert b"a=candidate" not in up[0].body  # candidates naming the LAN go; the router anchors the media
    # What comes back is mapped to what the phone knows.
    p.receive(response(up[0], 200, "OK", far_sdp(), extra=("Contact: <sip:bob@203.0.113.20>",)), UPSTREAM, 10)
    back = [m for m, d in out(p) if d == ALICE]
    assert [m.call_id for m in back] == ["x1@192.0.2.10:5060"]


def test_a_transfer_target_on_the_lan_becomes_a_router_contact():
    p = make_site()
    p.receive(request("INVITE", "sip:bob@hq.example.com", ALICE, call_id="t1@192.0.2.10", body=phone_sdp()), ALICE, 0)
    inv = leaves_on_wan(out(p))[0]
    p.receive(response(inv, 200, "OK", far_sdp(), extra=("Contact: <sip:bob@203.0.113.20>",)), UPSTREAM, 10)
    ok = [m for m, d in out(p) if d == ALICE][0]
    refer = request("REFER", "sip:bob@203.0.113.20", ALICE, call_id="t1@192.0.2.10", branch="z9hG4bKref", to_tag="up1", cseq=2,
                    extra=("Route: " + ok.get("record-route"),
                           "Refer-To: <sip:carol@192.0.2.11:5060?Replaces=abc%40192.0.2.11%3Bto-tag%3D1>",
                           "Referred-By: <sip:alice@192.0.2.10>"))
    p.receive(refer, ALICE, 20)
    fwd = leaves_on_wan(out(p))
    assert len(fwd) == 1 and fwd[0].method == "REFER" and LAN_TEXT not in fwd[0].serialise(), fwd[0].serialise().decode()
    assert "Replaces=abc%40opx" in fwd[0].get("refer-to")  # the dialog as the upstream knows it


def test_the_default_config_shows_the_wan_only_its_wan_address():
    """No upstream: a LAN phone calling another domain used to send Via and
    Record-Route naming 192.0.2.1 (the advertised LAN address) to the WAN."""
    p = make_site(users=False, relay=False)
    p.config.outside = (parse_networks(["192.0.2.0/24"]), "203.0.113.2")
    p.receive(request("INVITE", "sip:bob@198.51.100.20", ALICE, body=phone_sdp()), ALICE, 0)
    fwd = [m for m, d in out(p) if m.is_request]
    assert len(fwd) == 1 and fwd[0].top_via.host == "203.0.113.2" and fwd[0].record_routes[0].uri.host == "203.0.113.2"
    p.config.outside = (parse_networks(["192.0.2.0/24"]), None)  # no WAN address yet: refused, not leaked
    p.receive(request("INVITE", "sip:bob@198.51.100.20", ALICE, call_id="c2", branch="z9hG4bKc2", body=phone_sdp()), ALICE, 1)
    assert [(m.status, d) for m, d in out(p) if m.status != 100] == [(503, ALICE)]


def test_large_messages_cost_their_size_against_the_rate_limit():
    p = make_site()
    big = request("OPTIONS", "sip:hq.example.com", STRANGER, extra=("X-Pad: " + "a" * 60000,))
    for i in range(100):
        p.receive(big.replace(b"z9hG4bKatk1", b"z9hG4bK%05d" % i), STRANGER, 0)
    parsed_big = p.counters["requests"]
    small = request("OPTIONS", "sip:hq.example.com", ("udp", "198.51.100.67", 5060, None))
    for i in range(100):
        p.receive(small.replace(b"z9hG4bKatk1", b"z9hG4bK%05d" % i), ("udp", "198.51.100.67", 5060, None), 0)
    assert parsed_big <= 8 and p.counters["requests"] - parsed_big == 100
    assert p.counters["rate_limited"] >= 92


def test_a_flood_of_answered_requests_past_the_transaction_bound_leaves_no_ended_transaction_in_memory():
    """Each request answered at once leaves two transactions absorbing
    retransmissions for up to 32 s; at the bound the oldest are ended to
    make room. Ended ones used to stay reachable from the timer heap (with
    their response context and bytes) until their old deadline, so memory
    followed the offered rate, not the bound (PSS 70 MB at 600 calls/s)."""
    import gc
    from outpost.core.forward import ResponseContext
    from outpost.core.transactions.base import Transaction

    p = make_site(users=False, survival=False)
    p.txns.max_transactions = 64
    for i in range(3000):
        p.receive(request("MESSAGE", "sip:bob@hq.example.com", ALICE, call_id="m%d" % i, branch="z9hG4bKm%d" % i), ALICE, 100 * i)
        up = [m for m, d in out(p) if d == UPSTREAM]
        assert len(up) == 1, i  # relayed, never refused: the oldest lingering transactions made room
        p.receive(response(up[0], 200, "OK"), UPSTREAM, 100 * i)
        assert [m.status for m, d in out(p)] == [200]
    assert p.txns.evicted > 2800
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, (Transaction, ResponseContext))]
    held = [o for o in alive if not isinstance(o, Transaction) or not o.done]
    assert len(held) <= 64 + 64 // 2, len(held)  # the table's transactions and their contexts
    ended = [o for o in alive if isinstance(o, Transaction) and o.done]
    assert all(t.owner is None and t.last_response is None for t in ended)  # a stale timer entry holds nothing else
    assert len(ended) <= 4 * (64 + 256)


def test_unanswered_requests_get_503_at_the_bound_and_hold_no_parsed_request():
    """Requests the next hop never answers are what a storm leaves in
    flight. Each used to keep its parsed form (every header's objects,
    several KB) until answered; now only the bytes its transaction holds,
    and past the bound the answer is 503 before anything is kept."""
    import gc
    from outpost.core.forward import ResponseContext
    from outpost.core.sipmessage import Request

    p = make_site(users=False, survival=False)
    p.txns.max_transactions = 64
    answers = []
    for i in range(200):
        p.receive(request("MESSAGE", "sip:bob@hq.example.com", ALICE, call_id="u%d" % i, branch="z9hG4bKu%d" % i), ALICE, 10 * i)
        answers += [(m.status, d) for m, d in out(p) if not m.is_request]
    assert answers == [(503, ALICE)] * (200 - 32)  # 32 relayed (a server and a client transaction each), the rest refused
    gc.collect()
    assert len([o for o in gc.get_objects() if isinstance(o, ResponseContext)]) == 32
    assert [o for o in gc.get_objects() if isinstance(o, Request)] == []
    # The answers of our own still come from the request's bytes: 408 when the upstream stays silent.
    late = [(m, d) for m, d in run_timers(p, 2000, 40000, 1000) if not m.is_request]
    assert [(m.status, d) for m, d in late].count((408, ALICE)) == 32
    # ... with the rport the request was given on arrival (RFC 3581), which its bytes alone lack
    assert all(";rport=%d" % ALICE[2] in m.get("via") for m, d in late)


def test_unacked_rejections_cost_timer_work_in_proportion_to_them():
    """Forged INVITEs (the upstream's address: not a stranger, so the 480
    goes out with Timer G) that nobody ACKs. Each Timer G firing used to
    push its transaction's next deadline again, the live entries passed
    the compaction threshold, and then every push compacted the whole heap:
    1,500 packets cost 230 s of CPU (review of #16)."""
    p = make_site(users=False)
    layer = p.txns
    work = {"pushes": 0}
    schedule = layer.schedule

    def counted_schedule(txn, at):
        work["pushes"] += 1
        schedule(txn, at)

    layer.schedule = counted_schedule
    for i in range(1500):
        p.receive(request("INVITE", "sip:nobody%d@hq.example.com" % i, UPSTREAM, call_id="g%d" % i, branch="z9hG4bKg%d" % i),
                  UPSTREAM, i * 8000 // 1500)
        p.datagrams_to_send()
    for now in range(8000, 30001, 50):
        p.handle_timer(now)
        p.datagrams_to_send()
        assert len(layer.deadlines) <= 2 * 3 * len(layer) + 512  # a few live timers per transaction, not one per firing
    assert layer.deadlines.scanned <= 4 * work["pushes"] + 1024, (layer.deadlines.scanned, work)


def test_a_strangers_large_requests_leave_nothing_behind_once_answered():
    """A stranger's 60 KB requests answered by the router itself: each kept
    answer copied the request's lines and stayed 32 s (about 250 MB at the
    transaction bound), and each 60 KB From stayed in the value cache
    (review of #16). Strangers now get stateless answers, and long values
    are parsed but never cached."""
    from outpost.core import limits, sipmessage

    p = make_site()
    pad = "a" * 60000
    for i, method in enumerate(("OPTIONS", "MESSAGE", "SUBSCRIBE", "INVITE")):
        for uri in ("sip:hq.example.com", "sip:bob@hq.example.com"):
            p.receive(request(method, uri, STRANGER, call_id="big%d%s" % (i, uri[4]), branch="z9hG4bKbig%d%s" % (i, uri[4]),
                              frm="sip:%s@x.example.com" % pad), STRANGER, 1000 * i)
            answers = [(m.status, d) for m, d in out(p)]
            assert answers and all(s >= 200 and d == STRANGER for s, d in answers), (method, uri, answers)
            assert len(p.txns) == 0, (method, uri)
    assert all(len(text) <= limits.MAX_CACHED_TEXT for _, text in sipmessage._ADDRS)
