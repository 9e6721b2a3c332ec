"""The daemon's sockets: the listeners, the probe socket, and sending what
the core queued to where it names (transport.py has the protocols).

What cannot be sent is handed back as `failed(dest, data)` (data None: to
dest at all), for the core's `transport_failed`: a name that does not
resolve or is not one the router resolves (only configured names are
looked up: resolver.py), a TCP connect that failed, an ICMP unreachable
on the probe socket.
"""

import asyncio
import errno
import logging

from ..core.proxy import PROBE
from .transport import TcpPool, is_ip
from .udp import open_udp

log = logging.getLogger("outpost")

UNREACHABLE = (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN)


class Network:
    def __init__(self, deliver, flush, failed, dns, now, tcp_limits):
        self.deliver = deliver  # (data, source) from any socket
        self.flush = flush  # () after a batch of deliver()s
        self.failed = failed  # (dest, data or None)
        self.dns = dns
        self.udp = []
        self.tcp = TcpPool(deliver, now, flush=flush, **tcp_limits)
        self.tcp.on_connect_failed = lambda host, port: failed(("tcp", host, port), None)
        self.probe = None  # a UDP socket connected to the upstream
        self.unbound = {}  # "udp 10.9.9.9:5060: why" -> listen entry, retried
        self.debug = False

    async def listen(self, entry, retry_s):
        """Bind one listener. One that cannot bind (an address the host does
        not have yet, a port taken) is logged with its address, shown by
        show status, and tried again every `retry_s`: the daemon keeps
        serving on the others instead of exiting in a loop."""
        host, port = entry["address"], entry["port"]
        try:
            if entry["transport"] == "udp":
                self.udp.append(await open_udp(self.deliver, self.flush, local=(host, port)))
            else:
                await self.tcp.listen(host, port)
        except OSError as e:
            what = "%s %s:%d: %s" % (entry["transport"], host, port, e.strerror or e)
            if self.unbound.get(what) is None:
                log.error("cannot listen on %s (trying again every %d s)", what, retry_s)
            self.unbound[what] = entry
            return
        self.unbound = {k: v for k, v in self.unbound.items() if v is not entry}
        log.info("listening on %s %s:%d", entry["transport"], host, port)

    def bind_again(self, retry_s):
        for entry in list({id(e): e for e in self.unbound.values()}.values()):
            asyncio.ensure_future(self.listen(entry, retry_s))

    async def open_probe(self, upstream):
        """Probes leave from a UDP socket connected to the upstream: an ICMP
        port or host unreachable then comes back to us as an error on it
        (an unconnected socket never hears of it). Its local port, or None
        (no UDP upstream by address: probes share the SIP socket)."""
        self.close_probe()
        if upstream is None or upstream[0] != "udp" or not is_ip(upstream[1]):
            return None
        dest = (PROBE, upstream[1], upstream[2], None)

        def unreachable(exc):
            # Only what says "nobody there": an ICMP frag-needed (EMSGSIZE)
            # or a local rule (EPERM) is no evidence the upstream is down,
            # and a forged ICMP of that kind must not start survival. The
            # probe's own timeout still notices a silent upstream.
            if getattr(exc, "errno", None) in UNREACHABLE:
                log.debug("upstream unreachable: %s", exc)
                self.failed(dest, None)
            else:
                log.info("probe socket: %s (not counted as the upstream being down)", exc)
        try:
            self.probe = await open_udp(self.deliver, self.flush, remote=(upstream[1], upstream[2]), on_error=unreachable)
        except OSError as e:
            log.info("probes share the SIP socket (%s)", e)
            return None
        return self.probe.sockname()[1]

    def close_probe(self):
        if self.probe is not None:
            self.probe.close()
        self.probe = None

    def send(self, data, dest):
        transport, host, port, flow = dest
        if self.debug:
            log.debug("send %s %s:%d %r", transport, host, port, data.split(b"\r\n", 1)[0][:120])
        if transport == "tcp":
            if not self.dns.refuse(host):  # a connect to a name would resolve it
                self.tcp.send(data, host, port, flow)
            else:
                self.failed(dest, data)
        elif transport == "udp":
            if not self.udp:
                return
            if is_ip(host):
                self.udp[0].send(data, host, port)
            else:
                self.dns.resolve_then(host, lambda addr: self.udp[0].send(data, addr, port), lambda: self.failed(dest, data))
        elif transport == PROBE:
            if self.probe is not None:
                self.probe.send(data)
        else:
            log.info("no %s transport: dropping a message to %s:%d", transport, host, port)

    def close(self):
        self.tcp.close()
        self.close_probe()
        for u in self.udp:
            u.close()
