"""`show dialplan` and `test-dial`: the candidate configuration's dial plan
as the core will run it (core/dialplan.py), so an admin sees which rule a
number meets before committing.

    test-dial 0301234 --as alice --state survival
    0301234 as alice in survival: rule 1 (match 0.) -> trunk, sent as +4930301234
"""

from ..core.dialplan import EMERGENCY, NEED_CALLER, REFUSED, dialled
from .consoleviews import field
from .schema import Invalid

USAGE = "test-dial NUMBER [--as USER] [--state normal|survival]"
NO_RULE = {
    "normal": "no rule: to the upstream as dialled",
    "survival": "no rule: a registered local phone of that number, else survival.fallback_patterns, else 503",
}


def _checked(site):
    from . import config as configmod

    cfg, errors = configmod.check_all(site._plain())
    if errors:
        raise Invalid(["the candidate configuration has errors (show dialplan and test-dial read it; commit check lists them too)"] + errors)
    return cfg, configmod.dial_plan(cfg)


def rule_text(i, r):
    how = "match %s" % r["match"] if r["match"] is not None else "regex %s" % r["regex"]
    parts = ["%2d  %s" % (i, field(how))]
    if r["callers"]:
        parts.append("callers " + ", ".join(field(c) for c in r["callers"]))
    if r["groups"]:
        parts.append("groups " + ", ".join(field(g) for g in r["groups"]))
    if r["state"] != "any":
        parts.append("in " + r["state"])
    if r["strip"]:
        parts.append("strip %d" % r["strip"])
    if r["prepend"]:
        parts.append("prepend " + field(r["prepend"]))
    if r["replace"]:
        parts.append("replace " + field(r["replace"]))
    target = r["target"]
    if target == "refuse":
        target = "refuse %d %s" % (r["status"], field(r["reason"] or REFUSED % i))
    return "  ".join(parts) + "  -> " + target


def show(site):
    cfg, _ = _checked(site)
    sv = cfg["survival"]
    lines = ["emergency  %s: first, never rewritten (normal: upstream; survival: the fallback trunk %s)" % (
        ", ".join(sv["emergency_numbers"]) or "none", field(sv["fallback_trunk"] or "(none set)"))]
    lines += [rule_text(i, r) for i, r in enumerate(cfg["dialplan"])] or ["no rules: every number is routed as without a plan"]
    return lines


def test_dial(site, args):
    number, caller, state = _args(args)
    cfg, plan = _checked(site)
    if caller is not None and caller not in cfg["users"]:
        raise ValueError("test-dial: --as %s: not one of users" % field(caller, 40))
    head = "%s%s in %s: " % (field(number), " as " + caller if caller else "", state)
    plain = dialled(number)
    if plain is None:
        return [head + "not a number the dial plan reads (digits, letters, * + . _ -, at most 64, before any ';'): answered 484"
                if cfg["dialplan"] else head + NO_RULE[state]]
    if plain != number:
        head = head[:-2] + " (the number %s): " % field(plain)
    got = plan.route(plain, state, caller, caller is not None)
    if got is NEED_CALLER:
        return [head + "a rule naming callers would match: the router asks the caller to prove who they are (407); "
                "try again with --as USER"]
    if got is None:
        return [head + NO_RULE[state]]
    if got.rule == EMERGENCY:
        return [head + "emergency number -> %s, as dialled" % ("upstream" if state == "normal" else "the fallback trunk")]
    rule = rule_text(got.rule, cfg["dialplan"][got.rule]).strip()
    if got.target == "refuse":
        return [head + "rule %s: answered %d %s" % (rule, got.status, field(got.reason))]
    if got.target == "upstream" and state == "survival":
        return [head + "rule %s: the upstream is away, so routed as if no rule matched, as dialled: %s" % (rule, NO_RULE[state][len("no rule: "):])]
    where = {"upstream": "upstream",
             "local": "the upstream (the phones' registrar)" if state == "normal" else "the local phone " + field(got.number),
             "trunk": "the fallback trunk (a site user's digest first)"}[got.target]
    return [head + "rule %s; sent as %s to %s" % (rule, field(got.number), where)]


def _args(args):
    number, caller, state = None, None, "normal"
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--as", "--state"):
            if i + 1 >= len(args):
                raise ValueError("test-dial: %s needs a value (%s)" % (a, USAGE))
            if a == "--as":
                caller = args[i + 1]
            elif args[i + 1] in ("normal", "survival"):
                state = args[i + 1]
            else:
                raise ValueError("test-dial: --state %s: is not normal or survival" % field(args[i + 1], 40))
            i += 2
        elif number is None and not a.startswith("--"):
            number = a
            i += 1
        else:
            raise ValueError("test-dial: unexpected %s (%s)" % (field(a, 40), USAGE))
    if number is None:
        raise ValueError("test-dial: which number? (%s)" % USAGE)
    return number, caller, state
