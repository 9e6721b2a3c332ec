"""CPU per received datagram: asyncio's own datagram transport, outpost's
drained socket (runtime/udp.py, what the daemon uses under asyncio) and
uvloop's transport, in the same run.

    .venv/bin/python bench/udp_read.py [--rounds N]

Each round fills a socket's receive buffer with BURST SIP-sized datagrams
(700 bytes) from a plain socket, then lets the event loop read them all;
the process CPU time of that reading, divided by the datagrams, is the
figure. Also the bare syscall for comparison: recvfrom with asyncio's
256 KiB buffer and with a 64 KiB one (the reason runtime/udp.py exists).

Prints one line: microseconds of CPU per datagram for each, the median of
the rounds.
"""

import argparse
import asyncio
import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "firmware"))

from outpost.runtime import udp  # noqa: E402

try:
    import uvloop
except ImportError:
    uvloop = None

BURST = 2000  # each takes ~2.3 KB of buffer (skb truesize): fits the 4 MiB udp.py asks for
PAYLOAD = b"x" * 700


def blast(dest):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(BURST):
        s.sendto(PAYLOAD, dest)
    s.close()


class Counting(asyncio.DatagramProtocol):
    def __init__(self, done):
        self.n, self.done = 0, done

    def connection_made(self, transport):
        udp.enlarge_rcvbuf(transport.get_extra_info("socket"))

    def datagram_received(self, data, addr):
        self.n += 1
        if self.n == BURST:
            self.done.set_result(None)


async def one_round(kind):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    count = [0]

    def deliver(data, source):
        count[0] += 1
        if count[0] == BURST:
            done.set_result(None)
    if kind == "asyncio-transport":
        transport, _ = await loop.create_datagram_endpoint(lambda: Counting(done), local_addr=("127.0.0.1", 0))
        dest, close = transport.get_extra_info("sockname"), transport.close
    else:
        sock = await udp.open_udp(deliver, lambda: None, local=("127.0.0.1", 0))
        dest, close = sock.sockname(), sock.close
    blast(dest)  # the loop is not running meanwhile: everything waits in the kernel
    t0 = time.process_time()
    await asyncio.wait_for(done, 5)  # a datagram the kernel dropped fails the run, never hangs it
    cpu = time.process_time() - t0
    close()
    return cpu / BURST * 1e6


def syscall_round(size):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("127.0.0.1", 0))
    udp.enlarge_rcvbuf(r)
    blast(r.getsockname())
    t0 = time.process_time()
    for _ in range(BURST):
        r.recvfrom(size)
    cpu = time.process_time() - t0
    r.close()
    return cpu / BURST * 1e6


def run_loop(kind, rounds):
    if kind == "uvloop":
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.SelectorEventLoop()
    try:
        return statistics.median(loop.run_until_complete(one_round(kind)) for _ in range(rounds))
    finally:
        loop.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    with open("/proc/sys/net/core/rmem_max") as f:
        if int(f.read()) < BURST * 2048 and os.geteuid() != 0:
            sys.exit("needs root (SO_RCVBUFFORCE) or net.core.rmem_max >= %d" % (BURST * 2048))
    figures = {
        "recvfrom(256K)": statistics.median(syscall_round(256 * 1024) for _ in range(a.rounds)),
        "recvfrom(64K)": statistics.median(syscall_round(udp.MAX_DATAGRAM) for _ in range(a.rounds)),
        "asyncio-transport": run_loop("asyncio-transport", a.rounds),
        "outpost-drained": run_loop("outpost-drained", a.rounds),
    }
    if uvloop is not None:
        figures["uvloop-transport"] = run_loop("uvloop", a.rounds)
    print("udp read, us CPU per 700-byte datagram (median of %d x %d): " % (a.rounds, BURST)
          + ", ".join("%s %.2f" % kv for kv in figures.items()))


if __name__ == "__main__":
    main()
