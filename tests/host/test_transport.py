"""The runtime's transports: the TCP pool tells who could not be reached
(survival's evidence for an upstream over TCP); a UDP listener's receive
buffer is large enough to ride out a short stall under load, under both
event loops; the drained socket both loops use loses nothing of a
burst, hears ICMP errors and bounds what waits to be sent."""

import asyncio
import os
import socket
import subprocess
import sys

import pytest
from eventloops import LOOPS, run

from outpost.runtime import udp
from outpost.runtime.transport import TcpPool

FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "firmware")


def test_a_refused_connection_is_reported_with_its_peer():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    failed = []

    async def go():
        pool = TcpPool(lambda data, src: None, lambda: 0)
        pool.on_connect_failed = lambda host, p: failed.append((host, p))
        pool.send(b"OPTIONS sip:x SIP/2.0\r\n\r\n", "127.0.0.1", port, None)
        for _ in range(50):
            if failed:
                break
            await asyncio.sleep(0.02)
        assert not pool.flows  # forgotten, not leaked

    asyncio.run(go())
    assert failed == [("127.0.0.1", port)]


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_udp_listener_gets_a_receive_buffer_past_the_kernel_default(loop_name):
    with open("/proc/sys/net/core/rmem_max") as f:
        rmem_max = int(f.read())

    async def go():
        sock = await udp.open_udp(lambda d, s: None, lambda: None, local=("127.0.0.1", 0))
        try:
            return type(sock), sock.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        finally:
            sock.close()

    kind, size = run(loop_name, go())
    assert kind is udp.DrainedUdp  # on both loops: uvloop's transport closes on a send error
    # Linux reports twice what was set; without CAP_NET_ADMIN it caps the
    # request at net.core.rmem_max, with it (the router, CI) it does not.
    assert size >= 2 * min(udp.RCVBUF, rmem_max)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_burst_larger_than_one_drain_is_delivered_whole_flushed_in_batches_and_answered(loop_name):
    got, pending, flushes = [], [], []
    # Lengths that go down and up, and the largest datagram IPv4 carries:
    # each must arrive as sent, nothing of a longer one left behind in a
    # shorter one (the daemon reads every datagram into one buffer).
    sent = [b"%d" % i + b"x" * (1400 - 97 * (i % 5)) for i in range(3 * udp.BATCH + 5)]
    sent[7] = b"7" + b"y" * 65506

    async def go():
        server = None

        def deliver(data, source):
            got.append((data, source))
            pending.append((data, source))

        def flush():  # as the daemon does: what the batch caused is sent after it
            flushes.append(len(pending))
            for data, source in pending:
                server.send(b"re:" + data, source[1], source[2])
            pending.clear()
        server = await udp.open_udp(deliver, flush, local=("127.0.0.1", 0))
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("127.0.0.1", 0))
        try:
            for d in sent:
                client.sendto(d, server.sockname())
            for _ in range(100):
                if len(got) == 3 * udp.BATCH + 5:
                    break
                await asyncio.sleep(0.01)
            client.settimeout(1)
            return [client.recv(2000)[:8] for _ in range(3)], client.getsockname()
        finally:
            client.close()
            server.close()

    answers, me = run(loop_name, go())
    assert [d for d, _ in got] == sent
    assert {s for _, s in got} == {("udp", me[0], me[1], None)}
    assert answers == [b"re:0xxxx", b"re:1xxxx", b"re:2xxxx"]
    assert not pending and sum(flushes) == len(got)  # nothing delivered is left unflushed
    assert 0 not in flushes and max(flushes) <= udp.BATCH


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_connected_socket_hears_that_its_peer_is_unreachable(loop_name):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: the kernel answers ICMP port unreachable
    errors = []

    async def go():
        probe = await udp.open_udp(lambda d, src: None, lambda: None, remote=("127.0.0.1", port), on_error=errors.append)
        try:
            for _ in range(50):
                probe.send(b"OPTIONS sip:x SIP/2.0\r\n\r\n")
                await asyncio.sleep(0.02)
                if errors:
                    break
        finally:
            probe.close()

    run(loop_name, go())
    assert errors and isinstance(errors[0], ConnectionRefusedError)


def test_what_waits_for_a_full_send_buffer_is_bounded():
    async def go():
        sock = await udp.open_udp(lambda d, s: None, lambda: None, local=("127.0.0.1", 0))
        try:
            for _ in range(2 * udp.BACKLOG_BYTES // 1400):
                sock._queue(b"x" * 1400, ("127.0.0.1", 9))
            return sock.backlog_bytes, sock.dropped
        finally:
            sock.close()

    held, dropped = asyncio.run(go())
    assert held <= udp.BACKLOG_BYTES
    assert dropped >= udp.BACKLOG_BYTES // 1400


def test_opening_sockets_on_addresses_loads_no_hostname_codec():
    """An IP address needs no IDNA: CPython's getaddrinfo encodes a str host
    with the idna codec, whose stringprep and unicodedata cost the guest's
    daemon 0.5 MB, for the listeners' and the probe's numeric addresses."""
    code = ("import asyncio, sys\n"
            "from outpost.runtime import udp\n"
            "async def go():\n"
            "    a = await udp.open_udp(lambda d, s: None, lambda: None, local=('127.0.0.1', 0))\n"
            "    b = await udp.open_udp(lambda d, s: None, lambda: None, local=('::1', 0))\n"
            "    c = await udp.open_udp(lambda d, s: None, lambda: None, remote=('127.0.0.1', 9))\n"
            "    for s in (a, b, c): s.close()\n"
            "asyncio.run(go())\n"
            "print(sorted(m for m in ('encodings.idna', 'stringprep', 'unicodedata') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, PYTHONPATH=FIRMWARE))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
