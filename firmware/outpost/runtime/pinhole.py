"""The nftables pinhole helper: legs in, set and map elements out.

The base ruleset (/etc/nftables.conf) owns four containers in
`table inet outpost`, which this helper fills and nothing else touches:

  media_dnat   WAN port -> phone address . port           (prerouting DNAT)
  media_snat   phone address . port -> WAN address . port (postrouting SNAT)
  media_in     remote . remote port . phone . phone port  (forward accept, WAN->LAN)
  media_out    the same tuple                             (forward accept, LAN->WAN)
  media_any    phone . phone port  (forward accept, WAN->LAN from whoever sends
               first: media.lock first_sender; the ruleset lets one flow in
               per WAN port)
  media_guard  phone . remote . remote port (forward drop, LAN->WAN, after
               the accepts: the call's phone reaches the far end its SDP
               names only through the call's pinhole; a core.media.Guard)

Rules of this file:
- Only typed values cross into the kernel. A leg's addresses must be
  `core.addr.IPv4` objects and its ports ints 1-65535; anything else is a
  bug of ours (the core parses SDP into these types at its edge) and is
  refused with TypeError before a statement is queued.
- No ruleset text is ever built from values. Statements are nftables JSON
  objects, and an address goes in as its 32-bit number, not as a string:
  nft reads a JSON string as a symbol and would resolve a host name in it
  (getaddrinfo, while the daemon's only thread waits); a number it cannot
  interpret as anything but an address.
- One `nft -j -f -` process per batch (one SIP message), never one per
  packet. Not libnftables in-process (python3-nftables): the image does
  not ship that package (board/debian/packages.lock), and one code path
  tested on the host is the one that runs on the router.
- Every element carries a timeout, so nothing outlives a dead daemon; the
  accept sets are refreshed by the media packets themselves (`update` in
  the forward chain), the maps by `refresh()` while the call lives.
- nft cannot refresh an element in place (refresh is delete + add), and
  deleting one that has already expired fails the whole batch. A failed
  batch is replayed once with every delete made harmless (add, then
  delete, of the same element); if that fails too, statement by statement.
- Two legs may name the same map key (a phone's address and port in two
  calls): the last opener owns the element and only the owner deletes or
  refreshes it, so a collision never fails a batch (a replay costs a
  process per statement) and one call's BYE never removes another's.
"""

import json
import subprocess

from ..core.addr import IPv4
from ..core import defaults
from ..core.media import Guard

TABLE = "inet outpost"
MEDIA_IDLE_S = defaults.MEDIA_IDLE_S
MAPS = ("media_dnat", "media_snat")
SETS = ("media_in", "media_out", "media_any", "media_guard")
REFRESHED = MAPS + ("media_guard",)  # no packet refreshes these


class NftPinholes:
    def __init__(self, timeout_s=MEDIA_IDLE_S, nft=("nft",), table=TABLE, lock="sdp"):
        self.timeout_s = timeout_s
        self.lock = lock  # "sdp": only the negotiated remote; "first_sender": whoever sends first
        self.nft = list(nft)
        self.family, self.table = table.split()
        self.live = {}  # key -> Leg
        self._installed = {}  # key -> [(container, key, data)] as opened
        self._owner = {}  # (map, key) -> (leg key, data) of the leg that installed it
        self._holders = {}  # (set, key) -> how many live legs need the element
        self._batch = []
        self.batches = 0
        self.replays = 0
        self.error = ""  # nft's last complaint, for the daemon's log

    # -- what the daemon calls --------------------------------------------------

    def open(self, leg):
        elements = _elements(leg, self.lock)  # TypeError before anything is queued
        if leg.key in self.live:
            self.close(self.live[leg.key])
        self.live[leg.key] = leg
        self._installed[leg.key] = elements
        for name, key, data in elements:
            if name in MAPS:
                taken = self._owner.get((name, key))
                if taken is not None:
                    self._batch.append(("delete", name, key, taken[1]))  # the older call loses it
                self._owner[(name, key)] = (leg.key, data)
            else:
                self._holders[(name, key)] = self._holders.get((name, key), 0) + 1
            self._batch.append(("add", name, key, data))

    def refresh(self, leg):
        """Keep a live call's NAT mappings and guards; its accept elements
        live on the call's packets, so an idle call stops passing media."""
        for name, key, data in self._installed.get(leg.key, ()):
            if name in REFRESHED and (name not in MAPS or self._owner.get((name, key)) == (leg.key, data)):
                self._batch += [("delete", name, key, data), ("add", name, key, data)]

    def close(self, leg):
        """Remove what `open` installed for this leg's key (as it was then:
        a reload changing media.lock does not strand elements)."""
        if self.live.pop(leg.key, None) is None:
            return
        for name, key, data in self._installed.pop(leg.key):
            if name in MAPS:
                if self._owner.get((name, key)) != (leg.key, data):
                    continue  # a newer call took it over
                del self._owner[(name, key)]
            else:
                n = self._holders.pop((name, key), 1) - 1
                if n > 0:
                    self._holders[(name, key)] = n
                    continue  # another live leg still needs it
            self._batch.append(("delete", name, key, data))

    def flush(self):
        """Forget every pinhole (daemon start: whatever an earlier run left)."""
        self.live.clear()
        self._installed.clear()
        self._owner.clear()
        self._holders.clear()
        self._batch += [("flush", name, None, None) for name in MAPS + SETS]

    def apply(self):
        """Send the queued statements as one batch; True when all went in."""
        batch, self._batch = self._batch, []
        if not batch:
            return True
        self.batches += 1
        if self._run(batch):
            return True
        self.replays += 1
        if self._run(batch, tolerant=True):
            return True
        ok = True
        for stmt in batch:
            if not self._run([stmt], tolerant=True) and stmt[0] != "delete":
                ok = False
        return ok

    # -- statements ----------------------------------------------------------------

    def _run(self, batch, tolerant=False):
        doc = json.dumps({"nftables": [obj for stmt in batch for obj in self._json(stmt, tolerant)]})
        p = subprocess.run(self.nft + ["-j", "-f", "-"], input=doc, capture_output=True, text=True)
        if p.returncode != 0:
            self.error = p.stderr.strip()[:200]
        return p.returncode == 0

    def _json(self, stmt, tolerant):
        """nftables JSON objects for one queued statement. A tolerant delete
        cannot fail on an element that is already gone: it adds the element
        first (a no-op when it exists), then deletes it."""
        op, name, key, data = stmt
        where = {"family": self.family, "table": self.table, "name": name}
        if op == "flush":
            return [{"flush": {"map" if name in MAPS else "set": where}}]
        if op == "add":
            return [{"add": {"element": dict(where, elem=[_elem(key, data, self.timeout_s)])}}]
        out = [{"add": {"element": dict(where, elem=[_elem(key, data, 1)])}}] if tolerant else []
        return out + [{"delete": {"element": dict(where, elem=[_value(key)])}}]


# -- legs to elements --------------------------------------------------------------

def _elements(leg, lock):
    """[(container, key, data)] of a leg or guard; keys and data are tuples
    of ints (addresses as numbers). Raises TypeError for anything not typed."""
    if type(leg) is Guard:
        phone = _endpoint((leg.phone, 1), "phone")[0]
        return [("media_guard", (phone,) + _endpoint(leg.remote, "remote"), None)]
    lan, wan = _endpoint(leg.lan, "lan"), _endpoint(leg.wan, "wan")
    remote = _endpoint(leg.remote, "remote") if leg.remote is not None else None
    if leg.proto != "udp" or type(leg.inbound) is not bool or type(leg.outbound) is not bool:
        raise TypeError("pinhole leg %r: proto must be 'udp', inbound/outbound bools" % (leg.key,))
    out = [("media_dnat", (wan[1],), lan), ("media_snat", lan, wan)]
    if remote is not None:
        exact = remote + lan
        if leg.inbound:
            out.append(("media_any", lan, None) if lock == "first_sender" else ("media_in", exact, None))
        if leg.outbound:
            out.append(("media_out", exact, None))
    return out


def _endpoint(value, what):
    """(IPv4, port) -> (address as int, port); TypeError for anything else."""
    if type(value) is not tuple or len(value) != 2:
        raise TypeError("pinhole %s: %r is not an (IPv4, port) tuple" % (what, value))
    addr, port = value
    if not isinstance(addr, IPv4) or type(addr.n) is not int or not 0 <= addr.n <= 0xFFFFFFFF:
        raise TypeError("pinhole %s: %r is not an IPv4 object" % (what, addr))
    if type(port) is not int or not 0 < port < 65536:
        raise TypeError("pinhole %s: %r is not a port (int 1-65535)" % (what, port))
    return (addr.n, port)


def _value(key):
    return key[0] if len(key) == 1 else {"concat": list(key)}


def _elem(key, data, timeout_s):
    elem = {"elem": {"val": _value(key), "timeout": timeout_s}}
    return [elem, _value(data)] if data is not None else elem
