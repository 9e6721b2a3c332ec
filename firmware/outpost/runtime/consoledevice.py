"""The console commands that act on the device itself: they run a program
(logread, reboot, a shell, the confirmed-commit timer). No argument from
the console line reaches a command line: `log`'s count is checked to be a
number in range first and used only to slice the output.
"""

import os
import re
import signal
import subprocess
import sys

from .consoleline import Ignoring

MAX_LOG_LINES = 10000


def log_tail(arg):
    """(lines, None) of the last `arg` (default 20) syslog lines, or
    (None, error) naming the rule broken."""
    if arg is not None and not (re.fullmatch(r"[0-9]{1,5}", arg) and 1 <= int(arg) <= MAX_LOG_LINES):
        return None, "log: N must be a whole number 1-%d (got '%s')" % (MAX_LOG_LINES, arg[:40])
    n = int(arg) if arg is not None else 20
    try:
        out = subprocess.run(["logread"], capture_output=True, text=True, errors="replace", timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None, "log: logread is not available"
    return out.splitlines()[-n:], None


def reboot():
    subprocess.call(["reboot"])


def start_confirm_timer(site_dir, pidfile):
    """The confirmed-commit timer: its own process, so it outlives the
    session (a commit that cut the admin off ends the session too)."""
    subprocess.Popen([sys.executable, "-m", "outpost", "confirm-timer", "--site", site_dir, "--pidfile", pidfile],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, close_fds=True)


def shell(idle_timeout_s):
    # busybox ash logs out after TMOUT idle seconds, like this console.
    env = dict(os.environ, TMOUT=str(idle_timeout_s))
    with Ignoring(signal.SIGINT):  # Ctrl-C belongs to the shell, not to us
        subprocess.call(["/bin/sh", "-l"], env=env)
