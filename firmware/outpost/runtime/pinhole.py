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

Every element carries a timeout, so nothing outlives a dead daemon; the
accept sets are refreshed by the media packets themselves (`update` in
the forward chain: the media-inactivity timeout), the maps by
`refresh()` while the call lives.

Changes are batched: `open`, `refresh`, `close` queue statements and
`apply()` sends them to one `nft -f -` process (never a process per
packet). nft cannot refresh an element in place or delete one that has
already expired without failing the whole batch, so refresh is
delete + add, and a failed batch is replayed one statement at a time,
with deletes of elements that are already gone ignored.
"""

import subprocess

TABLE = "inet outpost"
MEDIA_IDLE_S = 120  # Juniper's default media inactivity timeout


class NftPinholes:
    def __init__(self, timeout_s=MEDIA_IDLE_S, nft=("nft",), table=TABLE, lock="sdp"):
        self.timeout_s = timeout_s
        self.lock = lock  # "sdp": only the negotiated remote; "first_sender": whoever sends first
        self.nft = list(nft)
        self.table = table
        self.live = {}  # key -> Leg
        self._batch = []
        self.batches = 0
        self.replays = 0

    # -- what the daemon calls --------------------------------------------------

    def open(self, leg):
        if leg.key in self.live:
            self.close(self.live[leg.key])
        self.live[leg.key] = leg
        self._batch += self._adds(leg)

    def refresh(self, leg):
        """Keep a live call's NAT mappings; its accept elements live on the
        call's packets, so an idle call stops passing media."""
        self._batch += self._deletes(leg, False) + self._adds(leg, False)

    def close(self, leg):
        if self.live.pop(leg.key, None) is not None:
            self._batch += self._deletes(leg)

    def flush(self):
        """Forget every pinhole (daemon start: whatever an earlier run left)."""
        self.live.clear()
        self._batch += ["flush map %s media_dnat" % self.table, "flush map %s media_snat" % self.table,
                        "flush set %s media_in" % self.table, "flush set %s media_out" % self.table,
                        "flush set %s media_any" % self.table]

    def apply(self):
        """Send the queued statements as one batch; True when all went in."""
        batch, self._batch = self._batch, []
        if not batch:
            return True
        self.batches += 1
        if self._run(batch):
            return True
        self.replays += 1
        ok = True
        for stmt in batch:
            if not self._run([stmt]) and not stmt.startswith("delete "):
                ok = False
        return ok

    # -- elements ------------------------------------------------------------------

    def _allow(self, leg):
        """(set, key) of the accept elements of a leg."""
        out = []
        if leg.remote is None:
            return out
        exact = "%s . %d . %s . %d" % (leg.remote[0], leg.remote[1], leg.lan[0], leg.lan[1])
        if leg.inbound:
            out.append(("media_any", "%s . %d" % leg.lan) if self.lock == "first_sender" else ("media_in", exact))
        if leg.outbound:
            out.append(("media_out", exact))
        return out

    def _adds(self, leg, sets=True):
        t = self.timeout_s
        out = ["add element %s media_dnat { %d timeout %ds : %s . %d }" % (self.table, leg.wan[1], t, leg.lan[0], leg.lan[1]),
               "add element %s media_snat { %s . %d timeout %ds : %s . %d }" % (self.table, leg.lan[0], leg.lan[1], t, leg.wan[0], leg.wan[1])]
        for name, key in self._allow(leg) if sets else ():
            out.append("add element %s %s { %s timeout %ds }" % (self.table, name, key, t))
        return out

    def _deletes(self, leg, sets=True):
        out = ["delete element %s media_dnat { %d }" % (self.table, leg.wan[1]),
               "delete element %s media_snat { %s . %d }" % (self.table, leg.lan[0], leg.lan[1])]
        for name, key in self._allow(leg) if sets else ():
            out.append("delete element %s %s { %s }" % (self.table, name, key))
        return out

    def _run(self, statements):
        p = subprocess.run(self.nft + ["-f", "-"], input="\n".join(statements) + "\n", capture_output=True, text=True)
        return p.returncode == 0
