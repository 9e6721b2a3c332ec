"""Attacks on the daemon's UDP sockets (runtime/udp.py), against the real
Daemon on loopback, under both event loops.

- A message whose next hop the socket cannot take (an IPv6 literal on an
  IPv4 socket, the broadcast address) must cost that message alone: under
  uvloop's own transport the first closed the listener for good and the
  second lost the rest of the wakeup's output and stopped the timers.
- An ICMP error that does not say "nobody there" (frag-needed, a local
  rule) must not count as the upstream being down: a forged one would
  start survival.
"""

import asyncio
import errno
import json
import socket
import time

import pytest
from eventloops import LOOPS, run
from harness import free_port

from outpost.runtime import config as configmod
from outpost.runtime.daemon import Daemon
from outpost.runtime.network import Network


def options(target, via_port, i):
    return ("OPTIONS sip:x@%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKudp%d;rport\r\nMax-Forwards: 70\r\n"
            "From: <sip:a@example.com>;tag=%d\r\nTo: <sip:x@%s>\r\nCall-ID: udp-attack-%d\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n" % (target, via_port, i, i, target, i)).encode()


def call_ids(sock):
    got = []
    while True:
        try:
            data = sock.recv(65535)
        except BlockingIOError:
            return got
        for line in data.split(b"\r\n"):
            if line.lower().startswith(b"call-id:"):
                got.append(line.split(b":", 1)[1].strip().decode())


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_next_hop_the_socket_cannot_take_costs_that_message_alone(loop_name, tmp_path):
    port = free_port()
    path = tmp_path / "c.json"
    path.write_text(json.dumps({
        "sip": {"domain": "example.com", "listen": [{"transport": "udp", "address": "127.0.0.1", "port": port}],
                "trusted_networks": ["127.0.0.0/8"]},
        "state": {"dir": str(tmp_path / "state"), "status_file": str(tmp_path / "status.json")}}))

    async def attack():
        d = Daemon(configmod.load(str(path)), str(path))
        await d.start()
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sink.bind(("127.0.0.1", 0))
            sink.setblocking(False)
            client.bind(("127.0.0.1", 0))
            target = "127.0.0.1:%d" % sink.getsockname()[1]
            me = client.getsockname()[1]
            # One burst, read in one wakeup: good, IPv6 literal, broadcast, good.
            for i, hop in enumerate([target, "[::1]", "255.255.255.255", target]):
                client.sendto(options(hop, me, i), ("127.0.0.1", port))
            seen = []
            t0 = time.monotonic()
            while time.monotonic() - t0 < 1.2:  # past Timer E's first retransmission (500 ms)
                await asyncio.sleep(0.05)
                seen += call_ids(sink)
            client.sendto(options(target, me, 9), ("127.0.0.1", port))  # the listener still serves
            for _ in range(40):
                await asyncio.sleep(0.05)
                seen += call_ids(sink)
                if "udp-attack-9" in seen:
                    break
            return seen, d._timer is not None
        finally:
            sink.close()
            client.close()
            d.stop()  # closes the sockets

    seen, armed = run(loop_name, attack())
    assert seen.count("udp-attack-0") >= 2 and seen.count("udp-attack-3") >= 2  # forwarded and retransmitted
    assert "udp-attack-9" in seen
    assert armed


def test_an_icmp_error_that_is_not_unreachable_does_not_count_against_the_upstream():
    refused = []

    async def go():
        net = Network(lambda d, s: None, lambda: None, lambda dest, data: refused.append(dest), None, lambda: 0, {})
        try:
            await net.open_probe(("udp", "127.0.0.1", free_port()))
            for code in (errno.EMSGSIZE, errno.EPERM, errno.EACCES):  # frag-needed, local rules
                net.probe.on_error(OSError(code, "forged"))
            quiet = list(refused)
            net.probe.on_error(ConnectionRefusedError(errno.ECONNREFUSED, "port unreachable"))
            return quiet, list(refused)
        finally:
            net.close()

    quiet, after = asyncio.run(go())
    assert quiet == []
    assert [d[1:3] for d in after] == [("127.0.0.1", after[0][2])]
