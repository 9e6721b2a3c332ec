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

import json
import os
import shlex
import socket
import sys
import time

from ..core.defaults import CONSOLE_IDLE_S
from . import consoledevice, consoledial, consolegrammar, consolehelp, consoleload, consolereports, consoleshow, consoleviews, supervision
from .consolegrammar import Syntax, rollback_number
from .consoleoutput import Screen
from .consoleviews import ErrorLine
from .consoleline import Hangup, Idle, ask_password_line, SessionEnded, drop_typeahead, hang_up_on_close
from .consolelogin import Gate, LoginThrottle, check_password, hash_password  # noqa: F401 (tests import the last two here)
from .lineedit import LineEditor
from .schema import Invalid

PIDFILE = "/var/run/outpost.pid"
RUN_DIR = "/run/outpost"
MAX_LINE = 4096  # a longer line is line noise: refused, not parsed
IDLE_TIMEOUT_S = CONSOLE_IDLE_S  # console.idle_timeout_s when the site file does not say


class Console:
    def __init__(self, site_dir, state_dir=None, stdin=None, stdout=None, pidfile=PIDFILE, ask_password=None,
                 run_dir=None, idle_timeout_s=None):
        self.site_dir = site_dir
        self._site = None
        self.state_dir = state_dir
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.pidfile = pidfile
        self.ask_password = ask_password or (lambda prompt: ask_password_line(self.stdin, self.stdout, prompt))
        self.hostname = socket.gethostname() or "outpost"
        self.run_dir = run_dir or state_dir or site_dir
        self._captured, self._pipes = None, []
        self.screen = Screen(self.stdin, self.stdout)
        self.history = []  # this session's lines, for the arrow keys (never written anywhere)
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
        """One or more lines; held back for the pipes and the pager while
        an output command runs."""
        if isinstance(text, ErrorLine):
            self.fail(text[len("error: "):])
        elif self._captured is not None:
            self._captured.extend(str(text).split("\n"))
        else:
            self.screen.write(text)

    def say_lines(self, lines):
        for line in lines:
            self.say(line)

    def prompt(self):
        return "%s%s> " % (self.hostname, "*" if self.dirty else "")

    def readline(self):
        with Idle(self.idle_timeout_s):
            typed, self.screen.typeahead = self.screen.typeahead, ""
            return LineEditor(self.stdin, self.stdout, self.complete, self.history).readline(self.prompt(), typed)

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

    # -- what may come next ----------------------------------------------------------

    def complete(self, line):
        """(where the last word starts, what it could be): the line editor's Tab."""
        commands = [n[4:].replace("_", "-") for n in dir(self) if n.startswith("cmd_")]
        return consolehelp.complete(line, commands, self.site._plain)

    def question(self, partial):
        return consolehelp.question(partial, self.site._plain)

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

    def _gate(self):
        return Gate(self.say, self._password, self.throttle, lambda: drop_typeahead(self.stdin))

    def _first_boot(self):
        stored = self._stored_hash()
        return True if stored else self._gate().first_boot(self.site.set_console_password)

    def _login(self):
        return self._gate().login(self._stored_hash())

    # -- commands -----------------------------------------------------------------------

    def execute(self, line):
        """Run one command line; False when the session should end."""
        if len(line) > MAX_LINE or "\x00" in line:
            self.fail("line too long or not text (line noise?)")
            return True
        if "\x03" in line:
            # Ctrl-C arriving as a byte (a raw serial link has no tty to turn
            # it into SIGINT): the line is cancelled, as on a terminal.
            self.say("^C")
            return True
        line = "".join(ch for ch in line if ch >= " " or ch == "\t").strip()
        if not line:
            return True
        if line.endswith("?"):
            self.say_lines(self.question(line[:-1]))
            return True
        try:
            parsed = consolegrammar.parse(shlex.split(line))
        except (ValueError, Syntax) as e:  # shlex: an unclosed quote
            self.fail(str(e))
            return True
        if parsed.name == "set":
            parsed.args = consolegrammar.set_words(line)
        if self._site is not None and self._site.refresh():
            self.say("note: the committed configuration changed outside this session (show system commit); the candidate follows it")
        if not (parsed.pipes or parsed.name in consolegrammar.OUTPUT_COMMANDS):
            self._pipes = []
            return self._dispatch(parsed)
        self._captured = []
        try:
            return self._dispatch(parsed)
        finally:
            lines, self._captured = self._captured, None
            self.screen.emit(lines, parsed.pipes)

    def _dispatch(self, parsed):
        handler = getattr(self, "cmd_" + parsed.name.replace("-", "_"))
        self._pipes = parsed.pipes
        try:
            return handler(parsed.args) is not False
        except (KeyError, ValueError, Syntax) as e:
            self.fail(str(e).strip("'\""))
        except Invalid as e:
            for err in e.errors:
                self.fail(err)
        except OSError as e:
            self.fail(str(e))
        except (SessionEnded, EOFError, KeyboardInterrupt, consoleload.LoadCancelled):
            raise
        except Exception as e:  # a bug of ours: one line, and the session goes on
            self.fail("internal error (%s: %s); please report it" % (type(e).__name__, str(e)[:200]))
        return True

    def fail(self, message):
        """A refusal: one line, `error: ` first (outpost-console's exit status
        reads it; say() never lets another line start so)."""
        line = ErrorLine("error: " + message)
        if self._captured is not None:
            self._captured.append(line)
        else:
            self.screen.write(line)

    def _confirm(self, question):
        """yes/no on its own line (Junos's wording); anything but yes is no."""
        self.stdout.write(question + " [yes,no] (no) ")
        self.stdout.flush()
        with Idle(self.idle_timeout_s):
            answer = self.stdin.readline()
        if not answer:
            raise EOFError
        return answer.strip().lower() in ("y", "yes")

    def cmd_help(self, args):
        try:
            self.say_lines(consolegrammar.help_lines(args[0] if args else None))
        except Syntax:
            self.fail("help: no command '%s' (help lists them)" % args[0][:40])

    def cmd_exit(self, args):
        if self.dirty and not self._confirm("The configuration has been changed but not committed. Exit with uncommitted changes?"):
            return True
        return False

    def cmd_show(self, args):
        where = self._where()
        if args[0] in ("config", "running"):
            self.say_lines(consolereports.config(where, args[0], args[1] if len(args) > 1 else None, self._pipes))
            return
        lines = consolereports.view(where, args[0], time.time())
        if lines is None:
            self.fail("pinholes: cannot read the firewall (is the base ruleset loaded?)")
            return
        self.say_lines(lines)

    def _where(self):
        return consolereports.Where(self.site, self.site_dir, self.state_dir, self.pidfile, self.run_dir, self.hostname, self.dirty)

    def cmd_clear(self, args):
        self.say_lines(consolereports.clear_counters(self._where(), time.time()))

    def cmd_test_dial(self, args):
        self.say_lines(consoledial.test_dial(self.site, args))

    def cmd_ping_upstream(self, args):
        from .sipping import ping

        up = self.site._plain().get("upstream") or {}
        host = up.get("outbound_proxy") or up.get("host")
        if not host:
            self.fail("upstream.host: not set")
            return
        self.say(ping(host, up.get("port", 5060), self.hostname))

    def cmd_log(self, args):
        lines, error = consoledevice.log_tail(args[0] if args else None)
        if error:
            self.fail(error)
            return
        for line in lines:
            self.say(consoleviews.field(line))  # the daemon logs what the network sent

    def cmd_reboot(self, args):
        lost = " Uncommitted changes are lost." if self.dirty else ""
        if not self._confirm("Reboot the router? Calls in progress drop.%s" % lost):
            self.say("reboot: cancelled")
            return
        self.say("rebooting")
        consoledevice.reboot()
        return False

    def cmd_restart(self, args):
        from . import supervision

        result = supervision.restart(self.pidfile, self.run_dir, lambda: consoleshow.status_file(self.site._plain())[0])
        if result.startswith("error: "):
            self.fail(result[len("error: "):])
        else:
            self.say(result)

    def cmd_set(self, args):
        path, value = args
        if value[:4].lower() == "add " and value[4:].strip():
            self.site.add(path, value[4:].strip())
        else:
            self.site.set(path, value)  # refuses the console password (siteconfig)

    def cmd_delete(self, args):
        self.site.delete(args[0])

    def cmd_diff(self, args):
        self.say(self.site.diff().rstrip("\n") or "no changes")

    def cmd_compare(self, args):
        self.say(self.site.diff_against(rollback_number(args[1])).rstrip("\n") or "no changes")

    def cmd_commit(self, args):
        check, minutes, comment = consolegrammar.commit_args(args)
        if check:
            self.site.check()
            self.say("configuration check succeeds")
            return
        r = self.site.commit(comment=comment, confirmed_minutes=minutes)
        if r.state == "unchanged":
            self.say("commit: no changes; nothing written, nothing reloaded")
            return
        if r.state == "confirmed":
            self.say("commit complete: commit confirmed; the automatic rollback is cancelled")
            return
        self.say_lines(consoleshow.commit_report(r, *supervision.reload(self.pidfile, lambda: consoleshow.status_file(self.site._plain())[0])))
        if minutes:
            self.start_timer()
            self.say("commit confirmed: rolls back by itself in %d minute(s) unless you commit again" % minutes)

    def start_timer(self):
        consoledevice.start_confirm_timer(self.site_dir, self.pidfile)

    def cmd_rollback(self, args):
        n = rollback_number(args[0]) if args else 1
        self.site.rollback(n)
        self.say("rollback %d loaded as the candidate: diff shows it, commit applies it" % n)

    def cmd_revert(self, args):
        self.site.revert()

    def cmd_password(self, args):
        """The only way to change the console password once it is set."""
        self._gate().change(self._stored_hash(), self.site.set_console_password)

    def cmd_load(self, args):
        """A whole site file as the new candidate: pasted (`load`, ended by a
        marker the console makes up) or from outpost-console (`load base64`)."""
        if args and args[0] != "base64":
            raise Syntax("load: takes no arguments (it asks for the paste); got '%s'" % " ".join(args)[:60])
        text = consoleload.receive(args, self._read_raw, self.stdin, self.say)
        for note in self.site.replace(text):
            self.say(note)
        self.cmd_diff([])

    def cmd_shell(self, args):
        self.stdout.flush()
        consoledevice.shell(self.idle_timeout_s)


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(prog="outpost console")
    ap.add_argument("--site", default="/data/etc/outpost")
    ap.add_argument("--state", default="/data/state")
    ap.add_argument("--run", help="where the failed-login count lives (the inittab: /run/outpost, tmpfs); default --state")
    ap.add_argument("--pidfile", default=PIDFILE)
    ap.add_argument("--reference", action="store_true", help="print the command reference (markdown) and exit")
    args = ap.parse_args(argv)
    if args.reference:
        sys.stdout.write(consolegrammar.reference_markdown())
        return 0
    # Line noise is not UTF-8: it becomes U+FFFD ("unknown command"), not a
    # UnicodeDecodeError that ends the session with a traceback.
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    return Console(args.site, args.state, pidfile=args.pidfile, run_dir=args.run).run()
