"""The location table: bindings from address-of-record to contacts
(RFC 3261 §10). Reached only through this API (Kamailio's usrloc).

Times are integer milliseconds from the caller's clock. Bounds:
`max_bindings` in all and `max_per_aor` per address-of-record; the
registrar answers 503 with Retry-After when an update would pass either.
"""

import heapq

from .uri import parse_uri

from .defaults import MAX_BINDINGS, MAX_PER_AOR  # reasons and bounds: core/defaults.py


class Binding:
    __slots__ = ("aor", "contact", "expires_at", "q", "call_id", "cseq", "source", "user_agent")

    def __init__(self, aor, uri, expires_at, q, call_id, cseq, source, user_agent=None):
        self.aor = aor
        # Kept as text and parsed when used: a parsed URI costs ten times the
        # memory, and a binding is read only when a call or REGISTER comes.
        self.contact = str(uri)
        self.expires_at = expires_at
        self.q = q  # thousandths
        self.call_id = call_id
        self.cseq = cseq
        self.source = source  # (transport, host, port, flow): where the REGISTER came from
        self.user_agent = user_agent

    @property
    def uri(self):
        return parse_uri(self.contact, "Contact")

    def remaining(self, now):
        """Seconds left, rounded up (what a 200 OK's Contact expires= says)."""
        return max(0, (self.expires_at - now + 999) // 1000)

    def to_json(self):
        return {"aor": self.aor, "contact": self.contact, "expires_at": self.expires_at, "q": self.q,
                "call_id": self.call_id, "cseq": self.cseq, "source": list(self.source[:3]), "user_agent": self.user_agent}

    @staticmethod
    def from_json(d):
        src = d["source"]
        parse_uri(d["contact"], "Contact")  # refuse a damaged entry now
        return Binding(d["aor"], d["contact"], int(d["expires_at"]), int(d["q"]), d["call_id"],
                       int(d["cseq"]), (src[0], src[1], int(src[2]), None), d.get("user_agent"))


class LocationTable:
    def __init__(self, max_bindings=MAX_BINDINGS, max_per_aor=MAX_PER_AOR):
        self.max_bindings = max_bindings
        self.max_per_aor = max_per_aor
        self._aors = {}  # aor -> [Binding]
        self._count = 0
        self.version = 0  # bumped on every change, for durable storage
        # (expires_at, seq, Binding), stale entries skipped lazily: the next
        # expiry is asked for after every datagram, so it must not scan.
        self._heap = []
        self._seq = 0

    def __len__(self):
        return self._count

    def lookup(self, aor, now):
        """Unexpired bindings of `aor`, highest q first."""
        out = [b for b in self._aors.get(aor, ()) if b.expires_at > now]
        out.sort(key=lambda b: -b.q)
        return out

    def find(self, aor, uri):
        text = str(uri)
        for b in self._aors.get(aor, ()):
            if b.contact == text or b.uri == uri:
                return b
        return None

    def room_for(self, aor, new):
        """Could `new` more bindings be added to `aor`?"""
        return self._count + new <= self.max_bindings and len(self._aors.get(aor, ())) + new <= self.max_per_aor

    def put(self, binding):
        old = self.find(binding.aor, binding.uri)
        if old is not None:
            self._remove(old)
        self._aors.setdefault(binding.aor, []).append(binding)
        self._count += 1
        self.version += 1
        self._seq += 1
        heapq.heappush(self._heap, (binding.expires_at, self._seq, binding))
        if len(self._heap) > 4 * self._count + 64:
            self._rebuild()  # refreshes leave stale entries: keep the heap bounded

    def _rebuild(self):
        self._heap = []
        for lst in self._aors.values():
            for b in lst:
                self._seq += 1
                self._heap.append((b.expires_at, self._seq, b))
        heapq.heapify(self._heap)

    def _live(self, b):
        for x in self._aors.get(b.aor, ()):
            if x is b:
                return True
        return False

    def remove(self, aor, uri):
        b = self.find(aor, uri)
        if b is not None:
            self._remove(b)
            self.version += 1
        return b

    def remove_all(self, aor):
        gone = self._aors.pop(aor, [])
        self._count -= len(gone)
        if gone:
            self.version += 1
        return gone

    def _remove(self, b):
        lst = self._aors[b.aor]
        lst.remove(b)
        self._count -= 1
        if not lst:
            del self._aors[b.aor]

    def expire(self, now):
        """Drop expired bindings; return them."""
        gone = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            b = heapq.heappop(heap)[2]
            if b.expires_at <= now and self._live(b):
                self._remove(b)
                gone.append(b)
        if gone:
            self.version += 1
        return gone

    def next_expiry(self):
        heap = self._heap
        while heap and not self._live(heap[0][2]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def all(self):
        return [b for lst in self._aors.values() for b in lst]

    def snapshot(self):
        return [b.to_json() for lst in self._aors.values() for b in lst]

    def restore(self, items, now):
        """Load a snapshot, dropping expired and malformed entries; returns how many were kept."""
        kept = 0
        for d in items:
            try:
                b = Binding.from_json(d)
            except Exception:  # a damaged entry must not stop the others loading
                continue
            if b.expires_at > now and self.room_for(b.aor, 1):
                self.put(b)
                kept += 1
        return kept
