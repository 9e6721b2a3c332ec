"""asyncio transports: UDP sockets and TCP connections for the daemon.

The core names a peer (transport, host, port, flow). For TCP, `flow` is the
id of the connection a message came in on; sending to a flow reuses that
connection (responses, and requests to a phone registered over TCP), else
a connection to (host, port) is reused or opened. Connections are bounded
(`max_connections`: new ones beyond it are closed at once) and closed when
idle for `idle_ms`. Like hypercorn's UDP adapter this is small on purpose.
"""

import asyncio
import logging
import socket

from ..core.errors import RemoteProtocolError
from ..core.framer import StreamFramer, KEEPALIVE
from ..core.response import error_response

log = logging.getLogger("outpost")


def is_ip(host):
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except OSError:
            pass
    return False


class Udp(asyncio.DatagramProtocol):
    def __init__(self, deliver, on_error=None):
        self.deliver = deliver
        self.on_error = on_error  # exc -> None (a connected socket hears of ICMP errors)
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.deliver(data, ("udp", addr[0], addr[1], None))

    def error_received(self, exc):  # ICMP port unreachable and the like
        log.debug("udp error: %s", exc)
        if self.on_error is not None:
            self.on_error(exc)

    def send(self, data, host=None, port=None):
        """To (host, port); on a connected socket to its peer (no address)."""
        if self.transport is not None:
            self.transport.sendto(data, None if host is None else (host, port))


class TcpConnection(asyncio.Protocol):
    def __init__(self, pool, flow):
        self.pool = pool
        self.flow = flow
        self.transport = None
        self.peer = None
        self.framer = StreamFramer()
        self.last = pool.now()
        self.pending = []  # writes queued while an outbound connection opens

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1])
        if not self.pool.admit(self):
            transport.close()
            return
        for data in self.pending:
            transport.write(data)
        self.pending = []

    def data_received(self, data):
        self.last = self.pool.now()
        try:
            items = self.framer.feed(data)
        except RemoteProtocolError as e:
            for item in e.framed:
                self._deliver(item)
            answer = error_response(e.message or b"", e) if e.message else None
            if answer is not None:
                self.transport.write(answer)
            log.info("tcp %s:%d: %d %s, closing", self.peer[0], self.peer[1], e.status, e.reason)
            self.transport.close()
            return
        for item in items:
            self._deliver(item)

    def _deliver(self, item):
        if item == KEEPALIVE:
            self.transport.write(b"\r\n")  # RFC 5626 §4.4.1 pong
        else:
            self.pool.deliver(item, ("tcp", self.peer[0], self.peer[1], self.flow))

    def connection_lost(self, exc):
        self.pool.forget(self)

    def write(self, data):
        self.last = self.pool.now()
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.write(data)


class TcpPool:
    def __init__(self, deliver, now, max_connections=256, idle_ms=600000):
        self.deliver = deliver
        self.now = now
        self.max_connections = max_connections
        self.idle_ms = idle_ms
        self.flows = {}  # flow -> TcpConnection
        self.by_peer = {}  # (host, port) -> TcpConnection
        self._next_flow = 0
        self.servers = []
        self.on_connect_failed = None  # (host, port) -> None: a refused or unreachable peer (survival's evidence)

    def _new(self):
        self._next_flow += 1
        return TcpConnection(self, self._next_flow)

    async def listen(self, host, port):
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._new, host, port, reuse_address=True)
        self.servers.append(server)

    def admit(self, conn):
        if len(self.flows) >= self.max_connections and conn.flow not in self.flows:
            log.warning("tcp: %d connections, refusing %s:%d", len(self.flows), conn.peer[0], conn.peer[1])
            return False
        self.flows[conn.flow] = conn
        self.by_peer[conn.peer] = conn
        return True

    def forget(self, conn):
        if self.flows.get(conn.flow) is conn:
            del self.flows[conn.flow]
        if self.by_peer.get(conn.peer) is conn:
            del self.by_peer[conn.peer]

    def send(self, data, host, port, flow):
        conn = self.flows.get(flow) if flow is not None else None
        if conn is None:
            conn = self.by_peer.get((host, port))
        if conn is None:
            if len(self.flows) >= self.max_connections:
                log.warning("tcp: connection limit, dropping a message to %s:%d", host, port)
                return
            conn = self._new()
            conn.peer = (host, port)
            self.flows[conn.flow] = conn
            self.by_peer[(host, port)] = conn
            conn.pending.append(data)
            asyncio.ensure_future(self._open(conn, host, port))
            return
        conn.write(data)

    async def _open(self, conn, host, port):
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: conn, host, port)
        except OSError as e:
            log.info("tcp connect %s:%d failed: %s", host, port, e)
            self.forget(conn)
            if self.on_connect_failed is not None:
                self.on_connect_failed(host, port)

    def close_idle(self):
        cutoff = self.now() - self.idle_ms
        for conn in list(self.flows.values()):
            if conn.last < cutoff and conn.transport is not None:
                conn.transport.close()

    def close(self):
        for s in self.servers:
            s.close()
        for conn in list(self.flows.values()):
            if conn.transport is not None:
                conn.transport.close()
