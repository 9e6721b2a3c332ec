"""Tables a host can grow have a bound and a per-source share (issue #11,
"every table an attacker can grow"): the relay's contact and Call-ID
tokens, the transaction table, and a CANCEL only from the INVITE's own
sender."""

from attacksite import ALICE, ROGUE, STRANGER, UPSTREAM, far_sdp, make_site, out, phone_sdp, register_alice, request, response
from outpost.core.message import parse_message


def test_a_lan_host_churning_contacts_cannot_evict_the_phones_tokens():
    p = make_site(users=False)
    contact = register_alice(p)
    for i in range(5000):  # a rogue registers ever new contacts through the router
        p.receive(request("REGISTER", "sip:hq.example.com", ROGUE, call_id="r%d@x" % i, branch="z9hG4bKr%d" % i,
                          extra=("Expires: 600",)).replace(b"Contact: <sip:x@192.0.2.66:5060>", b"Contact: <sip:u%d@192.0.2.66:%d>" % (i, 1024 + i)),
                  ROGUE, 10 + i)
    out(p)
    assert len(p.relay.contacts) <= 33
    p.receive(request("INVITE", contact, UPSTREAM, call_id="in1", body=far_sdp()), UPSTREAM, 6000)
    assert [d for m, d in out(p) if m.is_request] == [ALICE]  # alice still rings


def test_a_lan_host_whose_requests_go_unanswered_cannot_take_the_transaction_table():
    """A LAN host sends MESSAGEs at its rate limit (200/s) for 30 s; the
    upstream never answers them, so each holds a server and a client
    transaction until Timer F (32 s). Without a per-source share the table
    was full after half as many of them as it has slots, and the upstream's
    INVITE for alice got 503; now the host holds at most a quarter and gets
    the 503s."""
    p = make_site(users=False)
    contact = register_alice(p)
    refused = 0
    for i in range(6000):
        p.receive(request("MESSAGE", "sip:bob@hq.example.com", ROGUE, call_id="m%d@x" % i, branch="z9hG4bKm%d" % i),
                  ROGUE, 10 + i * 5)
        refused += [(m.status, d) for m, d in out(p) if not m.is_request].count((503, ROGUE))
    p.receive(request("INVITE", contact, UPSTREAM, call_id="in1", body=far_sdp()), UPSTREAM, 30100)
    assert [d for m, d in out(p) if m.is_request] == [ALICE]  # alice still rings
    assert p.txns.over_share == refused and refused >= 6000 - p.txns.share - 50, refused  # the host paid for it


def test_a_lan_host_churning_call_id_hosts_cannot_break_the_phones_calls():
    p = make_site(users=False)
    p.receive(request("INVITE", "sip:bob@hq.example.com", ALICE, call_id="keep@192.0.2.10", body=phone_sdp()), ALICE, 0)
    inv = [m for m, d in out(p) if d == UPSTREAM][0]
    for i in range(3000):
        p.receive(request("MESSAGE", "sip:bob@hq.example.com", ROGUE, call_id="x@192.0.2.%d:%d" % (i % 250 + 2, i), branch="z9hG4bKm%d" % i),
                  ROGUE, 10 + i)
    out(p)
    assert len(p.relay.hosts) <= 17
    p.receive(response(inv, 200, "OK", far_sdp(), extra=("Contact: <sip:bob@203.0.113.20>",)), UPSTREAM, 5000)
    assert [m.call_id for m, d in out(p) if d == ALICE] == ["keep@192.0.2.10"]  # still mapped back


def test_only_the_invites_sender_may_cancel_it():
    p = make_site()
    contact = register_alice(p)
    invite = request("INVITE", contact, UPSTREAM, call_id="in2", branch="z9hG4bKpredictable1", body=far_sdp())
    p.receive(invite, UPSTREAM, 10)
    out(p)
    cancel = invite.split(b"\r\nContent-Type")[0].replace(b"INVITE sip", b"CANCEL sip").replace(b"1 INVITE", b"1 CANCEL") + b"\r\nContent-Length: 0\r\n\r\n"
    for src in (STRANGER, UPSTREAM):  # the stranger forges the upstream's Via and branch
        p.receive(cancel, src, 20)
        got = out(p)
        if src == STRANGER:
            assert [(m.status, d) for m, d in got] == [(481, STRANGER)]
        else:
            assert [(m.status, d) for m, d in got if not m.is_request] == [(200, src)]  # the real sender may


def test_made_up_methods_and_statuses_cannot_grow_the_counters():
    """show status counts by method and response class (core/counters.py):
    a stranger sending a thousand method names and odd statuses adds to
    'other' and to nothing new."""
    p = make_site()
    for i in range(1000):
        p.receive(request("X%d" % i, "sip:hq.example.com", STRANGER, call_id="m%d" % i, branch="z9hG4bKm%d" % i), STRANGER, i)
    for i, status in enumerate((199, 299, 699)):
        req = parse_message(request("OPTIONS", "sip:hq.example.com", STRANGER, call_id="s%d" % i, branch="z9hG4bKs%d" % i))
        p.receive(response(req, status, "Odd"), STRANGER, 2000 + i)
    t = p.status(3000)["traffic"]
    assert len(t["methods"]) == 14 and len(t["classes"]) == 6
    assert t["methods"]["other"] > 0 and t["methods"]["other"] + p.counters["rate_limited"] == 1000
