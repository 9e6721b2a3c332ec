"""The site file: YAML that people and the console edit, compiled into the
JSON the daemon reads.

    site = SiteConfig("/data/etc/outpost")   # outpost.yaml, outpost.json, history/
    site.set("sip.upstream.port", "5080")    # a candidate change, nothing written
    site.diff()                              # what commit would change
    site.commit(comment="new ITSP port")     # validate; write YAML, JSON, history atomically
    site.rollback(3)                         # rollback 3 as the candidate (commit to apply)

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
import time

from ..core import digest
from . import config as configmod
from . import configvalues, sitefiles
from .commits import Commits, Lock, effects, leaves
from .schema import Invalid
from .sitetree import (MIN_SIP_PASSWORD, PASSWORD_RULE, check_plain, parse_path, password_hash_of, passwords_to_ha1,
                       reaches_password, yaml_problem)
from .store import write_atomic

YAML_NAME = "outpost.yaml"
JSON_NAME = "outpost.json"
PREV_NAME = "outpost.yaml.prev"

SECRET_MODE = 0o600  # the YAML, JSON and history hold HA1s and the console hash


def _yaml():
    from ruamel.yaml import YAML

    y = YAML()  # round-trip
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    return y


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
        self.history = Commits(directory)

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
        return self._dump(self.data)

    def _dump(self, data):
        buf = io.StringIO()
        self._y.dump(data, buf)
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

    def effective(self, path):
        """(the value in force at path, whether it is the schema's default):
        what the daemon would use, where the file says nothing."""
        try:
            return self.get(path), False
        except KeyError:
            configvalues.node_at(parse_path(path))  # an unknown path says so, with the nearest name
        cfg, _ = configmod.check_all(self._plain())
        node = cfg
        for step in parse_path(path):
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                raise KeyError("%s: not set" % path)
        if node is None:
            raise KeyError("%s: not set (no default)" % path)
        return node, True

    # -- editing -------------------------------------------------------------------

    def set(self, path, value_text):
        """Set a value given as text (parsed as a YAML scalar or flow value)."""
        steps = parse_path(path)
        if reaches_password(steps):
            raise KeyError("%s: %s" % (path, PASSWORD_RULE))
        if len(steps) == 3 and steps[0] == "users" and steps[2] == "password":
            return self._set_password(steps[1], value_text)
        value = configvalues.typed(configvalues.node_at(steps), value_text, path, self._y.load)
        check_plain(value, path)
        self._put(path, steps, value)

    def add(self, path, value_text):
        """One more entry at the end of a list (`set PATH add VALUE`)."""
        steps = parse_path(path)
        node = configvalues.node_at(steps)
        if reaches_password(steps) or not hasattr(node, "item"):
            raise KeyError("%s: is not a list (add appends to a list)" % path)
        try:
            current = self.get(path)
        except KeyError:
            current = []
        n = len(current) if isinstance(current, list) else 0
        value = configvalues.typed(node.item, value_text, "%s[%d]" % (path, n), self._y.load)
        check_plain(value, path)
        if n == 0:
            self._put(path, steps, [])
        if len(self.get(path)) >= node.max_len:
            raise Invalid(["%s: holds at most %d entries" % (path, node.max_len)])
        self._put(path, steps + [n], value)

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
        if len(password) < MIN_SIP_PASSWORD:
            raise Invalid(["users.%s.password: too short (at least %d characters; a phone's password is guessed online)" % (user, MIN_SIP_PASSWORD)])
        self.set("users.%s.ha1.SHA-256" % user, digest.ha1("SHA-256", user, realm, password))
        self.set("users.%s.ha1.MD5" % user, digest.ha1("MD5", user, realm, password))

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
        cfg, errors = configmod.check_all(plain)
        if errors:
            raise Invalid(errors)
        sitefiles.check_status_file(cfg, self.dir, self.history.dir)
        sitefiles.check_realm(self._committed_plain(), plain, cfg)
        return plain, cfg

    def errors(self):
        try:
            self._validated()
            return []
        except Invalid as e:
            return e.errors

    def diff(self):
        return "".join(difflib.unified_diff(self._clean.splitlines(True), self.text().splitlines(True), "committed", "candidate"))

    def diff_against(self, n):
        """What the candidate changes against rollback n (`show | compare rollback N`)."""
        old = self._dump(self._load(self._history_text(n)))
        return "".join(difflib.unified_diff(old.splitlines(True), self.text().splitlines(True), "rollback %d" % n, "candidate"))

    def refresh(self):
        """The committed file changed under this session (the confirmed-commit
        timer rolled back, or another session committed): a clean candidate
        follows it (True); one with changes is kept, and commit refuses it
        until the admin has looked (diff)."""
        on_disk = self._read(self.yaml_path)
        if on_disk == self.committed_text or self.dirty:
            return False
        self.committed_text = on_disk
        self.data = self._load(on_disk)
        self._clean = self.text()
        self.password_hash = password_hash_of(self.data) or self.password_hash
        return True

    def check(self):
        """`commit check`: validate as commit would; raises Invalid, writes nothing."""
        self._pin_password()
        check_plain(self.data, "config")
        return self._validated()[1]

    def commit(self, comment="", confirmed_minutes=None, how="commit", only_if_pending=None):
        """Validate, then write the YAML, the JSON and the history, each
        atomically and 0600. Raises Invalid (nothing written) with every
        error. Returns a Committed; a candidate equal to the committed file
        writes nothing (and confirms a pending commit confirmed)."""
        cfg = self.check()
        text = self.text()
        with Lock(self.dir):
            pending = self.history.pending()
            if only_if_pending is not None and (pending or {}).get("seq") != only_if_pending:
                return Committed("confirmed-meanwhile", "", cfg)  # the timer's: a commit came first
            on_disk = self._read(self.yaml_path)
            if on_disk != self.committed_text:
                self.committed_text, self._clean = on_disk, self._dump(self._load(on_disk))
                raise Invalid(["commit: the committed configuration changed since this session read it (an automatic "
                               "rollback, or another session); nothing was written: see diff, then commit again"])
            if text == self._clean and self.committed_text and os.path.exists(self.json_path) and not confirmed_minutes:
                return Committed("confirmed" if self.history.disarm() else "unchanged", "", cfg)
            return self._write(text, cfg, comment, confirmed_minutes, how, pending)

    def _write(self, text, cfg, comment, confirmed_minutes, how, pending):
        # Where changes take effect, judged on the values in force (a default
        # written out, or one left out, changes nothing).
        old = configmod.check_all(self._committed_plain())[0] if self.committed_text.strip() else {}
        changes = self.diff()
        self.history.seed(self.committed_text, self._read(self.prev_path), _mtime(self.yaml_path))
        plain = self._plain()
        write_atomic(self.yaml_path, text.encode(), mode=SECRET_MODE)
        write_atomic(self.json_path, json.dumps(plain, indent=1, sort_keys=True).encode(), mode=SECRET_MODE)
        sitefiles.write_interfaces(self.dir, cfg)
        seq = self.history.record(text, how, comment)
        self.committed_text = self._clean = text
        cancelled = False
        if confirmed_minutes:
            self.history.arm(seq, time.time() + confirmed_minutes * 60, confirmed_minutes)
        elif how != "password":  # a password change is no confirmation: the timer keeps running
            cancelled = self.history.disarm()
        return Committed("committed", changes, cfg, seq, effects(old if isinstance(old, dict) else {}, cfg), cancelled)

    def _committed_plain(self):
        if not self.committed_text.strip():
            return {}
        return json.loads(json.dumps(self._load(self.committed_text), default=str))

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
                self.commit(comment="console password changed", how="password")
            except Exception:
                self.password_hash = old
                raise
        finally:
            self.data = candidate
        self._pin_password()

    def replace(self, text):
        """A whole new candidate (the console's load). A YAML syntax error
        raises ValueError naming line, column and problem; users' passwords
        in the file become HA1s. Returns notes for the operator: what the
        file leaves out that the committed one has, a console password in
        the file not taken, passwords stored as HA1s."""
        try:
            data = self._load(text)
        except Exception as e:  # ruamel's errors have no common base worth naming here
            raise ValueError("load: not YAML: %s" % yaml_problem(e))
        check_plain(data, "load")
        notes = passwords_to_ha1(data)
        theirs = password_hash_of(data)
        old = self._committed_plain()
        self.data = data
        self._pin_password()
        if theirs and theirs != self.password_hash:
            notes.append("note: the console.password_hash in the file is ignored; the router keeps its own (change it with the password command)")
        gone = sorted(leaves(old) - leaves(self._plain()))
        gone = [p for p in gone if not p.startswith("console.password_hash")]
        if gone:
            notes.append("load: the file leaves out %d committed value(s), removed at commit: %s" % (len(gone), ", ".join(gone)))
        notes.append("load: candidate replaced (%d lines); see diff, then commit" % len(text.splitlines()))
        return notes

    def revert(self):
        """Drop uncommitted changes."""
        self.data = self._load(self.committed_text)

    def _history_text(self, n):
        with Lock(self.dir):
            self.history.seed(self.committed_text, self._read(self.prev_path), _mtime(self.yaml_path))
        return self.history.text(n)

    def rollback(self, n=1):
        """Rollback n (0: what is committed now) as the candidate, as Junos
        does: `commit` applies it. The console password stays the current
        one (an older file may have none)."""
        self.data = self._load(self._history_text(n))
        self._pin_password()


class Committed:
    """What a commit did: state is committed, unchanged (nothing to write),
    confirmed (a pending commit confirmed was confirmed by a no-op commit)
    or confirmed-meanwhile (the automatic rollback found nothing to do)."""

    def __init__(self, state, changes, cfg, seq=None, effects=((), (), ()), cancelled_rollback=False):
        self.state, self.changes, self.cfg, self.seq = state, changes, cfg, seq
        self.now, self.restart, self.reboot = effects
        self.cancelled_rollback = cancelled_rollback


def _mtime(path):
    try:
        return int(os.stat(path).st_mtime)
    except OSError:
        return int(time.time())
