"""The console's side of the daemon's supervisor (package/outpost/S50outpost
`supervise`): `restart`, and the confirmed-commit timer's process.

The supervisor is a busybox sh loop: it starts `outpost run`, records each
exit (consoleshow.EXITS, the last stderr in consoleshow.STDERR), logs it
and starts the daemon again after 1, 2, 4 ... 60 s (back to 1 s after a
minute up). A restart the console asked for (RESTART_FLAG) is immediate.
"""

import os
import signal
import subprocess
import time

from . import consoleshow

RESTART_FLAG = "restart-requested"
RELOAD_WAIT_S = 5  # the daemon answers a SIGHUP in milliseconds; a loaded router in well under a second
INIT_SCRIPT = "/etc/init.d/S50outpost"


def supervisor_pidfile(pidfile):
    return pidfile[:-4] + "-supervise.pid" if pidfile.endswith(".pid") else pidfile + "-supervise"


def _alive(pidfile):
    return signal_daemon(pidfile, 0)  # signal 0: only whether the pid exists


def signal_daemon(pidfile, sig=signal.SIGHUP):
    """Signal the pid a pidfile names; False when there is none to signal."""
    try:
        with open(pidfile) as f:
            os.kill(int(f.read(32).strip()), sig)
        return True
    except (OSError, ValueError):
        return False


def reload(pidfile, status, sleep=time.sleep):
    """SIGHUP, then the daemon's own word on it (its status file counts
    reloads and keeps the last one's error): (reloaded, error or None)."""
    before = (status() or {}).get("reloads")
    if not signal_daemon(pidfile):
        return False, None
    deadline = time.time() + RELOAD_WAIT_S
    while time.time() < deadline:
        after = (status() or {}).get("reloads")
        if isinstance(after, dict) and after != before:
            return after.get("error") is None, after.get("error")
        sleep(0.05)
    return True, None  # signalled; an older daemon that does not count reloads


def restart(pidfile, run_dir, status=lambda: None, timeout=20, sleep=time.sleep):
    """Stop the daemon and have the supervisor start it now, also while it
    waits out a backoff (or start the supervisor when nothing runs); one
    line saying how it went. Running means the new daemon wrote its status
    (it has bound its sockets), not merely that a process exists."""
    before = consoleshow.daemon(pidfile, run_dir)
    if not _alive(supervisor_pidfile(pidfile)):
        try:
            subprocess.run([INIT_SCRIPT, "start"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as e:
            return "error: restart: cannot start the supervisor (%s)" % e
    else:
        request(pidfile, run_dir, before)
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = consoleshow.daemon(pidfile, run_dir)
        st = status()
        if now["alive"] and now["pid"] != before["pid"] and isinstance(st, dict) and st.get("pid") == now["pid"]:
            errors = st.get("listen_errors") or []
            return "restart: daemon running again (pid %d)%s" % (now["pid"], "; cannot listen on " + "; ".join(errors) if errors else "")
        sleep(0.2)
    d = consoleshow.daemon(pidfile, run_dir)
    why = "; last exit: %s" % consoleshow.exit_text(d["exits"][-1][1]) if d["exits"] else ""
    return "error: restart: the daemon is not running after %d s%s%s" % (
        timeout, why, " (%s)" % d["reason"][:160] if d["reason"] else "")


def request(pidfile, run_dir, daemon=None):
    """Ask the supervisor for a restart now: the flag, then SIGTERM to a
    running daemon (one in its backoff wait sees the flag within 1 s)."""
    daemon = daemon or consoleshow.daemon(pidfile, run_dir)
    with open(os.path.join(run_dir, RESTART_FLAG), "w"):
        pass
    if daemon["alive"]:
        os.kill(daemon["pid"], signal.SIGTERM)


def confirm_timer(site_dir, pidfile, sleep=time.sleep, now=time.time, run_dir="/run/outpost"):
    """The process `commit confirmed` starts (and boot, when a confirmed
    commit was pending at power-off): wait for the deadline, then roll back
    unless the commit was confirmed meanwhile."""
    import fcntl

    from .commits import Commits

    history = Commits(site_dir)
    os.makedirs(history.dir, exist_ok=True)
    # One timer per site: each `commit confirmed` and each boot start one;
    # the one running already follows the newest pending commit.
    lock = os.open(os.path.join(history.dir, "timer.lock"), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        return None
    try:
        return _wait_and_roll_back(site_dir, pidfile, run_dir, history, sleep, now)
    finally:
        os.close(lock)


def _wait_and_roll_back(site_dir, pidfile, run_dir, history, sleep, now):
    """Until nothing is pending: wait for the deadline of whatever commit
    confirmed is pending now, roll it back. Looping (not returning after one)
    covers a newer commit confirmed made while this one was rolling back:
    its own timer found this one holding the lock and left."""
    from .siteops import roll_back_unconfirmed

    message = None
    while True:
        pending = history.pending()
        if pending is None:
            return message
        left = pending["deadline"] - now()
        if left > 0:
            sleep(min(left, 5))  # re-read: a confirm or a newer commit confirmed moves it
            continue
        done = roll_back_unconfirmed(site_dir, pending["seq"])
        if done:
            message, needs_restart = done
            _log(message)
            _apply(pidfile, run_dir, needs_restart)
        elif (history.pending() or {}).get("seq") == pending["seq"]:
            sleep(1)  # still ours and not done (a commit raced it five times): once more


def _apply(pidfile, run_dir, needs_restart):
    """The rolled-back file into the running daemon: a reload, or a restart
    when what changed needs one (listen addresses: a reload cannot rebind)."""
    if needs_restart and _alive(supervisor_pidfile(pidfile)):
        try:
            request(pidfile, run_dir)
            return
        except OSError:
            pass
    signal_daemon(pidfile)


def _log(message):
    """One line to syslog (/dev/log), as the daemon's lines go; nothing when
    there is no syslog (a host checkout)."""
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect("/dev/log")
            s.send(("<28>outpost-console: %s" % message).encode(errors="replace"))  # daemon.warning
    except OSError:
        pass
