"""What the phones' calls put on the wire, read back from tshark captures.

Two links are captured: the WAN (the wan namespace's eth0, facing the
router's wan0) and the LAN, as each phone's switch port sees it
(phonenet.py): one tshark on all the ports. A packet between two phones
crosses two ports and is counted once, on the port of the phone it is
for; one between a phone and the router crosses one.

From the SIP on a link come each call's SDP endpoints as that link saw
them (c= and m=audio of every offer and answer), and each RTP packet is
judged against them:
- WAN: every RTP packet from the router leaves from the port the router's
  own SDP named on the WAN (not one NAT picked because no pinhole held it);
- LAN: every RTP packet arriving at a phone comes from the address:port
  the other side's SDP, as delivered to that phone, named.
A packet with no call to belong to (media before any SDP named its
destination) counts as a mismatch too. RTCP (the odd ports) is not judged.
"""

import collections
import os
import re
import signal
import time

from netns import ROUTER_WAN, sh
from routersite import ns_popen, stop

SIP_PORT = 5060
SETTLE_S = 0.5
LAN_PREFIX = "192.0.2."
SDP_C = re.compile(rb"^c=IN IP4 (\S+)", re.M)
SDP_M = re.compile(rb"^m=audio (\d+) ", re.M)
CALL_ID = re.compile(rb"^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)", re.M | re.I)


class Capture:
    """tshark writing UDP on `ifaces` of namespace `ns` to `path`."""

    def __init__(self, ns, ifaces, path):
        self.path = path
        cmd = ["tshark", "-q", "-f", "udp", "-w", path]
        for i in ifaces:
            cmd += ["-i", i]
        self.log_path = path + ".log"
        self.proc = ns_popen(ns, cmd, open(self.log_path, "wb"))
        # tshark says "Capturing on" before dumpcap has opened every
        # interface; an open capture is a packet socket in the namespace.
        # Even then the first few milliseconds of packets went missing (an
        # INVITE among them), hence the settling time after.
        deadline = time.time() + 15
        while time.time() < deadline and _packet_sockets(ns) < len(ifaces):
            time.sleep(0.05)
        time.sleep(SETTLE_S)

    def stop(self):
        # A short wait first: the last packets are still in tshark's buffer.
        time.sleep(0.3)
        stop(self.proc, signal.SIGINT)
        return self.path


def _packet_sockets(ns):
    return len(sh("ip", "netns", "exec", ns, "cat", "/proc/net/packet").stdout.splitlines()) - 1


Packet = collections.namedtuple("Packet", "t iface src sport dst dport payload")


def packets(path):
    """Every UDP packet of a capture, with its payload as bytes."""
    out = sh("tshark", "-r", path, "-Y", "udp", "-T", "fields", "-E", "separator=/t", "-e", "frame.time_epoch",
             "-e", "frame.interface_name", "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport", "-e", "udp.payload").stdout
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) == 7 and f[3]:
            yield Packet(float(f[0]), f[1], f[2], int(f[3]), f[4], int(f[5]), bytes.fromhex(f[6]))


def is_rtp(p):
    # Version 2 and not RTCP (packet types 192-223 share the second byte's
    # range with RTP's marker bit plus a payload type: RFC 5761 section 4).
    return (p.sport != SIP_PORT and p.dport != SIP_PORT and len(p.payload) >= 12
            and p.payload[0] >> 6 == 2 and not 192 <= p.payload[1] <= 223)


def sdp_endpoint(payload):
    """(address, port) of a SIP message's audio stream, or None."""
    head, sep, body = payload.partition(b"\r\n\r\n")
    m = SDP_M.search(body) if sep else None
    if m is None:
        return None
    # A media-level c= (after m=) wins over the session-level one.
    media_c, session_c = SDP_C.search(body, m.end()), SDP_C.findall(body[:m.start()])
    addr = media_c.group(1) if media_c else (session_c[-1] if session_c else None)
    return (addr.decode(), int(m.group(1))) if addr else None


class Call:
    def __init__(self, call_id, t):
        self.call_id, self.start = call_id, t
        self.sdps = []  # (time, sender ip, receiver ip, (address, port))


def calls(pkts):
    """The calls on one link by Call-ID, each with its SDP in order."""
    found = {}
    for p in pkts:
        if SIP_PORT not in (p.sport, p.dport):
            continue
        ep = sdp_endpoint(p.payload)
        m = CALL_ID.search(p.payload)
        if ep is None or m is None:
            continue
        call = found.setdefault(m.group(1), Call(m.group(1), p.t))
        call.sdps.append((p.t, p.src, p.dst, ep))
    return list(found.values())


class Result:
    def __init__(self):
        self.checked = 0
        self.mismatches = []  # (packet, expected) as text
        self.flows = collections.Counter()  # (src ip, dst ip) -> RTP packets
        self.rtp = []  # (time, src ip, dst ip) of every RTP packet

    def count(self, src=None, dst=None, since=0.0):
        return sum(1 for t, s, d in self.rtp if t >= since and src in (None, s) and dst in (None, d))

    def __repr__(self):
        return "checked %d, %d mismatches %s, flows %s" % (
            self.checked, len(self.mismatches), self.mismatches[:5], dict(self.flows))


def _owner(calls_, t, named):
    """The latest call started before t whose SDP named `named`."""
    best = None
    for c in calls_:
        if c.start <= t and named(c) and (best is None or c.start > best.start):
            best = c
    return best


def check_wan(path, router=ROUTER_WAN):
    pkts = list(packets(path))
    cs, res = calls(pkts), Result()
    for p in filter(is_rtp, pkts):
        res.flows[(p.src, p.dst)] += 1
        res.rtp.append((p.t, p.src, p.dst))
        if p.src != router:
            continue
        res.checked += 1
        far = (p.dst, p.dport)
        call = _owner(cs, p.t, lambda c: any(s[1] != router and s[3] == far for s in c.sdps))
        ours = {s[3] for s in call.sdps if s[1] == router} if call else set()
        if (p.src, p.sport) not in ours:
            res.mismatches.append("%.3f %s:%d -> %s:%d, the router's SDP named %s" % (
                p.t, p.src, p.sport, p.dst, p.dport, sorted(ours) or "nothing for this destination"))
    return res


def check_lan(path, phones):
    """phones: {ip: its switch port}."""
    pkts = [p for p in packets(path) if p.iface == phones.get(p.dst, phones.get(p.src))]
    cs, res = calls(pkts), Result()
    for p in filter(is_rtp, pkts):
        res.flows[(p.src, p.dst)] += 1
        res.rtp.append((p.t, p.src, p.dst))
        if p.dst not in phones:
            continue
        res.checked += 1
        mine = (p.dst, p.dport)
        call = _owner(cs, p.t, lambda c: any(s[1] == p.dst and s[3] == mine for s in c.sdps))
        # What the phone was told: SDP in messages addressed to it.
        told = {s[3] for s in call.sdps if s[2] == p.dst} if call else set()
        if (p.src, p.sport) not in told:
            res.mismatches.append("%.3f %s:%d -> %s:%d, its SDP named %s" % (
                p.t, p.src, p.sport, p.dst, p.dport, sorted(told) or "nothing for this phone"))
    return res


def lan_leaks(path):
    """SIP on the WAN capture with a LAN address anywhere in it, headers
    and body alike: (source, first line, the lines that carry it)."""
    leaks, seen = [], 0
    for p in packets(path):
        if SIP_PORT not in (p.sport, p.dport):
            continue
        seen += 1
        if LAN_PREFIX.encode() in p.payload:
            text = p.payload.decode(errors="replace")
            lines = [ln for ln in text.splitlines() if LAN_PREFIX in ln]
            leaks.append((p.src, text.split("\r\n", 1)[0], lines))
    return seen, leaks


def requests(path, method):
    """Requests of `method` on a link: (time, from, to, request line)."""
    return [(p.t, p.src, p.dst, p.payload.split(b"\r\n", 1)[0].decode(errors="replace")) for p in packets(path)
            if SIP_PORT in (p.sport, p.dport) and p.payload.startswith(method.encode() + b" ")]


def responses(path, method):
    """Final and provisional answers to `method` on a link: (time, from,
    to, status line)."""
    out = []
    for p in packets(path):
        if SIP_PORT in (p.sport, p.dport) and p.payload.startswith(b"SIP/2.0 "):
            if re.search(rb"^CSeq:[ \t]*\d+ " + method.encode() + rb"\s", p.payload, re.M | re.I):
                out.append((p.t, p.src, p.dst, p.payload.split(b"\r\n", 1)[0].decode(errors="replace")))
    return out


def captures(site, ports, name):
    """WAN and LAN (the phones' switch ports) captures, started now."""
    base = os.path.join(site.work, name)
    return (Capture(site.topo.wan, ["eth0"], base + "-wan.pcapng"),
            Capture(site.topo.lan, list(ports), base + "-lan.pcapng"))
