"""UDP sockets for the daemon: the SIP listeners and the probe socket.

asyncio's own selector transport reads one datagram per wakeup into a
fresh 256 KiB buffer, past glibc's mmap threshold, so every datagram
costs an mmap, an mremap and an munmap (strace shows them): with the
loop's work, 20.8 us of CPU per datagram against 2.0 us read here and
1.9 us by uvloop's transport (bench/udp_read.py, the 2-core development
machine). At ~7 datagrams a call that was a fifth of the daemon's CPU. So
the socket is read here, as libuv reads it: non-blocking, drained up to
BATCH datagrams per wakeup. Under uvloop too: its transport closes the
socket for good, silently, on any send error but EAGAIN (a packet naming
255.255.255.255 as the next hop: EACCES), and queues without bound; here
a failed send costs that datagram alone.

Nothing a peer does grows our memory: a datagram is at most 64 KiB, and
what the kernel will not take at once (a full send buffer) waits in a
backlog bounded by BACKLOG_BYTES; past it a datagram is dropped, as the
kernel would drop it, and SIP's retransmissions recover it.
"""

import asyncio
import collections
import logging
import socket

log = logging.getLogger("outpost")

# A UDP listener's kernel receive buffer, as Kamailio sets it: the kernel
# default (208 KiB, ~350 SIP datagrams) overflows in one short stall of
# the loop under load, and every datagram lost there is a retransmission
# 500 ms later. Memory is taken only while datagrams wait in it.
RCVBUF = 4 * 1024 * 1024
MAX_DATAGRAM = 65536  # the largest UDP payload fits (IPv4 65,507; IPv6 65,527)
BATCH = 32  # as libuv: a burst on one socket cannot starve the others or the timers for long
BACKLOG_BYTES = 1024 * 1024


# Every socket's datagrams are read into this one buffer and copied out at
# their length (the loop runs on one thread, and a datagram is copied
# before the next read). recvfrom(64K) needs a free 64 KiB chunk for every
# datagram and shrinks it after; the holes between the messages
# transactions keep are never that big, so each read pushed glibc's heap
# past them: under bench/proxy_load.py's storm the heap grew 4.6 MB that
# way and 0.4 MB this way, for 0.2 us more CPU a datagram.
_VIEW = memoryview(bytearray(MAX_DATAGRAM))


def enlarge_rcvbuf(sock, size=RCVBUF):
    """SO_RCVBUFFORCE where we may (CAP_NET_ADMIN: the router's daemon),
    past net.core.rmem_max; else SO_RCVBUF, which the kernel caps there."""
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    try:
        if force is not None:
            sock.setsockopt(socket.SOL_SOCKET, force, size)
            return
    except OSError:
        pass
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    except OSError as e:
        log.warning("cannot enlarge the UDP receive buffer: %s", e)


async def open_udp(deliver, flush, local=None, remote=None, on_error=None):
    """A UDP socket bound to `local` or connected to `remote` ((host, port);
    a configured name is resolved without blocking the loop).
    deliver(data, ("udp", host, port, None)) for each datagram, flush()
    after the datagrams of one wakeup; on_error(exc) for an ICMP error on a
    connected socket."""
    loop = asyncio.get_running_loop()
    host, port = local or remote
    passive = socket.AI_PASSIVE if local else 0
    try:  # an address: no lookup at all. As bytes: CPython encodes a str
        # host with the idna codec, which imports stringprep and unicodedata
        # (0.5 MB of the daemon's RSS in the guest) for an IP address.
        infos = socket.getaddrinfo(host.encode("ascii"), port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST | passive)
    except (socket.gaierror, UnicodeError):  # a name: resolved off the loop, a slow DNS server must not stall it
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=passive)
    family, address = infos[0][0], infos[0][4]
    return DrainedUdp(loop, deliver, flush, family, address if local else None, address if remote else None, on_error)


class DrainedUdp:
    """A socket read and written directly through the loop's add_reader
    and add_writer (asyncio's selector loop, uvloop)."""

    def __init__(self, loop, deliver, flush, family, local, remote, on_error):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            if local is not None:
                sock.bind(local)
            if remote is not None:
                sock.connect(remote)
        except OSError:
            sock.close()
            raise
        enlarge_rcvbuf(sock)
        self.loop = loop
        self.sock = sock
        self.deliver = deliver
        self.flush = flush
        self.on_error = on_error
        self.backlog = collections.deque()  # (data, address or None) the kernel would not take yet
        self.backlog_bytes = 0
        self.dropped = 0
        loop.add_reader(sock.fileno(), self._drain)

    def _drain(self):
        recv_into, deliver, view = self.sock.recvfrom_into, self.deliver, _VIEW
        n = 0
        try:
            while n < BATCH:
                try:
                    size, addr = recv_into(view)
                    data = view[:size].tobytes()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as e:  # an ICMP error queued on a connected socket
                    self._error(e)
                    break
                n += 1
                deliver(data, ("udp", addr[0], addr[1], None))
        finally:
            if n:  # what was delivered is answered, whatever stopped the drain
                self.flush()

    def _error(self, exc):
        log.debug("udp error: %s", exc)
        if self.on_error is not None:
            self.on_error(exc)

    def send(self, data, host=None, port=None):
        """To (host, port); on a connected socket to its peer (no address)."""
        address = None if host is None else (host, port)
        if self.backlog:
            self._queue(data, address)
            return
        try:
            self._send_one(data, address)
        except (BlockingIOError, InterruptedError):
            self._queue(data, address)
            self.loop.add_writer(self.sock.fileno(), self._send_backlog)
        except OSError as e:  # unreachable, refused by a firewall rule, ...
            self._error(e)

    def _send_one(self, data, address):
        if address is None:
            self.sock.send(data)
        else:
            self.sock.sendto(data, address)

    def _queue(self, data, address):
        if self.backlog_bytes + len(data) > BACKLOG_BYTES:
            self.dropped += 1
            if self.dropped & (self.dropped - 1) == 0:  # 1, 2, 4, 8 ...: a full buffer does not flood the log
                log.warning("udp send buffer full: %d datagrams dropped", self.dropped)
            return
        self.backlog.append((data, address))
        self.backlog_bytes += len(data)

    def _send_backlog(self):
        while self.backlog:
            data, address = self.backlog[0]
            try:
                self._send_one(data, address)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._error(e)
            self.backlog.popleft()
            self.backlog_bytes -= len(data)
        self.loop.remove_writer(self.sock.fileno())

    def sockname(self):
        return self.sock.getsockname()

    def close(self):
        if self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
            self.loop.remove_writer(self.sock.fileno())
            self.sock.close()
