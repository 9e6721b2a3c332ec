"""The dial plan: rules alone (core/dialplan.py), then through the relaying
proxy in NORMAL and SURVIVAL (core/dialrules.py). Runs on both runtimes."""

from support import sip
from outpost.core import digest
from outpost.core.auth import Authenticator, Credentials, Nonces
from outpost.core.dialplan import EMERGENCY, NEED_CALLER, DialPlan, Rule, expand, regex_problem
from outpost.core.registrar import RegistrarPolicy
from test_relay import make_relay, out, ALICE, UPSTREAM, PHONE_SDP
from test_survival import site_in_survival, TRUNK


def test_each_action_rewrites_the_number():
    plan = DialPlan([
        Rule("upstream", "0.", strip=1, prepend="+4930"),
        Rule("upstream", regex=r"^9(\d\d)(\d+)$", replace="+49${1}${2}"),
        Rule("upstream", "8X", replace="555${0}"),
        Rule("local", "2XX"),
    ])
    assert plan.route("0123", "normal").number == "+4930123"
    assert plan.route("93012345", "normal").number == "+493012345"
    assert plan.route("81", "normal").number == "55581"
    got = plan.route("200", "normal")
    assert (got.rule, got.number, got.target) == (3, "200", "local")
    assert plan.route("7", "normal") is None


def test_the_first_matching_rule_wins_and_refuse_has_its_status():
    plan = DialPlan([Rule("refuse", "0900.", status=403, reason="No premium numbers"), Rule("upstream", "0.")])
    got = plan.route("09001234", "normal")
    assert (got.rule, got.target, got.status, got.reason) == (0, "refuse", 403, "No premium numbers")
    assert plan.route("0301234", "normal").target == "upstream"


def test_rules_apply_in_their_state_only():
    plan = DialPlan([Rule("trunk", "0.", state="survival"), Rule("upstream", "0.", state="normal"), Rule("local", "0.")])
    assert plan.route("0301", "survival").target == "trunk"
    assert plan.route("0301", "normal").target == "upstream"
    plan = DialPlan([Rule("trunk", "0.", state="survival"), Rule("local", "0.")])
    assert plan.route("0301", "normal").target == "local"  # "any"


def test_emergency_numbers_come_first_and_stay_as_dialled():
    plan = DialPlan([Rule("refuse", "."), Rule("upstream", "1.", strip=1, prepend="9")], emergency=["112", "110"])
    for n in ("112", "110"):
        got = plan.route(n, "normal")
        assert (got.rule, got.number) == (EMERGENCY, n)
    assert plan.route("113", "normal").target == "refuse"


def test_a_rule_for_some_callers_asks_who_calls():
    plan = DialPlan([Rule("trunk", "00.", callers=["boss"]), Rule("refuse", "00.", status=403)])
    assert plan.route("0044123", "normal", caller_known=False) is NEED_CALLER
    assert plan.route("0044123", "normal", "boss", True).target == "trunk"
    assert plan.route("0044123", "normal", "intern", True).target == "refuse"
    assert plan.route("0044123", "normal", None, True).target == "refuse"  # unproven: no caller rule matches
    assert plan.route("0301", "normal", caller_known=False) is None  # no rule would match: nothing to prove


def test_a_rule_for_a_group_matches_its_proven_members():
    plan = DialPlan([Rule("trunk", "00.", groups=["sales"]), Rule("refuse", "00.")], groups_of={"ann": frozenset(["sales"]),
                                                                                                "ben": frozenset(["support"])})
    assert plan.route("0044", "normal", caller_known=False) is NEED_CALLER
    assert plan.route("0044", "normal", "ann", True).target == "trunk"
    assert plan.route("0044", "normal", "ben", True).target == "refuse"
    assert plan.route("0044", "normal", None, True).target == "refuse"


def test_only_plain_numbers_are_matched():
    plan = DialPlan([Rule("upstream", ".")], emergency=["112"])
    assert plan.route("0301", "normal") is not None
    for bad in ("", "0" * 65, "03 01", "0301;x", "<0301>", "%30", "\u0660"):
        assert plan.route(bad, "normal") is None, bad


def test_templates_expand_groups_and_missing_ones_to_nothing():
    assert expand("+49${1}-${2}", ["x", "30", None]) == "+4930-"
    assert expand("${0}", ["0301"]) == "0301"


def test_regexes_in_the_shared_subset_only_and_never_backtracking_for_long():
    for ok in (r"^0(\d+)$", r"^(0|00)49(\d+)", r"[1-9]\d\d", r"^\+?49.*", r"0?1?2?3?4?"):
        assert regex_problem(ok) is None, ok
    for bad, why in ((r"(0\d)+", "repeats a group"), (r"(1|1)*", "repeats a group"), (r"\d*\d*\d*", "backtrack"),
                     (r"0?1?2?3?4?\d*\d*", "backtrack"), (r"0{3}", "{m,n}"), (r"(?:0)", "(?...)"), (r"\b1", "escape"),
                     ("(12", "not a regular expression"), ("0[12", "[ without"), ("1 2", "' '"), ("x" * 101, "longer")):
        got = regex_problem(bad)
        assert got is not None and why in got, (bad, got)


def test_a_regex_rule_matches_the_whole_number():
    plan = DialPlan([Rule("upstream", regex=r"0\d\d", prepend="9")])
    assert plan.route("012", "normal").number == "9012"
    assert plan.route("0123", "normal") is None  # anchored at the end too


# -- through the relaying proxy ------------------------------------------------

def invite(user, call_id, branch, extra=()):
    return sip("INVITE sip:%s@hq.example.com SIP/2.0" % user, "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK%s;rport" % branch,
               "Max-Forwards: 70", "From: <sip:alice@hq.example.com>;tag=s1", "To: <sip:%s@hq.example.com>" % user,
               "Call-ID: %s" % call_id, "CSeq: %d INVITE" % (2 if extra else 1), "Contact: <sip:alice@192.0.2.10:5062>",
               *extra, "Content-Type: application/sdp", body=PHONE_SDP)


def requests(p):
    return [(str(m.uri), d) for m, d in out(p) if m.is_request]


def answers(p):
    return [(m.status, m.reason) for m, d in out(p) if not m.is_request and m.status != 100]


def test_normal_rewrites_and_relays_upstream():
    p = make_relay()
    p.config.dialplan = DialPlan([Rule("upstream", "0.", strip=1, prepend="+4930"), Rule("refuse", "0900.", reason="No premium")],
                                 ["112"])
    p.receive(invite("0123456", "c1", "n1"), ALICE, 100)
    assert requests(p) == [("sip:+4930123456@hq.example.com", UPSTREAM)]
    p.receive(invite("112", "c2", "n2"), ALICE, 200)
    assert requests(p) == [("sip:112@hq.example.com", UPSTREAM)]  # as dialled
    p.receive(invite("carol", "c3", "n3"), ALICE, 300)
    assert requests(p) == [("sip:carol@hq.example.com", UPSTREAM)]  # no rule: as before


def test_normal_refuses_with_the_rule_status():
    p = make_relay()
    p.config.dialplan = DialPlan([Rule("refuse", "0900.", status=403, reason="No premium numbers"), Rule("upstream", "0.")])
    p.receive(invite("09001234", "c1", "r1"), ALICE, 100)
    assert answers(p) == [(403, "No premium numbers")]
    p.config.dialplan = DialPlan([Rule("refuse", "0900.", status=404)])
    p.receive(invite("09001234", "c2", "r2"), ALICE, 200)
    assert answers(p) == [(404, "Refused by the dial plan (rule 0)")]


BOB = ("udp", "192.0.2.11", 5060, None)


def register_locally(p, user):
    """A phone at BOB registers `user` with the router's own registrar (survival)."""
    p.receive(sip("REGISTER sip:hq.example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.11;branch=z9hG4bKdr%s;rport" % user,
                  "Max-Forwards: 70", "From: <sip:%s@hq.example.com>;tag=b" % user, "To: <sip:%s@hq.example.com>" % user,
                  "Call-ID: dreg-%s" % user, "CSeq: 1 REGISTER", "Contact: <sip:%s@192.0.2.11>" % user, "Expires: 3600"), BOB, 4000)
    out(p)
    return BOB


def test_survival_sends_to_the_trunk_rewritten_and_to_local_phones():
    p = site_in_survival()
    p.config.dialplan = DialPlan([Rule("trunk", "0.", state="survival", strip=1, prepend="+4930"), Rule("local", "9XXX", strip=1),
                                  Rule("upstream", "7.")], ["112"])
    bob = register_locally(p, "200")
    p.receive(invite("0123456", "c-t", "t1"), ALICE, 4100)
    assert requests(p) == [("sip:+4930123456@192.0.2.50:5060", TRUNK)]
    p.receive(invite("9200", "c-l", "l1"), ALICE, 4200)
    assert requests(p) == [("sip:200@192.0.2.11", bob)]
    p.receive(invite("112", "c-e", "e1"), ALICE, 4300)
    assert requests(p) == [("sip:112@192.0.2.50:5060", TRUNK)]  # emergency: the trunk, as dialled
    p.receive(invite("7001", "c-u", "u1"), ALICE, 4400)
    assert [s for s, r in answers(p)] == [503]  # the upstream's calls wait for it


def test_a_catch_all_upstream_rule_leaves_survival_its_local_calls():
    p = site_in_survival()
    p.config.dialplan = DialPlan([Rule("upstream", ".", prepend="9")], ["112"])
    bob = register_locally(p, "bob")
    p.receive(invite("bob", "c-b", "b1"), ALICE, 4100)
    assert requests(p) == [("sip:bob@192.0.2.11", bob)]
    p.receive(invite("0123456789", "c-p", "p1"), ALICE, 4200)
    assert requests(p) == [("sip:0123456789@192.0.2.50:5060", TRUNK)]  # survival.fallback_patterns, as dialled


PASSWORD = "boss-secret"


def with_users(p):
    users = {u: Credentials.from_password(u, "hq.example.com", PASSWORD) for u in ("alice", "intern")}
    p.config.authenticator = Authenticator("hq.example.com", users, Nonces(b"k" * 32), ("MD5",))
    return p


def credentials(challenge, uri):
    ch = challenge.auth("proxy-authenticate")[0]
    ha1 = digest.ha1("MD5", "alice", "hq.example.com", PASSWORD)
    return digest.credentials("alice", "hq.example.com", ha1, ch.get("nonce"), "INVITE", uri, "MD5", "auth", "00000001", "0a4f113b")


def test_a_caller_rule_challenges_then_routes_once_proven():
    p = with_users(make_relay())
    p.config.dialplan = DialPlan([Rule("upstream", "00.", callers=["alice"], strip=2, prepend="+"), Rule("refuse", "00.")])
    p.receive(invite("0044123", "c1", "a1"), ALICE, 100)
    ch = [m for m, d in out(p) if not m.is_request and m.status == 407]
    assert len(ch) == 1
    cred = credentials(ch[0], "sip:0044123@hq.example.com")
    p.receive(invite("0044123", "c1", "a2", ("Proxy-Authorization: " + cred,)), ALICE, 200)
    got = [(m, d) for m, d in out(p) if m.is_request]
    assert [(str(m.uri), d) for m, d in got] == [("sip:+44123@hq.example.com", UPSTREAM)]
    assert not got[0][0].has("proxy-authorization")  # consumed by the router, once


def test_a_caller_rule_proven_by_another_user_does_not_match():
    p = with_users(site_in_survival())
    p.config.survival_policy = RegistrarPolicy("hq.example.com", 60, 60, 60)
    p.config.dialplan = DialPlan([Rule("trunk", "00.", callers=["intern"]), Rule("refuse", "00.", status=403, reason="Not yours")])
    p.receive(invite("0044123", "c1", "b1"), ALICE, 4100)
    ch = [m for m, d in out(p) if not m.is_request and m.status == 407][0]
    p.receive(invite("0044123", "c1", "b2", ("Proxy-Authorization: " + credentials(ch, "sip:0044123@hq.example.com"),)), ALICE, 4200)
    assert answers(p) == [(403, "Not yours")]
