"""The location table: bindings from address-of-record to contacts
(RFC 3261 §10). Reached only through this API (Kamailio's usrloc).

Times are integer milliseconds from the caller's clock. Bounds:
`max_bindings` in all and `max_per_aor` per address-of-record; the
registrar answers 503 with Retry-After when an update would pass either.
"""

from .uri import parse_uri

# 1,000 phones with 3 devices each, with room to spare; a branch router
# with 256 MB holds 10,000 bindings in about 3 MB.
MAX_BINDINGS = 10000
MAX_PER_AOR = 10


class Binding:
    __slots__ = ("aor", "uri", "expires_at", "q", "call_id", "cseq", "source", "user_agent")

    def __init__(self, aor, uri, expires_at, q, call_id, cseq, source, user_agent=None):
        self.aor = aor
        self.uri = uri  # URI object of the Contact
        self.expires_at = expires_at
        self.q = q  # thousandths
        self.call_id = call_id
        self.cseq = cseq
        self.source = source  # (transport, host, port, flow): where the REGISTER came from
        self.user_agent = user_agent

    def remaining(self, now):
        """Seconds left, rounded up (what a 200 OK's Contact expires= says)."""
        return max(0, (self.expires_at - now + 999) // 1000)

    def to_json(self):
        return {"aor": self.aor, "contact": str(self.uri), "expires_at": self.expires_at, "q": self.q,
                "call_id": self.call_id, "cseq": self.cseq, "source": list(self.source[:3]), "user_agent": self.user_agent}

    @staticmethod
    def from_json(d):
        src = d["source"]
        return Binding(d["aor"], parse_uri(d["contact"], "Contact"), int(d["expires_at"]), int(d["q"]), d["call_id"],
                       int(d["cseq"]), (src[0], src[1], int(src[2]), None), d.get("user_agent"))


class LocationTable:
    def __init__(self, max_bindings=MAX_BINDINGS, max_per_aor=MAX_PER_AOR):
        self.max_bindings = max_bindings
        self.max_per_aor = max_per_aor
        self._aors = {}  # aor -> [Binding]
        self._count = 0
        self.version = 0  # bumped on every change, for durable storage

    def __len__(self):
        return self._count

    def aors(self):
        return list(self._aors)

    def lookup(self, aor, now):
        """Unexpired bindings of `aor`, highest q first."""
        out = [b for b in self._aors.get(aor, ()) if b.expires_at > now]
        out.sort(key=lambda b: -b.q)
        return out

    def find(self, aor, uri):
        for b in self._aors.get(aor, ()):
            if b.uri == uri:
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
        for aor in list(self._aors):
            for b in list(self._aors[aor]):
                if b.expires_at <= now:
                    self._remove(b)
                    gone.append(b)
        if gone:
            self.version += 1
        return gone

    def next_expiry(self):
        best = None
        for lst in self._aors.values():
            for b in lst:
                if best is None or b.expires_at < best:
                    best = b.expires_at
        return best

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
