"""What the four transaction machines share.

Each machine is a TABLE mapping (state, event) to (action, new state). The
rules of this file: every input, message or timer, goes through `fire()`;
an action is a method name (or None: absorb); a (state, event) pair not in
the table is ignored for network input (a stray retransmission) and is a
LocalProtocolError for input from the transaction user (our own bug).

Events: "request" (a retransmission of the request), "ack", "1xx", "2xx",
"final" (300-699) for messages from the network; "send_1xx", "send_2xx",
"send_final", "cancel" from the transaction user (TU), and "send_final_once" (a
final answer sent once, no retransmission, no state: for strangers, who
must not be able to aim our retransmissions at someone); "timer_A" ... "timer_M";
"transport_error".
"""

from ..errors import LocalProtocolError

TERMINATED = "Terminated"

from ..defaults import T1, T2, T4  # noqa: F401 (RFC 3261 §17.1.1.1; configurable per layer)

TU_EVENTS = ("send_1xx", "send_2xx", "send_final", "send_final_once", "cancel")

# States in which a transaction only absorbs retransmissions until its timer
# ends it: cheap to keep (the request is dropped), and the first to go when
# the layer is at its bound.
LINGER_STATES = ("Completed", "Confirmed", "Accepted")


class Transaction:
    TABLE = {}
    kind = ""
    # Slots: a few thousand of these linger at once under load (defaults.py
    # MAX_TRANSACTIONS), and a per-instance dict would be most of each.
    __slots__ = ("layer", "key", "request", "dest", "reliable", "state", "timers", "owner", "last_response", "unreachable", "held")

    def __init__(self, layer, key, request, dest, reliable):
        self.layer = layer
        self.key = key
        self.request = request  # bytes as sent or received
        self.dest = dest  # where we send: the peer's address tuple
        self.reliable = reliable
        self.state = None
        self.timers = {}  # name -> deadline (ms)
        self.owner = None  # the TU object told about responses and timeouts
        self.last_response = None  # bytes of the last response sent (server)
        self.unreachable = False  # the runtime could not send to dest (client): 503, not 408
        self.held = False  # a server transaction counted in its source's share until answered

    def forget(self):
        """Ended (the layer's `terminated`, the one way out): keep nothing
        but what a stale timer entry needs to see that (the state) and what
        the owner may still read (dest). Timers, owner, key and bytes go
        now, whoever still holds this."""
        self.timers.clear()
        self.owner = None
        self.key = None
        self.request = None
        self.last_response = None

    def accepts(self, event):
        """May the TU give this input now? The table answers, so nothing
        outside it asks which state a transaction is in."""
        return (self.state, event) in self.TABLE

    def fire(self, event, now, msg=None):
        entry = self.TABLE.get((self.state, event))
        if entry is None:
            if event in TU_EVENTS:
                raise LocalProtocolError("%s cannot %s in state %s" % (self.kind, event, self.state))
            return False
        action, new_state = entry
        old = self.state
        self.state = new_state
        if action is not None:
            getattr(self, action)(now, msg)
        if new_state in LINGER_STATES and old not in LINGER_STATES:
            self.request = None  # the ACK, if any, is built by now
            self.layer.lingering(self)
        if new_state == TERMINATED and old != TERMINATED:
            self.layer.terminated(self)
        return True

    # -- timers ------------------------------------------------------------

    def start_timer(self, name, now, duration):
        self.timers[name] = now + duration
        self.layer.schedule(self, now + duration)

    def stop_timer(self, name):
        self.timers.pop(name, None)

    def expire(self, now):
        """Fire every timer due at `now`, earliest first."""
        while self.timers and self.state != TERMINATED:
            name = None
            at = 0
            for n in self.timers:
                if name is None or self.timers[n] < at:
                    name, at = n, self.timers[n]
            if at > now:
                return  # start_timer gave that deadline its own heap entry
            del self.timers[name]
            self.fire("timer_" + name, now)

    # -- helpers for actions -------------------------------------------------

    def send(self, data):
        self.layer.send(data, self.dest)

    def tell(self, what, *args):
        if self.owner is not None:
            getattr(self.owner, what)(self, *args)

    @property
    def t1(self):
        return self.layer.t1

    @property
    def done(self):
        return self.state == TERMINATED

    def __repr__(self):
        return "<%s %s %s>" % (self.kind, self.key, self.state)


class ServerTransaction(Transaction):
    """What both server machines do with responses the TU sends."""

    __slots__ = ()

    def send_response(self, now, data):
        self.last_response = data
        self.send(data)

    def resend(self, now, _msg):
        if self.last_response is not None:
            self.send(self.last_response)


def response_event(status):
    if status < 200:
        return "1xx"
    if status < 300:
        return "2xx"
    return "final"
