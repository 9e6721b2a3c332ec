"""The runtime's transports: the TCP pool tells who could not be reached
(survival's evidence for an upstream over TCP); a UDP listener's receive
buffer is large enough to ride out a short stall under load."""

import asyncio
import socket

from outpost.runtime.transport import RCVBUF, TcpPool, Udp


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


def test_a_udp_listener_gets_a_receive_buffer_past_the_kernel_default():
    with open("/proc/sys/net/core/rmem_max") as f:
        rmem_max = int(f.read())

    async def go():
        transport, proto = await asyncio.get_running_loop().create_datagram_endpoint(lambda: Udp(lambda d, s: None),
                                                                                     local_addr=("127.0.0.1", 0))
        try:
            return transport.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        finally:
            transport.close()

    # Linux reports twice what was set; without CAP_NET_ADMIN it caps the
    # request at net.core.rmem_max, with it (the router, CI) it does not.
    assert asyncio.run(go()) >= 2 * min(RCVBUF, rmem_max)
