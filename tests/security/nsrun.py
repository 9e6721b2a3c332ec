"""Small programs run inside the test namespaces: a UDP counter, senders,
a TCP acceptor. Each is a Python process started with `ip netns exec`
and stopped by its PID."""

import json
import subprocess
import sys
import time

UDP_COUNTER = """
import json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE: count what the kernel let through, not what a small buffer dropped
s.bind(("0.0.0.0", %d))
print("ready", flush=True)
s.settimeout(%s)
seen = {}
try:
    while True:
        data, addr = s.recvfrom(2048)
        seen[addr[0]] = seen.get(addr[0], 0) + 1
except socket.timeout:
    pass
print(json.dumps(seen), flush=True)
"""

UDP_SENDER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((%r, %d))
n, rate, dst = %d, %s, (%r, %d)
start = time.monotonic()
for i in range(n):
    if rate:
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    try:
        s.sendto(b"OPTIONS sip:x SIP/2.0\\r\\n\\r\\n", dst)
    except OSError:
        pass
"""

# UDP to the router from many source addresses nobody owns (IP_HDRINCL).
SPOOFER = """
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
dst = socket.inet_aton(%r)
payload = b"OPTIONS sip:x SIP/2.0\\r\\n\\r\\n"
for i in range(%d):
    src = struct.pack("!I", (198 << 24) | (18 << 16) | (i + 1))  # 198.18.0.0/15, benchmarking space
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    s.sendto(ip + udp, (%r, 0))
"""

TCP_ACCEPTOR = """
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", %d))
s.listen(256)
print("ready", flush=True)
held = []
while True:
    held.append(s.accept()[0])
"""

TCP_CONNECTOR = """
import select, socket, time
socks = []
for i in range(%d):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex((%r, %d))
    socks.append(c)
deadline = time.monotonic() + %s
pending = set(socks)
while pending and time.monotonic() < deadline:
    _, w, _ = select.select([], list(pending), [], 0.1)
    pending -= set(w)
print(sum(1 for c in socks if c not in pending and c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0), flush=True)
"""


def py(ns, code, **kw):
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, **kw)


def run(ns, code, timeout=60):
    p = py(ns, code)
    out = p.communicate(timeout=timeout)[0]
    return out.strip()


def udp_counter(ns, port=5060, idle_s=1.5):
    p = py(ns, UDP_COUNTER % (port, idle_s))
    assert p.stdout.readline().strip() == "ready"
    return p


def counted(p):
    """{source: datagrams} once the counter has been idle."""
    return json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1])


def send_udp(ns, src, dst, n, rate=0, sport=0):
    """n datagrams from src to dst (host, port); rate per second, 0: as fast as possible."""
    return py(ns, UDP_SENDER % (src, sport, n, rate, dst[0], dst[1]))


def spoof_udp(ns, dst, n):
    run(ns, SPOOFER % (dst, n, dst))


def tcp_acceptor(ns, port=5060):
    p = py(ns, TCP_ACCEPTOR % port)
    assert p.stdout.readline().strip() == "ready"
    return p


def tcp_connect_many(ns, dst, n, wait_s=2.5):
    """How many of n simultaneous connections to dst were established."""
    return int(run(ns, TCP_CONNECTOR % (n, dst[0], dst[1], wait_s)))


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait()


def settle(seconds):
    """Let token buckets refill between phases (a wait, not an assertion)."""
    time.sleep(seconds)
