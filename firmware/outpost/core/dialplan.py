"""The site's dial plan: which rule a dialled number meets, what it is
rewritten to, and where the call goes (sans-I/O; siterules.py applies it).

A rule matches on the number (an Asterisk-style pattern, survival.py's
`dial_match`, or a regular expression), on the caller (user names; only a
caller who proved who they are) and on the router's state (normal,
survival or any). Its actions: strip N leading characters, prepend a
prefix, or replace the number with a template ("+4930${1}": ${0} is the
number after stripping, ${1}... a regular expression's groups); then send
to `upstream`, `trunk` (the fallback trunk), `local` (a phone of the site)
or `refuse` with a status.

Emergency numbers come before every rule and are never rewritten: an
admin's rule cannot send 112 elsewhere or strip it.

Who controls what: the rules are the admin's (the schema and
runtime/configrules.py check them, MicroPython's `re` subset only, no
nested repetition, so no rule backtracks for long); the number is the
caller's: only a Request-URI user part of NUMBER_CHARS, at most
MAX_NUMBER long, is matched at all, so what a rewrite builds is made of
those characters and the template's digits.
"""

import re

from .survival import dial_match

NUMBER_CHARS = "0123456789*#+abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-"
MAX_NUMBER = 64
STATES = ("normal", "survival", "any")
TARGETS = ("upstream", "trunk", "local", "refuse")
EMERGENCY = "emergency"  # Dialled.rule of the emergency numbers' own first rule
NEED_CALLER = "need caller"  # DialPlan.route: a rule would match if the caller proves who they are


class Rule:
    __slots__ = ("pattern", "regex", "ngroups", "callers", "state", "strip", "prepend", "replace", "target", "status", "reason")

    def __init__(self, target, pattern=None, regex=None, callers=(), state="any", strip=0, prepend=None, replace=None,
                 status=403, reason=None):
        self.pattern = pattern
        self.regex = None if regex is None else re.compile(regex if regex.endswith("$") else regex + "$")
        self.ngroups = 0 if regex is None else group_count(regex)
        self.callers = frozenset(callers)
        self.state, self.strip, self.prepend, self.replace = state, strip, prepend, replace
        self.target, self.status, self.reason = target, status, reason

    def groups(self, number):
        """The number's groups ([whole] + the regex's) when it matches, else None."""
        if self.regex is None:
            return [number] if dial_match(self.pattern, number) else None
        m = self.regex.match(number)
        if m is None:
            return None
        return [m.group(i) for i in range(self.ngroups + 1)]

    def rewrite(self, number, groups):
        number = number[self.strip:]
        if self.replace is not None:
            return expand(self.replace, [number] + groups[1:])
        if self.prepend:
            return self.prepend + number
        return number


class Dialled:
    """What the dial plan decided: the rule's index (or EMERGENCY), the
    number to send, the target and, for `refuse`, the status and reason."""

    __slots__ = ("rule", "number", "target", "status", "reason")

    def __init__(self, rule, number, target, status=None, reason=None):
        self.rule, self.number, self.target, self.status, self.reason = rule, number, target, status, reason

    def __repr__(self):
        return "Dialled(%r, %r, %r)" % (self.rule, self.number, self.target)


class DialPlan:
    def __init__(self, rules=(), emergency=()):
        self.rules = list(rules)
        self.emergency = frozenset(emergency)

    def route(self, number, state, caller=None, caller_known=True):
        """The Dialled for `number` in `state` ("normal" or "survival"),
        None when no rule matches, or NEED_CALLER when the first rule that
        would match names callers and `caller_known` is False (the caller
        must prove who they are first, then ask again)."""
        if not is_number(number):
            return None
        if number in self.emergency:
            return Dialled(EMERGENCY, number, "emergency")
        for i, r in enumerate(self.rules):
            if r.state != "any" and r.state != state:
                continue
            groups = r.groups(number)
            if groups is None:
                continue
            if r.callers:
                if not caller_known:
                    return NEED_CALLER
                if caller not in r.callers:
                    continue
            if r.target == "refuse":
                return Dialled(i, number, "refuse", r.status, r.reason)
            return Dialled(i, r.rewrite(number, groups), r.target)
        return None


def is_number(text):
    if not text or len(text) > MAX_NUMBER:
        return False
    for c in text:
        if c not in NUMBER_CHARS:
            return False
    return True


def expand(template, groups):
    """${N} replaced by groups[N] ('' for a group that did not take part)."""
    out = []
    i = 0
    while i < len(template):
        if template[i] == "$" and template[i + 1:i + 2] == "{":
            end = template.find("}", i)
            n = int(template[i + 2:end])
            g = groups[n] if n < len(groups) else None
            out.append(g or "")
            i = end + 1
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


def template_groups(template):
    """The group numbers a template names (for the config check)."""
    out = []
    i = template.find("${")
    while i >= 0:
        end = template.find("}", i)
        out.append(int(template[i + 2:end]))
        i = template.find("${", end)
    return out


# Regular expressions: MicroPython's `re` (re1.5) is the subset both
# runtimes share. It has no {m,n}, no (?...) and few escapes; and like
# CPython's it backtracks, so a repeated group, or many * and +, could try
# 2**64 ways on a 64-character number a caller chose. Refused here.
REGEX_ESCAPES = "dDwWsS.+*?#()[]|-"
REGEX_CHARS = NUMBER_CHARS + "^$|()*+?[]"
MAX_REGEX = 100
MAX_UNBOUNDED = 2  # * and +
MAX_REPEATS = 4  # all of * + ?: each ? at most doubles the ways to try


def regex_problem(text):
    """Why `text` cannot be a dial plan regex (a rule's wording), or None."""
    if len(text) > MAX_REGEX:
        return "is longer than %d characters" % MAX_REGEX
    i, in_set, prev, unbounded, repeats = 0, False, "", 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if text[i + 1:i + 2] == "" or text[i + 1] not in REGEX_ESCAPES:
                return "uses an escape MicroPython's re lacks (only \\d \\D \\w \\W \\s \\S and escaped punctuation)"
            i, prev = i + 2, "atom"
            continue
        if in_set:
            in_set = c != "]"
        elif c not in REGEX_CHARS:
            return "uses %r, which is neither a number's character nor one of ^ $ | ( ) * + ? [ ]" % c
        elif c == "(" and text[i + 1:i + 2] == "?":
            return "uses (?...), which MicroPython's re lacks"
        elif c in "*+?" and prev == "group":
            return "repeats a group (a caller's number could make it backtrack for long)"
        elif c in "*+?" and prev != "repeat":  # a ? after a repeat makes it lazy, not another repeat
            repeats += 1
            unbounded += c != "?"
            prev = "repeat"
            i += 1
            continue
        in_set = in_set or c == "["
        prev = "group" if c == ")" else "atom"
        i += 1
    if in_set:
        return "has a [ without its ]"
    if unbounded > MAX_UNBOUNDED or repeats > MAX_REPEATS:
        return "has more than %d * or + or %d repeats in all (a caller's number could make it backtrack for long)" % (
            MAX_UNBOUNDED, MAX_REPEATS)
    try:
        re.compile(text)
    except Exception:  # CPython's re.error, MicroPython's ValueError
        return "is not a regular expression"
    return None


def group_count(text):
    """The groups of a regex regex_problem() accepted."""
    n, i, in_set = 0, 0, False
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if in_set:
            in_set = c != "]"
        elif c == "[":
            in_set = True
        elif c == "(":
            n += 1
        i += 1
    return n
