"""What the core tells the runtime: events, named for what happened.

The runtime takes them with `Proxy.next_event()` (aioquic's shape) and
carries them out: pinholes into the firewall before any datagram queued
with them is sent, bindings to flash, the rest to the log. Each is a small
object with named fields (no tuples to unpack by position, no text the
runtime must parse); values are the core's own types (`Binding`, `Leg`,
`Guard`) or plain str and int.
"""


class Event:
    """Its fields are its __slots__, given in that order to the constructor."""
    __slots__ = ()

    def __init__(self, *values):
        if len(values) != len(self.__slots__):
            raise TypeError("%s takes %s" % (type(self).__name__, ", ".join(self.__slots__)))
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)

    def __eq__(self, other):
        return type(other) is type(self) and all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % (f, getattr(self, f)) for f in self.__slots__))


class BindingChanged(Event):
    """A REGISTER added or refreshed a binding (or the upstream's answer
    to a relayed one did): save the location table."""
    __slots__ = ("binding",)


class BindingExpired(Event):
    __slots__ = ("binding",)


class PinholeOpened(Event):
    """Open before the datagrams queued with it go out: `leg` is a
    media.Leg (a stream's NAT and accept elements) or a media.Guard (the
    far end reachable only through the call's pinhole)."""
    __slots__ = ("leg",)


class PinholeClosed(Event):
    __slots__ = ("leg",)


class UpstreamStateChanged(Event):
    """The survival machine moved: `what` is its event (UpstreamLost,
    UpstreamAnswering, UpstreamRestored ...), `old` and `new` its states."""
    __slots__ = ("what", "old", "new")

    def __str__(self):
        return "%s: %s -> %s" % (self.what, self.old, self.new)


class TrunkUsed(Event):
    """In survival, a call left by the fallback trunk (or as an emergency
    call) to `ruri`."""
    __slots__ = ("method", "emergency", "ruri")

    def __str__(self):
        return "%s %s -> %s" % (self.method, "emergency" if self.emergency else "fallback", self.ruri)


class RequestRefused(Event):
    """A request answered 488 or 503 for a reason the admin should see
    (SDP the ALG would not take, media ports or calls exhausted)."""
    __slots__ = ("method", "call_id", "status", "reason")

    def __str__(self):
        return "%s %s: %d %s" % (self.method, self.call_id, self.status, self.reason)


class CallLimitReached(Event):
    """A call outlived media.max_call_s: its pinholes are closed (the
    PinholeClosed events come with this one)."""
    __slots__ = ("call_id",)
