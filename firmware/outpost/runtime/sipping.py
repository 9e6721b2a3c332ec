"""The console's ping-upstream: one SIP OPTIONS to the upstream server from
a fresh UDP socket, and its answer's status line and round-trip time, as
one line for the console (the answer is the network's words: escaped)."""

import socket
import time

from ..core import build
from .consoleviews import field


def ping(host, port, hostname, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.bind(("0.0.0.0", 0))
        branch = "z9hG4bKping%x" % int(time.time() * 1e6)
        t0 = time.time()
        s.sendto(build.options(("udp", host, port), (hostname, s.getsockname()[1]), branch, "ping@%s" % hostname, "p", branch, 1),
                 (host, port))
        data = s.recv(65535)
        answer = field(data.split(b"\r\n", 1)[0].decode(errors="replace"), 80)
        return "%s:%d answered %s in %.0f ms" % (host, port, answer, (time.time() - t0) * 1000)
    except socket.timeout:
        return "%s:%d: no answer in %g s" % (host, port, timeout)
    except OSError as e:
        return "%s:%d: %s" % (host, port, e.strerror or e)
    finally:
        s.close()
