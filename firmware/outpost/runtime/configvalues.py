"""What `set PATH VALUE` means, decided by the schema where the admin types.

    node = node_at(["survival", "fallback_patterns"])   # the schema at a path
    value = typed(node, "[0X., 00.]", path)            # ['0X.', '00.']

Rules of this file:
- The schema (runtime/config.py SCHEMA) says what a path holds; the text
  typed after `set` becomes that type or an error naming path, value and
  rule (schema.Invalid), before anything is stored. An unknown path is an
  error at `set`, with the nearest known name.
- A string field keeps what was typed: `00.` stays `00.` (YAML would read
  a float), `112` stays `112`. Quotes are the admin's way to write spaces.
- Lists are written `[a, b]`; a list of strings splits on commas outside
  quotes, each item typed as above. Mappings are YAML flow `{k: v}`.
"""

import difflib
import re

from .schema import Bool, Int, Invalid, List, Map, OneOf, Record, Str

_INT = re.compile(r"[+-]?[0-9]{1,12}\Z")
_TRUE = ("true", "yes", "on")
_FALSE = ("false", "no", "off")


def node_at(steps, schema=None):
    """The schema node an edit at `steps` reaches; KeyError naming the path
    and, for a typo, the nearest name."""
    from .config import SCHEMA

    node, done = schema or SCHEMA, []
    for step in steps:
        if isinstance(step, int):
            if not isinstance(node, List):
                raise KeyError("%s: is not a list (no [%d])" % (_path(done), step))
            node = node.item
        elif isinstance(node, Record):
            if step not in node.fields:
                near = difflib.get_close_matches(step, list(node.fields), 1)
                raise KeyError("%s: unknown key%s" % (_path(done + [step]), " (did you mean %r?)" % near[0] if near else ""))
            node = node.fields[step][0]
        elif isinstance(node, Map):
            errors = []
            node.key.check(step, _path(done + [step]), errors)
            if errors:
                raise Invalid(errors)
            node = node.value
        else:
            raise KeyError("%s: %s holds a single value, not %r" % (_path(done + [step]), _path(done) or "config", step))
        done.append(step)
    return node


def _path(steps):
    out = ""
    for s in steps:
        out += "[%d]" % s if isinstance(s, int) else ("." if out else "") + s
    return out


def typed(node, text, path, yaml_load):
    """The value `text` means at a node of this kind, checked against it;
    raises Invalid with every error. yaml_load parses flow values."""
    value = _convert(node, text.strip(), path, yaml_load)
    errors = []
    node.check(value, path, errors)
    if errors:
        raise Invalid(errors)
    return value


def _convert(node, text, path, yaml_load):
    if isinstance(node, Int):
        if not _INT.match(text):
            raise Invalid(["%s: %r is not a whole number" % (path, text)])
        return int(text)
    if isinstance(node, Bool):
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise Invalid(["%s: %r is not true or false" % (path, text)])
    if isinstance(node, (Str, OneOf)):
        return _string(text, path, yaml_load)
    if isinstance(node, List):
        if not (text.startswith("[") and text.endswith("]")):
            raise Invalid(["%s: is a list: write [a, b] (or [] for none), or add one entry with `set %s add VALUE`" % (path, path)])
        if isinstance(node.item, (Str, OneOf, Int, Bool)):
            return [_convert(node.item, item, "%s[%d]" % (path, i), yaml_load) for i, item in enumerate(split_list(text[1:-1], path))]
    value = _flow(text, path, yaml_load)
    if isinstance(node, (Record, Map)) and value is not None and not isinstance(value, dict):
        raise Invalid(["%s: is a mapping: write {key: value, ...}" % path])
    return value


def _string(text, path, yaml_load):
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        value = _flow(text, path, yaml_load)
        if isinstance(value, str):
            return value
    return text


def _flow(text, path, yaml_load):
    from .sitetree import check_plain

    try:
        value = yaml_load(text)
    except Exception as e:  # ruamel's errors share no useful base; RecursionError, int limits
        raise Invalid(["%s: not a YAML value (%s)" % (path, (str(e).strip().splitlines() or [type(e).__name__])[-1])])
    try:
        check_plain(value, path)  # before the schema walks it: aliases make 9^10 values of one line
    except ValueError as e:
        raise Invalid([str(e)])
    return value


def split_list(inner, path):
    """'0X., "a, b", 00.' -> ['0X.', '"a, b"', '00.'] (quotes kept for
    _string to take off); an empty entry is an error."""
    items, cur, quote = [], "", None
    for ch in inner:
        if quote:
            cur += ch
            quote = None if ch == quote else quote
        elif ch in "'\"":
            cur += ch
            quote = ch
        elif ch == ",":
            items.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if quote:
        raise Invalid(["%s: a quote is not closed" % path])
    if cur.strip() or items:
        items.append(cur.strip())
    if any(not item for item in items):
        raise Invalid(["%s: an empty entry in the list (two commas, or a comma at the end)" % path])
    return items


def config_paths(prefix, data):
    """Completions of a config path (sip.listen[0].port) from the schema and
    the site's own values (user names, list entries)."""
    parent, dot, _ = prefix.rpartition(".")
    from .config import SCHEMA

    node, value = SCHEMA, data
    for part in parent.split(".") if dot else ():
        name, _, index = part.partition("[")
        if isinstance(node, Record):
            node, value = node.fields.get(name, (None, None))[0], (value or {}).get(name)
        elif isinstance(node, Map):
            node, value = node.value, (value or {}).get(name)
        else:
            return []
        if index:
            if not isinstance(node, List) or not index.rstrip("]").isdigit():
                return []
            i = int(index.rstrip("]"))
            node, value = node.item, (value[i] if isinstance(value, list) and i < len(value) else None)
        if node is None:
            return []
    base = parent + "." if dot else ""
    out = []
    names = list(node.fields) if isinstance(node, Record) else sorted(value or {}) if isinstance(node, Map) and isinstance(value, dict) else []
    for name in names:
        sub = node.fields[name][0] if isinstance(node, Record) else node.value
        sub_value = (value or {}).get(name) if isinstance(value, dict) else None
        if isinstance(sub, List):
            n = len(sub_value) if isinstance(sub_value, list) else 0
            if isinstance(sub.item, (Record, Map)):
                out += ["%s%s[%d]." % (base, name, i) for i in range(n)] or [base + name + "["]
            else:
                out.append(base + name)
        elif isinstance(sub, (Record, Map)):
            out.append(base + name + ".")
        else:
            out.append(base + name)
    return out


def describe(node):
    """What a path holds, in words (for `set PATH ?`)."""
    from .schema import IPv4, Host, HostPort, Path

    if isinstance(node, Int):
        return "a whole number %s-%s" % (node.min, node.max)
    if isinstance(node, Bool):
        return "true or false"
    if isinstance(node, OneOf):
        return "one of " + ", ".join(str(c) for c in node.choices)
    if isinstance(node, IPv4):
        return "an IPv4 address with prefix length (like 192.0.2.1/24)" if node.prefix else "an IPv4 address (like 192.0.2.1)"
    if isinstance(node, HostPort):
        return "a host name or IPv4 address, :port optional (like 203.0.113.50:5080)"
    if isinstance(node, Host):
        return "a host name or an IP address"
    if isinstance(node, Path):
        return "an absolute path of plain names"
    if isinstance(node, Str):
        return "text" + (" that %s" % node.rule.replace("is not", "is") if node.rule else "")
    if isinstance(node, List):
        return "a list [a, b] (%d-%d entries) of: %s" % (node.min_len, node.max_len, describe(node.item))
    if isinstance(node, Record):
        keys = "a mapping with keys " + ", ".join(node.fields)
        if "ha1" in node.fields:  # a user: nobody types HA1s (newcomers looked for the password here)
            keys += "; set users.NAME.password PASSWORD makes the ha1 (only it is stored)"
        return keys
    if isinstance(node, Map):
        return "a mapping of names to: " + describe(node.value)
    return "a value"
