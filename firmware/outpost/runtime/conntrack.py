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

Rules of this file:
- Tuples carry typed values: `core.addr.IPv4` addresses (their `packed()`
  bytes go into the message) and int ports 1-65535. A tuple with anything
  else is skipped and counted (`skipped`); it never raises out and never
  stops the cleanup of the others.
- `failed` means ctnetlink is not there at all (no permission, no
  nfnetlink or conntrack netlink module): it is set only for those errors,
  and then stays set (the daemon logs it once). Anything else (a slow
  kernel, a full socket buffer) loses that one batch, not the rest of the run.
"""

import errno
import socket
import struct

from ..core.addr import IPv4

NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_DELETE = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NLA_F_NESTED = 0x8000
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY = 1, 2
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST = 1, 2
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3

# No ctnetlink here: no permission, no netfilter netlink family, no
# conntrack subsystem (nfnetlink answers EOPNOTSUPP when the module that
# would serve it is missing).
ABSENT = (errno.EPERM, errno.EACCES, errno.EPROTONOSUPPORT, errno.EOPNOTSUPP, errno.EAFNOSUPPORT)

# How long one batch may wait for the kernel's acknowledgements. Deleting a
# few entries takes microseconds; a kernel this slow loses the batch, and the
# daemon's single thread is not held longer than this.
ACK_TIMEOUT_S = 1.0


def _attr(kind, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * (-n % 4)


def delete_message(seq, which, src, sport, dst, dport):
    """The netlink message; TypeError unless src/dst are IPv4 and ports ints 1-65535."""
    if which not in (CTA_TUPLE_ORIG, CTA_TUPLE_REPLY):
        raise TypeError("conntrack: tuple direction %r" % (which,))
    ip = _attr(CTA_IP_V4_SRC, _packed(src)) + _attr(CTA_IP_V4_DST, _packed(dst))
    proto = (_attr(CTA_PROTO_NUM, struct.pack("B", socket.IPPROTO_UDP)) + _attr(CTA_PROTO_SRC_PORT, _port(sport)) +
             _attr(CTA_PROTO_DST_PORT, _port(dport)))
    tup = _attr(CTA_TUPLE_IP | NLA_F_NESTED, ip) + _attr(CTA_TUPLE_PROTO | NLA_F_NESTED, proto)
    body = struct.pack("=BBH", socket.AF_INET, 0, 0) + _attr(which | NLA_F_NESTED, tup)
    kind = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE
    return struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


def _packed(addr):
    if not isinstance(addr, IPv4):
        raise TypeError("conntrack: %r is not an IPv4 object" % (addr,))
    return addr.packed()


def _port(port):
    if type(port) is not int or not 0 < port < 65536:
        raise TypeError("conntrack: %r is not a port (int 1-65535)" % (port,))
    return struct.pack("!H", port)


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
        self.skipped = 0  # tuples refused for their types (a bug of ours, logged by count)
        self.failed = False  # no ctnetlink here (no permission, no module): media still works, logged once

    def forget(self, tuples):
        """Delete the entries of [(which, src, sport, dst, dport)]; entries
        that do not exist are no error. Returns how many were deleted."""
        if self.failed:
            return 0
        batch, n = b"", 0
        for t in tuples:
            try:
                msg = delete_message(self._seq + 1, *t)
            except TypeError:
                self.skipped += 1
                continue
            self._seq += 1
            batch += msg
            n += 1
        if not n:
            return 0
        try:
            self._open()
            self._sock.send(batch)
            return self._acks(n)
        except OSError as e:
            if e.errno in ABSENT:
                self.failed = True
            self.close()  # a fresh socket next time: no stale acks to misread
            return 0

    def _open(self):
        if self._sock is None:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
            self._sock.bind((0, 0))
            self._sock.settimeout(ACK_TIMEOUT_S)

    def _acks(self, n):
        ok = 0
        while n > 0:
            data = self._sock.recv(65536)
            pos = 0
            while pos + 20 <= len(data) and n > 0:
                length, kind = struct.unpack_from("=IH", data, pos)
                if kind == NLMSG_ERROR:  # 0 is the ACK, -ENOENT no such entry
                    n -= 1
                    code = -struct.unpack_from("=i", data, pos + 16)[0]
                    if code == 0:
                        ok += 1
                    elif code in ABSENT:
                        self.failed = True
                pos += max(16, (length + 3) & ~3)
        self.deleted += ok
        return ok

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
