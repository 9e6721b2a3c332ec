"""A next hop the router cannot reach is answered at once (RFC 3261
§8.1.3.1, RFC 3263 §4.3: a transport or DNS failure counts as 503), not
with 408 after Timer F's 32 s: the real daemon on loopback, real UDP, and
the event loop's resolver replaced by one that fails as DNS would."""

import asyncio
import json
import socket

from outpost.runtime import config as configmod
from outpost.runtime.daemon import Daemon


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def options(host, port, i):
    return ("OPTIONS sip:x@%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKnh%d;rport\r\nMax-Forwards: 70\r\n"
            "From: <sip:a@example.com>;tag=%d\r\nTo: <sip:x@%s>\r\nCall-ID: nh%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            % (host, port, i, i, host, i)).encode()


def first_lines(tmp_path, extra_cfg, hosts):
    """The status line the daemon answers each OPTIONS to sip:x@HOST with."""
    port = free_port()
    path = tmp_path / "c.json"
    cfg = {"sip": {"domain": "example.com", "listen": [{"transport": "udp", "address": "127.0.0.1", "port": port}],
                   "trusted_networks": ["127.0.0.0/8"]},
           "state": {"dir": str(tmp_path / "state"), "status_file": str(tmp_path / "status.json")}}
    cfg.update(extra_cfg)
    path.write_text(json.dumps(cfg))

    async def no_such_name(host, *a, **kw):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def run():
        loop = asyncio.get_running_loop()
        loop.getaddrinfo = no_such_name
        d = Daemon(configmod.load(str(path)), str(path))
        await d.start()
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("127.0.0.1", 0))
        client.setblocking(False)
        got = []
        try:
            for i, host in enumerate(hosts):
                client.sendto(options(host, client.getsockname()[1], i), ("127.0.0.1", port))
                for _ in range(250):  # 5 s; Timer F would answer 408 after 32 s
                    await asyncio.sleep(0.02)
                    try:
                        got.append(client.recv(65535).split(b"\r\n", 1)[0].decode())
                        break
                    except BlockingIOError:
                        pass
                else:
                    got.append(None)
        finally:
            d.stop()
            client.close()
        return got

    return asyncio.run(run())


def test_a_host_name_the_router_does_not_resolve_is_answered_503_at_once(tmp_path):
    """Only configured names are ever looked up (README threat model): one
    named in a packet is refused, and the phone hears so now."""
    assert first_lines(tmp_path, {}, ["elsewhere.example"]) == ["SIP/2.0 503 Service Unavailable (next hop unreachable)"]


def test_a_configured_name_that_does_not_resolve_is_answered_503_at_once(tmp_path):
    """The fallback trunk is configured by name and DNS has no answer for it."""
    cfg = {"survival": {"fallback_trunk": "trunk.example"}}
    assert first_lines(tmp_path, cfg, ["trunk.example"]) == ["SIP/2.0 503 Service Unavailable (next hop unreachable)"]
