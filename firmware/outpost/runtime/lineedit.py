"""A line editor for the serial console, with tab completion, needing no
readline (the image has none) and no curses: only the terminal's
non-canonical mode and four control keys.

  printable  inserted at the end (no cursor movement: dumb terminals
             and line noise stay simple)
  BS / DEL   erase one character       Ctrl-U  erase the line
  TAB        complete the last word; pressed twice, list the choices
  Enter      the line                  Ctrl-D  on an empty line: EOF
  Ctrl-C     KeyboardInterrupt (the terminal's ISIG stays on)

  Up/Down    walk this session's history (the last MAX_HISTORY lines)

Other control bytes and escape sequences (left/right, noise) are dropped.
When stdin is not a terminal, plain readline() is used.
"""

import os

MAX_LINE = 4096


def common_prefix(words):
    if not words:
        return ""
    a, b = min(words), max(words)
    i = 0
    while i < len(a) and i < len(b) and a[i] == b[i]:
        i += 1
    return a[:i]


class Raw:
    """The terminal key by key, unechoed, for the length of a with block
    (ISIG stays on: Ctrl-C is still SIGINT); restored whatever happens."""

    def __init__(self, fd):
        self.fd = fd

    def __enter__(self):
        import termios

        self.old = termios.tcgetattr(self.fd)
        new = termios.tcgetattr(self.fd)
        new[3] &= ~(termios.ICANON | termios.ECHO)
        new[6][termios.VMIN], new[6][termios.VTIME] = 1, 0
        termios.tcsetattr(self.fd, termios.TCSADRAIN, new)
        return self

    def __exit__(self, *exc):
        import termios

        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.old)


MAX_HISTORY = 100  # lines a session remembers for the arrow keys


class LineEditor:
    def __init__(self, stdin, stdout, complete=None, history=None):
        self.stdin, self.stdout = stdin, stdout
        self.complete = complete  # line -> (start of the last word, [candidates])
        self.history = history if history is not None else []  # the session's, oldest first

    def readline(self, prompt, typed=""):
        """One line; `typed`: what the line starts with (a key the pager kept)."""
        self.stdout.write(prompt + typed)
        self.stdout.flush()
        try:
            fd = self.stdin.fileno()
            interactive = self.complete is not None and os.isatty(fd)
        except (AttributeError, OSError, ValueError):
            interactive = False
        if not interactive:
            line = self.stdin.readline()
            if not line:
                raise EOFError
            return line
        with Raw(fd):
            return self._edit(fd, prompt, typed)

    def _edit(self, fd, prompt, typed=""):
        buf = typed
        tabs = 0
        esc = ""  # an escape sequence so far: up and down walk the history, the rest is dropped
        back = 0  # how far up the history the line is
        while True:
            b = os.read(fd, 1)
            if not b:
                raise EOFError
            c = b[0]
            if esc:
                esc += chr(c)
                if 0x40 <= c <= 0x7E and esc != "\x1b[" and esc != "\x1bO":
                    if esc[-1] in "AB" and len(esc) == 3 and self.history:
                        back = max(0, min(len(self.history), back + (1 if esc[-1] == "A" else -1)))
                        new = self.history[-back] if back else ""
                        self._out("\b \b" * len(buf) + new)
                        buf = new
                    esc = ""
                elif len(esc) > 16:
                    esc = ""
                continue
            if c != 9:
                tabs = 0
            if c in (10, 13):
                self._out("\r\n")
                if buf.strip() and (not self.history or self.history[-1] != buf):
                    self.history.append(buf)
                    del self.history[:-MAX_HISTORY]
                return buf + "\n"
            if c == 4 and not buf:
                raise EOFError
            if c in (8, 127):
                if buf:
                    buf = buf[:-1]
                    self._out("\b \b")
            elif c == 21:
                self._out("\b \b" * len(buf))
                buf = ""
            elif c == 9:
                tabs += 1
                buf = self._tab(buf, tabs, prompt)
            elif c == 27:
                esc = "\x1b"
            elif 32 <= c < 127 and len(buf) < MAX_LINE:
                buf += chr(c)
                self._out(chr(c))

    def _tab(self, buf, tabs, prompt):
        start, choices = self.complete(buf)
        word = buf[start:]
        # Choices come from the site file (user names): only printable ASCII
        # may be echoed to the terminal or typed into the line for the user.
        choices = sorted(set(c for c in choices if c.startswith(word) and c.isascii() and c.isprintable()))
        if not choices:
            return buf
        if len(choices) == 1:
            done = choices[0]
            if not done.endswith((".", "[")):
                done += " "
        else:
            done = common_prefix(choices)
            if done == word and tabs >= 2:
                self._out("\r\n" + _columns(choices) + prompt + buf)
                return buf
        add = done[len(word):]
        self._out(add)
        return buf + add

    def _out(self, text):
        self.stdout.write(text)
        self.stdout.flush()


def _columns(words, width=80):
    w = max(len(x) for x in words) + 2
    per = max(1, width // w)
    rows = []
    for i in range(0, len(words), per):
        rows.append("".join(x.ljust(w) for x in words[i:i + per]).rstrip())
    return "\r\n".join(rows) + "\r\n"


def read_key(stdin, stdout, prompt):
    """One key pressed at `prompt` (the pager's --More--), the prompt then
    wiped; None when stdin is not a terminal (no pager there)."""
    try:
        fd = stdin.fileno()
        if not os.isatty(fd):
            return None
    except (AttributeError, OSError, ValueError):
        return None
    stdout.write(prompt)
    stdout.flush()
    with Raw(fd):
        b = os.read(fd, 1)
    stdout.write("\r" + " " * len(prompt) + "\r")
    stdout.flush()
    if not b:
        raise EOFError
    return chr(b[0]) if b[0] < 128 else "?"
