"""The router's firewall for media: the core's pinhole events into
nftables (pinhole.py) and conntrack (conntrack.py), behind one `apply`.

Why the order inside `apply` (the daemon calls it before it sends the SIP
that the events came with, so a phone or far end reacting to that SIP
finds its pinhole in place): conntrack entries between a leg's two ends
go first (a call before on the same ports, its NAT on another WAN port:
a packet meeting it would leave from that port, and the far end's first
packet would clash with it and get a new source port), then the nft
batch, then those tuples once more (whatever crossed before the batch
went in), then each new leg's own entry is made (conntrack.py: why).

Loaded only while the router relays: one without an upstream keeps the
memory.
"""

import logging

from ..core.events import PinholeClosed, PinholeOpened
from ..core.media import Leg
from .conntrack import Conntrack, leg_tuples
from .pinhole import NftPinholes

log = logging.getLogger("outpost")


class Firewall:
    def __init__(self, idle_timeout_s, lock, pinholes=None, conntrack=None):
        self.pinholes = pinholes if pinholes is not None else NftPinholes(idle_timeout_s, lock=lock)
        self.conntrack = conntrack if conntrack is not None else Conntrack()
        self.internal_errors = 0  # legs refused for their types: a bug of ours
        self._next_refresh = 0
        self._ct_logged = False

    def configure(self, idle_timeout_s, lock):
        self.pinholes.timeout_s, self.pinholes.lock = idle_timeout_s, lock

    def apply(self, events):
        """Carry out the pinhole events among `events` (others are not
        ours); True when there were any."""
        mine = [e for e in events if type(e) in (PinholeOpened, PinholeClosed)]
        if not mine:
            return False
        live = set(self.pinholes.live)  # a leg replacing one of the same key is no new flow
        stale = []
        for e in mine:
            stale += self._one(e)
            log.debug("%s", e)
        self.conntrack.forget(stale)
        self._send()
        self.conntrack.forget(stale)
        # Only streams new to the call: a far end re-offering in a loop
        # must not make an entry per re-INVITE (conntrack's table is the
        # whole router's).
        self.conntrack.prime([e.leg for e in mine if type(e) is PinholeOpened and type(e.leg) is Leg
                              and e.leg.key not in live and e.leg.key in self.pinholes.live])
        if self.conntrack.failed and not self._ct_logged:
            self._ct_logged = True
            # Without the primed entry a clash the ruleset drops (nat_clash)
            # can hold a call's incoming media for its whole life.
            log.warning("cannot reach conntrack over netlink: a call reusing the last call's ports may get stale NAT "
                        "or lose its incoming media")
        return True

    def _one(self, event):
        """One leg or guard to the helper; the conntrack tuples to forget.
        The helper refuses a leg whose values are not typed (TypeError: a
        bug of ours, never text from a packet): logged, and the message's
        other legs still go in."""
        try:
            if type(event) is PinholeOpened:
                self.pinholes.open(event.leg)
                return leg_tuples(event.leg) if type(event.leg) is Leg else []
            # After a close the old entry is kept on purpose: it holds the
            # phone's late packets on the old WAN port, where the ruleset
            # drops them; deleted, they would leave masqueraded.
            self.pinholes.close(event.leg)
        except TypeError as e:
            self.internal_errors += 1
            log.error("pinhole refused: %s", e)
        return []

    def refresh(self, now):
        """The NAT maps of live calls, at half the idle timeout."""
        if now < self._next_refresh:
            return
        self._next_refresh = now + self.pinholes.timeout_s * 500
        legs = list(self.pinholes.live.values())
        for leg in legs:
            self.pinholes.refresh(leg)
        if legs:
            self._send()

    def flush(self):
        """Forget every pinhole (start, or relaying stopped)."""
        self.pinholes.flush()
        self._send()

    def _send(self):
        try:
            ok = self.pinholes.apply()
        except OSError as e:
            ok = False
            log.error("nft: %s", e)
        if not ok:
            log.error("nft refused some pinhole changes (is the base ruleset loaded?): %s", self.pinholes.error)
