"""CPU time and PSS of a process and all its descendants, from /proc.

`tree()` walks all of /proc: take it once per measurement, then read the
pids it returned (sampling must not cost the machine the load runs on)."""

import os


def tree(pid):
    """pid and every descendant."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def cpu_seconds(pids):
    """User + system CPU seconds of `pids` (a pid or a list)."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for p in pids if isinstance(pids, list) else [pids]:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / tick


def pss_mb(pids):
    total = 0
    for p in pids if isinstance(pids, list) else [pids]:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024.0
