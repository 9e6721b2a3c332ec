"""The runtime's TCP pool tells who could not be reached (survival's evidence
for an upstream over TCP)."""

import asyncio
import socket

from outpost.runtime.transport import TcpPool


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
