"""The status file the console reads ("show status", "show survival",
"show calls"): the core's plain `status(now)` plus what only the daemon
knows, with the core's monotonic milliseconds turned into wall-clock
seconds (a console in another process has no use for our monotonic
clock). On tmpfs: written atomically, not synced, so no flash wear.
"""

import logging
import os
import time

from ..compat import json
from .store import write_atomic

log = logging.getLogger("outpost")


def _offset(now):
    """Wall-clock ms minus the monotonic `now`: monotonic ms mean nothing
    to another process or after a reboot."""
    return int(time.time() * 1000) - now


def wall_clock(core, now):
    """The core's status with its times in wall-clock seconds."""
    offset = _offset(now)
    sv = core.get("survival")
    if sv is not None:
        sv["since"] = int((sv.pop("since_ms") + offset) / 1000)
        for p in sv["probes"]:
            p["at"] = int((p.pop("at_ms") + offset) / 1000)
    return core


def write(path, core, now, **daemon):
    """`core`: Proxy.status(now); `daemon`: the daemon's own fields
    (listeners, TCP connections, reloads ...), merged in."""
    status = wall_clock(core, now)
    status.update(daemon)
    status["pid"] = os.getpid()
    try:
        write_atomic(path, json.dumps(status).encode(), sync=False)
    except OSError as e:
        log.debug("status file: %s", e)


def saved(items, now):
    """Bindings as the flash keeps them: expiry as wall-clock ms."""
    offset = _offset(now)
    for d in items:
        d["expires_at"] += offset
    return {"version": 1, "bindings": items}


def loaded(data, now):
    """The inverse of `saved`, for whatever the file holds (a damaged
    entry is left for the core to drop)."""
    items = data.get("bindings", []) if isinstance(data, dict) else []
    offset = _offset(now)
    for d in items:
        if isinstance(d, dict) and isinstance(d.get("expires_at"), (int, float)):
            d["expires_at"] = int(d["expires_at"]) - offset
    return items
