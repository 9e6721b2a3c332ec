"""Forget the conntrack entries of a media leg (ctnetlink, no tools needed).

Why: conntrack keeps a UDP flow for up to 120 s after its last packet. A
phone that reuses its RTP port towards the same far end (common: phones
and gateways cycle through a few ports) would otherwise meet the last
call's entry: its packets leave through the old WAN port, and the far
end's packets to the new one clash with it and get a new source port
from the kernel's NAT. So when a leg opens, the entries that would catch
its packets go, in one netlink batch (no process per leg): whichever way
the old flow started, it has the phone -> far end tuple as its original
or as its reply direction.

At close nothing is deleted on purpose: the old flow's entry still names
a WAN media port, so the base ruleset drops whatever the phone or the far
end still send after BYE until the entry times out.

The message is IPCTNL_MSG_CT_DELETE with CTA_TUPLE_ORIG or _REPLY, as
conntrack-tools' `conntrack -D -s A -d B -p udp --sport P --dport Q`
(or --reply-src ...) sends it.
"""

import socket
import struct

NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_DELETE = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLA_F_NESTED = 0x8000
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY = 1, 2
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST = 1, 2
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3


def _attr(kind, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * (-n % 4)


def delete_message(seq, which, src, sport, dst, dport):
    ip = _attr(CTA_IP_V4_SRC, socket.inet_aton(src)) + _attr(CTA_IP_V4_DST, socket.inet_aton(dst))
    proto = (_attr(CTA_PROTO_NUM, struct.pack("B", socket.IPPROTO_UDP)) + _attr(CTA_PROTO_SRC_PORT, struct.pack("!H", sport)) +
             _attr(CTA_PROTO_DST_PORT, struct.pack("!H", dport)))
    tup = _attr(CTA_TUPLE_IP | NLA_F_NESTED, ip) + _attr(CTA_TUPLE_PROTO | NLA_F_NESTED, proto)
    body = struct.pack("=BBH", socket.AF_INET, 0, 0) + _attr(which | NLA_F_NESTED, tup)
    kind = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE
    return struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


def leg_tuples(leg):
    """Entries an older flow between the leg's two ends may have left."""
    if leg.remote is None:
        return []
    t = (leg.lan[0], leg.lan[1], leg.remote[0], leg.remote[1])
    return [(CTA_TUPLE_ORIG,) + t, (CTA_TUPLE_REPLY,) + t]


class Conntrack:
    def __init__(self):
        self._sock = None
        self._seq = 0
        self.deleted = 0
        self.failed = False  # no ctnetlink here (no permission, no module): media still works, logged once

    def forget(self, tuples):
        """Delete the entries of [(which, src, sport, dst, dport)]; entries
        that do not exist are no error. Returns how many were deleted."""
        if not tuples or self.failed:
            return 0
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
                self._sock.bind((0, 0))
                self._sock.settimeout(1.0)
            batch = b""
            for t in tuples:
                self._seq += 1
                batch += delete_message(self._seq, *t)
            self._sock.send(batch)
            return self._acks(len(tuples))
        except OSError:
            self.failed = True
            return 0

    def _acks(self, n):
        ok = 0
        while n > 0:
            data = self._sock.recv(65536)
            pos = 0
            while pos + 16 <= len(data) and n > 0:
                length, kind = struct.unpack_from("=IH", data, pos)
                if kind == 2:  # NLMSG_ERROR: 0 is the ACK, -ENOENT no such entry
                    n -= 1
                    if struct.unpack_from("=i", data, pos + 16)[0] == 0:
                        ok += 1
                pos += max(16, (length + 3) & ~3)
        self.deleted += ok
        return ok

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
