"""The media side of the SIP ALG: SDP offer/answer across the router, and
the pinholes it implies (sans-I/O).

Rules of this file:
- SDP leaving on the WAN side names the router: o=, c= (session and media
  level), m= ports and a=rtcp are rewritten to the WAN address and a WAN
  port pair allocated per stream (RTP even, RTCP + 1); any other line that
  names a LAN address (a=candidate, a=remote-candidates ...) is dropped.
  SDP going to a phone is left as it is: phones send to public addresses
  through the router.
- Every address an SDP names is parsed into an `addr.IPv4` before anything
  is allocated: a phone's must be inside the LAN and not the router, a far
  end's a unicast address outside the LAN. Anything else (a host name,
  IPv6, tabs, `}`, multicast, a LAN host named from the WAN) refuses the
  message with 488, and nothing is left behind. Legs carry only IPv4
  values and int ports.
- A stream gets its pinholes when both ends are known: the phone's address
  and port from its own SDP, the remote's from the other side's SDP. A
  stream on hold (c= 0.0.0.0) or with no remote yet has no accept element.
- A new offer or answer for a stream (re-INVITE, UPDATE, 183 then 200)
  replaces its legs: the old ones close, the new ones open.
- Only an INVITE or a response to one creates a session (`create`): an ACK,
  UPDATE or BYE for a call the table does not know changes nothing.
- BYE, CANCEL, a final error to the INVITE, a timeout, or the session's end
  close every leg of the call and free its ports.
- While a stream's far end is known, a Guard names it (media.Guard): LAN
  packets to it pass only through the call's pinhole, so a phone's RTP
  sent before its pinhole is in place is dropped, never masqueraded.
Actions come out as ("open", Leg), ("close", Leg), ("guard", Guard) and
("unguard", Guard) for the runtime's pinhole helper, which applies them
before the SIP message that caused them is sent. Bounds: `max_calls` sessions, MAX_CALLS_PER_SOURCE of them
per source address (the configured peers excepted: their calls are the
site's), the media port pool; at any of them an offer is refused (the
caller answers 503) and nothing leaks.
"""

from .addr import ipv4, is_unicast
from .errors import Refused, RemoteProtocolError
from .sdpends import refused, held, host_of, rtcp_of, rewrite, to_peer
from .media import Guard, Leg, PortPool

from .defaults import MAX_CALLS  # reasons and bound: core/defaults.py
# Concurrent calls one LAN host may hold through the router: a desk phone
# has a few lines, an attendant console a dozen; more is a host filling the
# port pool for everyone else.
MAX_CALLS_PER_SOURCE = 16


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
    __slots__ = ("call_id", "streams", "legs", "guards", "created", "owner", "phone")

    def __init__(self, call_id, now, owner=None):
        self.call_id = call_id
        self.streams = {}  # m= index -> Stream
        self.legs = {}  # key -> Leg currently open
        self.guards = {}  # key -> Guard currently open
        self.created = now
        self.owner = owner  # the source host whose share it counts against, or None
        self.phone = None  # IPv4 of the phone this leg reaches, once known


class MediaAlg:
    def __init__(self, wan_address, ports=None, max_calls=MAX_CALLS):
        self.ports = ports if ports is not None else PortPool()  # an empty pool is falsy (len 0)
        self.max_calls = max_calls
        self.sessions = {}
        self.by_port = {}  # WAN RTP port -> (session key, stream index)
        self.by_owner = {}  # source host -> sessions it holds
        self.actions = []
        self.now = 0
        self.lan_networks = None  # [(network, mask)] the phones live in (None: not checked)
        self.own = ()  # the router's own IPv4 addresses: never a media end
        self.exempt = ()  # hosts without a per-source share (the upstream, the trunk)
        # LAN hosts whose SDP may name another LAN host's media (an on-site
        # PBX, a media gateway); any other phone's SDP names itself.
        self.gateways = ()
        self.set_wan(wan_address)

    def set_wan(self, wan_address):
        self.wan = wan_address
        self.wan_ip = ipv4(wan_address) if wan_address else None

    def __len__(self):
        return len(self.sessions)

    # -- SDP crossing the router -------------------------------------------------

    def from_lan(self, msg, key=None, create=True, owner=None):
        """A message with SDP going out on the WAN side (an offer or an answer
        from a phone): rewrite it and learn the phone's media addresses."""
        sdp = msg.sdp()
        if sdp is None:
            return
        ends = [self._phone_end(m, owner) for m in sdp.media]  # 488 before anything is allocated
        sess = self._session(key or msg.call_id, create, owner)
        if sess is None:
            return rewrite(sdp, None, self.wan, self.lan_networks)
        try:
            ports = [None if ends[i] is None else self._stream(sess, i).wan_port for i in range(len(ends))]
        except (RemoteProtocolError, Refused):
            self._forget_if_empty(sess)
            raise
        for i in range(len(ends)):
            if ends[i] is None:
                if i in sess.streams:
                    sess.streams[i].lan = None  # declined now: its pinholes close
                continue
            st = sess.streams[i]
            addr, rtcp, st.lan_dir = ends[i]
            st.lan = (addr, sdp.media[i].port) if addr is not None else st.lan
            st.lan_rtcp = rtcp if addr is not None else st.lan_rtcp
        rewrite(sdp, ports, self.wan, self.lan_networks)
        self._update(sess)

    def _phone_end(self, m, sender=None):
        """(address, rtcp, direction) of a phone's stream, None for a declined
        or TCP one; 488 for an address that is no phone of the LAN, or (from
        `sender`, the host the SIP came from) another host than the sender:
        a phone naming its neighbour's address would have the router NAT,
        guard and reset that host's flows."""
        if m.rejected or m.proto.upper().startswith("TCP"):
            return None
        addr, direction = held(m)
        if addr is None:
            return None, None, direction
        rtcp = rtcp_of(m, addr)
        for a in (addr, rtcp[0]):
            if a in self.own or not is_unicast(a) or (self.lan_networks is not None and not host_of(a, self.lan_networks)):
                raise refused("media address is not a phone on the LAN")
            if sender is not None and sender not in self.gateways and a != ipv4(sender):
                raise refused("media address is not the sending phone's")
        return addr, rtcp, direction

    def from_wan(self, msg, key=None, create=True, owner=None, phone=None):
        """A message with SDP coming in from the WAN side: learn the remote
        ends (`phone`: the LAN host it goes to)."""
        sdp = msg.sdp()
        if sdp is None:
            return
        sess = self.sessions.get(key or msg.call_id)
        ends = [self._far_end(m, sess) for m in sdp.media]  # 488 before anything is allocated
        sess = self._session(key or msg.call_id, create, owner)
        if sess is None:
            return
        if phone is not None and sess.phone is None:
            sess.phone = ipv4(phone)
        try:
            for i in range(len(ends)):
                if ends[i] is not None or i in sess.streams:
                    self._stream(sess, i)
        except (RemoteProtocolError, Refused):
            self._forget_if_empty(sess)
            raise
        session_c = False
        for i in range(len(ends)):
            if i not in sess.streams:
                continue
            st, m = sess.streams[i], sdp.media[i]
            if ends[i] is None:
                st.remote = st.remote_rtcp = None  # declined: nothing may pass
                continue
            addr, rtcp, st.remote_dir, peer = ends[i]
            if peer is not None:
                session_c = to_peer(sdp, m, peer, session_c)
                st.remote = st.remote_rtcp = None  # no pinhole: the router is not in the path
            elif addr is not None:
                st.remote, st.remote_rtcp = (addr, m.port), rtcp
        self._update(sess)

    def _far_end(self, m, sess):
        """(address, rtcp, direction, hairpin peer) of a far end's stream,
        None when declined; 488 for an address media may not go to."""
        if m.rejected:
            return None
        addr, direction = held(m)
        if addr is None:
            return None, None, direction, None
        if addr == self.wan_ip:
            peer = self._hairpin(m.port, sess)
            if peer is None:
                raise refused("SDP names the router")
            return None, None, direction, peer
        rtcp = rtcp_of(m, addr)
        for a in (addr, rtcp[0]):
            if a in self.own or not is_unicast(a) or (self.lan_networks is not None and a.within(self.lan_networks)):
                raise refused("media address is not a far end on the WAN")
        return addr, rtcp, direction, None

    def end(self, call_id):
        """BYE, CANCEL, a final error or a timeout: every leg closes, ports go back."""
        sess = self.sessions.pop(call_id, None)
        if sess is None:
            return
        self._release_owner(sess)
        for key in list(sess.guards):
            self.actions.append(("unguard", sess.guards.pop(key)))
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

    def _hairpin(self, port, sess):
        """(lan, lan_rtcp) of our own stream behind WAN port `port`, when an
        SDP from the WAN names it: the far end is one of our phones."""
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

    def guards(self):
        for sess in self.sessions.values():
            for guard in sess.guards.values():
                yield guard

    # -- legs ---------------------------------------------------------------------

    def _session(self, call_id, create=True, owner=None):
        """The call's session; a new one only when `create` (an INVITE or its
        answer), within the total and the owner's share; else None."""
        sess = self.sessions.get(call_id)
        if sess is not None or not create:
            return sess
        if len(self.sessions) >= self.max_calls:
            raise Refused(503, "Too many calls")
        if owner in self.exempt:
            owner = None
        if owner is not None and self.by_owner.get(owner, 0) >= MAX_CALLS_PER_SOURCE:
            raise Refused(503, "Too many calls from %s" % owner)
        sess = self.sessions[call_id] = Session(call_id, self.now, owner)
        if owner is not None:
            self.by_owner[owner] = self.by_owner.get(owner, 0) + 1
        return sess

    def _release_owner(self, sess):
        n = self.by_owner.get(sess.owner, 0) - 1
        if n > 0:
            self.by_owner[sess.owner] = n
        else:
            self.by_owner.pop(sess.owner, None)

    def _forget_if_empty(self, sess):
        """A refused offer leaves nothing: a session with no stream goes."""
        if not sess.streams and self.sessions.get(sess.call_id) is sess:
            self.end(sess.call_id)

    def _stream(self, sess, i):
        """Stream i of the call, with its WAN port pair allocated on first sight."""
        st = sess.streams.get(i)
        if st is None:
            port = self.ports.allocate()
            if port is None:
                raise Refused(503, "No media ports left")
            st = sess.streams[i] = Stream(port)
            self.by_port[port] = (sess.call_id, i)
        return st

    def _update(self, sess):
        # Keys in a list as well: MicroPython's dict does not keep insertion
        # order, and the runtime should see RTP before RTCP, stream by stream.
        want, order = {}, []
        guards, gorder = {}, []
        for i in sorted(sess.streams):
            st = sess.streams[i]
            for kind, remote in (("rtp-guard", st.remote), ("rtcp-guard", st.remote_rtcp)):
                # Only while the phone's side is unknown (its answer not
                # seen): then its legs hold its media. Not below 1024: no
                # RTP lives there, and a caller must not cut the phone off
                # from DNS or NTP for a call's length.
                if remote is not None and st.lan is None and sess.phone is not None and remote[1] >= 1024:
                    key = (sess.call_id, i, kind)  # apart from the legs' keys: one helper holds both
                    guards[key] = Guard(key, sess.phone, remote)
                    gorder.append(key)
            if st.lan is None or st.remote is None:
                continue  # both ends known, or no pinhole
            inbound = st.lan_dir in RECEIVES and st.remote_dir in SENDS
            outbound = st.lan_dir in SENDS and st.remote_dir in RECEIVES
            if not inbound and not outbound:
                continue  # inactive both ways: nothing may pass
            for kind, lan, remote, port in (("rtp", st.lan, st.remote, st.wan_port), ("rtcp", st.lan_rtcp, st.remote_rtcp, st.wan_port + 1)):
                key = (sess.call_id, i, kind)
                # RTCP reports flow both ways even on hold (RFC 3264 §5.1).
                want[key] = Leg(key, lan, (self.wan_ip, port), remote, "udp", inbound or kind == "rtcp", outbound or kind == "rtcp")
                order.append(key)
        # Guards first: they must be in place before a phone can send.
        self._replace(sess.guards, guards, gorder, "guard", "unguard")
        self._replace(sess.legs, want, order, "open", "close")

    def _replace(self, table, want, order, opening, closing):
        """Close what changed or went, open what is new (Legs or Guards)."""
        for key in list(table):
            new = want.get(key)
            if new is None or not table[key].same(new):
                self.actions.append((closing, table.pop(key)))
        for key in order:
            if key not in table:
                table[key] = want[key]
                self.actions.append((opening, want[key]))
