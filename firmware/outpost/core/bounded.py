"""A table anyone on the LAN can grow, bounded in all and per source.

Rules of this file:
- Each entry belongs to the source host whose message created it. A source
  holds at most `per_source` entries: past that its own oldest entry goes,
  never someone else's, so one chatty or hostile host cannot push the
  other phones' entries out.
- In all at most `total` entries: past that the least recently used entry
  of any source goes (many hosts at their share at once: the busiest site).
Used for the relay's contact tokens and Call-ID host tokens.
"""


class SourceTable:
    def __init__(self, total, per_source):
        self.total = total
        self.per_source = per_source
        self._items = {}  # key -> [value, source, last used ms]
        self._by_source = {}  # source -> [keys in order of creation]

    def __len__(self):
        return len(self._items)

    def __contains__(self, key):
        return key in self._items

    def get(self, key, now=None):
        e = self._items.get(key)
        if e is None:
            return None
        if now is not None:
            e[2] = now
        return e[0]

    def entry(self, key):
        return self._items.get(key)

    def put(self, key, value, source, now):
        e = self._items.get(key)
        if e is not None:
            e[0], e[2] = value, now
            return
        keys = self._by_source.get(source)
        if keys is None:
            keys = self._by_source[source] = []
        if len(keys) >= self.per_source:
            self._drop(keys[0])
        elif len(self._items) >= self.total:
            self._drop(self._oldest())
        self._items[key] = [value, source, now]
        self._by_source.setdefault(source, []).append(key)

    def _oldest(self):
        oldest = None
        for k in self._items:
            if oldest is None or self._items[k][2] < self._items[oldest][2]:
                oldest = k
        return oldest

    def _drop(self, key):
        e = self._items.pop(key, None)
        if e is None:
            return
        keys = self._by_source.get(e[1])
        if keys is not None:
            keys.remove(key)
            if not keys:
                del self._by_source[e[1]]
