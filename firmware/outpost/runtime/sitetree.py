"""The site file as a tree: paths, the guards every candidate passes, and
what a file may say that the router stores otherwise (passwords as HA1s).
Pure functions of plain data and ruamel trees; SiteConfig uses them."""

import json
import re

from ..core import digest
from .schema import Invalid

# \Z, not $: "password_hash\n" must not read as "password_hash".
_STEP = re.compile(r"([A-Za-z0-9_+\-]+)(?:\[(\d+)\])?\Z")
# The console subtree's fields anyone logged in may edit; the hash is not one.
CONSOLE_EDITABLE = ("idle_timeout_s",)
PASSWORD_RULE = "set the console password at first boot or with the password command"
# A branch's site file has a few hundred values, five levels deep.
MAX_DEPTH = 32
MAX_NODES = 200000
# SIP digest is guessed online at the rate limit (200/s per source): eight
# characters of a phone keypad's digits alone would last under a week.
MIN_SIP_PASSWORD = 8


def parse_path(path):
    """'sip.listen[0].port' -> ['sip', 'listen', 0, 'port']; ValueError if malformed."""
    out = []
    for part in path.split("."):
        m = _STEP.match(part)
        if not part or m is None:
            raise ValueError("%s: not a config path (like sip.listen[0].port)" % path)
        out.append(m.group(1))
        if m.group(2) is not None:
            out.append(int(m.group(2)))
    return out


def reaches_password(steps):
    """Would an edit at this path touch the console password hash? (The
    whole console mapping, the hash, or anything not known to be harmless.)"""
    return bool(steps) and steps[0] == "console" and (len(steps) == 1 or steps[1] not in CONSOLE_EDITABLE)


def password_hash_of(data):
    console = data.get("console") if isinstance(data, dict) else None
    value = console.get("password_hash") if isinstance(console, dict) else None
    return value if isinstance(value, str) and value else None


def check_plain(data, what):
    """ValueError unless `data` is a tree: no node reached twice (aliases,
    recursion), no merge keys or anchors, bounded depth and size. Iterative,
    so a deep file cannot exhaust the stack here."""
    seen = set()
    todo = [(data, 0)]
    count = 0
    while todo:
        node, depth = todo.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            raise ValueError("%s: more than %d values or %d levels deep, refused" % (what, MAX_NODES, MAX_DEPTH))
        if not isinstance(node, (dict, list)):
            continue
        anchor = getattr(getattr(node, "anchor", None), "value", None)
        if id(node) in seen or anchor or getattr(node, "merge", None):
            raise ValueError("%s: YAML anchors, aliases and merge keys (&, *, <<) are not allowed in a site file" % what)
        seen.add(id(node))
        children = node.values() if isinstance(node, dict) else node
        todo.extend((child, depth + 1) for child in children)
        if isinstance(node, dict):
            bad = [key for key in node if not isinstance(key, str)]
            if bad:
                # A date, number or [list] as a key: JSON has none of those.
                raise ValueError("%s: %r is not a key name (keys are words; quote it)" % (what, bad[0]))
            todo.extend((key, depth + 1) for key in node)


def passwords_to_ha1(data):
    """users.NAME.password in a site file: HA1s under the file's realm."""
    users = data.get("users") if isinstance(data, dict) else None
    named = [n for n, u in (users or {}).items() if isinstance(u, dict) and "password" in u] if isinstance(users, dict) else []
    if not named:
        return []
    plain = json.loads(json.dumps(data, default=str))
    realm = (plain.get("auth") or {}).get("realm") or (plain.get("sip") or {}).get("domain")
    errors = []
    for name in named:
        password = users[name].pop("password")
        if not isinstance(password, str) or len(password) < MIN_SIP_PASSWORD:
            errors.append("users.%s.password: not a string of at least %d characters" % (name, MIN_SIP_PASSWORD))
        elif not isinstance(realm, str) or not realm:
            errors.append("users.%s.password: the file sets no sip.domain (the digest realm)" % name)
        else:
            users[name]["ha1"] = {"SHA-256": digest.ha1("SHA-256", name, realm, password), "MD5": digest.ha1("MD5", name, realm, password)}
    if errors:
        raise Invalid(errors)
    return ["load: users.%s.password stored as HA1s only" % ", users.".join(named) if len(named) == 1 else
            "load: passwords of %s stored as HA1s only" % ", ".join(named)]


def yaml_problem(e):
    """'line 3, column 8: mapping values are not allowed here' from a
    ruamel error (its str() ends with a caret line, not the reason)."""
    mark, problem = getattr(e, "problem_mark", None), getattr(e, "problem", None)
    if mark is not None and problem:
        context = getattr(e, "context", None)
        return "line %d, column %d: %s%s" % (mark.line + 1, mark.column + 1, problem, " (%s)" % context if context else "")
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
