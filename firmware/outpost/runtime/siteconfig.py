"""The site file: YAML that people and the console edit, compiled into the
JSON the daemon reads.

    site = SiteConfig("/data/etc/outpost")   # outpost.yaml, outpost.json, outpost.yaml.prev
    site.set("sip.upstream.port", "5080")    # a candidate change, nothing written
    site.diff()                              # what commit would change
    site.commit()                            # validate; write YAML, JSON, .prev atomically
    site.rollback()                          # the previous committed file back

Edits go through ruamel.yaml's round-trip mode, so comments, key order and
formatting survive. ruamel.yaml is loaded here only: the daemon reads the
compiled JSON. Validation is the daemon's own schema (runtime/config.py),
every error at once, naming path, value and rule; a failed commit writes
nothing. A password given to `set` is stored as HA1s, never as itself.

Rules of this file (the serial console's trust boundary, see
THREAT-console.md):
- The console password hash changes only through `set_console_password`.
  Every other way a candidate can come about (set, delete, replace, a
  rollback to an older file) ends in `commit`, which puts the committed
  hash back first: nothing typed, pasted or loaded can remove or replace it.
- The site files hold the console hash and users' HA1s: written 0600.
- A candidate from outside (load, set) is plain data: no anchors, aliases
  or merge keys (a billion-laughs file expands to gigabytes when compiled
  to JSON), at most MAX_DEPTH levels and MAX_NODES values.
"""

import difflib
import io
import json
import os
import re

from ..core import digest
from . import config as configmod
from .schema import Invalid, validate
from .store import write_atomic

YAML_NAME = "outpost.yaml"
JSON_NAME = "outpost.json"
PREV_NAME = "outpost.yaml.prev"

# \Z, not $: "password_hash\n" must not read as "password_hash".
_STEP = re.compile(r"([A-Za-z0-9_+\-]+)(?:\[(\d+)\])?\Z")
SECRET_MODE = 0o600  # the YAML, JSON and previous file hold HA1s and the console hash
# The console subtree's fields anyone logged in may edit; the hash is not one.
CONSOLE_EDITABLE = ("idle_timeout_s",)
PASSWORD_RULE = "set the console password at first boot or with the password command"
# A branch's site file has a few hundred values, five levels deep.
MAX_DEPTH = 32
MAX_NODES = 200000


def _yaml():
    from ruamel.yaml import YAML

    y = YAML()  # round-trip
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    return y


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
            todo.extend((key, depth + 1) for key in node)



class SiteConfig:
    def __init__(self, directory):
        self.dir = directory
        self.yaml_path = os.path.join(directory, YAML_NAME)
        self.json_path = os.path.join(directory, JSON_NAME)
        self.prev_path = os.path.join(directory, PREV_NAME)
        self._y = _yaml()
        self.committed_text = self._read(self.yaml_path)
        self.data = self._load(self.committed_text)
        # What every commit keeps, whatever the candidate says (rules above).
        self.password_hash = password_hash_of(self.data)
        self._clean = self.text()  # the committed file as ruamel writes it back

    # -- reading -------------------------------------------------------------------

    @staticmethod
    def _read(path):
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except OSError:
            return ""

    def _load(self, text):
        data = self._y.load(text) if text.strip() else None
        if data is None:
            from ruamel.yaml.comments import CommentedMap

            data = CommentedMap()
        return data

    def text(self):
        buf = io.StringIO()
        self._y.dump(self.data, buf)
        return buf.getvalue()

    @property
    def dirty(self):
        """Uncommitted changes? (The console's prompt shows it.)"""
        return self.text() != self._clean

    def get(self, path):
        node = self.data
        for step in parse_path(path):
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                raise KeyError("%s: not set" % path)
        return node

    # -- editing -------------------------------------------------------------------

    def _value(self, path, value_text):
        """A value typed after `set`, parsed as a YAML scalar or flow value."""
        if not value_text.strip():
            return ""
        try:
            value = self._y.load(value_text)
        except Exception as e:  # ruamel's errors share no useful base; RecursionError, int limits
            raise ValueError("%s: not a YAML value (%s)" % (path, (str(e).strip().splitlines() or [type(e).__name__])[-1]))
        check_plain(value, path)
        return value

    def set(self, path, value_text):
        """Set a value given as text (parsed as a YAML scalar or flow value)."""
        steps = parse_path(path)
        if reaches_password(steps):
            raise KeyError("%s: %s" % (path, PASSWORD_RULE))
        if len(steps) == 3 and steps[0] == "users" and steps[2] == "password":
            return self._set_password(steps[1], value_text)
        self._put(path, steps, self._value(path, value_text))

    def _put(self, path, steps, value):
        from ruamel.yaml.comments import CommentedMap

        node = self.data
        for i in range(len(steps) - 1):
            step, nxt = steps[i], steps[i + 1]
            if isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    raise KeyError("%s: no entry %d" % (path, step))
                node = node[step]
                continue
            if not isinstance(node, dict):
                raise KeyError("%s: %s is not a mapping" % (path, step))
            if step not in node or node[step] is None:
                node[step] = [] if isinstance(nxt, int) else CommentedMap()
            node = node[step]
        last = steps[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last > len(node):
                raise KeyError("%s: no entry %d" % (path, last))
            if last == len(node):
                node.append(value)
            else:
                node[last] = value
        else:
            if not isinstance(node, dict):
                raise KeyError("%s: parent is not a mapping" % path)
            node[last] = value

    def _set_password(self, user, password):
        plain = self._plain()
        realm = (plain.get("auth") or {}).get("realm") or (plain.get("sip") or {}).get("domain")
        if not realm:
            raise KeyError("users.%s.password: set sip.domain first (the digest realm)" % user)
        self.set("users.%s.ha1.SHA-256" % user, json.dumps(digest.ha1("SHA-256", user, realm, password)))
        self.set("users.%s.ha1.MD5" % user, json.dumps(digest.ha1("MD5", user, realm, password)))

    def delete(self, path):
        steps = parse_path(path)
        if reaches_password(steps):
            raise KeyError("%s: %s" % (path, PASSWORD_RULE))
        node = self.data
        for step in steps[:-1]:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                raise KeyError("%s: not set" % path)
        try:
            del node[steps[-1]]
        except (KeyError, IndexError, TypeError):
            raise KeyError("%s: not set" % path)

    def _pin_password(self):
        """The committed hash back into the candidate, whatever put it there
        or took it away (see the rules at the top)."""
        from ruamel.yaml.comments import CommentedMap

        if not isinstance(self.data, dict):
            return  # not a mapping: validation refuses the whole candidate
        console = self.data.get("console")
        if self.password_hash is None:
            if isinstance(console, dict):
                console.pop("password_hash", None)
            return
        if not isinstance(console, dict):
            self.data["console"] = console = CommentedMap()
        if console.get("password_hash") != self.password_hash:
            console["password_hash"] = self.password_hash

    # -- checking and committing ---------------------------------------------------

    def _plain(self):
        return json.loads(json.dumps(self.data, default=str))

    def _validated(self):
        """(plain data, validated config); raises Invalid with every error,
        the cross-field ones (runtime.config.check) included."""
        plain = self._plain()
        cfg = configmod.check(validate(configmod.SCHEMA, plain))
        self._check_paths(cfg)
        return plain, cfg

    def _check_paths(self, cfg):
        """The daemon writes state.status_file as root every few seconds: it
        may not name a site file (a status file written over outpost.yaml
        would take the console password with it)."""
        path = os.path.realpath(cfg["state"]["status_file"])
        site = [os.path.realpath(p) for p in
                (self.yaml_path, self.json_path, self.prev_path, os.path.join(self.dir, "interfaces"))]
        if path in site:
            raise Invalid(["state.status_file: %r is a site file" % cfg["state"]["status_file"]])

    def errors(self):
        try:
            self._validated()
            return []
        except Invalid as e:
            return e.errors

    def diff(self):
        return "".join(difflib.unified_diff(self._clean.splitlines(True), self.text().splitlines(True), "committed", "candidate"))

    def commit(self):
        """Validate, then write the previous file, the YAML and the JSON, each
        atomically and 0600. Raises Invalid (nothing written) with every error."""
        self._pin_password()
        check_plain(self.data, "config")
        plain, cfg = self._validated()  # raises Invalid: nothing written
        text = self.text()
        changes = self.diff()
        if self.committed_text:
            write_atomic(self.prev_path, self.committed_text.encode(), mode=SECRET_MODE)
        write_atomic(self.yaml_path, text.encode(), mode=SECRET_MODE)
        write_atomic(self.json_path, json.dumps(plain, indent=1, sort_keys=True).encode(), mode=SECRET_MODE)
        ifaces = cfg.get("interfaces") or {}
        if any(ifaces.values()):
            # S10network reads this at boot (busybox sh parses no JSON).
            lines = ["# written by commit from outpost.yaml: name mac method address"]
            for name in sorted(ifaces):
                i = ifaces[name]
                if i:
                    lines.append("%s %s %s %s" % (name, i["mac"], i["method"], i["address"] or ""))
            write_atomic(os.path.join(self.dir, "interfaces"), ("\n".join(lines) + "\n").encode())
        self.committed_text = self._clean = text
        return changes, cfg

    def set_console_password(self, new_hash):
        """The one way to change the console password (first boot, and the
        console's `password` command, which checked the current one): the
        committed file plus the new hash is committed on its own; the
        candidate's other uncommitted changes stay uncommitted."""
        candidate = self.data
        self.data = self._load(self.committed_text)
        try:
            old, self.password_hash = self.password_hash, new_hash
            try:
                self.commit()
            except Exception:
                self.password_hash = old
                raise
        finally:
            self.data = candidate
        self._pin_password()

    def replace(self, text):
        """A whole new candidate (the console's load); a YAML syntax error
        raises ValueError naming the line. Returns notes for the operator:
        a console password in the file is not taken."""
        try:
            data = self._load(text)
        except Exception as e:  # ruamel's errors have no common base worth naming here
            raise ValueError("load: not YAML (%s)" % (str(e).strip().splitlines() or [type(e).__name__])[-1])
        check_plain(data, "load")
        theirs = password_hash_of(data)
        self.data = data
        self._pin_password()
        if theirs and theirs != self.password_hash:
            return ["note: the console.password_hash in the file is ignored; the router keeps its own (change it with the password command)"]
        return []

    def revert(self):
        """Drop uncommitted changes."""
        self.data = self._load(self.committed_text)

    def rollback(self):
        """Make the previously committed file the committed one again; the
        console password stays the current one (an older file may have none)."""
        prev = self._read(self.prev_path)
        if not prev.strip():
            raise KeyError("rollback: no previous configuration")
        self.data = self._load(prev)
        return self.commit()
