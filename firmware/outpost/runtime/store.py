"""Durable state on flash: atomic writes at a bounded rate.

`write_atomic` is temp file + fsync + rename + fsync of the directory, so a
power cut leaves the old file or the new one, never half of either.
`Snapshotter` coalesces changes: the first change schedules one write after
`delay_ms`, later ones within that window ride along, and writes are never
closer than `delay_ms` apart, which bounds flash wear however busy the
registrar is.
"""

import os

from ..compat import json


def write_atomic(path, data, sync=True):
    """sync=False: still atomic (rename), not durable: for files on tmpfs."""
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        if sync:
            os.fsync(f.fileno())
    os.rename(tmp, path)
    if not sync:
        return
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
