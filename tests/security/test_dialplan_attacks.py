"""The dial plan as an attacker meets it (core/dialplan.py, dialrules.py):
the number is the caller's, the rules are the admin's."""

from attacksite import ALICE, ROGUE, STRANGER, TRUNK, UPSTREAM, credentials, lose_upstream, make_site, not_probes, out, phone_sdp, request
from outpost.core.dialplan import DialPlan, Rule

BOSS_ONLY = [Rule("trunk", "00.", callers=["bob"], strip=2, prepend="+"), Rule("refuse", "00.", status=403, reason="International calls: bob only")]


def sent_to(msgs, dest):
    return [m for m, d in msgs if d == dest and m.is_request]


def test_claiming_to_be_the_allowed_caller_is_not_enough():
    """From: bob, credentials of alice (or none): bob's rule is not met."""
    for local in (False, True):
        p = make_site()
        p.config.dialplan = DialPlan(BOSS_ONLY, ["112"])
        t = lose_upstream(p) if local else 0
        inv = request("INVITE", "sip:0044123@hq.example.com", ALICE, call_id="c%d" % local, frm="sip:bob@hq.example.com",
                      body=phone_sdp())
        p.receive(inv, ALICE, t + 1)
        ch = [m for m, d in out(p) if not m.is_request and m.status == 407]
        assert len(ch) == 1  # asked to prove it, not believed
        cred = credentials(ch[0], "alice", "INVITE", "sip:0044123@hq.example.com")
        p.receive(request("INVITE", "sip:0044123@hq.example.com", ALICE, call_id="c%d" % local, branch="z9hG4bKatk2", cseq=2,
                          frm="sip:bob@hq.example.com", extra=("Proxy-Authorization: " + cred,), body=phone_sdp()), ALICE, t + 2)
        msgs = not_probes(out(p))
        assert not sent_to(msgs, TRUNK) and not sent_to(msgs, UPSTREAM)
        assert [m.status for m, d in msgs if not m.is_request and m.status != 100] == [403]  # From is not you


def test_a_proven_caller_without_the_rule_meets_the_refusal():
    p = make_site()
    p.config.dialplan = DialPlan(BOSS_ONLY, ["112"])
    p.receive(request("INVITE", "sip:0044123@hq.example.com", ALICE, body=phone_sdp()), ALICE, 1)
    ch = [m for m, d in out(p) if m.status == 407][0]
    cred = credentials(ch, "alice", "INVITE", "sip:0044123@hq.example.com")
    p.receive(request("INVITE", "sip:0044123@hq.example.com", ALICE, branch="z9hG4bKatk2", cseq=2, extra=("Proxy-Authorization: " + cred,),
                      body=phone_sdp()), ALICE, 2)
    msgs = out(p)
    assert not sent_to(msgs, TRUNK) and [(m.status, m.reason) for m, d in msgs if m.status != 100] == [(403, "International calls: bob only")]


def test_a_number_carrying_uri_syntax_is_not_rewritten_into_a_trunk_request():
    """The number goes into the Request-URI the router builds for the trunk:
    one holding ';', '@', '%' or a space is no number and meets no rule."""
    p = make_site()
    p.config.dialplan = DialPlan([Rule("trunk", ".", prepend="00")], ["112"])
    t = lose_upstream(p)
    for i, user in enumerate(("0301;transport=tcp", "0301%40evil.example.com", "0301%20x", "0" * 65)):
        p.receive(request("INVITE", "sip:%s@hq.example.com" % user, ALICE, call_id="u%d" % i, branch="z9hG4bKu%d" % i, body=phone_sdp()),
                  ALICE, t + i)
        msgs = not_probes(out(p))
        assert not sent_to(msgs, TRUNK), user
        assert [m.status for m, d in msgs if m.status != 100] in ([503], [407], [400], [404]), (user, msgs)


def test_the_wan_and_the_rogue_lan_host_get_no_more_from_the_dial_plan():
    """A rule sending everything to the trunk does not open it: strangers
    are refused before the plan, LAN hosts must still prove a user."""
    p = make_site()
    p.config.dialplan = DialPlan([Rule("trunk", ".")], ["112"])
    p.receive(request("INVITE", "sip:0044123@hq.example.com", STRANGER, body=phone_sdp("203.0.113.20")), STRANGER, 1)
    assert [m.status for m, d in out(p)] == [403]
    p.receive(request("INVITE", "sip:0044123@hq.example.com", ROGUE, frm="sip:nobody@hq.example.com", body=phone_sdp("192.0.2.66")),
              ROGUE, 2)
    msgs = out(p)
    assert not sent_to(msgs, TRUNK) and [m.status for m, d in msgs if m.status != 100] == [407]
