"""The media side of the SIP ALG: SDP offer/answer across the router, and
the pinholes it implies (sans-I/O).

Rules of this file:
- SDP leaving on the WAN side names the router: o=, c= (session and media
  level), m= ports and a=rtcp are rewritten to the WAN address and a WAN
  port pair allocated per stream (RTP even, RTCP + 1). SDP going to a phone
  is left as it is: phones send to public addresses through the router.
- A stream gets its pinholes when both ends are known: the phone's address
  and port from its own SDP, the remote's from the other side's SDP. A
  stream on hold (c= 0.0.0.0) or with no remote yet has no accept element.
- A new offer or answer for a stream (re-INVITE, UPDATE, 183 then 200)
  replaces its legs: the old ones close, the new ones open.
- BYE, CANCEL, a final error to the INVITE, or the session's end close every
  leg of the call and free its ports.
Actions come out as ("open", Leg) and ("close", Leg) for the runtime's
pinhole helper. Bounds: `max_calls` sessions; the media port pool; at
either an offer is refused (the caller answers 503) and nothing leaks.
"""

from .errors import RemoteProtocolError
from .media import Leg, PortPool

MAX_CALLS = 500


RECEIVES = ("sendrecv", "recvonly")  # a direction that takes media in
SENDS = ("sendrecv", "sendonly")


class Stream:
    __slots__ = ("wan_port", "lan", "lan_rtcp", "lan_dir", "remote", "remote_rtcp", "remote_dir")

    def __init__(self, wan_port):
        self.wan_port = wan_port
        self.lan = None  # (addr, port) of the phone's RTP
        self.lan_rtcp = None
        self.lan_dir = "sendrecv"
        self.remote = None  # (addr, port) of the far end's RTP
        self.remote_rtcp = None
        self.remote_dir = "sendrecv"


class Session:
    __slots__ = ("call_id", "streams", "legs", "created")

    def __init__(self, call_id, now):
        self.call_id = call_id
        self.streams = {}  # m= index -> Stream
        self.legs = {}  # key -> Leg currently open
        self.created = now


def _held(m):
    """A stream's address, or None when the side asked for no media (RFC
    2543 hold: c= 0.0.0.0); and its direction, hold counting as sendonly."""
    addr = m.address
    if addr in (None, "0.0.0.0"):
        return None, "inactive" if m.direction == "inactive" else "sendonly"
    return addr, m.direction


def _rtcp(m, addr):
    """Where a stream's RTCP goes: a=rtcp, else the RTP port + 1 (RFC 3605)."""
    return (m.rtcp.address or addr, m.rtcp.port) if m.rtcp else (addr, m.port + 1)


class MediaAlg:
    def __init__(self, wan_address, ports=None, max_calls=MAX_CALLS):
        self.wan = wan_address
        self.ports = ports if ports is not None else PortPool()  # an empty pool is falsy (len 0)
        self.max_calls = max_calls
        self.sessions = {}
        self.by_port = {}  # WAN RTP port -> (session key, stream index)
        self.actions = []
        self.now = 0

    def __len__(self):
        return len(self.sessions)

    # -- SDP crossing the router -------------------------------------------------

    def from_lan(self, msg, key=None):
        """A message with SDP going out on the WAN side (an offer or an answer
        from a phone): rewrite it and learn the phone's media addresses."""
        sdp = msg.sdp()
        if sdp is None:
            return
        sess = self._session(key or msg.call_id)
        wan = self.wan
        if sdp.origin is not None:
            sdp.set_origin_address(wan, "IP4")
        if sdp.connection is not None and not sdp.connection.is_hold:
            sdp.set_connection(sdp.connection, wan, "IP4")
        for i in range(len(sdp.media)):
            m = sdp.media[i]
            if m.rejected or m.proto.upper().startswith("TCP"):
                if i in sess.streams:
                    sess.streams[i].lan = None  # declined now: its pinholes close
                continue
            st = self._stream(sess, i)
            addr, st.lan_dir = _held(m)
            if addr is not None:
                st.lan = (addr, m.port)
                st.lan_rtcp = _rtcp(m, addr)
            if m.connection is not None and not m.connection.is_hold:
                sdp.set_connection(m.connection, wan, "IP4")
            sdp.set_port(m, st.wan_port)
            if m.rtcp is not None:
                sdp.set_rtcp(m, st.wan_port + 1, wan if m.rtcp.address else None)
        self._update(sess)

    def from_wan(self, msg, key=None):
        """A message with SDP coming in from the WAN side: learn the remote ends."""
        sdp = msg.sdp()
        if sdp is None:
            return
        sess = self._session(key or msg.call_id)
        session_c = False
        for i in range(len(sdp.media)):
            m = sdp.media[i]
            if m.rejected and i not in sess.streams:
                continue
            st = self._stream(sess, i)
            if m.rejected:
                st.remote = st.remote_rtcp = None  # declined: nothing may pass
                continue
            addr, st.remote_dir = _held(m)
            peer = self._hairpin(addr, m.port, sess)
            if peer is not None:
                # Another phone of this site, through a proxy upstream that
                # does not anchor media: the two talk on the LAN directly.
                lan, lan_rtcp = peer
                if m.connection is not None:
                    sdp.set_connection(m.connection, lan[0], "IP4")
                elif sdp.connection is not None and not session_c:
                    sdp.set_connection(sdp.connection, lan[0], "IP4")
                    session_c = True
                sdp.set_port(m, lan[1])
                if m.rtcp is not None:
                    sdp.set_rtcp(m, lan_rtcp[1], lan_rtcp[0] if m.rtcp.address else None)
                st.remote = st.remote_rtcp = None  # no pinhole: the router is not in the path
                continue
            if addr is not None:
                st.remote = (addr, m.port)
                st.remote_rtcp = _rtcp(m, addr)
        self._update(sess)

    def end(self, call_id):
        """BYE, CANCEL, a final error or a timeout: every leg closes, ports go back."""
        sess = self.sessions.pop(call_id, None)
        if sess is None:
            return
        for key in list(sess.legs):
            self.actions.append(("close", sess.legs.pop(key)))
        for st in sess.streams.values():
            self.ports.release(st.wan_port)
            self.by_port.pop(st.wan_port, None)

    def expire(self, now, max_ms):
        """End the calls older than `max_ms` (the maximum call duration)."""
        old = [cid for cid in self.sessions if now - self.sessions[cid].created >= max_ms]
        for cid in old:
            self.end(cid)
        return old

    def _hairpin(self, addr, port, sess):
        """(lan, lan_rtcp) of our own stream behind WAN port `port`, when an
        SDP from the WAN names it: the far end is one of our phones."""
        if addr != self.wan:
            return None
        hit = self.by_port.get(port)
        other = self.sessions.get(hit[0]) if hit is not None else None
        st = other.streams.get(hit[1]) if other is not None and other is not sess else None
        if st is None or st.lan is None:
            return None
        return st.lan, st.lan_rtcp

    def legs(self):
        for sess in self.sessions.values():
            for leg in sess.legs.values():
                yield leg

    # -- legs ---------------------------------------------------------------------

    def _session(self, call_id):
        sess = self.sessions.get(call_id)
        if sess is None:
            if len(self.sessions) >= self.max_calls:
                raise RemoteProtocolError(503, "Too many calls")
            sess = self.sessions[call_id] = Session(call_id, self.now)
        return sess

    def _stream(self, sess, i):
        """Stream i of the call, with its WAN port pair allocated on first sight."""
        st = sess.streams.get(i)
        if st is None:
            port = self.ports.allocate()
            if port is None:
                if not sess.streams:
                    self.sessions.pop(sess.call_id, None)  # nothing of it is live: no leak
                raise RemoteProtocolError(503, "No media ports left")
            st = sess.streams[i] = Stream(port)
            self.by_port[port] = (sess.call_id, i)
        return st

    def _update(self, sess):
        # Keys in a list as well: MicroPython's dict does not keep insertion
        # order, and the runtime should see RTP before RTCP, stream by stream.
        want = {}
        order = []
        for i in sorted(sess.streams):
            st = sess.streams[i]
            if st.lan is None or st.remote is None:
                continue  # both ends known, or no pinhole
            inbound = st.lan_dir in RECEIVES and st.remote_dir in SENDS
            outbound = st.lan_dir in SENDS and st.remote_dir in RECEIVES
            if not inbound and not outbound:
                continue  # inactive both ways: nothing may pass
            for kind, lan, remote, port in (("rtp", st.lan, st.remote, st.wan_port), ("rtcp", st.lan_rtcp, st.remote_rtcp, st.wan_port + 1)):
                key = (sess.call_id, i, kind)
                # RTCP reports flow both ways even on hold (RFC 3264 §5.1).
                want[key] = Leg(key, lan, (self.wan, port), remote, "udp", inbound or kind == "rtcp", outbound or kind == "rtcp")
                order.append(key)
        for key in list(sess.legs):
            old = sess.legs[key]
            new = want.get(key)
            if new is None or not old.same(new):
                self.actions.append(("close", sess.legs.pop(key)))
        for key in order:
            if key not in sess.legs:
                sess.legs[key] = want[key]
                self.actions.append(("open", want[key]))
