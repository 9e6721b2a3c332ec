"""The transactions' deadlines: one heap, cleaned a few entries at a time.

An entry is (deadline, seq, transaction). Stopping a timer or ending a
transaction leaves its entry in place (a heap cannot remove from the
middle cheaply); such a stale entry is skipped when it comes up.

Stale entries must not pile up, though: an evicted transaction's entry
would otherwise wait for its old deadline (32 s at the rates that evict),
and the heap would follow the offered rate instead of max_transactions.
So when the heap has doubled since it was last clean, it is cleaned. Not
in one pass: at 800 calls/s a pass over ~9,000 entries stopped the loop
for 6-7 ms once a second, a stall the socket queue needs ~40 ms to catch
up from at 85 % of a core. The full heap is set aside as `_old` and every
push moves MIGRATE of its entries, the live ones into the new heap. Taking
them from the end keeps `_old` a heap (a leaf goes), so until it is empty
both heaps are read, earliest first.

Cost: each entry is looked at once (as before), at most MIGRATE per push.
Size: the next threshold counts the entries pushed during the clean-up as
live, so with L live entries the whole settles below about
(1 + 1/M) * (2 * (L + S/M) / (1 - 2/M) + S) for M = MIGRATE and S = SLACK:
2.4 L + 620 entries (a one-pass clean-up: 2 L + 512).
"""

import heapq

from .base import TERMINATED

MIGRATE = 16  # entries of `_old` looked at per push while a clean-up runs
SLACK = 512  # a small heap is never cleaned


def _live(entry):
    txn = entry[2]
    return txn.state != TERMINATED and entry[0] in txn.timers.values()


class Deadlines:
    def __init__(self):
        self._heap = []
        self._old = []  # the heap being cleaned, drained into _heap
        self._seq = 0  # ties broken by age: a transaction is never compared
        self._clean_at = SLACK  # heap size that starts a clean-up; None while one runs
        self.scanned = 0  # entries a clean-up has looked at (tests bound the work)

    def __len__(self):
        return len(self._heap) + len(self._old)

    def push(self, at, txn):
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, txn))
        if self._clean_at is None:
            self._migrate()
        elif len(self._heap) > self._clean_at:
            self._old, self._heap = self._heap, []
            self._clean_at = None
            self._migrate()

    def _migrate(self):
        old, heap = self._old, self._heap
        n = min(MIGRATE, len(old))
        self.scanned += n
        for _ in range(n):
            e = old.pop()  # a leaf: what stays of `old` is still a heap
            if _live(e):
                heapq.heappush(heap, e)
        if not old:
            self._clean_at = 2 * len(heap) + SLACK

    def _first(self):
        """The heap holding the earliest entry; None when both are empty."""
        heap, old = self._heap, self._old
        if old and (not heap or old[0] < heap[0]):
            return old
        return heap if heap else None

    def next_deadline(self):
        """The earliest deadline a live timer has, or None; stale entries
        met on the way are dropped."""
        while True:
            h = self._first()
            if h is None:
                return None
            at, _, txn = h[0]
            if txn.state != TERMINATED and txn.timers and min(txn.timers.values()) <= at:
                return at
            heapq.heappop(h)

    def pop_due(self, now):
        """The transaction of the earliest entry due at `now` (removed), or
        None. Its timers decide what, if anything, is due."""
        h = self._first()
        if h is None or h[0][0] > now:
            return None
        return heapq.heappop(h)[2]
