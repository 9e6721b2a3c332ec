"""The console's serial line: when a session must end, and the terminal
settings it needs. Everything here is a no-op on what is not a tty (the
tests' pipes and sockets) and outside the main thread (only it may set
signal handlers).

- A hangup (SIGHUP: modem control lines, a console server dropping DTR,
  the pty's master side closing) and the idle timeout raise SessionEnded.
- HUPCL: when the console process exits, the modem lines drop, so the far
  side hangs up too.
- Type-ahead is dropped before each password prompt (guesses typed during
  the login delay do not queue up), and a base64 block is not echoed.
"""

import getpass
import os
import signal
import termios
import threading


class SessionEnded(EOFError):
    """The line dropped (hangup) or nobody typed for the idle timeout."""


def _main_thread():
    return threading.current_thread() is threading.main_thread()


def _restore(signum, previous):
    signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


class Hangup:
    """SIGHUP raises SessionEnded while the session runs."""

    def __enter__(self):
        self.armed = _main_thread()
        if self.armed:
            self.previous = signal.signal(signal.SIGHUP, self._fire)
        return self

    @staticmethod
    def _fire(signum, frame):
        raise SessionEnded("hangup")

    def __exit__(self, *exc):
        if self.armed:
            _restore(signal.SIGHUP, self.previous)
        return False


class Idle:
    """SessionEnded after `seconds` without input, around one blocking read.
    A timer signal interrupts any read (tty, pipe, getpass)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def _fire(self, signum, frame):
        raise SessionEnded("idle for %g s" % self.seconds)

    def __enter__(self):
        self.armed = _main_thread()
        if self.armed:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            _restore(signal.SIGALRM, self.previous)
        return False


class Ignoring:
    """A signal ignored for a while (Ctrl-C belongs to the root shell)."""

    def __init__(self, signum):
        self.signum = signum

    def __enter__(self):
        self.armed = _main_thread()
        if self.armed:
            self.previous = signal.signal(self.signum, signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        if self.armed:
            _restore(self.signum, self.previous)
        return False


class NoEcho:
    def __init__(self, stream):
        self.stream, self.saved = stream, None

    def __enter__(self):
        fd = _tty(self.stream)
        if fd is not None:
            self.saved = termios.tcgetattr(fd)
            quiet = termios.tcgetattr(fd)
            quiet[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self.saved)
        return False


def _tty(stream):
    try:
        fd = stream.fileno()
        return fd if os.isatty(fd) else None
    except (AttributeError, OSError, ValueError):
        return None


def hang_up_on_close(stream):
    fd = _tty(stream)
    if fd is not None:
        attrs = termios.tcgetattr(fd)
        attrs[2] |= termios.HUPCL
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


def drop_typeahead(stream):
    fd = _tty(stream)
    if fd is not None:
        termios.tcflush(fd, termios.TCIFLUSH)


def ask_password_line(stdin, stdout, prompt):
    """A password without echo on a terminal; a plain line otherwise (a
    test's pipe, outpost-console's scripted login)."""
    if stdin.isatty():
        return getpass.getpass(prompt, stream=stdout)
    stdout.write(prompt)
    stdout.flush()
    line = stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\r\n")
