"""Forget, and make, the conntrack entries of a media leg (ctnetlink, no
tools needed).

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

Why make one (`prime`): when a call is answered, the phone and the far end
may send their first RTP packets within microseconds of each other (both
start on the answer, and the router's pinhole batch is what releases
them). Two new entries for one flow, created at once from both ends, clash
in the kernel, and the loser's source port is rewritten (seen: 1 packet
in ~10 calls). An entry the router creates itself, with the leg's SNAT
(phone -> far end as the WAN port), before the SIP goes out, is there
for both first packets: IPCTNL_MSG_CT_NEW with CTA_NAT_SRC, as
`conntrack -I ... --src-nat WAN:PORT` sends it. A far-end packet already
inside the router when the entry is made still clashes; the ruleset's
`nat_clash` chain drops it rather than deliver it from a rewritten port.

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
IPCTNL_MSG_CT_NEW, IPCTNL_MSG_CT_DELETE = 0, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 1, 4, 0x200, 0x400
NLMSG_ERROR = 2
NLA_F_NESTED = 0x8000
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY = 1, 2
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST = 1, 2
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3
CTA_NAT_SRC, CTA_TIMEOUT = 6, 7
CTA_NAT_V4_MINIP, CTA_NAT_V4_MAXIP, CTA_NAT_PROTO = 1, 2, 3
CTA_PROTONAT_PORT_MIN, CTA_PROTONAT_PORT_MAX = 1, 2
PRIME_TIMEOUT_S = 30  # the kernel's own for a UDP flow with no reply yet

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
    return _message(seq, IPCTNL_MSG_CT_DELETE, 0, _attr(which | NLA_F_NESTED, _tuple(src, sport, dst, dport)))


def create_message(seq, lan, remote, wan, timeout_s=PRIME_TIMEOUT_S):
    """The entry a leg's first packets should meet: phone -> far end, its
    source NATed to the leg's WAN address and port. TypeError unless every
    address is IPv4 and every port an int 1-65535."""
    orig = _tuple(lan[0], lan[1], remote[0], remote[1])
    reply = _tuple(remote[0], remote[1], lan[0], lan[1])  # before NAT: the kernel sets the WAN side
    ports = _attr(CTA_PROTONAT_PORT_MIN, _port(wan[1])) + _attr(CTA_PROTONAT_PORT_MAX, _port(wan[1]))
    nat = _attr(CTA_NAT_V4_MINIP, _packed(wan[0])) + _attr(CTA_NAT_V4_MAXIP, _packed(wan[0])) + _attr(CTA_NAT_PROTO | NLA_F_NESTED, ports)
    attrs = (_attr(CTA_TUPLE_ORIG | NLA_F_NESTED, orig) + _attr(CTA_TUPLE_REPLY | NLA_F_NESTED, reply) +
             _attr(CTA_NAT_SRC | NLA_F_NESTED, nat) + _attr(CTA_TIMEOUT, struct.pack("!I", timeout_s)))
    return _message(seq, IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, attrs)


def _tuple(src, sport, dst, dport):
    ip = _attr(CTA_IP_V4_SRC, _packed(src)) + _attr(CTA_IP_V4_DST, _packed(dst))
    proto = (_attr(CTA_PROTO_NUM, struct.pack("B", socket.IPPROTO_UDP)) + _attr(CTA_PROTO_SRC_PORT, _port(sport)) +
             _attr(CTA_PROTO_DST_PORT, _port(dport)))
    return _attr(CTA_TUPLE_IP | NLA_F_NESTED, ip) + _attr(CTA_TUPLE_PROTO | NLA_F_NESTED, proto)


def _message(seq, msg_type, flags, attrs):
    body = struct.pack("=BBH", socket.AF_INET, 0, 0) + attrs
    kind = (NFNL_SUBSYS_CTNETLINK << 8) | msg_type
    return struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, seq, 0) + body


def _packed(addr):
    if not isinstance(addr, IPv4):
        raise TypeError("conntrack: %r is not an IPv4 object" % (addr,))
    return addr.packed()


def _port(port):
    if type(port) is not int or not 0 < port < 65536:
        raise TypeError("conntrack: %r is not a port (int 1-65535)" % (port,))
    return struct.pack("!H", port)


def leg_tuples(leg):
    """Entries an older flow may have left that the leg's packets would
    meet: between the leg's phone port and the far end (a call before on
    the same ports), and between the far end and the leg's WAN port (this
    call before a re-INVITE moved the phone to another port: that entry
    would still send the far end's packets to the old one, and hold the
    WAN port so the new flow could not have it)."""
    if leg.remote is None:
        return []
    out = []
    for t in ((leg.lan[0], leg.lan[1], leg.remote[0], leg.remote[1]), (leg.remote[0], leg.remote[1], leg.wan[0], leg.wan[1])):
        out += [(CTA_TUPLE_ORIG,) + t, (CTA_TUPLE_REPLY,) + t]
    return out


class Conntrack:
    def __init__(self):
        self._sock = None
        self._seq = 0
        self.deleted = 0
        self.primed = 0
        self.skipped = 0  # tuples refused for their types (a bug of ours, logged by count)
        self.failed = False  # no ctnetlink here (no permission, no module): media still works, logged once

    def forget(self, tuples):
        """Delete the entries of [(which, src, sport, dst, dport)]; entries
        that do not exist are no error. Returns how many were deleted."""
        n = self._send([lambda seq, t=t: delete_message(seq, *t) for t in tuples])
        self.deleted += n
        return n

    def prime(self, legs):
        """Create each leg's entry (create_message); one that exists already
        (the flow started first) is no error. Returns how many were made."""
        makers = [lambda seq, leg=leg: create_message(seq, leg.lan, leg.remote, leg.wan) for leg in legs if leg.remote is not None]
        n = self._send(makers)
        self.primed += n
        return n

    def _send(self, makers):
        """One netlink batch of the messages `makers` build; how many the
        kernel acknowledged without error."""
        if self.failed:
            return 0
        batch, n = b"", 0
        for make in makers:
            try:
                msg = make(self._seq + 1)
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
        return ok

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
