"""Text from the network never reaches the admin's terminal raw (issue
#11, finding 7's "ESC/BEL in Call-IDs ... reach show calls raw"): the core
refuses Call-IDs that are not RFC 3261 words, and the daemon escapes what
it logs (the console's `log` shows the log)."""

from outpost.runtime.daemon import safe
from attacksite import ALICE, UPSTREAM, make_site, out, phone_sdp, request


def test_a_call_id_with_control_characters_is_refused_with_400():
    p = make_site()
    for i, cid in enumerate(("x\x1b[2J\x1b]0;pwned\x07@192.0.2.10", "a b", "x\x00y", "x@\x9b31m", "@host", "x@")):
        p.receive(request("INVITE", "sip:bob@hq.example.com", ALICE, call_id=cid, branch="z9hG4bKc%d" % i, body=phone_sdp()), ALICE, i)
        got = out(p)
        assert [m.status for m, d in got] == [400] and not any(d == UPSTREAM for m, d in got), repr(cid)


def test_what_the_daemon_logs_of_a_message_is_escaped_and_bounded():
    line = safe("INVITE x\x1b[2J\x07\x9b@h: 488 Not Acceptable Here")
    assert "\x1b" not in line and "\x07" not in line and "\x9b" not in line and "\\x1b[2J" in line
    assert len(safe("a" * 10000)) == 200 and safe("alice@hq.example.com") == "alice@hq.example.com"
