"""What the console writes: lines escaped for the terminal, the pipes
(| match, | except, | count) and the pager (--More--, | no-more).

Rules of this file:
- Every line reaches the terminal through write(): control characters
  escaped (consoleviews.text), and only a refusal (consoleviews.ErrorLine)
  may start with `error: `: data that does (a Call-ID) is indented, so
  outpost-console's exit status cannot be faked by the network.
- Off a terminal there is no pager: a test, a pipe, a host tool reads all.
"""

import re

from . import consoleviews
from .consoleline import SessionEnded
from .consoleviews import ErrorLine

PAGE = 22  # lines before --More-- (a 24-line terminal, the prompt and the question)


class Screen:
    def __init__(self, stdin, stdout):
        self.stdin, self.stdout = stdin, stdout
        self.typeahead = ""  # a key pressed at --More-- that starts the next line

    def write(self, line):
        if line.startswith("error: ") and not isinstance(line, ErrorLine):
            line = " " + line  # data (a Call-ID, a log line) never passes for a refusal
        try:
            self.stdout.write(consoleviews.text(line) + "\n")
            self.stdout.flush()
        except OSError:
            raise SessionEnded("the line is gone")

    def emit(self, lines, pipes):
        """An output command's lines, through its pipes, paged."""
        for name, args in pipes:
            if name in ("match", "except"):
                try:
                    rx = re.compile(args[0])
                except re.error as e:
                    self.write(ErrorLine("error: | %s: %s" % (name, e)))
                    return
                lines = [ln for ln in lines if bool(rx.search(ln)) == (name == "match")]
            elif name == "count":
                lines = ["Count: %d lines" % len(lines)]
        paged = ("no-more", []) not in pipes
        for n, line in enumerate(lines):
            if paged and n and n % PAGE == 0 and not self.more():
                break
            self.write(line)

    def more(self):
        """--More-- on a terminal; False when the admin pressed q (or began
        the next command, whose first key is kept)."""
        from .lineedit import read_key

        key = read_key(self.stdin, self.stdout, "--More-- (space: next page, q: stop)")
        if key is None or key in " \r\n":
            return True
        if key not in "qQ\x03" and key.isprintable():
            self.typeahead = key
        return False
