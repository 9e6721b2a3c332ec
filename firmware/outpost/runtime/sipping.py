"""The console's ping-upstream: one SIP OPTIONS to the upstream server from
a fresh UDP socket, and its answer's status line and round-trip time, as
one line for the console (the answer is the network's words: escaped)."""

import socket
import time

from .consoleviews import field


def ping(host, port, hostname, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.bind(("0.0.0.0", 0))
        branch = "z9hG4bKping%x" % int(time.time() * 1e6)
        t0 = time.time()
        s.sendto(("OPTIONS sip:%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=%s;rport\r\nMax-Forwards: 70\r\n"
                  "From: <sip:ping@%s>;tag=p\r\nTo: <sip:%s>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                  % (host, port, hostname, s.getsockname()[1], branch, hostname, host, branch)).encode(), (host, port))
        data = s.recv(65535)
        answer = field(data.split(b"\r\n", 1)[0].decode(errors="replace"), 80)
        return "%s:%d answered %s in %.0f ms" % (host, port, answer, (time.time() - t0) * 1000)
    except socket.timeout:
        return "%s:%d: no answer in %g s" % (host, port, timeout)
    except OSError as e:
        return "%s:%d: %s" % (host, port, e.strerror or e)
    finally:
        s.close()
