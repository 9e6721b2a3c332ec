"""Attacks on the router's TCP resources: the real TcpPool on loopback with
real sockets. The pool's clock is a fake one the test moves (idle and
first-message timeouts), so nothing here waits for minutes; the sockets,
buffers and connects are real.
"""

import asyncio
import json
import socket

import pytest

from outpost.runtime import config as configmod, transport
from outpost.runtime.schema import Invalid
from outpost.runtime.transport import TcpPool

OPTIONS = (b"OPTIONS sip:router.example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK1\r\n"
           b"Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:router.example.com>\r\n"
           b"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")


MAX_BUFFER = 256 * 1024  # limits.tcp_buffer_kb's default


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


async def listening(pool):
    await pool.listen("127.0.0.1", 0)
    return pool.servers[0].sockets[0].getsockname()[1]


async def settle(pool, until, timeout=3.0):
    """Let the loop run until `until()` holds (real sockets take a few turns)."""
    for _ in range(int(timeout / 0.01)):
        if until():
            return True
        await asyncio.sleep(0.01)
    return until()


async def closed_by_peer(reader, timeout=2.0):
    """True when the router closed this client's connection."""
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), timeout)
            if not data:
                return True
    except ConnectionError:  # aborted: a reset
        return True
    except asyncio.TimeoutError:
        return False


async def trickle(pool, clock, reader, writer, chunks, step_ms, pong=False):
    """Send one chunk per step of the fake clock, running the housekeeping
    after each; the clock's time when the router closed the connection,
    or None if it never did."""
    for chunk in chunks:
        try:
            writer.write(chunk)
            await writer.drain()
            if pong:
                assert await asyncio.wait_for(reader.read(2), 1) == b"\r\n"  # pings are still answered
            else:
                await asyncio.sleep(0.02)
        except ConnectionError:
            return clock.ms
        clock.ms += step_ms
        pool.close_idle()
        if await closed_by_peer(reader, 0.05):
            return clock.ms
    return None


async def one_client(deliver=lambda d, s: None):
    """A pool listening on loopback with one client connected to it:
    (clock, pool, reader, writer)."""
    clock = Clock()
    pool = TcpPool(deliver, clock)
    port = await listening(pool)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return clock, pool, reader, writer


def blackhole():
    """A loopback port that takes one connection and then drops SYNs (its
    accept queue is full): a connect to it hangs like one to a dead host."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    filler = socket.create_connection(s.getsockname())
    return s, filler, s.getsockname()[1]


def test_strangers_holding_every_inbound_slot_cannot_keep_the_router_from_its_tcp_upstream():
    async def go():
        got = asyncio.get_running_loop().create_future()

        async def upstream(reader, writer):
            got.set_result(await reader.read(100))
        up = await asyncio.start_server(upstream, "127.0.0.1", 0)
        pool = TcpPool(lambda d, s: None, Clock(), 4)
        port = await listening(pool)
        strangers = [await asyncio.open_connection("127.0.0.1", port) for _ in range(6)]
        await settle(pool, lambda: len(pool.flows) >= 4)
        pool.send(OPTIONS, "127.0.0.1", up.sockets[0].getsockname()[1], None)
        assert (await asyncio.wait_for(got, 3)).startswith(b"OPTIONS")
        pool.close()
        up.close()
        for _, w in strangers:
            w.close()
    asyncio.run(go())


def test_one_source_cannot_hold_more_than_its_share_of_inbound_connections():
    async def go():
        pool = TcpPool(lambda d, s: None, Clock())
        port = await listening(pool)
        clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        await settle(pool, lambda: False, 0.3)
        admitted = len(pool.flows)
        refused = sum([await closed_by_peer(r, 0.5) for r, _ in clients])
        pool.close()
        return admitted, refused
    admitted, refused = asyncio.run(go())
    assert admitted == 8 and refused == 12  # limits.tcp_per_source's default


def test_a_slowloris_trickling_bytes_without_a_message_is_closed_after_the_first_message_timeout():
    async def go():
        clock, pool, reader, writer = await one_client()
        await settle(pool, lambda: pool.flows)
        # One byte every 4 s: never a whole message.
        closed_at = await trickle(pool, clock, reader, writer, [bytes([b]) for b in OPTIONS[:40]], 4000)
        pool.close()
        return closed_at
    # 20 s is all a stranger gets to send one message, far below the 600 s idle.
    assert asyncio.run(go()) == 20000


def test_keepalive_pings_alone_do_not_keep_a_stranger_connected():
    async def go():
        clock, pool, reader, writer = await one_client()
        await settle(pool, lambda: pool.flows)
        closed_at = await trickle(pool, clock, reader, writer, [b"\r\n\r\n"] * 40, 4000, pong=True)
        pool.close()
        return closed_at
    assert asyncio.run(go()) == 20000


def test_a_peer_that_sent_one_message_cannot_then_trickle_bytes_forever():
    async def go():
        delivered = []
        clock, pool, reader, writer = await one_client(lambda d, s: delivered.append(d))
        writer.write(OPTIONS)
        await settle(pool, lambda: delivered)
        # Then a message that never ends, one byte every 15 s: a real SIP
        # peer outlives the first-message timeout, but bytes are not messages.
        closed_at = await trickle(pool, clock, reader, writer, [bytes([b]) for b in OPTIONS[:60]], 15000)
        pool.close()
        return closed_at
    assert asyncio.run(go()) == 600000


def test_a_peer_that_never_reads_cannot_grow_our_memory():
    async def go():
        delivered = []
        pool = TcpPool(lambda d, s: delivered.append(d), Clock())
        port = await listening(pool)
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(("127.0.0.1", port))
        client.sendall(OPTIONS)
        await settle(pool, lambda: delivered)
        conn = next(iter(pool.flows.values()))
        peak = 0
        for _ in range(200):  # 12.8 MB of responses the peer never reads
            pool.send(b"x" * 65536, None, None, conn.flow)
            peak = max(peak, conn.transport.get_write_buffer_size())
        await settle(pool, lambda: not pool.flows)
        left = len(pool.flows)
        client.close()
        pool.close()
        return peak, left
    peak, left = asyncio.run(go())
    assert peak <= MAX_BUFFER and left == 0


def test_a_ping_flood_gets_one_pong_per_read_not_one_per_ping():
    async def go():
        pool = TcpPool(lambda d, s: None, Clock())
        port = await listening(pool)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\r\n\r\n" * 16384)  # 64 KiB of pings
        await writer.drain()
        got = b""
        try:
            while True:
                got += await asyncio.wait_for(reader.read(65536), 0.5)
        except asyncio.TimeoutError:
            pass
        pool.close()
        return len(got)
    assert 2 <= asyncio.run(go()) <= 512


def test_writes_queued_while_connecting_are_bounded():
    async def go():
        hole, filler, port = blackhole()
        pool = TcpPool(lambda d, s: None, Clock())
        for _ in range(100):  # 6.4 MB for a peer that has not even answered the SYN
            pool.send(b"x" * 65536, "127.0.0.1", port, None)
        conn = pool.by_peer[("127.0.0.1", port)]
        queued = sum(len(d) for d in conn.pending)
        pool.close()
        hole.close()
        filler.close()
        return queued
    assert asyncio.run(go()) <= MAX_BUFFER


def test_a_connect_to_a_host_that_never_answers_gives_up_and_frees_its_slot(monkeypatch):
    monkeypatch.setattr(transport, "CONNECT_TIMEOUT_S", 0.5, raising=False)
    failed = []

    async def go():
        hole, filler, port = blackhole()
        pool = TcpPool(lambda d, s: None, Clock())
        pool.on_connect_failed = lambda h, p: failed.append((h, p))
        pool.send(OPTIONS, "127.0.0.1", port, None)
        await settle(pool, lambda: failed, 2.0)
        left = len(pool.flows)
        pool.close()
        hole.close()
        filler.close()
        return port, left
    port, left = asyncio.run(go())
    assert failed == [("127.0.0.1", port)] and left == 0


def test_spoofed_requests_that_fill_the_outbound_slots_never_keep_the_router_from_its_upstream(monkeypatch):
    """Requests the core forwards over TCP (an ACK naming
    sip:x@198.51.100.1;transport=tcp is relayed for anyone in the default
    config) make us connect out; addresses that never answer hold outbound
    slots until the connect times out. The configured upstream is always
    reached."""
    monkeypatch.setattr(transport, "CONNECT_TIMEOUT_S", 30, raising=False)

    async def go():
        got = asyncio.get_running_loop().create_future()

        async def upstream(reader, writer):
            got.set_result(await reader.read(100))
        up = await asyncio.start_server(upstream, "127.0.0.1", 0)
        up_port = up.sockets[0].getsockname()[1]
        holes = [blackhole() for _ in range(4)]
        pool = TcpPool(lambda d, s: None, Clock(), 4)
        pool.max_outbound, pool.reserved = 4, {("127.0.0.1", up_port)}  # as configure() sets them
        for _, _, port in holes:
            pool.send(OPTIONS, "127.0.0.1", port, None)
        pool.send(OPTIONS, "127.0.0.1", up_port, None)
        data = await asyncio.wait_for(got, 3)
        pool.close()
        up.close()
        for hole, filler, _ in holes:
            hole.close()
            filler.close()
        return data
    assert asyncio.run(go()).startswith(b"OPTIONS")


def test_tcp_limits_come_from_the_validated_config(tmp_path):
    base = {"sip": {"domain": "example.com", "listen": [{"transport": "tcp", "address": "127.0.0.1", "port": 5099}]},
            "upstream": {"host": "203.0.113.10", "transport": "tcp"}, "interfaces": {"lan0": {"mac": "52:54:00:4f:50:01", "address": "192.0.2.1/24"}}}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(dict(base, limits={"max_tcp_outbound": 0, "tcp_per_source": 1001, "tcp_buffer_kb": 8,
                                                  "tcp_first_message_s": 700, "tcp_idle_s": 600})))
    with pytest.raises(Invalid) as e:
        configmod.load(str(path))
    text = str(e.value)
    for field in ("limits.max_tcp_outbound: 0", "limits.tcp_per_source: 1001", "limits.tcp_buffer_kb: 8"):
        assert field in text
    path.write_text(json.dumps(dict(base, limits={"tcp_first_message_s": 300, "tcp_idle_s": 100})))
    with pytest.raises(Invalid, match="limits.tcp_first_message_s: 300 must not exceed limits.tcp_idle_s"):
        configmod.load(str(path))
    path.write_text(json.dumps(base))
    limits = configmod.tcp_limits(configmod.load(str(path)))
    assert limits["max_outbound"] == 64 and limits["max_per_source"] == 8 and limits["first_message_ms"] == 20000
    assert limits["max_buffer"] == 256 * 1024 and limits["reserved"] == [("203.0.113.10", 5060)]
