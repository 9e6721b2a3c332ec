"""The site's dial plan: which rule a dialled number meets, what it is
rewritten to, and where the call goes (sans-I/O; siterules.py applies it).

A rule matches on the number (an Asterisk-style pattern, survival.py's
`dial_match`, or a regular expression), on the caller (user names or their
groups; only a caller who proved who they are) and on the router's state (normal,
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

# No '#': a SIP URI's user part must escape it (%23), and an escaped
# number is no plain number.
NUMBER_CHARS = "0123456789*+abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-"
MAX_NUMBER = 64
EMERGENCY = "emergency"  # Dialled.rule of the emergency numbers' own first rule
NEED_CALLER = "need caller"  # DialPlan.route: a rule would match if the caller proves who they are
REFUSED = "Refused by the dial plan (rule %d)"  # a refuse rule's reason when the admin gave none


class Rule:
    __slots__ = ("pattern", "regex", "ngroups", "callers", "groups_", "state", "strip", "prepend", "replace", "target", "status", "reason")

    def __init__(self, target, pattern=None, regex=None, callers=(), state="any", strip=0, prepend=None, replace=None,
                 status=403, reason=None, groups=()):
        self.pattern = pattern
        # Wrapped whole in a group before the end anchor, so `a|b` means
        # the whole number is a or b (MicroPython has no (?:...): the
        # wrapper is group 1 and the rule's groups come after it).
        self.regex = None if regex is None else re.compile("(" + regex + ")$")
        self.ngroups = 0 if regex is None else group_count(regex)
        self.callers = frozenset(callers)
        self.groups_ = frozenset(groups)  # callers by their users.*.groups
        self.state, self.strip, self.prepend, self.replace = state, strip, prepend, replace
        self.target, self.status, self.reason = target, status, reason

    def groups(self, number):
        """The number's groups ([whole] + the regex's) when it matches, else None."""
        if self.regex is None:
            return [number] if dial_match(self.pattern, number) else None
        m = self.regex.match(number)
        if m is None:
            return None
        return [m.group(0)] + [m.group(i + 2) for i in range(self.ngroups)]

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
    def __init__(self, rules=(), emergency=(), groups_of=None):
        self.rules = list(rules)
        self.emergency = frozenset(emergency)
        self.groups_of = groups_of or {}  # user -> frozenset of its groups

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
            if r.callers or r.groups_:
                if not caller_known:
                    return NEED_CALLER
                if caller not in r.callers and not r.groups_ & self.groups_of.get(caller, frozenset()):
                    continue
            if r.target == "refuse":
                return Dialled(i, number, "refuse", r.status, r.reason or REFUSED % i)
            new = r.rewrite(number, groups)
            if not is_number(new):  # stripped or replaced down to nothing (or past 64)
                return Dialled(i, number, "refuse", 484, "Address Incomplete (dial plan rule %d leaves no number)" % i)
            return Dialled(i, new, r.target)
        return None


def dialled(user):
    """The number a Request-URI user part dials, or None when it is no
    plain number: the part before any ';' parameter (RFC 3966's
    telephone-subscriber), its %XX escapes read, since the next hop reads
    them too (0900%31234 is 09001234 to it, and must meet 0900's rule)."""
    base = user.split(";", 1)[0]
    if "%" in base:
        out, i = [], 0
        while i < len(base):
            if base[i] != "%":
                out.append(base[i])
                i += 1
                continue
            h = base[i + 1:i + 3]
            if len(h) != 2 or h[0] not in HEX or h[1] not in HEX:
                return None
            out.append(chr(int(h, 16)))
            i += 3
        base = "".join(out)
    return base if is_number(base) else None


HEX = "0123456789abcdefABCDEF"


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
# CPython's it backtracks: the ways it may try to match a 64-character
# number are about the product of each repeat's choices (65 for * and +,
# 2 for ?) and each alternation's branches. A repeated group multiplies
# without bound: refused; the product is held under MAX_WAYS.
REGEX_ESCAPES = "dDwWsS.+*?#()[]|-"
REGEX_CHARS = NUMBER_CHARS + "#^$|()*+?[]"
MAX_REGEX = 100
MAX_WAYS = 65 * 65 * 16  # two * and four branches, or one * and a dozen ?


def regex_problem(text):
    """Why `text` cannot be a dial plan regex (a rule's wording), or None."""
    if len(text) > MAX_REGEX:
        return "is longer than %d characters" % MAX_REGEX
    why, groups = _scan(text)
    if why is None:
        try:
            compiled = re.compile(text)
        except Exception:  # CPython's re.error, MicroPython's ValueError
            return "is not a regular expression"
        if getattr(compiled, "groups", groups) != groups:
            return "has groups this check cannot count"
    return why


def _scan(text):
    """(why it is refused or None, how many groups it has)."""
    i, in_set, prev, ways, groups = 0, False, "", 1, 0
    branches = [1]  # per open group (and the whole): its alternatives
    while i < len(text):
        c = text[i]
        if c == "\\":
            if text[i + 1:i + 2] == "" or text[i + 1] not in REGEX_ESCAPES:
                return ("uses an escape MicroPython's re lacks (only \\d \\D \\w \\W \\s \\S and escaped punctuation)", groups)
            i, prev = i + 2, "atom"
            continue
        if in_set:
            in_set = c != "]"
        elif c in "{}":
            return ("uses {m,n}, which MicroPython's re lacks: write the repeat out (\\d\\d\\d for \\d{3})", groups)
        elif c not in REGEX_CHARS:
            return ("uses %r, which is neither a number's character nor one of ^ $ | ( ) * + ? [ ]" % c, groups)
        elif c == "[":
            if text[i + 1:i + 2] == "]" or text[i + 1:i + 3] == "^]":
                return ("starts a set with ] (write \\] inside [...])", groups)
            in_set = True
        elif c == "(" and text[i + 1:i + 2] == "?":
            return ("uses (?...), which MicroPython's re lacks", groups)
        elif c == "(":
            branches.append(1)
            groups += 1
        elif c == ")" and len(branches) > 1:
            ways *= branches.pop()
        elif c == "|":
            branches[-1] += 1
        elif c in "*+?":
            if prev == "group":
                return ("repeats a group (a caller's number could make it backtrack for long)", groups)
            if prev == "repeat" and c != "?":
                return ("repeats a repeat (%s after a repeat is not in MicroPython's re)" % c, groups)
            if prev != "repeat":  # a ? after a repeat makes it lazy, not another repeat
                ways *= 65 if c != "?" else 2
            prev = c == "?" and prev == "repeat" and "lazy" or "repeat"
            i += 1
            continue
        prev = "group" if c == ")" and not in_set else "atom"
        i += 1
    if in_set:
        return ("has a [ without its ]", groups)
    if ways * branches[0] > MAX_WAYS:
        why = "could try more than %d ways on a 64-character number (a caller's number could make it backtrack for long)"
        return why % MAX_WAYS, groups
    return None, groups


def group_count(text):
    """The groups of a regex regex_problem() accepted."""
    return _scan(text)[1]
