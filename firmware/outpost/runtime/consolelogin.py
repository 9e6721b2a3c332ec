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
