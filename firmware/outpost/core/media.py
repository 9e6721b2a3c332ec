"""Media pinholes as the core decides them (sans-I/O), and the WAN media
ports they use.

A `Leg` is one media stream of one call as the router forwards it: the
phone's address and port on the LAN, the WAN port the router allocated
for it, and the remote end the SDP named (None until known). Like
siproxd's fw_ctl_t, this is the whole boundary to the firewall: the
runtime's helper turns legs into nftables elements, the core never sees
nftables.
"""

from .errors import LocalProtocolError

from .defaults import PORT_MIN, PORT_MAX  # RFC 3550 §11 pairs; reasons: core/defaults.py


class Leg:
    __slots__ = ("key", "lan", "wan", "remote", "proto", "inbound", "outbound")

    def __init__(self, key, lan, wan, remote=None, proto="udp", inbound=True, outbound=True):
        self.key = key  # (call-id, stream index, "rtp"|"rtcp"): unique per pinhole
        self.lan = lan  # (address, port) of the phone
        self.wan = wan  # (router's WAN address, allocated port)
        self.remote = remote  # (address, port) the SDP negotiated, or None
        self.proto = proto
        self.inbound = inbound  # remote -> phone may pass (not when the phone holds the call)
        self.outbound = outbound  # phone -> remote may pass

    def same(self, other):
        return (self.lan, self.wan, self.remote, self.inbound, self.outbound) == (other.lan, other.wan, other.remote, other.inbound, other.outbound)

    def __repr__(self):
        return "Leg(%r, lan=%r, wan=%r, remote=%r, in=%r, out=%r)" % (self.key, self.lan, self.wan, self.remote, self.inbound, self.outbound)


class Guard:
    """A far end's media address while a call names it: the LAN reaches it
    only through the call's own pinhole. Between an offer reaching a phone
    and the router seeing its answer, the phone may already send RTP (RFC
    3264 lets it, baresip does within 5 ms): masqueraded then, its flow would
    keep a wrong source port for the whole call, and the far end's first
    packets would clash with it. The guard drops those few packets instead.
    It holds only the call's own phone: an SDP from the WAN can name any
    address and port, and must not cut other LAN hosts off from it."""

    __slots__ = ("key", "phone", "remote")

    def __init__(self, key, phone, remote):
        self.key = key  # (call-id, stream index, "rtp-guard"|"rtcp-guard")
        self.phone = phone  # IPv4 of the phone in the call
        self.remote = remote  # (IPv4, port) the far end's SDP named

    def same(self, other):
        return (self.phone, self.remote) == (other.phone, other.remote)

    def __repr__(self):
        return "Guard(%r, phone=%r, remote=%r)" % (self.key, self.phone, self.remote)


class PortPool:
    """Even/odd WAN port pairs from a configured range, never reused while live.

    At exhaustion `allocate()` returns None: the caller answers 503 and logs;
    a live port is never handed out twice.
    """

    def __init__(self, low=PORT_MIN, high=PORT_MAX):
        if low % 2:
            low += 1
        if high - low < 1:
            raise LocalProtocolError("empty media port range")
        self.low = low
        self.high = high
        self._next = low
        self._used = set()

    @property
    def capacity(self):
        return (self.high - self.low + 1) // 2

    def __len__(self):
        return len(self._used)

    def allocate(self):
        """An even RTP port (its RTCP port is +1), or None when all are live."""
        if len(self._used) >= self.capacity:
            return None
        port = self._next
        while port in self._used:
            port += 2
            if port + 1 > self.high:
                port = self.low
        self._used.add(port)
        self._next = port + 2 if port + 3 <= self.high else self.low
        return port

    def release(self, port):
        self._used.discard(port)
