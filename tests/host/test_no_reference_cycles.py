"""The core's per-message objects form no reference cycles: everything a
call, a registration or a malformed datagram leaves behind is freed by
reference counting the moment it is dropped. Cyclic garbage is what makes
CPython's collector run long, stop-the-world passes under load (the loop
stalls, the socket's buffer overflows), and the daemon's GC settings
(cli.py) rely on there being none. CPython only: MicroPython's gc has no
count of what it freed."""

import gc
import sys

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/security")

import attacksite as a  # noqa: E402


def cyclic_garbage(scenario):
    gc.collect()
    gc.disable()
    try:
        scenario()
        return gc.collect()
    finally:
        gc.enable()


def a_relayed_call(p, i, t):
    """INVITE with SDP from a LAN phone, 200 with SDP from the upstream, ACK, BYE, 200."""
    src = ("udp", "192.0.2.%d" % (20 + i % 20), 5062, None)
    p.receive(a.request("INVITE", "sip:bob@" + a.DOMAIN, src, call_id="c%d" % i, branch="z9hG4bKc%d" % i,
                        body=a.phone_sdp(addr=src[1], port=7000 + 2 * i)), src, t)
    invite = [m for m, d in a.out(p) if m.is_request and m.method == "INVITE"][0]
    p.receive(a.response(invite, 200, "OK", a.far_sdp(port=9000 + 2 * i)), a.UPSTREAM, t + 5)
    ok = [m for m, d in a.out(p) if not m.is_request][0]
    route = ["Route: " + f.text for f in reversed(ok.fields("record-route"))]
    for method, cseq, branch in (("ACK", 1, "ack%d" % i), ("BYE", 2, "bye%d" % i)):
        p.receive(a.request(method, "sip:bob@203.0.113.10", src, call_id="c%d" % i, branch="z9hG4bK" + branch, to_tag="up1",
                            cseq=cseq, extra=route), src, t + 10)
    bye = [m for m, d in a.out(p) if m.is_request and m.method == "BYE"][0]
    p.receive(a.response(bye, 200, "OK"), a.UPSTREAM, t + 15)
    a.out(p)
    while p.next_event() is not None:
        pass


def test_calls_registrations_and_garbage_leave_no_cyclic_garbage():
    p = a.make_site(users=False, survival=False)

    def scenario():
        a.register_alice(p, 0)
        for i in range(20):
            a_relayed_call(p, i, 100 + 50 * i)
        p.receive(b"INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n", ("udp", "192.0.2.30", 5060, None), 2000)
        a.run_timers(p, 2000, 70000, 1000)  # every transaction ends
        while p.next_event() is not None:
            pass

    assert cyclic_garbage(scenario) == 0
