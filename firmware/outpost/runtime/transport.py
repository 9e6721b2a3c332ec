"""asyncio transports: TCP connections for the daemon (udp.py has UDP).

The core names a peer (transport, host, port, flow). For TCP, `flow` is the
id of the connection a message came in on; sending to a flow reuses that
connection (responses, and requests to a phone registered over TCP), else
a connection to (host, port) is reused or opened. Like hypercorn's UDP
adapter this is small on purpose.

Rules of this file (TCP is where a stranger holds our resources):
- Inbound and outbound connections are counted apart: strangers holding
  every inbound slot can never stop the router from reaching its upstream.
  Inbound ones are also capped per source address.
- A connection lives on whole SIP messages, not bytes: an inbound one that
  has framed none within `first_message_ms` of opening is closed (a
  slowloris trickling bytes, a port scanner, keep-alive pings alone), and
  after that one idle for `idle_ms` since its last message.
- Nothing a peer can refuse to read grows our memory: a connection whose
  write buffer would pass `max_buffer` is aborted (close() would wait to
  flush to a peer that never reads), and writes queued while an outbound
  connection opens are bounded the same way and time out with the connect.
"""

import asyncio
import logging
import socket

from ..core import defaults
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


# Defaults (limits.* in the config override them): reasons in core/defaults.py.
MAX_INBOUND, MAX_OUTBOUND, PER_SOURCE = defaults.MAX_INBOUND, defaults.MAX_OUTBOUND, defaults.PER_SOURCE
FIRST_MESSAGE_MS, IDLE_MS = defaults.FIRST_MESSAGE_S * 1000, defaults.IDLE_S * 1000
MAX_BUFFER = defaults.BUFFER_KB * 1024
CONNECT_TIMEOUT_S = 10  # a blackholed upstream fails here, not after the kernel's ~2 min of SYN retries


class TcpConnection(asyncio.Protocol):
    def __init__(self, pool, flow, inbound):
        self.pool = pool
        self.flow = flow
        self.inbound = inbound
        self.transport = None
        self.peer = None  # (address, port) as connected, the source of what it delivers
        self.key = None  # (host, port) it is found under in the pool (a name for a configured peer)
        self.framer = StreamFramer()
        self.opened = self.last = pool.now()
        self.messages = 0  # SIP messages framed from this connection
        self.pending = []  # writes queued while an outbound connection opens
        self.pending_bytes = 0

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1])
        if self.inbound and not self.pool.admit(self):
            transport.abort()
            return
        pending, self.pending, self.pending_bytes = self.pending, [], 0
        for data in pending:
            self.write(data)

    def data_received(self, data):
        try:
            items = self.framer.feed(data)
        except RemoteProtocolError as e:
            self._deliver_all(e.framed)
            answer = error_response(e.message or b"", e) if e.message else None
            if answer is not None:
                self.write(answer)
            log.info("tcp %s:%d: %d %s, closing", self.peer[0], self.peer[1], e.status, e.reason)
            self.transport.close()
            return
        self._deliver_all(items)

    def _deliver_all(self, items):
        pong = False
        delivered = self.messages
        for item in items:
            if item == KEEPALIVE:
                pong = True
                continue
            self.messages += 1
            self.last = self.pool.now()
            self.pool.deliver(item, ("tcp", self.peer[0], self.peer[1], self.flow))
        if self.messages != delivered:
            self.pool.flush()
        if pong:  # RFC 5626 §4.4.1; one per read, however many pings it held
            self.write(b"\r\n")
            if self.messages:
                self.last = self.pool.now()

    def connection_lost(self, exc):
        self.pool.forget(self)

    def write(self, data):
        if self.transport is None:
            if self.pending_bytes + len(data) > self.pool.max_buffer:
                log.warning("tcp %s:%d: still connecting with %d bytes queued, dropping a message", self.peer[0], self.peer[1], self.pending_bytes)
                return
            self.pending.append(data)
            self.pending_bytes += len(data)
            return
        if self.transport.is_closing():
            return
        if self.transport.get_write_buffer_size() + len(data) > self.pool.max_buffer:
            log.warning("tcp %s:%d: peer reads nothing (%d bytes unsent), closing", self.peer[0], self.peer[1],
                        self.transport.get_write_buffer_size())
            self.transport.abort()
            return
        self.last = self.pool.now()
        self.transport.write(data)

    def expired(self, now):
        """Closed by the housekeeping: no message yet in time, or idle, or
        closing (after a framing error) but still flushing to a peer that
        does not read."""
        if self.transport is not None and self.transport.is_closing():
            return True
        if self.inbound and not self.messages:
            return now - self.opened >= self.pool.first_message_ms
        return now - self.last >= self.pool.idle_ms


class TcpPool:
    def __init__(self, deliver, now, max_connections=MAX_INBOUND, idle_ms=IDLE_MS, flush=None, **limits):
        self.deliver = deliver
        self.flush = flush or (lambda: None)  # after the messages of one read
        self.now = now
        self.configure(max_connections, idle_ms, **limits)
        self.flows = {}  # flow -> TcpConnection
        self.by_peer = {}  # (host, port) -> TcpConnection
        self.inbound = 0
        self.outbound = 0
        self.per_source = {}  # host -> inbound connections
        self._next_flow = 0
        self.servers = []
        self.on_connect_failed = None  # (host, port) -> None: a refused or unreachable peer (survival's evidence)

    def configure(self, max_connections=MAX_INBOUND, idle_ms=IDLE_MS, max_outbound=MAX_OUTBOUND, max_per_source=PER_SOURCE,
                  first_message_ms=FIRST_MESSAGE_MS, max_buffer=MAX_BUFFER, reserved=()):
        """The limits (at start and on reload); `max_connections` is inbound.
        `reserved`: the configured peers' (host, port), reached even when
        every outbound slot is taken (a stranger's request relayed over TCP
        makes us connect out, to an address that may never answer, until
        the connect times out)."""
        self.max_connections, self.idle_ms, self.max_outbound = max_connections, idle_ms, max_outbound
        self.max_per_source, self.first_message_ms, self.max_buffer = max_per_source, first_message_ms, max_buffer
        self.reserved = set(reserved)

    def _new(self, inbound=True):
        self._next_flow += 1
        return TcpConnection(self, self._next_flow, inbound)

    async def listen(self, host, port):
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._new, host, port, reuse_address=True)
        self.servers.append(server)

    def admit(self, conn):
        """An inbound connection, within the inbound and per-source caps?"""
        host = conn.peer[0]
        if self.inbound >= self.max_connections:
            log.warning("tcp: %d inbound connections, refusing %s:%d", self.inbound, host, conn.peer[1])
            return False
        if self.per_source.get(host, 0) >= self.max_per_source:
            log.info("tcp: %s holds %d connections, refusing another", host, self.per_source[host])
            return False
        self.inbound += 1
        self.per_source[host] = self.per_source.get(host, 0) + 1
        self._register(conn)
        return True

    def _register(self, conn):
        conn.key = conn.peer
        self.flows[conn.flow] = conn
        self.by_peer[conn.key] = conn

    def forget(self, conn):
        if self.flows.get(conn.flow) is not conn:
            return  # refused at admission, or forgotten already
        del self.flows[conn.flow]
        if self.by_peer.get(conn.key) is conn:
            del self.by_peer[conn.key]
        if not conn.inbound:
            self.outbound -= 1
            return
        self.inbound -= 1
        n = self.per_source.pop(conn.peer[0], 1) - 1
        if n > 0:
            self.per_source[conn.peer[0]] = n

    def send(self, data, host, port, flow):
        conn = self.flows.get(flow) if flow is not None else None
        if conn is None:
            conn = self.by_peer.get((host, port))
        if conn is None:
            if self.outbound >= self.max_outbound and (host, port) not in self.reserved:
                log.warning("tcp: %d outbound connections, dropping a message to %s:%d", self.outbound, host, port)
                return
            conn = self._new(inbound=False)
            conn.peer = (host, port)
            self.outbound += 1
            self._register(conn)
            conn.write(data)
            asyncio.ensure_future(self._open(conn, host, port))
            return
        conn.write(data)

    async def _open(self, conn, host, port):
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.create_connection(lambda: conn, host, port), CONNECT_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as e:
            log.info("tcp connect %s:%d failed: %s", host, port, e or "timed out")
            self.forget(conn)
            if self.on_connect_failed is not None:
                self.on_connect_failed(host, port)

    def close_idle(self):
        now = self.now()
        for conn in list(self.flows.values()):
            if conn.transport is not None and conn.expired(now):
                conn.transport.abort()  # close() would wait on a peer that does not read

    def close(self):
        for s in self.servers:
            s.close()
        for conn in list(self.flows.values()):
            if conn.transport is not None:
                conn.transport.abort()
