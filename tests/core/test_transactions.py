"""The four RFC 3261 §17 transaction machines, driven by a fake clock."""

from support import sip, invite, raises
from outpost.core.message import parse_message
from outpost.core.response import make_response
from outpost.core.errors import LocalProtocolError
from outpost.core.transactions.layer import TransactionLayer

PEER = ("udp", "192.0.2.20", 5060, None)


class TU:
    """Records what a transaction tells its user."""

    def __init__(self):
        self.responses = []
        self.timeouts = 0
        self.terminated = 0
        self.timer_c = 0

    def on_response(self, txn, msg, now):
        self.responses.append((now, msg.status))

    def on_timeout(self, txn):
        self.timeouts += 1

    def on_terminated(self, txn):
        self.terminated += 1

    def on_timer_c(self, txn):
        self.timer_c += 1


def run_until(layer, until, step_log):
    """Fire timers up to `until`; record (time, first line) of what is sent."""
    while True:
        at = layer.next_deadline()
        if at is None or at > until:
            return
        layer.expire(at)
        for data, _dest in layer.outbox:
            step_log.append((at, data.split(b"\r\n", 1)[0]))
        layer.outbox.clear()


def options():
    return sip("OPTIONS sip:bob@192.0.2.20 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnict1", "Max-Forwards: 70",
               "From: <sip:a@example.com>;tag=1", "To: <sip:bob@example.com>", "Call-ID: nict1", "CSeq: 1 OPTIONS")


def response(req_bytes, status, reason="X", tag="t1"):
    return parse_message(make_response(parse_message(req_bytes), status, reason, to_tag=tag))


def test_client_non_invite_retransmits_doubling_to_t2_then_times_out():
    layer, tu, log = TransactionLayer(), TU(), []
    txn = layer.new_client("OPTIONS", "z9hG4bKnict1", options(), PEER, False, 0, tu)
    assert len(layer.outbox) == 1
    layer.outbox.clear()
    run_until(layer, 40000, log)
    assert [t for t, _ in log] == [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    assert tu.timeouts == 1 and txn.done and len(layer) == 0


def test_client_non_invite_completes_and_absorbs_retransmitted_responses():
    layer, tu, log = TransactionLayer(), TU(), []
    txn = layer.new_client("OPTIONS", "z9hG4bKnict1", options(), PEER, False, 0, tu)
    layer.outbox.clear()
    run_until(layer, 600, log)
    ok = response(options(), 200, "OK")
    assert layer.match_client(ok) is txn
    layer.client_response(txn, ok, 700)
    layer.client_response(txn, ok, 800)  # retransmission: absorbed
    assert tu.responses == [(700, 200)] and txn.state == "Completed"
    run_until(layer, 700 + 5000, log)
    assert txn.done and log == [(500, b"OPTIONS sip:bob@192.0.2.20 SIP/2.0")]


def test_reliable_transport_never_retransmits():
    layer, tu, log = TransactionLayer(), TU(), []
    layer.new_client("OPTIONS", "z9hG4bKnict1", options(), ("tcp", "192.0.2.20", 5060, 7), True, 0, tu)
    layer.outbox.clear()
    run_until(layer, 40000, log)
    assert log == [] and tu.timeouts == 1


def test_client_invite_acks_a_failure_and_reacks_its_retransmission():
    layer, tu, log = TransactionLayer(), TU(), []
    req = invite(uri="sip:bob@192.0.2.20")
    txn = layer.new_client("INVITE", "z9hG4bK74bf9", req, PEER, False, 0, tu)
    layer.outbox.clear()
    run_until(layer, 1600, log)
    assert [t for t, _ in log] == [500, 1500]
    layer.client_response(txn, response(req, 180, "Ringing"), 1700)
    run_until(layer, 20000, log)
    assert [t for t, _ in log] == [500, 1500]  # no retransmission once ringing, no Timer B
    busy = response(req, 486, "Busy Here")
    layer.client_response(txn, busy, 21000)
    ack = parse_message(layer.outbox.pop()[0]).validate()
    assert ack.method == "ACK" and ack.to.tag == "t1" and ack.top_via.branch == "z9hG4bK74bf9" and ack.cseq.seq == 1
    layer.client_response(txn, busy, 21500)
    assert layer.outbox.pop()[0] == ack.raw
    assert tu.responses == [(1700, 180), (21000, 486)]
    run_until(layer, 21000 + 32000, log)
    assert txn.done


def test_client_invite_times_out_without_any_response():
    layer, tu, log = TransactionLayer(), TU(), []
    layer.new_client("INVITE", "z9hG4bK74bf9", invite(), PEER, False, 0, tu)
    layer.outbox.clear()
    run_until(layer, 40000, log)
    assert [t for t, _ in log] == [500, 1500, 3500, 7500, 15500, 31500] and tu.timeouts == 1


def test_client_invite_passes_every_2xx_until_timer_m():
    layer, tu, log = TransactionLayer(), TU(), []
    req = invite()
    txn = layer.new_client("INVITE", "z9hG4bK74bf9", req, PEER, False, 0, tu)
    ok = response(req, 200, "OK")
    layer.client_response(txn, ok, 100)
    layer.client_response(txn, ok, 600)
    assert tu.responses == [(100, 200), (600, 200)] and txn.state == "Accepted"
    run_until(layer, 100 + 32000, log)
    assert txn.done and tu.timeouts == 0


def test_timer_c_asks_for_cancel_then_gives_up():
    layer, tu, log = TransactionLayer(), TU(), []
    req = invite()
    txn = layer.new_client("INVITE", "z9hG4bK74bf9", req, PEER, False, 0, tu)
    txn.timer_c_ms = 180000
    layer.client_response(txn, response(req, 180, "Ringing"), 100)
    layer.client_response(txn, response(req, 183, "Progress"), 60000)
    run_until(layer, 60000 + 179999, log)
    assert tu.timer_c == 0
    run_until(layer, 60000 + 180000, log)
    assert tu.timer_c == 1 and not txn.done
    run_until(layer, 60000 + 180000 + 32000, log)
    assert txn.done and tu.timeouts == 1


def test_server_invite_failure_retransmits_until_ack():
    layer, log = TransactionLayer(), []
    req = parse_message(invite()).validate()
    txn = layer.new_server(req, PEER, False, 0)
    trying = make_response(req, 100, "Trying")
    layer.respond(txn, 100, trying, 0)
    layer.server_request(txn, req, 300)  # retransmitted INVITE: 100 again
    assert [d for d, _ in layer.outbox] == [trying, trying]
    layer.outbox.clear()
    busy = make_response(req, 486, "Busy Here", to_tag="x")
    layer.respond(txn, 486, busy, 1000)
    layer.outbox.clear()
    run_until(layer, 1000 + 8000, log)
    assert [t for t, _ in log] == [1500, 2500, 4500, 8500]
    ack = parse_message(sip("ACK sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport",
                            "From: Alice <sip:alice@example.com>;tag=9fxced76sl", "To: Bob <sip:bob@example.com>;tag=x",
                            "Call-ID: 3848276298220188511@192.0.2.10", "CSeq: 1 ACK"))
    assert layer.match_server(ack, PEER[1]) is txn
    layer.server_request(txn, ack, 9000)
    assert txn.state == "Confirmed"
    run_until(layer, 9000 + 5000, log)
    assert txn.done and [t for t, _ in log] == [1500, 2500, 4500, 8500]


def test_server_invite_without_ack_times_out_with_timer_h():
    layer, tu, log = TransactionLayer(), TU(), []
    req = parse_message(invite()).validate()
    txn = layer.new_server(req, PEER, False, 0)
    txn.owner = tu
    layer.respond(txn, 486, make_response(req, 486, "Busy Here", to_tag="x"), 0)
    layer.outbox.clear()
    run_until(layer, 32000, log)
    assert txn.done and tu.timeouts == 1
    assert [t for t, _ in log] == [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]


def test_server_invite_absorbs_retransmissions_after_2xx():
    layer, log = TransactionLayer(), []
    req = parse_message(invite()).validate()
    txn = layer.new_server(req, PEER, False, 0)
    ok = make_response(req, 200, "OK", to_tag="x")
    layer.respond(txn, 200, ok, 0)
    layer.outbox.clear()
    layer.server_request(txn, req, 400)
    assert layer.outbox == [] and txn.state == "Accepted"
    layer.respond(txn, 200, ok, 500)  # the TU retransmits its 2xx
    assert len(layer.outbox) == 1
    run_until(layer, 32000, log)
    assert txn.done


def test_server_non_invite_answers_retransmissions_from_completed():
    layer, log = TransactionLayer(), []
    req = parse_message(options()).validate()
    txn = layer.new_server(req, PEER, False, 0)
    layer.server_request(txn, req, 100)
    assert layer.outbox == []  # Trying: nothing to repeat yet
    ok = make_response(req, 200, "OK", to_tag="x")
    layer.respond(txn, 200, ok, 200)
    layer.server_request(txn, req, 300)
    assert [d for d, _ in layer.outbox] == [ok, ok]
    run_until(layer, 200 + 32000, log)
    assert txn.done and len(layer) == 0


def test_tu_misuse_is_a_local_error():
    layer = TransactionLayer()
    req = parse_message(options()).validate()
    txn = layer.new_server(req, PEER, False, 0)
    layer.respond(txn, 200, make_response(req, 200, "OK"), 0)
    raises(LocalProtocolError, layer.respond, txn, 180, b"x", 1)


def test_matching_rules():
    layer = TransactionLayer()
    req = parse_message(invite()).validate()
    txn = layer.new_server(req, PEER, False, 0)
    cancel = parse_message(invite().replace(b"INVITE sip:bob@example.com", b"CANCEL sip:bob@example.com").replace(b"CSeq: 1 INVITE", b"CSeq: 1 CANCEL")).validate()
    assert layer.match_server(cancel, PEER[1]) is None  # CANCEL is a transaction of its own
    other_host = parse_message(invite().replace(b"192.0.2.10:5060;branch", b"192.0.2.99:5060;branch")).validate()
    assert layer.match_server(other_host, PEER[1]) is None  # same branch, other sent-by
    assert layer.match_server(parse_message(invite()).validate(), PEER[1]) is txn


def test_rfc2543_matching_without_magic_cookie():
    layer = TransactionLayer()
    old = invite().replace(b";branch=z9hG4bK74bf9", b"")
    req = parse_message(old).validate()
    txn = layer.new_server(req, PEER, False, 0)
    assert layer.match_server(parse_message(old).validate(), PEER[1]) is txn
    ack = old.replace(b"INVITE sip:bob@example.com", b"ACK sip:bob@example.com").replace(b"CSeq: 1 INVITE", b"CSeq: 1 ACK")
    ack = ack.replace(b"To: Bob <sip:bob@example.com>", b"To: Bob <sip:bob@example.com>;tag=x")
    assert layer.match_server(parse_message(ack), PEER[1]) is txn


def test_transaction_table_is_bounded():
    layer = TransactionLayer(max_transactions=2)
    for i in range(2):
        assert layer.new_server(parse_message(options().replace(b"nict1", b"n%d" % i)).validate(), PEER, False, 0) is not None
    assert layer.new_server(parse_message(options()).validate(), PEER, False, 0) is None
    assert layer.new_client("OPTIONS", "z9hG4bKx", options(), PEER, False, 0) is None


def test_at_the_bound_the_oldest_lingering_transaction_makes_room():
    layer = TransactionLayer(max_transactions=2)
    first = layer.new_server(parse_message(options().replace(b"nict1", b"n1")).validate(), PEER, False, 0)
    second = layer.new_server(parse_message(options().replace(b"nict1", b"n2")).validate(), PEER, False, 0)
    req3 = parse_message(options().replace(b"nict1", b"n3")).validate()
    assert layer.new_server(req3, PEER, False, 0) is None  # both still active: refused
    layer.respond(first, 200, b"SIP/2.0 200 OK\r\n\r\n", 1)  # first now only absorbs retransmissions
    assert first.request is None
    third = layer.new_server(req3, PEER, False, 2)
    assert third is not None and first.done and not second.done and layer.evicted == 1


def test_the_tables_answer_what_the_tu_may_do_and_nothing_outside_asks_a_state():
    """The transaction tables are the only authority on what may be sent:
    the TU asks `accepts` (a CANCEL only after a provisional, RFC 3261
    §9.1; no response after a final), and no core file outside
    transactions/ reads a transaction's state."""
    import os
    import outpost.core
    from outpost.core.transactions.layer import TransactionLayer

    layer = TransactionLayer()
    inv = b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKt1\r\nCSeq: 1 INVITE\r\n\r\n"
    txn = layer.new_client("INVITE", "z9hG4bKt1", inv, ("udp", "192.0.2.2", 5060, None), False, 0)
    assert not layer.cancel(txn, 1) and txn.state == "Calling"
    txn.fire("1xx", 2)
    assert layer.cancel(txn, 3) and txn.state == "Proceeding"
    here = outpost.core.__file__.rsplit("/", 1)[0]
    for name in os.listdir(here):
        if name.endswith(".py"):
            with open(here + "/" + name) as f:
                text = f.read()
            assert "txn.state" not in text, name


def test_one_source_holds_a_share_of_the_table_until_it_is_answered():
    layer = TransactionLayer(max_transactions=64)  # share: 16 waiting per source
    other = ("udp", "192.0.2.21", 5060, None)

    def req(i):
        return parse_message(options().replace(b"nict1", b"s%d" % i)).validate()

    held = [layer.new_server(req(i), PEER, False, 0) for i in range(16)]
    assert None not in held and layer.new_server(req(16), PEER, False, 0) is None and layer.over_share == 1
    assert layer.new_server(req(17), other, False, 0) is not None  # another host is not held back
    layer.respond(held[0], 200, b"SIP/2.0 200 OK\r\n\r\n", 1)  # answered: out of the share, lingering
    assert layer.new_server(req(18), PEER, False, 2) is not None
    assert layer.new_server(req(19), PEER, False, 2) is None
