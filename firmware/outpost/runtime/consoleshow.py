"""What the console reads from the running system for `show`: the daemon's
liveness (from the process, not a file it may have left behind), the
supervisor's record of exits, interfaces, the commit history, and the
configuration in `set` form.

Rules of this file:
- Liveness is /proc/PID: a pidfile or status file outlives a killed
  daemon, and a reused pid is not ours unless its command line says
  `outpost run`.
- Everything shown passes through consoleviews.field (the console's say()
  escapes each line once more).
"""

import json
import os
import time

from .consoleviews import ErrorLine, field

# Written by the supervisor (package/outpost/S50outpost): one line per exit,
# "EPOCH STATUS" (STATUS 128+N: killed by signal N), and the last run's stderr.
EXITS = "daemon.exits"
STDERR = "daemon.err"


def daemon(pidfile, run_dir):
    """{"pid", "alive", "exits": [(epoch, status)], "reason"}."""
    pid = _read_int(pidfile)
    alive = False
    if pid:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                words = f.read().split(b"\0")
            alive = b"outpost" in words and b"run" in words
        except OSError:
            alive = False
    exits = []
    try:
        with open(os.path.join(run_dir, EXITS)) as f:
            for line in f.read().splitlines()[-50:]:
                parts = line.split()
                if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                    exits.append((int(parts[0]), int(parts[1])))
    except OSError:
        pass
    reason = ""
    try:
        with open(os.path.join(run_dir, STDERR), errors="replace") as f:
            lines = [ln for ln in f.read()[-4096:].splitlines() if ln.strip()]
        reason = lines[-1] if lines else ""
    except OSError:
        pass
    return {"pid": pid, "alive": alive, "exits": exits, "reason": reason}


def _read_int(path):
    try:
        with open(path) as f:
            text = f.read(32).strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def exit_text(status):
    if status > 128:
        return "killed by signal %d" % (status - 128)
    return "exited with status %d" % status


def daemon_lines(d, st, now):
    """The `show status` lines about the daemon process."""
    lines = []
    if d["alive"]:
        started = st.get("started") if isinstance(st, dict) and st.get("pid") == d["pid"] else None
        up = "up %s" % age(now - started) if isinstance(started, (int, float)) else "starting"
        lines.append("daemon          running, pid %d, %s" % (d["pid"], up))
    else:
        lines.append("daemon          not running%s" % (" (the supervisor restarts it)" if d["exits"] else ""))
    recent = [e for e in d["exits"] if now - e[0] < 600]
    if d["exits"]:
        t, status = d["exits"][-1]
        lines.append("last exit       %s, %s ago; %d exit(s) in the last 10 minutes" % (exit_text(status), age(now - t), len(recent)))
        if d["reason"]:
            lines.append("last error      %s" % field(d["reason"], 200))
    return lines


def age(seconds):
    s = max(0, int(seconds))
    return "%dd %02d:%02d:%02d" % (s // 86400, s % 86400 // 3600, s % 3600 // 60, s % 60) if s >= 86400 else \
        "%02d:%02d:%02d" % (s // 3600, s % 3600 // 60, s % 60)


def commits(entries, pending, now):
    """`show system commit`."""
    if not entries:
        return ["no commit history yet (the first commit starts it)"]
    lines = []
    for n, at, how, comment, seq in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
        note = ""
        if pending and pending.get("seq") == seq:
            note = "  [commit confirmed: rolls back in %s unless committed]" % age(pending["deadline"] - now)
        lines.append("%-3d %s  %-14s %s%s" % (n, when, field(how, 14), field(comment, 80), note))
    return lines


def display_set(plain, prefix=""):
    """The configuration as `set` commands (as `uci show` and Junos's
    `display set`): one leaf per line, lists whole."""
    out = []
    if isinstance(plain, dict):
        for key, value in plain.items():
            if prefix == "console" and key == "password_hash":
                continue  # set refuses it: the output stays something one can paste back
            out += display_set(value, "%s.%s" % (prefix, key) if prefix else str(key))
        return out
    return ["set %s %s" % (prefix, _set_value(plain))]


def _set_value(value):
    if isinstance(value, list):
        if all(isinstance(v, (str, int, bool)) for v in value):
            return "[%s]" % ", ".join(_set_value(v) for v in value)
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        plain = value and all(c.isalnum() or c in "._-/:@+*#[]" for c in value) and value not in ("true", "false")
        return value if plain else json.dumps(value)
    return json.dumps(value)


def status_file(plain):
    """(what the daemon last wrote in its status file or None, the path)."""
    from .store import read_json

    path = (plain.get("state") or {}).get("status_file", "/run/outpost/status.json")
    st = read_json(path)
    return (st if isinstance(st, dict) else None), path


def pinholes():
    import subprocess

    from .consoleviews import pinholes as view

    try:
        out = subprocess.run(["nft", "-j", "list", "map", "inet", "outpost", "media_dnat"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return view(out)  # None: unreadable


def display_set_at(plain, path):
    from .sitetree import parse_path

    data = plain
    for step in ([] if path is None else parse_path(path)):
        data = data[step] if isinstance(data, dict) and step in data or isinstance(data, list) and isinstance(step, int) and step < len(data) else None
    return display_set(data, path or "") if data is not None else None


def value_text(value):
    plain = json.loads(json.dumps(value, default=str))
    return json.dumps(plain, indent=2) if isinstance(plain, dict) else json.dumps(plain)


def interface_list(run=None):
    """[(name, mac, link state, [IPv4 address/prefix])] of every NIC but lo."""
    import subprocess

    run = run or (lambda cmd: subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout)
    try:
        out = run(["ip", "-o", "-4", "addr", "show"])
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    addrs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "inet":
            addrs.setdefault(parts[1], []).append(parts[3])
    try:
        names = sorted(n for n in os.listdir("/sys/class/net") if n != "lo")
    except OSError:
        names = []
    return [(n, _sys(os.path.join("/sys/class/net", n), "address"), _sys(os.path.join("/sys/class/net", n), "operstate"),
             addrs.get(n, [])) for n in names]


def interfaces(run=None):
    """`show interfaces`: lan0 and wan0 (and any other NIC)."""
    lines = ["%-8s %-18s %-6s %s" % ("NAME", "MAC", "LINK", "ADDRESSES")]
    for name, mac, state, addrs in interface_list(run):
        lines.append("%-8s %-18s %-6s %s" % (field(name, 8), field(mac, 18), field(state, 6), ", ".join(field(a) for a in addrs) or "-"))
    return lines


def interface_summary(run=None):
    """One `show status` line: which address is on which interface."""
    items = ["%s %s (%s)" % (field(n, 16), ", ".join(field(a) for a in addrs) or "no address", field(state, 8))
             for n, _, state, addrs in interface_list(run)]
    return "interfaces      %s" % ("; ".join(items) or "none")


def _sys(base, name):
    try:
        with open(os.path.join(base, name)) as f:
            return f.read().strip()
    except OSError:
        return "-"


def commit_report(r, reloaded, error=None):
    """What a commit did, by when each change takes effect."""
    if error:
        lines = ["commit complete, but the daemon refused to reload it and runs the previous configuration",
                 ErrorLine("error: reload: %s" % error)]
    else:
        lines = ["commit complete" + (": daemon reloaded" if reloaded else " (daemon not running)")]
    if r.cancelled_rollback:
        lines.append("commit confirmed: the automatic rollback is cancelled")
    if r.restart:
        lines.append("needs restart (drops calls in progress): %s" % ", ".join(r.restart))
    if r.reboot:
        lines.append("needs reboot: %s" % ", ".join(r.reboot))
    return lines
