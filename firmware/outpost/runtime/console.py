"""The router's console CLI, for its serial line: works on a dumb terminal
(plain lines, no curses), survives line noise, Ctrl-C and a pulled cable.

    outpost console [--site /data/etc/outpost] [--state /data/state] [--run /run/outpost]

First boot: with no console password set, the operator chooses one before
anything else (stored as a PBKDF2-SHA256 hash in the site file, committed at
once). Then: login, and a prompt `HOSTNAME> ` (`HOSTNAME*> ` while there
are uncommitted changes; a root shell's prompt ends in '#', this one never
does). Commands: see HELP. Every error is one line.

Rules of this file (the console's trust boundary, THREAT-console.md):
- One run() is one session. It ends on exit, EOF, a hangup (SIGHUP), the
  idle timeout (console.idle_timeout_s) and a cancelled load; init then
  starts a new console, which asks for the password again.
- Nothing is read before login but passwords; an empty or Ctrl-C'd entry is
  not an attempt. Failed attempts wait longer each time (consolelogin).
- The password hash changes only with `password` (or at first boot), via
  SiteConfig.set_console_password; every other edit keeps it.
- Every line printed passes through consoleviews.text(): control
  characters from the network or a site file reach the terminal escaped.
"""

import getpass
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

from . import consoleload, consoleviews
from .consoleline import Hangup, Idle, Ignoring, NoEcho, SessionEnded, drop_typeahead, hang_up_on_close
from .config import config_paths
from .consolelogin import MIN_PASSWORD, LoginThrottle, check_password, hash_password
from .lineedit import LineEditor
from .schema import Invalid
from .store import read_json

PIDFILE = "/var/run/outpost.pid"
MAX_LINE = 4096  # a longer line is line noise: refused, not parsed
IDLE_TIMEOUT_S = 600  # console.idle_timeout_s when the site file does not say
# Words each command takes (fewest, most; None: any): a word more is an
# error, never ignored (`commit check` must not commit, `rollback 3` must
# not roll back one level). `show` and `log` check their own words.
ARITY = {"help": (0, 1), "exit": (0, 0), "logout": (0, 0), "quit": (0, 0), "show": (0, 2), "ping_upstream": (0, 0),
         "log": (0, 1), "reboot": (0, 0), "set": (2, 2), "delete": (1, 1), "diff": (0, 0), "commit": (0, 0),
         "rollback": (0, 0), "revert": (0, 0), "password": (0, 0), "load": (0, None), "shell": (0, 0)}
MAX_LOG_LINES = 10000

HELP = """\
show config [PATH]      the candidate configuration, or one value of it
show registrations      phones registered with this router
show calls              calls crossing the router: phone, WAN port, far end
show survival           upstream health: relaying, or routing locally, and why
show pinholes           media pinholes open in the firewall (nftables)
show status             version, uptime, configuration state
ping-upstream           an OPTIONS to the upstream server, and how long it took
log [N]                 the last N lines of the system log (default 20)
set PATH VALUE          change a value (e.g. set sip.listen[0].port 5070)
delete PATH             remove a value
load                    replace the candidate with a pasted site file, ended
                        by the marker line the console names
diff                    what commit would change
commit                  validate, save, and tell the daemon to reload
rollback                go back to the previously committed configuration
revert                  drop uncommitted changes
password                change the console password
shell                   a root shell (exit returns here)
reboot                  restart the router
exit                    log out"""


class Console:
    def __init__(self, site_dir, state_dir=None, stdin=None, stdout=None, pidfile=PIDFILE, ask_password=None,
                 run_dir=None, idle_timeout_s=None):
        self.site_dir = site_dir
        self._site = None
        self.state_dir = state_dir
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.pidfile = pidfile
        self.ask_password = ask_password or self._ask_password
        self.hostname = socket.gethostname() or "outpost"
        self.started = time.time()
        # Failed logins are counted beside the state (tmpfs on the router:
        # main() passes /run/outpost), so reconnecting does not reset them.
        self.throttle = LoginThrottle(os.path.join(run_dir or state_dir or site_dir, "console-login"))
        configured = self._committed("idle_timeout_s")
        if not (isinstance(configured, int) and 30 <= configured <= 86400):
            configured = IDLE_TIMEOUT_S  # none, or a hand-edited JSON the schema never saw
        self.idle_timeout_s = idle_timeout_s or configured

    @property
    def site(self):
        """The site file, loaded on first use: ruamel.yaml and the schema take
        seconds to import on a small CPU, and logging in needs neither."""
        if self._site is None:
            from .siteconfig import SiteConfig

            self._site = SiteConfig(self.site_dir)
        return self._site

    @property
    def dirty(self):
        return self._site is not None and self._site.dirty

    # -- terminal ----------------------------------------------------------------------

    def say(self, text=""):
        try:
            self.stdout.write(consoleviews.text(text) + "\n")
            self.stdout.flush()
        except OSError:
            raise SessionEnded("the line is gone")

    def say_lines(self, lines):
        for line in lines:
            self.say(line)

    def _ask_password(self, prompt):
        if self.stdin.isatty():
            return getpass.getpass(prompt, stream=self.stdout)
        self.stdout.write(prompt)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    def prompt(self):
        return "%s%s> " % (self.hostname, "*" if self.dirty else "")

    def readline(self):
        with Idle(self.idle_timeout_s):
            return LineEditor(self.stdin, self.stdout, self.complete).readline(self.prompt())

    def _read_raw(self):
        """One line as it comes (load's blocks), under the idle timeout."""
        with Idle(self.idle_timeout_s):
            line = self.stdin.readline()
        if not line:
            raise EOFError
        return line

    def _password(self, prompt):
        with Idle(self.idle_timeout_s):
            try:
                return self.ask_password(prompt)
            except UnicodeDecodeError:
                return ""  # line noise (getpass decodes strictly): no attempt

    # -- tab completion ------------------------------------------------------------------

    SHOW = ("config", "registrations", "calls", "survival", "pinholes", "status")

    def complete(self, line):
        """(where the last word starts, what it could be)."""
        start = line.rfind(" ") + 1
        words = line[:start].split()
        if not words:
            return start, sorted(n[4:].replace("_", "-") for n in dir(self) if n.startswith("cmd_"))
        cmd = words[0].lower()
        if cmd == "show" and len(words) == 1:
            return start, list(self.SHOW)
        if (cmd in ("set", "delete") and len(words) == 1) or (cmd == "show" and words[1:] == ["config"]):
            return start, config_paths(line[start:], self.site._plain())
        return start, []

    # -- session -----------------------------------------------------------------------

    def run(self):
        """One session: first-boot password, login, then commands until exit,
        EOF, hangup or the idle timeout."""
        try:
            with Hangup():
                hang_up_on_close(self.stdin)
                if not self._first_boot() or not self._login():
                    return 1
                return self._commands()
        except SessionEnded as e:
            try:
                self.say("\nsession ended (%s)" % e.args[0])
            except EOFError:
                pass
            return 0
        except EOFError:
            return 0  # cable pulled or terminal closed: the candidate is kept in memory only

    def _commands(self):
        while True:
            try:
                if not self.execute(self.readline()):
                    return 0
            except KeyboardInterrupt:
                self.say("^C")
            except consoleload.LoadCancelled:
                raise SessionEnded("load cancelled: what follows a cancelled paste must not run as commands")

    def _committed(self, key):
        """console.KEY from the committed JSON, without ruamel.yaml."""
        try:
            with open(os.path.join(self.site_dir, "outpost.json")) as f:
                return (json.load(f).get("console") or {}).get(key)
        except (OSError, ValueError, AttributeError):
            return None

    def _stored_hash(self):
        if self._site is None:
            # The committed JSON says it without ruamel.yaml. Only when it
            # has none is the YAML asked too: a damaged JSON must never look
            # like a first boot.
            stored = self._committed("password_hash")
            if stored:
                return stored
        return self.site.password_hash

    def _cancelled(self, answer):
        """An empty or Ctrl-C'd entry is no attempt: outpost-console sends
        both to find out where a line it did not open stands."""
        return not answer or "\x03" in answer

    def _choose_password(self, prompt_new="New password: ", cancel_aborts=False):
        """A new password typed twice, or None after three bad tries. At first
        boot a cancelled entry asks again; in `password` it abandons the
        change, so a session left at its prompt is no way to set one."""
        tries = 0
        while tries < 3:
            first, again = self._two_entries(prompt_new)
            if first is None:
                if cancel_aborts:
                    return None
            elif len(first) < MIN_PASSWORD:
                self.say("console.password: too short (at least %d characters)" % MIN_PASSWORD)
                tries += 1
            elif again != first:
                self.say("console.password: the two entries differ")
                tries += 1
            else:
                return first
        return None

    def _two_entries(self, prompt_new):
        """(first, again); (None, None) when Ctrl-C or an empty line cancelled."""
        try:
            first = self._password(prompt_new)
            if self._cancelled(first):
                return None, None
            if len(first) < MIN_PASSWORD:
                return first, None
            again = self._password("Again: ")
        except KeyboardInterrupt:
            self.say("^C")
            return None, None
        return (None, None) if "\x03" in again else (first, again)

    def _first_boot(self):
        if self._stored_hash():
            return True
        self.say("No console password is set. Choose one now (at least %d characters)." % MIN_PASSWORD)
        chosen = self._choose_password()
        if chosen is None:
            return False
        try:
            self.site.set_console_password(hash_password(chosen))
        except Invalid as e:
            for err in e.errors:
                self.say(err)
            return False
        self.say("Console password set.")
        return True

    def _login(self):
        stored = self._stored_hash()
        tries = 0
        while tries < 3:
            self.throttle.wait()  # before the prompt: a reconnect waits too
            drop_typeahead(self.stdin)
            try:
                answer = self._password("Password: ")
            except KeyboardInterrupt:
                self.say("^C")
                continue
            if self._cancelled(answer):
                continue
            if check_password(answer, stored):
                self.throttle.succeeded()
                return True
            self.throttle.failed()
            tries += 1
            self.say("Login incorrect.")
        return False

    # -- commands -----------------------------------------------------------------------

    def execute(self, line):
        """Run one command line; False when the session should end."""
        if len(line) > MAX_LINE or "\x00" in line:
            self.say("error: line too long or not text (line noise?)")
            return True
        if "\x03" in line:
            # Ctrl-C arriving as a byte (a raw serial link has no tty to turn
            # it into SIGINT): the line is cancelled, as on a terminal.
            self.say("^C")
            return True
        line = "".join(ch for ch in line if ch >= " " or ch == "\t").strip()
        if not line:
            return True
        try:
            words = shlex.split(line)
        except ValueError as e:
            self.say("error: %s" % e)
            return True
        cmd, args = words[0].lower(), words[1:]
        handler = getattr(self, "cmd_" + cmd.replace("-", "_"), None)
        if handler is None:
            self.say("unknown command '%s' (try help)" % cmd[:40])
            return True
        fewest, most = ARITY.get(cmd.replace("-", "_"), (0, None))
        if len(args) < fewest or (most is not None and len(args) > most):
            self.say(_arity_error(cmd, args, fewest, most))
            return True
        try:
            return handler(args) is not False
        except (KeyError, ValueError) as e:
            self.say(str(e).strip("'\""))
        except Invalid as e:
            for err in e.errors:
                self.say(err)
        except OSError as e:
            self.say("error: %s" % e)
        return True

    def cmd_help(self, args):
        if not args:
            self.say(HELP)
            return
        word = args[0].lower()
        lines = [ln for ln in HELP.splitlines() if ln.split(" ", 1)[0] == word]
        self.say("\n".join(lines) if lines else "help: no command '%s' (help lists them)" % word[:40])

    def cmd_exit(self, args):
        if self.dirty:
            self.say("uncommitted changes dropped")
        return False

    cmd_logout = cmd_quit = cmd_exit

    def cmd_show(self, args):
        what = args[0] if args else ""
        if len(args) > 1 and what != "config":
            self.say("show %s: takes no more words (got '%s')" % (what[:40], args[1][:40]))
            return
        if what == "config":
            if len(args) > 1:
                value = self.site.get(args[1])
                self.say(json.dumps(value, default=str) if not isinstance(value, dict) else json.dumps(json.loads(json.dumps(value, default=str)), indent=2))
            else:
                self.stdout.write(consoleviews.text(self.site.text()))
        elif what == "registrations":
            self.say_lines(consoleviews.registrations(read_json(os.path.join(self.state_dir or "", "bindings.json"), {}), time.time() * 1000))
        elif what == "pinholes":
            self._show_pinholes()
        elif what == "status":
            from .. import __version__

            self.say_lines(consoleviews.status(__version__, self.hostname, self.dirty, *self._daemon_status(), self.site._plain(), time.time()))
        elif what == "calls":
            self.say_lines(consoleviews.calls(*self._daemon_status()))
        elif what == "survival":
            self.say_lines(consoleviews.survival(*self._daemon_status(), time.time()))
        else:
            self.say("show what? config [PATH], registrations, calls, pinholes, survival, status")

    def _daemon_status(self):
        """(what the daemon last wrote in its status file or None, the path)."""
        path = (self.site._plain().get("state") or {}).get("status_file", "/run/outpost/status.json")
        st = read_json(path)
        return (st if isinstance(st, dict) else None), path

    def _show_pinholes(self):
        try:
            out = subprocess.run(["nft", "-j", "list", "map", "inet", "outpost", "media_dnat"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        lines = consoleviews.pinholes(out)
        self.say_lines(lines if lines is not None else ["pinholes: cannot read the firewall (is the base ruleset loaded?)"])

    def cmd_ping_upstream(self, args):
        from .sipping import ping

        up = self.site._plain().get("upstream") or {}
        host = up.get("outbound_proxy") or up.get("host")
        if not host:
            self.say("upstream.host: not set")
            return
        self.say(ping(host, up.get("port", 5060), self.hostname))

    def cmd_log(self, args):
        if args and not (re.fullmatch(r"[0-9]{1,5}", args[0]) and 1 <= int(args[0]) <= MAX_LOG_LINES):
            self.say("log: N must be a whole number 1-%d (got '%s')" % (MAX_LOG_LINES, args[0][:40]))
            return
        n = int(args[0]) if args else 20
        try:
            out = subprocess.run(["logread"], capture_output=True, text=True, errors="replace", timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            self.say("log: logread is not available")
            return
        for line in out.splitlines()[-n:]:
            self.say(consoleviews.field(line))  # the daemon logs what the network sent

    def cmd_reboot(self, args):
        self.say("rebooting")
        subprocess.call(["reboot"])
        return False

    def cmd_set(self, args):
        if len(args) != 2:
            self.say("usage: set PATH VALUE")
            return
        self.site.set(args[0], args[1])  # refuses the console password (siteconfig)

    def cmd_delete(self, args):
        if len(args) != 1:
            self.say("usage: delete PATH")
            return
        self.site.delete(args[0])

    def cmd_diff(self, args):
        d = self.site.diff()
        self.stdout.write(consoleviews.text(d) if d else "no changes\n")

    def cmd_commit(self, args):
        changes, _ = self.site.commit()
        self.say("committed" + (": daemon reloaded" if self._signal_daemon() else " (daemon not running)"))

    def cmd_rollback(self, args):
        self.site.rollback()
        self.say("rolled back" + (": daemon reloaded" if self._signal_daemon() else " (daemon not running)"))

    def cmd_revert(self, args):
        self.site.revert()

    def cmd_password(self, args):
        """The only way to change the console password once it is set."""
        try:
            current = self._password("Current password: ")
        except KeyboardInterrupt:
            current = ""
        if self._cancelled(current):
            self.say("password: nothing changed")
            return
        if not check_password(current, self._stored_hash()):
            self.throttle.failed()
            self.say("password: incorrect, nothing changed")
            return
        # Not first boot's "New password:": outpost-console must never take
        # this prompt for a fresh router's.
        chosen = self._choose_password("New console password: ", cancel_aborts=True)
        if chosen is None:
            self.say("password: nothing changed")
            return
        self.site.set_console_password(hash_password(chosen))
        self.say("Console password changed.")

    def cmd_load(self, args):
        """A whole site file as the new candidate: pasted (`load`, ended by a
        marker the console makes up) or from outpost-console (`load base64`)."""
        try:
            if args[:1] == ["base64"]:
                with NoEcho(self.stdin):  # half the traffic; the host tool reads the diff alone
                    text = consoleload.read_base64(self._read_raw, args[1:])
            else:
                marker = consoleload.new_marker()
                self.say("Paste the site file, then a line holding only %s (Ctrl-C cancels and logs out)." % marker)
                text = consoleload.read_paste(self._read_raw, marker)
        except KeyboardInterrupt:
            raise consoleload.LoadCancelled()
        for note in self.site.replace(text):
            self.say(note)
        self.cmd_diff([])

    def cmd_shell(self, args):
        self.stdout.flush()
        # busybox ash logs out after TMOUT idle seconds, like this console.
        env = dict(os.environ, TMOUT=str(self.idle_timeout_s))
        with Ignoring(signal.SIGINT):  # Ctrl-C belongs to the shell, not to us
            subprocess.call(["/bin/sh", "-l"], env=env)

    def _signal_daemon(self):
        try:
            with open(self.pidfile) as f:
                os.kill(int(f.read().strip()), signal.SIGHUP)
            return True
        except (OSError, ValueError):
            return False


def _arity_error(cmd, args, fewest, most):
    """One line naming the command and its rule."""
    if most == 0:
        return "%s: takes no arguments (got '%s'); nothing was done" % (cmd, " ".join(args)[:60])
    usage = [ln.split("  ")[0].strip() for ln in HELP.splitlines() if ln.split(" ", 1)[0] == cmd]
    return "%s: wrong number of arguments; usage: %s" % (cmd, usage[0] if usage else cmd)


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(prog="outpost console")
    ap.add_argument("--site", default="/data/etc/outpost")
    ap.add_argument("--state", default="/data/state")
    ap.add_argument("--run", help="where the failed-login count lives (the inittab: /run/outpost, tmpfs); default --state")
    ap.add_argument("--pidfile", default=PIDFILE)
    args = ap.parse_args(argv)
    # Line noise is not UTF-8: it becomes U+FFFD ("unknown command"), not a
    # UnicodeDecodeError that ends the session with a traceback.
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    return Console(args.site, args.state, pidfile=args.pidfile, run_dir=args.run).run()
