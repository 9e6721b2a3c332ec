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

_STEP = re.compile(r"([A-Za-z0-9_.+\-]+?)(?:\[(\d+)\])?$")


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


class SiteConfig:
    def __init__(self, directory):
        self.dir = directory
        self.yaml_path = os.path.join(directory, YAML_NAME)
        self.json_path = os.path.join(directory, JSON_NAME)
        self.prev_path = os.path.join(directory, PREV_NAME)
        self._y = _yaml()
        self.committed_text = self._read(self.yaml_path)
        self.data = self._load(self.committed_text)
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

    def set(self, path, value_text):
        """Set a value given as text (parsed as a YAML scalar or flow value)."""
        steps = parse_path(path)
        if len(steps) == 3 and steps[0] == "users" and steps[2] == "password":
            return self._set_password(steps[1], value_text)
        value = self._y.load(value_text) if value_text.strip() else ""
        node = self.data
        from ruamel.yaml.comments import CommentedMap

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

    # -- checking and committing ---------------------------------------------------

    def _plain(self):
        return json.loads(json.dumps(self.data, default=str))

    def _validated(self):
        """(plain data, validated config); raises Invalid with every error,
        the cross-field ones (runtime.config.check) included."""
        plain = self._plain()
        return plain, configmod.check(validate(configmod.SCHEMA, plain))

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
        atomically. Raises Invalid (nothing written) with every error."""
        plain, cfg = self._validated()  # raises Invalid: nothing written
        text = self.text()
        changes = self.diff()
        if self.committed_text:
            write_atomic(self.prev_path, self.committed_text.encode())
        write_atomic(self.yaml_path, text.encode())
        write_atomic(self.json_path, json.dumps(plain, indent=1, sort_keys=True).encode())
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

    def replace(self, text):
        """A whole new candidate (the console's load); a YAML syntax error
        raises ValueError naming the line."""
        try:
            self.data = self._load(text)
        except Exception as e:  # ruamel's errors have no common base worth naming here
            raise ValueError("load: not YAML (%s)" % str(e).splitlines()[-1])

    def revert(self):
        """Drop uncommitted changes."""
        self.data = self._load(self.committed_text)

    def rollback(self):
        """Make the previously committed file the committed one again."""
        prev = self._read(self.prev_path)
        if not prev.strip():
            raise KeyError("rollback: no previous configuration")
        self.data = self._load(prev)
        return self.commit()
