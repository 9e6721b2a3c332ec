"""The console password: its hash, and the growing wait after failed logins.

There is one password and no user name, so a failed login says only
"Login incorrect." The wait after N failures in a row is 1, 2, 4 ... s,
capped at MAX_DELAY_S. The count and the time of the last failure live in
a small file (on tmpfs on the router: /run/outpost), so hanging up and
dialling in again, or a new console process after init respawns it, waits
the same. A successful login clears it.
"""

import base64
import hashlib
import hmac
import os
import time

from ..compat import json
from .store import write_atomic

PBKDF2_ROUNDS = 100000
# A stored hash asking for more would stall the console for minutes on the
# router's CPU; nothing this code writes comes near it.
MAX_ROUNDS = 10 * PBKDF2_ROUNDS
FIRST_DELAY_S = 1
MAX_DELAY_S = 30
MIN_PASSWORD = 8


def hash_password(password, salt=None):
    salt = salt or os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ROUNDS)
    return "pbkdf2-sha256$%d$%s$%s" % (PBKDF2_ROUNDS, base64.b64encode(salt).decode(), base64.b64encode(dk).decode())


def check_password(password, stored):
    try:
        scheme, rounds, salt, dk = stored.split("$")
        if scheme != "pbkdf2-sha256" or not 1 <= int(rounds) <= MAX_ROUNDS:
            return False
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(rounds))
        return hmac.compare_digest(got, base64.b64decode(dk))
    except (ValueError, TypeError, AttributeError):
        return False


class LoginThrottle:
    def __init__(self, path):
        self.path = path
        self.memory = (0, 0.0)  # when the file cannot be written, this session still waits

    def _read(self):
        try:
            with open(self.path, "rb") as f:
                data = json.loads(f.read())
            stored = int(data["failures"]), float(data["last"])
        except (OSError, ValueError, KeyError, TypeError):
            stored = (0, 0.0)
        return max(stored, self.memory)

    def delay(self):
        """Seconds to wait before the next attempt may be checked."""
        failures, last = self._read()
        if not failures:
            return 0.0
        wait = min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** min(failures - 1, 16))
        return max(0.0, min(wait, last + wait - time.time()))

    def wait(self):
        d = self.delay()
        if d > 0:
            time.sleep(d)

    def failed(self):
        failures, _ = self._read()
        self.memory = (failures + 1, time.time())
        try:
            write_atomic(self.path, json.dumps({"failures": self.memory[0], "last": self.memory[1]}).encode(), sync=False, mode=0o600)
        except OSError:
            pass  # a full or missing tmpfs must not open the door: self.memory still counts

    def succeeded(self):
        self.memory = (0, 0.0)
        try:
            os.unlink(self.path)
        except OSError:
            pass


class Gate:
    """The password prompts: first boot, login, the password command. Its
    only ways out are `say` (a line) and `ask` (a password prompt); the
    hash is stored by the caller's `store` (SiteConfig.set_console_password)."""

    def __init__(self, say, ask, throttle, drop_typeahead):
        self.say, self.ask, self.throttle, self.drop_typeahead = say, ask, throttle, drop_typeahead

    @staticmethod
    def cancelled(answer):
        """An empty or Ctrl-C'd entry is no attempt: outpost-console sends
        both to find out where a line it did not open stands."""
        return not answer or "\x03" in answer

    def first_boot(self, store):
        from .schema import Invalid

        self.say("No console password is set. Choose one now (at least %d characters)." % MIN_PASSWORD)
        chosen = self.choose()
        if chosen is None:
            return False
        try:
            store(hash_password(chosen))
        except Invalid as e:
            for err in e.errors:
                self.say(err)
            return False
        self.say("Console password set.")
        return True

    def login(self, stored):
        tries = 0
        while tries < 3:
            self.throttle.wait()  # before the prompt: a reconnect waits too
            self.drop_typeahead()
            try:
                answer = self.ask("Password: ")
            except KeyboardInterrupt:
                self.say("^C")
                continue
            if self.cancelled(answer):
                continue
            if check_password(answer, stored):
                self.throttle.succeeded()
                return True
            self.throttle.failed()
            tries += 1
            self.say("Login incorrect.")
        return False

    def change(self, stored, store):
        """The password command: the current password, then a new one twice."""
        try:
            current = self.ask("Current password: ")
        except KeyboardInterrupt:
            current = ""
        if self.cancelled(current):
            self.say("password: nothing changed")
            return
        if not check_password(current, stored):
            self.throttle.failed()
            from .consoleviews import ErrorLine

            self.say(ErrorLine("error: password: incorrect, nothing changed"))
            return
        # Not first boot's "New password:": outpost-console must never take
        # this prompt for a fresh router's.
        chosen = self.choose("New console password: ", cancel_aborts=True)
        if chosen is None:
            self.say("password: nothing changed")
            return
        store(hash_password(chosen))
        self.say("Console password changed.")

    def choose(self, prompt_new="New password: ", cancel_aborts=False):
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
            first = self.ask(prompt_new)
            if self.cancelled(first):
                return None, None
            if len(first) < MIN_PASSWORD:
                return first, None
            again = self.ask("Again: ")
        except KeyboardInterrupt:
            self.say("^C")
            return None, None
        return (None, None) if "\x03" in again else (first, again)
