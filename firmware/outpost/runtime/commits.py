"""The commit history of the site file, as Junos keeps it: rollback 0 is
what is committed now, 1 the commit before, ... up to HISTORY; and the
pending `commit confirmed`, rolled back by itself unless confirmed.

    history = Commits("/data/etc/outpost")
    history.record(text, "commit", comment)     # after a commit is written
    history.text(3)                              # rollback 3's site file
    history.entries()                            # [(n, when, how, comment)]
    history.arm(seq, deadline)                   # commit confirmed
    history.pending()                            # {"seq", "deadline", ...} or None

Rules of this file:
- The history sits beside the site file, in history/: one YAML file per
  commit, named by a sequence number that never repeats (a rotation renames
  nothing), and index.json, newest first. All 0600: each holds HA1s.
- Every change is under the site directory's lock (flock on history/lock):
  a console session and the confirmed-commit timer never commit at once.
- index.json and the pending marker are written atomically; a damaged or
  missing index is an empty history, never an error that blocks a commit.
"""

import fcntl
import json
import os
import time

from .store import write_atomic

HISTORY = 20  # Junos keeps 50; 10 at least was asked; 20 site files are ~100 KB of flash
DIR = "history"
SECRET_MODE = 0o600
MAX_COMMENT = 200


class Lock:
    """The site directory's commit lock (flock: released if the holder dies)."""

    def __init__(self, site_dir):
        self.path = os.path.join(site_dir, DIR, "lock")

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), SECRET_MODE)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing releases the flock


class Commits:
    def __init__(self, site_dir):
        self.dir = os.path.join(site_dir, DIR)
        self.index_path = os.path.join(self.dir, "index.json")
        self.pending_path = os.path.join(self.dir, "confirm.json")

    # -- the index ------------------------------------------------------------------

    def _index(self):
        try:
            with open(self.index_path) as f:
                items = json.load(f)
        except (OSError, ValueError):
            return []
        ok = [e for e in items if isinstance(e, dict) and isinstance(e.get("seq"), int) and isinstance(e.get("at"), (int, float))]
        return ok if len(ok) == len(items) else [e for e in ok if os.path.exists(self._file(e["seq"]))]

    def _file(self, seq):
        return os.path.join(self.dir, "%08d.yaml" % seq)

    def record(self, text, how="commit", comment="", at=None):
        """Add a committed site file as rollback 0; returns its sequence
        number. The caller holds the Lock."""
        index = self._index()
        seq = (max(e["seq"] for e in index) + 1) if index else 1
        write_atomic(self._file(seq), text.encode(), mode=SECRET_MODE)
        entry = {"seq": seq, "at": int(at if at is not None else time.time()), "how": how, "comment": comment[:MAX_COMMENT]}
        index.insert(0, entry)
        for old in index[HISTORY:]:
            try:
                os.unlink(self._file(old["seq"]))
            except OSError:
                pass
        write_atomic(self.index_path, json.dumps(index[:HISTORY], indent=1).encode(), mode=SECRET_MODE)
        return seq

    def seed(self, committed_text, previous_text, mtime):
        """Start a history for a router upgraded from a release that kept one
        previous file (outpost.yaml.prev): that file, then the committed one."""
        if self._index() or not committed_text.strip():
            return
        if previous_text.strip():
            self.record(previous_text, "before history", "", mtime - 1)
        self.record(committed_text, "before history", "", mtime)

    def entries(self):
        """[(n, at, how, comment, seq)], rollback 0 first."""
        return [(n, e["at"], e.get("how", ""), e.get("comment", ""), e["seq"]) for n, e in enumerate(self._index())]

    def text(self, n):
        """The site file of rollback n; KeyError naming the range."""
        index = self._index()
        if not 0 <= n < len(index):
            raise KeyError("rollback %d: the history holds 0-%d" % (n, len(index) - 1) if index else "rollback: no commit history yet")
        try:
            with open(self._file(index[n]["seq"]), encoding="utf-8") as f:
                return f.read()
        except OSError as e:
            raise KeyError("rollback %d: %s" % (n, e.strerror))

    def seq_of(self, n):
        index = self._index()
        return index[n]["seq"] if 0 <= n < len(index) else None

    # -- commit confirmed ---------------------------------------------------------------

    def arm(self, seq, deadline, minutes):
        write_atomic(self.pending_path, json.dumps({"seq": seq, "deadline": int(deadline), "minutes": minutes}).encode(),
                     mode=SECRET_MODE)

    def pending(self):
        try:
            with open(self.pending_path) as f:
                p = json.load(f)
        except (OSError, ValueError):
            return None
        ok = isinstance(p, dict) and isinstance(p.get("seq"), int) and isinstance(p.get("deadline"), int)
        return p if ok else None

    def disarm(self):
        try:
            os.unlink(self.pending_path)
            return True
        except FileNotFoundError:
            return False

    def before(self, seq):
        """The site file committed just before commit `seq` (what a commit
        confirmed that was never confirmed goes back to), or None."""
        index = self._index()
        for i, e in enumerate(index):
            if e["seq"] == seq and i + 1 < len(index):
                return self.text(i + 1)
        return None


# Where a committed change takes effect (the daemon's reload says the same:
# runtime/daemon.py Daemon.reload). Longest prefix wins.
REBOOT = ("interfaces",)  # S10network addresses the NICs at boot
RESTART = ("sip.listen", "state", "media.port_min", "media.port_max", "media.max_calls", "media.max_call_s", "log", "daemon")


def changed_paths(old, new, prefix=""):
    """Leaf paths whose value differs (lists compared whole)."""
    if isinstance(old, dict) or isinstance(new, dict):
        if not isinstance(old, dict):
            old = {} if old is None else {"": old}
        if not isinstance(new, dict):
            new = {} if new is None else {"": new}
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += changed_paths(old.get(key), new.get(key), "%s.%s" % (prefix, key) if prefix else str(key))
        return out
    return [] if old == new else [prefix or "config"]


def leaves(data, prefix=""):
    """Every leaf path of a plain tree (lists are leaves)."""
    if isinstance(data, dict):
        out = set()
        for key, value in data.items():
            out |= leaves(value, "%s.%s" % (prefix, key) if prefix else str(key))
        return out
    return {prefix} if prefix else set()


def effects(old, new):
    """(now, after a restart, after a reboot): the changed paths by when they
    take effect."""
    now, restart, reboot = [], [], []
    for path in changed_paths(old, new):
        if path.startswith(REBOOT):
            reboot.append(path)
        elif any(path == p or path.startswith(p + ".") for p in RESTART):
            restart.append(path)
        else:
            now.append(path)
    return now, restart, reboot
