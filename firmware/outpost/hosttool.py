"""outpost-console: configure and inspect a router over its serial console.

    outpost-console --port URL [--baud 115200] [--password-file F] COMMAND
      apply SITE.yaml     the site file as one validated commit (all or nothing)
      get                 the router's site file
      show WHAT           show config [PATH] | registrations | status
      run 'CLI COMMAND'   any console command
      shell               the router's root shell on this terminal (exit ends it)

URL is anything pyserial opens: /dev/ttyUSB0, rfc2217://host:port, or
socket://127.0.0.1:PORT for QEMU's console. The console password comes
from --password-file, else $OUTPOST_CONSOLE_PASSWORD, else a prompt; on a
router's first boot it becomes the console password. Exit status: 0 done,
1 refused (errors printed, one per line: a file the console or the daemon's
reload refused, a `run` command the console answered with `error: `),
2 no session (login, link).

Before it sends a password the tool ends whatever session it finds on the
line (Ctrl-C, then `exit` until the console asks for a password): QEMU's
socket console and many console servers never tell the router that the
last user went away, and a password must never be typed into someone
else's session. A site file travels base64-framed with its length and
SHA-256 (runtime/consoleload.py): nothing in it can end `load` early.
"""

import argparse
import getpass
import os
import re
import sys
import time

PROMPT = re.compile(r"(?:^|\n)[A-Za-z0-9_.-]+\*?> $")
NEW_PASSWORD, PASSWORD = r"New password: $", r"Password: $"
SHELL = r"# (?:\x1b\[6n)?$"  # ash may ask the terminal where the cursor is
QUESTION = r"\[yes,no\] \(no\) $"  # exit with uncommitted changes: yes, we are leaving
MAX_SITE_FILE = 1 << 20  # what the console's load accepts


class ConsoleError(Exception):
    pass


class Link:
    def __init__(self, port, baud=115200, timeout=30, progress=None):
        import serial

        self.ser = serial.serial_for_url(port, baudrate=baud, timeout=0.2)
        self.timeout = timeout
        self.progress = progress

    def expect(self, patterns, timeout=None):
        """Read until one of the regexes matches the end of the output; (index, text)."""
        buf = ""
        deadline = time.time() + (timeout or self.timeout)
        while time.time() < deadline:
            chunk = self.ser.read(4096)
            if chunk:
                buf += chunk.decode(errors="replace").replace("\r", "")
                for i, p in enumerate(patterns):
                    if re.search(p, buf):
                        return i, buf
        raise ConsoleError("no answer from the console (waiting for %s); last: %r" % (" or ".join(patterns), buf[-200:]))

    def send(self, text):
        self.ser.write(text.encode())
        self.ser.flush()

    def settle(self, patterns, timeout=120, quiet=0.5):
        """Read until the output ends in one of the patterns and then stays
        quiet for `quiet` s (a Ctrl-C may draw more than one prompt); (index, text)."""
        buf = ""
        deadline = time.time() + timeout
        last = time.time()
        while time.time() < deadline:
            chunk = self.ser.read(4096)
            if chunk:
                buf += chunk.decode(errors="replace").replace("\r", "")
                last = time.time()
                continue
            if time.time() - last >= quiet:
                for i, p in enumerate(patterns):
                    if re.search(p, buf):
                        return i, buf
        raise ConsoleError("no answer from the console (waiting for %s); last: %r" % (" or ".join(patterns), buf[-200:]))

    def end_open_session(self):
        """Bring the line to a password prompt without typing a password:
        Ctrl-C drops a half-typed line (an empty or Ctrl-C'd entry at a
        password prompt is no attempt), then `exit` leaves a root shell or
        the CLI (init starts a new console, which asks for the password).
        Returns True when the prompt is first boot's "New password:"."""
        self.send("\x03\n")
        for _ in range(6):
            idx, _ = self.settle([NEW_PASSWORD, PASSWORD, PROMPT.pattern, SHELL, QUESTION])
            if idx < 2:
                return idx == 0
            if self.progress:
                self.progress("ending a session someone left open on the console")
            self.send("yes\n" if idx == 4 else "exit\n")
        raise ConsoleError("could not end the session open on the console")

    def login(self, password):
        if self.end_open_session():
            self.send(password + "\n")
            self.expect([r"Again: $"])
            self.send(password + "\n")
            idx, out = self.expect([PASSWORD, NEW_PASSWORD])
            if idx == 1:
                raise ConsoleError("the console refused the new password: " + out.strip().splitlines()[-2])
        self.send(password + "\n")
        idx, out = self.expect([PROMPT.pattern, PASSWORD, r"Login incorrect"], 60)
        if idx != 0:
            raise ConsoleError("login incorrect")

    def command(self, line, timeout=None):
        """Run one console command; its output, echo and prompt removed. An
        output command's goes past the pager (| no-more)."""
        if _pages(line):
            line += " | no-more"
        self.send(line + "\n")
        _, out = self.expect([PROMPT.pattern], timeout)
        out = PROMPT.sub("", out)
        lines = out.split("\n")
        if lines and lines[0].strip().endswith(line.strip()):
            lines = lines[1:]  # a tty echoes what we typed (after a stray byte of line noise, too)
        return "\n".join(lines).strip("\n")

    def load(self, text):
        """Send a site file with 'load base64'; returns the console's diff
        (or its one-line refusal)."""
        from .runtime.consoleload import encode_block

        lines = encode_block(text)
        for i, line in enumerate(lines[:-1]):
            self.send(line + "\n")
            if self.progress and len(lines) > 40 and i % 20 == 0:
                self.progress("sending line %d of %d" % (i + 1, len(lines)))
            time.sleep(0.002)  # a UART's FIFO, not a socket: let the far end keep up
        self.send(lines[-1] + "\n")
        _, out = self.expect([PROMPT.pattern], 120)
        sent = set(lines)  # a console that echoes (it should not) sends them back
        return "\n".join(l for l in PROMPT.sub("", out).split("\n") if l.strip() not in sent).strip("\n")


def shell(link):
    """Bridge this terminal to the router's root shell until it exits back to
    the console (its prompt comes again) or our input ends."""
    import threading

    link.send("shell\n")
    done = threading.Event()

    def pump():
        tail = ""
        while not done.is_set():
            chunk = link.ser.read(4096)
            if chunk:
                text = chunk.decode(errors="replace")
                sys.stdout.write(text)
                sys.stdout.flush()
                tail = (tail + text.replace("\r", ""))[-200:]
                if PROMPT.search(tail):
                    done.set()

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    while not done.is_set():
        line = sys.stdin.readline()
        if not line:
            link.send("exit\n")
            break
        link.send(line)
    done.wait(10)
    done.set()
    return 0


def failed(out):
    """The console starts every refusal with `error: ` (runtime/console.py fail)."""
    return any(line.startswith("error: ") for line in out.split("\n"))


def _pages(line):
    """Would this console command's output meet the pager?"""
    from .runtime.consolegrammar import OUTPUT_COMMANDS, Syntax, command_name

    words = line.split()
    if not words or "|" in words or line.rstrip().endswith("?"):
        return False
    try:
        return command_name(words[0]) in OUTPUT_COMMANDS
    except Syntax:
        return False


def apply(link, text, progress, name="site file"):
    """load + commit, judged by what the console says it did (its positive
    answers), never by what the terminal echoed first."""
    out = link.load(text)
    if "load: candidate replaced" not in out or failed(out):
        print("\n".join(l for l in out.split("\n") if l.startswith("error: ")) or out, file=sys.stderr)
        link.command("revert")
        link.send("exit\n")
        return 1
    import shlex

    result = link.command("commit comment %s" % shlex.quote("outpost-console apply %s" % name[:120]), timeout=60)
    if not result.startswith(("commit complete", "commit: no changes")):
        print(result, file=sys.stderr)  # one error per line, each naming its field
        link.command("revert")
        link.send("exit\n")
        return 1
    if failed(result):
        # Committed, but the daemon refused to reload it: the router runs the
        # previous configuration. The file stays committed (fix and apply).
        print(result, file=sys.stderr)
        link.send("exit\n")
        return 1
    print(out)
    if progress:
        progress(result.replace("\n", "; "))
    link.send("exit\n")
    return 0


def password_from(args):
    if args.password_file:
        with open(args.password_file) as f:
            return f.readline().rstrip("\n")
    if os.environ.get("OUTPOST_CONSOLE_PASSWORD"):
        return os.environ["OUTPOST_CONSOLE_PASSWORD"]
    return getpass.getpass("console password: ")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="outpost-console", description="configure an Outpost router over its serial console")
    ap.add_argument("--port", required=True, help="/dev/ttyUSB0, rfc2217://host:port or socket://host:port")
    ap.add_argument("--baud", type=int, default=115200)
    ap.add_argument("--password-file")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("apply", help="apply a site file as one commit")
    a.add_argument("site")
    sub.add_parser("get", help="print the router's site file")
    s = sub.add_parser("show", help="show config [PATH] | registrations | status")
    s.add_argument("what", nargs="+")
    r = sub.add_parser("run", help="run one console command")
    r.add_argument("line")
    sub.add_parser("shell", help="the router's root shell on this terminal")
    args = ap.parse_args(argv)

    progress = None if args.quiet else (lambda msg: print("outpost-console: " + msg, file=sys.stderr))
    try:
        link = Link(args.port, args.baud, progress=progress)
        if progress:
            progress("logging in on " + args.port)
        link.login(password_from(args))
        if args.command == "apply":
            with open(args.site, encoding="utf-8") as f:
                text = f.read(MAX_SITE_FILE + 1)
            if len(text.encode("utf-8")) > MAX_SITE_FILE:
                print("outpost-console: %s: larger than 1 MiB, the console would refuse it" % args.site, file=sys.stderr)
                return 1
            return apply(link, text, progress, os.path.basename(args.site))
        elif args.command == "get":
            print(link.command("show config"))
        elif args.command == "shell":
            return shell(link)
        elif args.command == "show":
            print(link.command("show " + " ".join(args.what)))
        else:
            out = link.command(args.line)
            print(out)
            link.send("exit\n")
            return 1 if failed(out) else 0
        link.send("exit\n")
        return 0
    except ConsoleError as e:
        print("outpost-console: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:
        print("outpost-console: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
