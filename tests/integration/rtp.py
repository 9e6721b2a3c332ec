"""A symmetric RTP endpoint for the media tests, run inside a namespace:

    python3 rtp.py BIND_IP BIND_PORT PEER_IP PEER_PORT SECONDS

sends one 172-byte RTP packet (PCMA, 20 ms) every 20 ms to the peer for
SECONDS while counting what arrives, and prints one JSON line:
{"sent": N, "received": {"ip:port": count}, "max_gap_ms": M} where M is
the longest silence between two packets received (media dropped by a
failover would show here).
"""

import json
import socket
import struct
import sys
import time


def main(argv):
    bind_ip, bind_port, peer_ip, peer_port, seconds = argv[0], int(argv[1]), argv[2], int(argv[3]), float(argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind_ip, bind_port))
    s.settimeout(0.005)
    ssrc = bind_port * 7919
    sent, received = 0, {}
    last, max_gap = None, 0
    end = time.time() + seconds
    next_send = time.time()
    while time.time() < end:
        if time.time() >= next_send:
            header = struct.pack("!BBHII", 0x80, 8, sent & 0xFFFF, sent * 160, ssrc)
            try:
                s.sendto(header + b"\xd5" * 160, (peer_ip, peer_port))
                sent += 1
            except OSError:
                pass
            next_send += 0.02
        try:
            data, addr = s.recvfrom(2048)
        except (socket.timeout, OSError):
            continue
        if len(data) >= 12 and data[0] >> 6 == 2:
            key = "%s:%d" % addr
            received[key] = received.get(key, 0) + 1
            now = time.time()
            if last is not None:
                max_gap = max(max_gap, int((now - last) * 1000))
            last = now
    print(json.dumps({"sent": sent, "received": received, "max_gap_ms": max_gap}))


if __name__ == "__main__":
    main(sys.argv[1:])
