"""Upstream health and local survival: one state machine, as a table (sans-I/O).

Rules of this file (everything that moves the state lives here):
- Evidence is a probe's outcome (an OPTIONS to the upstream every
  `interval_ms`; any answer but 5xx within PROBE_TIMEOUT_MS, or half the
  interval when that is shorter, is "ok") or
  real traffic: a request relayed upstream that timed out, or a 503 from
  it, is a failure.
- NORMAL -> SURVIVAL after `threshold` failures in a row (one answer
  resets the count): a probe lost now and then does not move the site.
- SURVIVAL -> RECOVERING on the first answer; RECOVERING -> NORMAL only
  after answers for `stability_ms` without a failure; any failure while
  RECOVERING goes back to SURVIVAL. Routing is local in both SURVIVAL and
  RECOVERING, so a flapping upstream never bounces the site.
- Established calls are not this file's business: they keep their
  dialogs and pinholes whatever the state.

    (state, input) -> (next state, event)
"""

from . import defaults

NORMAL = "NORMAL"
SURVIVAL = "SURVIVAL"
RECOVERING = "RECOVERING"

# An OPTIONS round trip to the site's server over a branch WAN is well under
# this (a satellite hop is ~600 ms); slower, the link is down or too
# congested for calls. Under a second, so that an upstream lost right after
# an answer is declared down within interval x threshold + 1 s; never more
# than half the interval, so probes do not overlap.
PROBE_TIMEOUT_MS = 800
HISTORY = 8  # probe results kept for "show survival"

TABLE = {
    (NORMAL, "lost"): (SURVIVAL, "UpstreamLost"),
    (SURVIVAL, "answered"): (RECOVERING, "UpstreamAnswered"),
    (RECOVERING, "lost"): (SURVIVAL, "UpstreamFlapped"),
    (RECOVERING, "stable"): (NORMAL, "UpstreamRestored"),
}


class SurvivalConfig:
    def __init__(self, interval_ms=defaults.PROBE_INTERVAL_S * 1000, threshold=defaults.FAILURE_THRESHOLD,
                 stability_ms=defaults.STABILITY_S * 1000, expires_s=defaults.SURVIVAL_EXPIRES_S, trunk=None, patterns=(),
                 emergency=defaults.EMERGENCY_NUMBERS):
        self.interval_ms = interval_ms
        self.threshold = threshold
        self.stability_ms = stability_ms
        self.expires_s = expires_s  # REGISTER answered locally: phones come back soon
        self.trunk = trunk  # (transport, host, port, None) or None
        self.patterns = list(patterns)
        self.emergency = list(emergency)


class Survival:
    def __init__(self, config, now):
        self.config = config
        self.state = NORMAL
        self.since = now
        self.failures = 0  # in a row
        self.ok_since = None  # RECOVERING: answers since
        self.history = []  # [(now, ok, rtt_ms or None, what)]
        self.events = []  # (event, from, to, now)
        self.probe = None  # (branch, sent_at) of the probe in flight
        self.next_probe = now
        self._n = 0

    @property
    def local(self):
        """Route locally (the upstream is not trusted yet)?"""
        return self.state != NORMAL

    def _input(self, name, now):
        hit = TABLE.get((self.state, name))
        if hit is None:
            return
        old = self.state
        self.state, event = hit
        self.since = now
        self.events.append((event, old, self.state, now))
        if self.state == RECOVERING:
            self.ok_since = now

    def observe(self, ok, now, rtt=None, what="probe"):
        self.history.append((now, ok, rtt, what))
        if len(self.history) > HISTORY:
            self.history.pop(0)
        if ok:
            self.failures = 0
            if self.state == SURVIVAL:
                self._input("answered", now)
            elif self.state == RECOVERING and now - self.ok_since >= self.config.stability_ms:
                self._input("stable", now)
            return
        self.failures += 1
        if self.state == RECOVERING or (self.state == NORMAL and self.failures >= self.config.threshold):
            self._input("lost", now)

    # -- probes ---------------------------------------------------------------------

    @property
    def sent(self):
        return self._n

    def probe_due(self, now, salt):
        """A new probe's branch when one is due, else None; a probe still
        unanswered at its deadline counts as a failure first. `salt` is the
        caller's keyed token: a branch nobody outside can guess, so only the
        upstream's real answer can match it."""
        if self.probe is not None and now >= self.probe[1] + self.timeout_ms:
            self.probe = None
            self.observe(False, now, None, "timeout")
        if now < self.next_probe:
            return None
        self._n += 1
        branch = "z9hG4bKop-probe.%s" % salt
        self.probe = (branch, now)
        self.next_probe = now + self.config.interval_ms
        return branch

    def probe_answered(self, branch, status, now):
        if self.probe is None or self.probe[0] != branch:
            return  # late: its timeout was already counted
        sent = self.probe[1]
        self.probe = None
        self.observe(status < 500, now, now - sent, "%d" % status)

    def next_deadline(self):
        t = self.next_probe
        if self.probe is not None and self.probe[1] + self.timeout_ms < t:
            t = self.probe[1] + self.timeout_ms
        return t

    @property
    def timeout_ms(self):
        return min(PROBE_TIMEOUT_MS, self.config.interval_ms // 2)


def dial_match(pattern, number):
    """Asterisk-style dial patterns: digits, * # + match themselves, X any
    digit, [1-5] or [137] one of a set, '.' one or more of anything."""
    i = 0
    n = len(number)
    k = 0
    while k < len(pattern):
        c = pattern[k]
        if c == ".":
            return i < n
        if i >= n:
            return False
        d = number[i]
        if c == "X":
            if not d.isdigit():
                return False
        elif c == "[":
            end = pattern.find("]", k)
            if end < 0 or not _in_set(pattern[k + 1:end], d):
                return False
            k = end
        elif c != d:
            return False
        i += 1
        k += 1
    return i == n


def _in_set(spec, d):
    j = 0
    while j < len(spec):
        if j + 2 < len(spec) and spec[j + 1] == "-":
            if spec[j] <= d <= spec[j + 2]:
                return True
            j += 3
        else:
            if spec[j] == d:
                return True
            j += 1
    return False
