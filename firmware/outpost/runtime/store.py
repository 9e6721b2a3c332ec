"""Durable state on flash: atomic writes at a bounded rate.

`write_atomic` is temp file + fsync + rename + fsync of the directory, so a
power cut leaves the old file or the new one, never half of either. Files
holding secrets pass mode=0o600: the temp file is created with that mode
(O_CREAT|O_EXCL), so there is no moment when anyone else may read it.
`Snapshotter` coalesces changes: the first change schedules one write after
`delay_ms`, later ones within that window ride along, and writes are never
closer than `delay_ms` apart, which bounds flash wear however busy the
registrar is.
"""

import os

from ..compat import json


def write_atomic(path, data, sync=True, mode=0o666):
    """sync=False: still atomic (rename), not durable: for files on tmpfs.
    mode: as for os.open (the umask still applies); 0o600 for secrets."""
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = _create_temp(path, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    if not sync:
        return
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_temp(path, mode):
    """A new file beside `path`, created with `mode` from the start. O_EXCL:
    never opens (or follows a symlink to) a file someone left there; a name
    left over from a crash is tried again with another suffix."""
    for _ in range(8):
        tmp = "%s.tmp.%d.%s" % (path, os.getpid(), os.urandom(4).hex())
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError("%s: no free temporary name" % path)


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def read_json(path, default=None):
    """The file's JSON, or `default` when it is missing or damaged."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return default


class Snapshotter:
    def __init__(self, path, produce, delay_ms=1000):
        self.path = path
        self.produce = produce  # () -> JSON-able object
        self.delay_ms = delay_ms
        self.due = None  # ms when the pending write is due
        self.last = None
        self.writes = 0

    def changed(self, now):
        if self.due is None:
            earliest = now + self.delay_ms
            if self.last is not None:
                earliest = max(earliest, self.last + self.delay_ms)
            self.due = earliest

    def poll(self, now):
        if self.due is not None and now >= self.due:
            self.flush(now)

    def flush(self, now):
        self.due = None
        self.last = now
        self.writes += 1
        write_atomic(self.path, json.dumps(self.produce()).encode())
