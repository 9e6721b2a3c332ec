"""A stranger naming hosts in SIP must not make the router query DNS or
grow its cache: the real daemon on loopback, real UDP datagrams, and the
event loop's resolver replaced by one that records what it was asked
(and answers, so a cache that grows, grows)."""

import asyncio
import json
import socket

from outpost.runtime import config as configmod
from outpost.runtime.daemon import Daemon


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(i, port):
    method, host = ("ACK", "ack-%d.attacker.example" % i) if i % 3 == 2 else ("OPTIONS", "n%d.attacker.example" % i)
    params = ";transport=tcp" if i % 3 == 1 else ""
    return ("%s sip:x@%s%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKdns%d;rport\r\nMax-Forwards: 70\r\n"
            "From: <sip:a@example.org>;tag=%d\r\nTo: <sip:x@%s>\r\nCall-ID: dns%d\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n"
            % (method, host, params, port, i, i, host, i, method)).encode()


def test_hosts_named_in_packets_are_never_resolved_nor_cached(tmp_path):
    port = free_port()
    path = tmp_path / "c.json"
    path.write_text(json.dumps({
        "sip": {"domain": "example.com", "listen": [{"transport": "udp", "address": "127.0.0.1", "port": port},
                                                    {"transport": "tcp", "address": "127.0.0.1", "port": port}]},
        "state": {"dir": str(tmp_path / "state"), "status_file": str(tmp_path / "status.json")}}))
    asked = []

    async def fake_getaddrinfo(host, *a, **kw):
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_DGRAM, 17, "", ("192.0.2.99", 0))]

    async def run():
        loop = asyncio.get_running_loop()
        loop.getaddrinfo = fake_getaddrinfo
        d = Daemon(configmod.load(str(path)), str(path))
        await d.start()
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("127.0.0.1", 0))
        for i in range(300):  # OPTIONS and ACKs for other domains, some over TCP: the core forwards them by name
            client.sendto(request(i, client.getsockname()[1]), ("127.0.0.1", port))
        for _ in range(100):
            await asyncio.sleep(0.02)
        cached, refused = len(d._dns), getattr(d._dns, "refused", None)
        d.stop()
        client.close()
        return cached, refused

    cached, refused = asyncio.run(run())
    assert asked == [] and cached == 0
    assert refused >= 100  # the messages did reach the daemon's send: dropped there, counted


def test_the_cache_of_configured_names_is_bounded_and_each_name_looked_up_once_at_a_time():
    from outpost.runtime import resolver

    asked = []

    async def run():
        loop = asyncio.get_running_loop()

        async def slow_getaddrinfo(host, *a, **kw):
            asked.append(host)
            await asyncio.sleep(0.05)
            return [(socket.AF_INET, socket.SOCK_DGRAM, 17, "", ("192.0.2.%d" % (len(asked) % 250), 0))]
        loop.getaddrinfo = slow_getaddrinfo
        names = ["peer%d.example" % i for i in range(200)]
        r = resolver.Resolver(lambda: 0, names)
        got = []
        for _ in range(500):  # a burst towards one peer while its lookup runs
            r.resolve_then(names[0], got.append)
        await asyncio.sleep(0.2)
        for name in names:
            r.resolve_then(name, got.append)
        await asyncio.sleep(0.3)
        return r, got

    r, got = asyncio.run(run())
    assert asked.count("peer0.example") == 1  # one lookup for the burst
    assert got.count(got[0]) >= resolver.MAX_WAITING and len(got) <= resolver.MAX_WAITING + 200
    assert len(r) == resolver.MAX_NAMES  # the oldest went first
    assert r.get("peer199.example") is not None and r.get("peer0.example") is None
