"""What one SDP says about a stream's ends, and the SDP the WAN sees
(pure functions; the call table that uses them is alg.MediaAlg).

Rules of this file: an address is parsed into an `addr.IPv4` before it is
used; anything that is not an IPv4 literal the rules allow is refused with
488 (`refused`), before the caller allocates anything.
"""

from .addr import ipv4
from .leaks import names
from .errors import RemoteProtocolError


def refused(why):
    return RemoteProtocolError(488, "Not Acceptable Here (%s)" % why)


def held(m):
    """A stream's address as IPv4, or None when the side asked for no media
    (RFC 2543 hold: c= 0.0.0.0); and its direction, hold counting as
    sendonly. Anything but an IPv4 literal is refused (488)."""
    text = m.address
    if text in (None, "0.0.0.0"):
        return None, "inactive" if m.direction == "inactive" else "sendonly"
    addr = ipv4(text)
    if addr is None or (m.connection or m.session_connection).addrtype != "IP4":
        raise refused("SDP address is not an IPv4 address")
    return addr, m.direction


def host_of(a, networks):
    """A host inside one of `networks`: not its network or broadcast address."""
    for net, mask in networks:
        if a.n & mask == net and a.n != net and a.n != net | (~mask & 0xFFFFFFFF):
            return True
    return False


def rtcp_of(m, addr):
    """Where a stream's RTCP goes: a=rtcp, else the RTP port + 1 (RFC 3605)."""
    if m.rtcp is None:
        if m.port >= 65535:
            raise refused("no port for RTCP")
        return addr, m.port + 1
    raddr = addr if m.rtcp.address is None else ipv4(m.rtcp.address)
    if raddr is None or not m.rtcp.port:
        raise refused("SDP a=rtcp is not an IPv4 address and port")
    return raddr, m.rtcp.port


def rewrite(sdp, ports, wan, lan_networks):
    """A phone's SDP as the WAN sees it: the router's address `wan` and
    `ports` (one per m=, None to keep), and no line that names a LAN
    address when `lan_networks` is known."""
    keep = set()  # lines rewritten here; any other line naming the LAN goes
    lan = (lambda text: names(text, lan_networks)) if lan_networks is not None else None
    if sdp.origin is not None:
        sdp.set_origin_address(wan, "IP4")
        if lan is not None and lan(sdp.origin.username):
            sdp.set_origin_user("-")
        keep.add(sdp.line_start(sdp.origin.start))
    for c in [sdp.connection] + [m.connection for m in sdp.media]:
        if c is not None and not c.is_hold:
            sdp.set_connection(c, wan, "IP4")
            keep.add(sdp.line_start(c.start))
    for i in range(len(sdp.media)):
        m = sdp.media[i]
        port = ports[i] if ports is not None else None
        keep.add(m.start)
        if port is not None:
            sdp.set_port(m, port)
            if m.rtcp is not None:
                sdp.set_rtcp(m, port + 1, wan if m.rtcp.address else None)
                keep.add(sdp.line_start(m.rtcp.port_span[0]))
    if lan is not None:
        for line in keep:  # what a rewrite left of a kept line (an o= id, an m= proto)
            if lan(_kept_rest(sdp, line)):
                raise refused("SDP names a LAN address where none belongs")
        sdp.drop_lines(lan, keep)


def _kept_rest(sdp, line):
    """A kept line's text less the parts `rewrite` replaces (addresses,
    ports, the o= user)."""
    end = sdp.body.find(b"\n", line)
    text = sdp.body[line:len(sdp.body) if end < 0 else end].decode()
    kind = text[:2]
    if kind == "o=":
        return " ".join(text[2:].split(" ")[1:-1])
    if kind == "c=":
        return ""
    if kind == "m=":
        return " ".join(text[2:].split(" ")[2:])
    return ""  # a=rtcp: port and address, both rewritten


def to_peer(sdp, m, peer, session_c):
    """Another phone of this site, through a proxy upstream that does not
    anchor media: the two talk on the LAN directly. `session_c`: the
    session-level c= was rewritten already; returned updated."""
    lan, lan_rtcp = peer
    if m.connection is not None:
        sdp.set_connection(m.connection, str(lan[0]), "IP4")
    elif sdp.connection is not None and not session_c:
        sdp.set_connection(sdp.connection, str(lan[0]), "IP4")
        session_c = True
    sdp.set_port(m, lan[1])
    if m.rtcp is not None:
        sdp.set_rtcp(m, lan_rtcp[1], str(lan_rtcp[0]) if m.rtcp.address else None)
    return session_c
