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


class Stream:
    __slots__ = ("wan_port", "lan", "lan_rtcp", "remote", "remote_rtcp")

    def __init__(self, wan_port):
        self.wan_port = wan_port
        self.lan = None  # (addr, port) of the phone's RTP
        self.lan_rtcp = None
        self.remote = None  # (addr, port) of the far end's RTP
        self.remote_rtcp = None


class Session:
    __slots__ = ("call_id", "streams", "legs")

    def __init__(self, call_id):
        self.call_id = call_id
        self.streams = {}  # m= index -> Stream
        self.legs = {}  # key -> Leg currently open


class MediaAlg:
    def __init__(self, wan_address, ports=None, max_calls=MAX_CALLS):
        self.wan = wan_address
        self.ports = ports if ports is not None else PortPool()  # an empty pool is falsy (len 0)
        self.max_calls = max_calls
        self.sessions = {}
        self.actions = []

    def __len__(self):
        return len(self.sessions)

    # -- SDP crossing the router -------------------------------------------------

    def from_lan(self, msg):
        """A message with SDP going out on the WAN side (an offer or an answer
        from a phone): rewrite it and learn the phone's media addresses."""
        sdp = msg.sdp()
        if sdp is None:
            return
        sess = self._session(msg.call_id)
        wan = self.wan
        if sdp.origin is not None:
            sdp.set_origin_address(wan, "IP4")
        if sdp.connection is not None and not sdp.connection.is_hold:
            sdp.set_connection(sdp.connection, wan, "IP4")
        for i in range(len(sdp.media)):
            m = sdp.media[i]
            if m.rejected or m.proto.upper().startswith("TCP"):
                continue
            st = self._stream(sess, i)
            addr = m.address
            held = addr in (None, "0.0.0.0") or m.direction == "inactive"
            st.lan = None if held else (addr, m.port)
            st.lan_rtcp = None if st.lan is None else (m.rtcp.address or addr, m.rtcp.port) if m.rtcp else (addr, m.port + 1)
            if m.connection is not None and not m.connection.is_hold:
                sdp.set_connection(m.connection, wan, "IP4")
            sdp.set_port(m, st.wan_port)
            if m.rtcp is not None:
                sdp.set_rtcp(m, st.wan_port + 1, wan if m.rtcp.address else None)
        self._update(sess)

    def from_wan(self, msg):
        """A message with SDP coming in from the WAN side: learn the remote ends."""
        sdp = msg.sdp()
        if sdp is None:
            return
        sess = self._session(msg.call_id)
        for i in range(len(sdp.media)):
            m = sdp.media[i]
            if m.rejected and i not in sess.streams:
                continue
            st = self._stream(sess, i)
            addr = m.address
            if m.rejected or addr in (None, "0.0.0.0") or m.direction == "inactive":
                st.remote = st.remote_rtcp = None  # rejected or on hold: nothing may come in
            else:
                st.remote = (addr, m.port)
                st.remote_rtcp = (m.rtcp.address or addr, m.rtcp.port) if m.rtcp else (addr, m.port + 1)
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

    # -- legs ---------------------------------------------------------------------

    def _session(self, call_id):
        sess = self.sessions.get(call_id)
        if sess is None:
            if len(self.sessions) >= self.max_calls:
                raise RemoteProtocolError(503, "Too many calls")
            sess = self.sessions[call_id] = Session(call_id)
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
        return st

    def _update(self, sess):
        want = {}
        for i in sess.streams:
            st = sess.streams[i]
            if st.lan is None or st.remote is None:
                continue  # both ends known, or no pinhole
            for kind, lan, remote, port in (("rtp", st.lan, st.remote, st.wan_port), ("rtcp", st.lan_rtcp, st.remote_rtcp, st.wan_port + 1)):
                key = (sess.call_id, i, kind)
                want[key] = Leg(key, lan, (self.wan, port), remote)
        for key in list(sess.legs):
            old = sess.legs[key]
            new = want.get(key)
            if new is None or (old.lan, old.remote) != (new.lan, new.remote):
                self.actions.append(("close", sess.legs.pop(key)))
        for key in want:
            if key not in sess.legs:
                sess.legs[key] = want[key]
                self.actions.append(("open", want[key]))
