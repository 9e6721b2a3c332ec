"""Host names the daemon resolves, and what they resolved to.

Rules of this file:
- Only names from the configuration (`upstream.host`,
  `upstream.outbound_proxy`, `survival.fallback_trunk`) are ever looked
  up. A name reaching `send` from anywhere else came out of a packet (the
  Request-URI or Route host of a forwarded request, an ACK, a Contact): the
  message is dropped and counted. A stranger must not make the router
  query DNS (a name per message is a covert channel and a flood of
  lookups), hold the resolver threads with slow names, or grow the cache.
- The cache is bounded (MAX_NAMES; the oldest entry goes first), a name
  has one lookup in flight at a time, and at most MAX_WAITING messages
  wait for it; more are dropped (their transactions retransmit).
- Lookups ask for IPv4 only: the core's addresses are IPv4 (core/addr.py).
"""

import asyncio
import logging
import socket

from .transport import is_ip

log = logging.getLogger("outpost")

TTL_MS = 60000  # no TTL from getaddrinfo: re-resolve a configured peer once a minute
MAX_NAMES = 64  # configured names are a handful; this bounds the cache whatever happens
MAX_WAITING = 64  # messages held per name while its lookup runs


class Resolver:
    def __init__(self, now, names=(), on_resolved=None):
        self.now = now
        self._cache = {}  # name -> (address, until ms), oldest first
        self.names = set()
        self.allow(names)
        self.on_resolved = on_resolved  # () -> None: a configured peer's address may have changed
        self._waiting = {}  # name -> [fn(address)] while its lookup runs
        self.refused = 0  # messages dropped for naming a host not in the configuration

    def allow(self, names):
        """The configured names (at start and on reload)."""
        self.names = {n for n in names if n and not is_ip(n)}
        for name in [n for n in self._cache if n not in self.names]:
            del self._cache[name]

    def get(self, name):
        """(address, until ms) of a name resolved before, or None."""
        return self._cache.get(name)

    def refuse(self, host):
        """True (and counted, logged at debug) when `host` is a name the
        configuration does not give: the caller drops the message."""
        if is_ip(host) or host in self.names:
            return False
        self.refused += 1
        log.debug("not resolving %r: only configured host names are (message dropped)", host[:64])
        return True

    def resolve_then(self, host, fn, failed=None):
        """fn(address) now from the cache, or once the lookup is done;
        failed() when the name is refused or does not resolve."""
        if self.refuse(host):
            return failed() if failed is not None else None
        hit = self._cache.get(host)
        if hit and hit[1] > self.now():
            return fn(hit[0])
        waiting = self._waiting.get(host)
        if waiting is None:
            self._waiting[host] = [(fn, failed)]
            asyncio.ensure_future(self._lookup(host))
        elif len(waiting) < MAX_WAITING:
            waiting.append((fn, failed))

    async def _lookup(self, host):
        loop = asyncio.get_running_loop()
        try:
            info = await loop.getaddrinfo(host, None, family=socket.AF_INET, type=socket.SOCK_DGRAM)
        except OSError as e:
            log.info("cannot resolve %s: %s", host, e)
            for _, failed in self._waiting.pop(host, ()):
                if failed is not None:
                    failed()
            return
        addr = info[0][4][0]
        self._put(host, addr)
        if self.on_resolved is not None:
            self.on_resolved()
        for fn, _ in self._waiting.pop(host, ()):
            fn(addr)

    def _put(self, host, addr):
        self._cache.pop(host, None)
        self._cache[host] = (addr, self.now() + TTL_MS)
        while len(self._cache) > MAX_NAMES:
            del self._cache[next(iter(self._cache))]

    def __len__(self):
        return len(self._cache)
