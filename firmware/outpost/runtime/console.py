"""The router's console CLI, for its serial line: works on a dumb terminal
(plain lines, no curses), survives line noise, Ctrl-C and a pulled cable.

    outpost console [--site /data/etc/outpost] [--state /data/state]

First boot: with no console password set, the operator chooses one before
anything else (stored as a PBKDF2-SHA256 hash in the site file, committed at
once). Then: login, and a prompt `HOSTNAME> ` (`HOSTNAME*> ` while there
are uncommitted changes; a root shell's prompt ends in '#', this one never
does). Commands: help, show config [PATH], show registrations, show calls,
show survival, show pinholes, show status,
set PATH VALUE, delete PATH, load, diff, commit, rollback, revert, shell,
exit. Every error is one line.
"""

import base64
import getpass
import hashlib
import hmac
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

from .lineedit import LineEditor
from .config import config_paths
from .schema import Invalid
from .store import read_json

PBKDF2_ROUNDS = 100000
PIDFILE = "/var/run/outpost.pid"
MAX_LINE = 4096  # a longer line is line noise: refused, not parsed
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
load                    replace the candidate with a site file pasted after it,
                        ended by a line holding only "."
diff                    what commit would change
commit                  validate, save, and tell the daemon to reload
rollback                go back to the previously committed configuration
revert                  drop uncommitted changes
shell                   a root shell (exit returns here)
reboot                  restart the router
exit                    log out"""


def hash_password(password, salt=None):
    salt = salt or os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ROUNDS)
    return "pbkdf2-sha256$%d$%s$%s" % (PBKDF2_ROUNDS, base64.b64encode(salt).decode(), base64.b64encode(dk).decode())


def check_password(password, stored):
    try:
        scheme, rounds, salt, dk = stored.split("$")
        if scheme != "pbkdf2-sha256":
            return False
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(rounds))
        return hmac.compare_digest(got, base64.b64decode(dk))
    except (ValueError, TypeError):
        return False


class Console:
    def __init__(self, site_dir, state_dir=None, stdin=None, stdout=None, pidfile=PIDFILE, ask_password=None):
        self.site_dir = site_dir
        self._site = None
        self.state_dir = state_dir
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.pidfile = pidfile
        self.ask_password = ask_password or self._ask_password
        self.hostname = socket.gethostname() or "outpost"
        self.started = time.time()

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
        self.stdout.write(text + "\n")
        self.stdout.flush()

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
        return LineEditor(self.stdin, self.stdout, self.complete).readline(self.prompt())

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
        """One session: first-boot password, login, then commands until exit or EOF."""
        try:
            if not self._first_boot() or not self._login():
                return 1
            while True:
                try:
                    line = self.readline()
                except KeyboardInterrupt:
                    self.say("^C")
                    continue
                if not self.execute(line):
                    return 0
        except EOFError:
            return 0  # cable pulled or terminal closed: the candidate is kept in memory only

    def _stored_hash(self):
        if self._site is None:
            # Before any edit the committed JSON says it, without ruamel.yaml.
            try:
                with open(os.path.join(self.site_dir, "outpost.json")) as f:
                    return (json.load(f).get("console") or {}).get("password_hash")
            except (OSError, ValueError, AttributeError):
                pass  # nothing committed yet: the site file decides
        try:
            return self.site.get("console.password_hash")
        except KeyError:
            return None

    def _first_boot(self):
        if self._stored_hash():
            return True
        self.say("No console password is set. Choose one now (at least 8 characters).")
        for _ in range(3):
            first = self.ask_password("New password: ")
            if len(first) < 8:
                self.say("console.password: too short (at least 8 characters)")
                continue
            if self.ask_password("Again: ") != first:
                self.say("console.password: the two entries differ")
                continue
            self.site.set("console.password_hash", json.dumps(hash_password(first)))
            try:
                self.site.commit()
            except Invalid as e:
                self.site.revert()
                for err in e.errors:
                    self.say(err)
                return False
            self.say("Console password set.")
            return True
        return False

    def _login(self):
        stored = self._stored_hash()
        for _ in range(3):
            if check_password(self.ask_password("Password: "), stored):
                return True
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
        self.say(HELP)

    def cmd_exit(self, args):
        if self.dirty:
            self.say("uncommitted changes dropped")
        return False

    cmd_logout = cmd_quit = cmd_exit

    def cmd_show(self, args):
        what = args[0] if args else ""
        if what == "config":
            if len(args) > 1:
                value = self.site.get(args[1])
                self.say(json.dumps(value, default=str) if not isinstance(value, dict) else json.dumps(json.loads(json.dumps(value, default=str)), indent=2))
            else:
                self.stdout.write(self.site.text())
        elif what == "registrations":
            self._show_registrations()
        elif what == "pinholes":
            self._show_pinholes()
        elif what == "status":
            self._show_status()
        elif what == "calls":
            self._show_calls()
        elif what == "survival":
            self._show_survival()
        else:
            self.say("show what? config [PATH], registrations, calls, pinholes, survival, status")

    def _show_registrations(self):
        data = read_json(os.path.join(self.state_dir or "", "bindings.json"), {})
        items = data.get("bindings", []) if isinstance(data, dict) else []
        now = time.time() * 1000
        live = [b for b in items if b.get("expires_at", 0) > now]
        if not live:
            self.say("no registrations")
            return
        self.say("%-32s %-34s %7s" % ("ADDRESS-OF-RECORD", "CONTACT", "EXPIRES"))
        for b in sorted(live, key=lambda b: b["aor"]):
            self.say("%-32s %-34s %6ds" % (b["aor"][:32], b["contact"][:34], (b["expires_at"] - now) / 1000))

    def _daemon_status(self):
        """(path, what the daemon last wrote there or None)."""
        cfg = self.site._plain()
        path = (cfg.get("state") or {}).get("status_file", "/run/outpost/status.json")
        try:
            with open(path) as f:
                return path, json.load(f)
        except (OSError, ValueError):
            return path, None

    def _show_calls(self):
        path, st = self._daemon_status()
        if st is None:
            self.say("calls: daemon not running (no %s)" % path)
            return
        calls = st.get("calls")
        if calls is None:
            self.say("calls: not relaying (set upstream.host to relay calls through this router)")
            return
        if not calls:
            self.say("no calls")
            return
        self.say("%-16s %5s %-21s %-5s %-21s %s" % ("CALL", "AGE", "PHONE", "WAN", "REMOTE", "MEDIA"))
        for c in calls:
            legs = [leg for leg in c.get("legs", []) if leg.get("kind") == "rtp"] or [{}]
            for leg in legs:
                media = "both" if leg.get("in") and leg.get("out") else "out" if leg.get("out") else "in" if leg.get("in") else "-"
                wan = (leg.get("wan") or ":-").rsplit(":", 1)[1]
                self.say("%-16s %4ds %-21s %-5s %-21s %s" % (c["call_id"][:16], c.get("seconds", 0), (leg.get("lan") or "-")[:21],
                                                           wan, (leg.get("remote") or "-")[:21], media))

    def _show_survival(self):
        path, st = self._daemon_status()
        sv = (st or {}).get("survival")
        if st is None:
            self.say("survival: daemon not running (no %s)" % path)
            return
        if sv is None:
            self.say("survival: not relaying (set upstream.host to watch an upstream server)")
            return
        ago = int(time.time() - sv.get("since", time.time()))
        meaning = {"NORMAL": "relaying to upstream", "SURVIVAL": "upstream lost: routing locally",
                   "RECOVERING": "upstream answers again: routing locally until it is stable"}.get(sv.get("state"), "")
        self.say("state           %s (%s), for %dh %02dm %02ds" % (sv.get("state"), meaning, ago // 3600, ago % 3600 // 60, ago % 60))
        self.say("failures        %s in a row" % sv.get("failures"))
        self.say("phones known    %s" % st.get("registrations"))
        self.say("calls           %d in progress" % len(st.get("calls") or []))
        probes = sv.get("probes") or []
        if probes:
            self.say("last probes     %s" % "  ".join(
                ("%s %dms" % (p["what"], p["rtt_ms"]) if p.get("rtt_ms") is not None else p["what"]) if p.get("ok") else "FAIL(%s)" % p["what"]
                for p in probes[-5:]))

    def _show_status(self):
        from .. import __version__

        cfg = self.site._plain()
        path, st = self._daemon_status()
        self.say("outpost %s on %s" % (__version__, self.hostname))
        self.say("configuration   %s" % ("changed, not committed" if self.dirty else "committed"))
        if st is None:
            self.say("daemon          not running (no %s)" % path)
        else:
            up = int(time.time() - st.get("started", time.time()))
            self.say("daemon          pid %s, up %dd %02d:%02d:%02d" % (st.get("pid"), up // 86400, up % 86400 // 3600, up % 3600 // 60, up % 60))
            self.say("registrations   %s" % st.get("registrations"))
            self.say("transactions    %s, TCP connections %s" % (st.get("transactions"), st.get("tcp_connections")))
            c = st.get("counters", {})
            self.say("SIP             %s requests, %s responses, %s malformed, %s rate-limited, %s refused (overload)" % (
                c.get("requests"), c.get("responses"), c.get("malformed"), c.get("rate_limited"), c.get("overload")))
            if c.get("internal_errors"):
                self.say("internal errors %s (see log: each lost one message, nothing more)" % c["internal_errors"])
            if st.get("addresses"):
                self.say("addresses       %s" % ", ".join(st["addresses"]))
        up = cfg.get("upstream") or {}
        self.say("upstream        %s" % ("%s:%s (ping-upstream to probe it)" % (up["host"], up.get("port", 5060)) if up.get("host") else "none configured"))
        relay = (st or {}).get("upstream")
        if relay:
            sv = st.get("survival") or {}
            self.say("survival        %s: %s (show survival for the probes)" % (sv.get("state", "-"), relay.get("state")))
            self.say("calls           %d through the router, WAN address %s" % (len(st.get("calls") or []), relay.get("wan_address")))

    def _show_pinholes(self):
        try:
            out = subprocess.run(["nft", "-j", "list", "map", "inet", "outpost", "media_dnat"], capture_output=True, text=True, timeout=10)
            items = [i["map"] for i in json.loads(out.stdout)["nftables"] if "map" in i][0].get("elem", [])
        except (OSError, ValueError, KeyError, IndexError, subprocess.TimeoutExpired):
            self.say("pinholes: cannot read the firewall (is the base ruleset loaded?)")
            return
        if not items:
            self.say("no pinholes")
            return
        self.say("%-10s %-24s %s" % ("WAN PORT", "TO PHONE", "EXPIRES"))
        for key, value in items:
            port = key["elem"]["val"] if isinstance(key, dict) else key
            phone = ":".join(str(x) for x in value["concat"]) if isinstance(value, dict) else str(value)
            expires = key.get("elem", {}).get("expires", "") if isinstance(key, dict) else ""
            self.say("%-10s %-24s %ss" % (port, phone, expires))

    def cmd_ping_upstream(self, args):
        cfg = self.site._plain()
        up = cfg.get("upstream") or {}
        host = up.get("outbound_proxy") or up.get("host")
        if not host:
            self.say("upstream.host: not set")
            return
        port = up.get("port", 5060)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2.0)
        try:
            s.bind(("0.0.0.0", 0))
            branch = "z9hG4bKping%x" % int(time.time() * 1e6)
            t0 = time.time()
            s.sendto(("OPTIONS sip:%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=%s;rport\r\nMax-Forwards: 70\r\n"
                      "From: <sip:ping@%s>;tag=p\r\nTo: <sip:%s>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                      % (host, port, self.hostname, s.getsockname()[1], branch, self.hostname, host, branch)).encode(), (host, port))
            data = s.recv(65535)
            self.say("%s:%d answered %s in %.0f ms" % (host, port, data.split(b"\r\n", 1)[0].decode(errors="replace"), (time.time() - t0) * 1000))
        except socket.timeout:
            self.say("%s:%d: no answer in 2 s" % (host, port))
        except OSError as e:
            self.say("%s:%d: %s" % (host, port, e.strerror or e))
        finally:
            s.close()

    def cmd_log(self, args):
        n = int(args[0]) if args and args[0].isdigit() else 20
        try:
            out = subprocess.run(["logread"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            self.say("log: logread is not available")
            return
        for line in out.splitlines()[-n:]:
            self.say(line)

    def cmd_reboot(self, args):
        self.say("rebooting")
        subprocess.call(["reboot"])
        return False

    def cmd_set(self, args):
        if len(args) != 2:
            self.say("usage: set PATH VALUE")
            return
        if args[0].startswith("console."):
            self.say("%s: set the console password at first boot or with 'password'" % args[0])
            return
        self.site.set(args[0], args[1])

    def cmd_delete(self, args):
        if len(args) != 1:
            self.say("usage: delete PATH")
            return
        self.site.delete(args[0])

    def cmd_diff(self, args):
        d = self.site.diff()
        self.stdout.write(d if d else "no changes\n")

    def cmd_commit(self, args):
        changes, _ = self.site.commit()
        self.say("committed" + (": daemon reloaded" if self._signal_daemon() else " (daemon not running)"))

    def cmd_rollback(self, args):
        self.site.rollback()
        self.say("rolled back" + (": daemon reloaded" if self._signal_daemon() else " (daemon not running)"))

    def cmd_revert(self, args):
        self.site.revert()

    def cmd_load(self, args):
        """The host tool's way in: a whole site file as the new candidate."""
        lines = []
        while True:
            line = self.stdin.readline()
            if not line:
                raise EOFError
            if line.rstrip("\r\n") == ".":
                break
            lines.append(line.rstrip("\r\n") + "\n")
            if sum(len(x) for x in lines) > 1 << 20:
                self.say("load: site file larger than 1 MiB, refused")
                return
        keep = self._stored_hash()
        self.site.replace("".join(lines))
        if keep and not self._stored_hash():
            # A site file from a laptop has no console section: applying it
            # must not leave the router without its console password.
            self.site.set("console.password_hash", json.dumps(keep))
        d = self.site.diff()
        self.stdout.write(d if d else "no changes\n")

    def cmd_shell(self, args):
        self.stdout.flush()
        subprocess.call(["/bin/sh", "-l"])

    def _signal_daemon(self):
        try:
            with open(self.pidfile) as f:
                os.kill(int(f.read().strip()), signal.SIGHUP)
            return True
        except (OSError, ValueError):
            return False


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(prog="outpost console")
    ap.add_argument("--site", default="/data/etc/outpost")
    ap.add_argument("--state", default="/data/state")
    ap.add_argument("--pidfile", default=PIDFILE)
    args = ap.parse_args(argv)
    return Console(args.site, args.state, pidfile=args.pidfile).run()

