"""The dial plan as an attacker meets it (core/dialplan.py, dialrules.py):
the number is the caller's, the rules are the admin's."""

from attacksite import ALICE, ROGUE, STRANGER, TRUNK, UPSTREAM, credentials, lose_upstream, make_site, not_probes, out, phone_sdp, request
import re

from outpost.core.dialplan import DialPlan, Rule, group_count, regex_problem

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
        assert [m.status for m, d in msgs if m.status != 100] in ([484], [407], [400]), (user, msgs)


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


# -- found by an attacker's review of the first dial plan (helper session) --

def test_a_to_tag_does_not_turn_a_new_call_into_a_trunk_call_without_credentials():
    """A LAN host added a made-up To tag: authorized() asks nothing in a
    dialog, and the plan sent the number to the trunk."""
    for plan in ([Rule("trunk", "00.", strip=2, prepend="+")], [Rule("upstream", "00.", callers=["bob"]), Rule("trunk", "0.")]):
        p = make_site()
        p.config.dialplan = DialPlan(plan, ["112"])
        p.receive(request("INVITE", "sip:00881234567@hq.example.com", ROGUE, to_tag="forged", frm="sip:nobody@hq.example.com",
                          body=phone_sdp("192.0.2.66")), ROGUE, 1)
        assert not sent_to(not_probes(out(p)), TRUNK)


def test_a_route_of_the_phones_own_does_not_go_past_the_plans_refusal():
    for local in (False, True):
        p = make_site()
        p.config.dialplan = DialPlan(BOSS_ONLY, ["112"])
        t = lose_upstream(p) if local else 0
        route, ruri = ("Route: <sip:198.51.100.50:5060;lr>",), "sip:00449001234@198.51.100.50"
        p.receive(request("INVITE", ruri, ALICE, call_id="r%d" % local, extra=route, body=phone_sdp()), ALICE, t + 1)
        msgs = not_probes(out(p))
        assert not sent_to(msgs, TRUNK) and [m.status for m, d in msgs if m.status != 100] == [403]


def test_an_alternation_matches_the_whole_number_not_its_start():
    p = make_site()
    p.config.dialplan = DialPlan([Rule("refuse", regex=r"118\d\d|0800\d*", status=403, reason="Matched"), Rule("upstream", ".")], ["112"])
    p.receive(request("INVITE", "sip:1180000882123456789@hq.example.com", ALICE, body=phone_sdp()), ALICE, 1)
    msgs = out(p)
    assert sent_to(msgs, UPSTREAM) and not [m for m, d in msgs if not m.is_request and m.status != 100]
    p.receive(request("INVITE", "sip:11812@hq.example.com", ALICE, call_id="c2", branch="z9hG4bKw2", body=phone_sdp()), ALICE, 2)
    assert [(m.status, m.reason) for m, d in out(p) if not m.is_request and m.status != 100] == [(403, "Matched")]
    assert DialPlan([Rule("refuse", regex=r"|0")]).route("0301", "normal") is None


def test_regexes_that_could_backtrack_for_long_are_refused_where_they_are_configured():
    """.*.?.? and thirteen (.|.|.) took 14 s of CPU on 64 zeros: one INVITE
    from any LAN host would have stopped the router's SIP."""
    for evil in (".*.?.?" + "(.|.|.)" * 13 + ".*x", "(0|0|0|0)(0|0|0|0)(0|0|0|0)\\d*\\d*x", "\\d*\\d*\\d*x", "0*+1", "0++1"):
        assert regex_problem(evil) is not None, evil


def test_a_set_starting_with_a_bracket_cannot_make_routing_raise():
    """[]()]?0\\d* has no group to re, one to a naive count: ${1} raised
    IndexError on every matching number (500 and a traceback each)."""
    assert regex_problem(r"[]()]?0\d*") is not None and regex_problem(r"[^]()]0") is not None
    for rx in (r"[\]()]?0(\d*)", r"^0(\d+)$"):
        assert regex_problem(rx) is None and group_count(rx) == re.compile(rx).groups


def test_a_rewrite_that_leaves_no_number_is_484_not_an_empty_user_part():
    for state in ("normal", "survival"):
        p = make_site()
        p.config.dialplan = DialPlan([Rule("upstream", regex=r"9(\d*)", replace="${1}"), Rule("trunk", "7X", strip=5)], ["112"])
        t = lose_upstream(p) if state == "survival" else 0
        for i, n in enumerate(("9", "71")):
            p.receive(request("INVITE", "sip:%s@hq.example.com" % n, ALICE, call_id="e%d" % i, branch="z9hG4bKe%d" % i,
                              body=phone_sdp()), ALICE, t + 1 + i)
            msgs = not_probes(out(p))
            assert [m.status for m, d in msgs if m.status != 100] == [484] and not any(m.is_request for m, d in msgs), (state, n)


def test_an_escaped_or_parameterised_number_meets_the_rule_of_the_number_it_dials():
    """A newcomer's find: 0900%31234 is 09001234 to the next hop, and went
    past the 0900 refusal unread; a number the plan cannot read at all is
    484 now, never passed on as dialled."""
    p = make_site()
    p.config.dialplan = DialPlan([Rule("refuse", "0900.", status=403, reason="No premium numbers"), Rule("upstream", ".")], ["112"])
    for i, user in enumerate(("0900%31234", "%309001;isub=1", "0900%zz", "09%")):
        p.receive(request("INVITE", "sip:%s@hq.example.com" % user, ALICE, call_id="x%d" % i, branch="z9hG4bKx%d" % i,
                          body=phone_sdp()), ALICE, 1 + i)
        msgs = out(p)
        assert not sent_to(msgs, UPSTREAM), user
        assert [m.status for m, d in msgs if not m.is_request and m.status != 100] in ([403], [484], [400]), user  # 400: the URI parser's


def test_an_escaped_emergency_number_still_reaches_the_trunk_unchallenged_in_survival():
    p = make_site()
    p.config.dialplan = DialPlan([Rule("refuse", ".")], ["112"])
    t = lose_upstream(p)
    p.receive(request("INVITE", "sip:11%32@hq.example.com", ALICE, body=phone_sdp()), ALICE, t + 1)
    assert [str(m.uri) for m in sent_to(not_probes(out(p)), TRUNK)] == ["sip:112@198.51.100.50:5060"]
