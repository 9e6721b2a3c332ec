"""Per-source request rate limit: a token bucket per source address.

A flood from one address costs a dict lookup per datagram and is dropped
before parsing. A datagram costs one token plus one per KiB beyond its
first: parsing is linear in bytes, so a source sending 64 KB messages at
the datagram rate would burn a core; this way its allowance is in bytes
as well (200 tokens/s is 200 small messages or about 200 KiB). The table of sources is bounded (`max_sources`): at the
bound the source seen longest ago is forgotten, so spoofed-address floods
cannot grow it; eviction is first-in first-out (a list and a head index,
O(1) amortised: MicroPython's dict keeps no order), so a flood of spoofed
sources costs a constant per datagram, and evicting a real source only
gives it a fresh bucket.
"""

from .defaults import RATE, BURST, MAX_SOURCES  # reasons and bounds: core/defaults.py


class RateLimiter:
    def __init__(self, rate=RATE, burst=BURST, max_sources=MAX_SOURCES):
        self.rate = rate
        self.burst = burst
        self.max_sources = max_sources
        self._buckets = {}  # host -> [tokens*1000, last_ms]
        self._order = []  # hosts in the order their bucket was made
        self._head = 0

    def allow(self, host, now, nbytes=0):
        if not self.rate:
            return True
        cost = (1 + (nbytes - 1) // 1024 if nbytes > 1024 else 1) * 1000
        b = self._buckets.get(host)
        if b is None:
            if len(self._buckets) >= self.max_sources:
                self._forget_oldest()
            b = self._buckets[host] = [self.burst * 1000, now]
            self._order.append(host)
        tokens = min(self.burst * 1000, b[0] + (now - b[1]) * self.rate)
        b[1] = now
        if tokens < cost:
            b[0] = tokens
            return False
        b[0] = tokens - cost
        return True

    def _forget_oldest(self):
        order = self._order
        while self._head < len(order):
            host = order[self._head]
            self._head += 1
            if self._buckets.pop(host, None) is not None:
                break
        if self._head > 1024 and self._head * 2 > len(order):
            del order[:self._head]
            self._head = 0
