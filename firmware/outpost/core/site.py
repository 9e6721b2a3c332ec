"""The branch site's routing around the proxy core: relaying to the
upstream server (the ALG role) and local survival when it stops answering
(sans-I/O). A mixin of core.proxy.Proxy: it uses the proxy's forwarding,
replies and location table; relay.py rewrites the messages, survival.py
decides the state.

Routing by state:
- NORMAL: out-of-dialog requests from the LAN go upstream; requests from
  upstream reach the phone their Request-URI (our WAN contact) stands for.
- SURVIVAL and RECOVERING: REGISTER is answered here (local credentials,
  short Expires); a call goes to an emergency number via the fallback
  trunk first of all, then to a local phone, then to the trunk when a
  dial pattern matches; everything else gets 503 with Retry-After.
- Any state: in-dialog requests follow their Route and Request-URI, so
  calls established before a switch go on (and so do their pinholes).
"""

from .events import UpstreamStateChanged
from . import build
from .auth import ipv4_int
from .errors import Refused

PROBE_FROM = "outpost-probe"
# The transport of a probe's destination: the runtime's socket connected to
# the upstream (config.probe_port), so ICMP errors reach it.
PROBE = "probe"


class SiteRouting:
    def _crossing(self, req, txn, m, dest, ctx, now):
        """Prepare one forwarded copy `m` for the side it leaves on; returns
        our address there (for Via and Record-Route)."""
        relay = self.relay
        if relay is None:
            return self._outside_address(dest)
        into, out = relay.side(txn.dest[1]), relay.side(dest[1])
        if into == out:
            return relay.address(out)
        key = relay.key(req, txn.dest if out == "wan" else dest)
        create = req.method == "INVITE" and req.to.tag is None  # only a new call starts a media session
        if req.to.tag is None and req.method in ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY"):
            ctx.rr_below = len(req.record_routes)  # our Record-Route goes right above these
        if out == "wan":
            if ctx.hidden is None:
                ctx.hidden = m.header_lines("via")  # the phone's Vias stay here
            m.drop_lines("via")
            if req.method == "REGISTER":
                to = req.to.uri
                ctx.relay = (to.copy(host=self.config.domain if self.for_domain(to) else to.host, port=None, params=[], headers=[]).aor(),
                             relay.register_out(req, txn.dest), txn.dest, req.call_id, req.cseq.seq, req.get("user-agent"))
            relay.to_wan(m, txn.dest, now, key, create)
        else:
            relay.to_lan(m, key, create, txn.dest[1], dest[1])
        if req.method == "BYE":
            relay.media.end(key)
        return relay.address(out)

    def _outside_address(self, dest):
        """Our address as `dest` sees it, without an upstream: the LAN one
        (advertised) inside lan0, the WAN one anywhere else."""
        host = self._local(dest[0])[1]
        outside = self.config.outside
        if outside is None or ipv4_int(dest[1]) is None or self.sides.on_lan(dest[1]):
            return host
        if not outside[1]:
            raise Refused(503, "Service Unavailable (no WAN address yet)")
        return outside[1]

    def alg_response(self, ctx, txn, resp, now):
        """A response forwarded back across the router (ResponseContext)."""
        relay = self.relay
        if relay is None:
            return
        into, out = relay.side(txn.dest[1]), relay.side(ctx.server.dest[1])
        if into == out:
            return
        key = relay.key(resp, txn.dest if out == "wan" else ctx.server.dest)
        mine = relay.address(out)
        rrs = resp.record_routes
        if ctx.rr_below is not None and len(rrs) > ctx.rr_below:
            # The Record-Route we put in for this leg (others may be ours
            # too: a call between two of our phones through a proxy passes
            # twice) names us as the side the response goes to reaches us.
            rr = rrs[len(rrs) - 1 - ctx.rr_below]
            if self.is_me(rr.uri) and rr.uri.host != mine:
                # Named for the other side, so proven with that side's token.
                u = rr.uri
                resp.set_uri(rr, self.tokens.record_route(mine, u.port or 5060, u.transport or "udp", resp.call_id, resp.from_.tag, relay, into))
        create = ctx.method == "INVITE" and ctx.initial
        if out == "lan":
            if ctx.relay is not None and resp.status >= 200:
                self.events += relay.register_answered(resp, ctx, self.location, now)
            relay.to_lan(resp, key, create, txn.dest[1], ctx.server.dest[1])
        else:
            relay.to_wan(resp, txn.dest, now, key, create)  # the phone that answered
        if resp.status >= 300 and ctx.method == "INVITE" and ctx.initial:
            # A leg keyed by the phone that refused (a fork to the LAN) ends
            # with its refusal; the caller's leg only when no branch is left.
            if out == "wan" or all(b.final is not None or b.txn is txn for b in ctx.branches):
                relay.media.end(key)

    def media_end(self, req, phones):
        """Free the media sessions of a call's legs (one per phone)."""
        if self.relay is not None:
            for phone in phones:
                self.relay.media.end(self.relay.key(req, phone))

    def call_failed(self, ctx):
        """An initial INVITE ended without a call (a final error, a timeout,
        no branch left): every leg's session and ports go back."""
        if ctx.method == "INVITE" and ctx.initial and ctx.req is not None:
            self.media_end(ctx.req, [ctx.server.dest] + [b.txn.dest for b in ctx.branches])

    # -- local survival ------------------------------------------------------------------

    @property
    def relaying(self):
        return self.relay is not None and (self.survival is None or not self.survival.local)

    # -- upstream health -----------------------------------------------------------------

    def probe(self, now):
        """Send the OPTIONS probe when one is due (from the timer)."""
        branch = self.survival.probe_due(now, self.relay.token("probe|%d|%d" % (now, self.survival.sent), 16))
        if branch is not None:
            up = self.relay.config.upstream
            me = self.relay.config.wan_address
            # The runtime may give probes their own socket connected to the
            # upstream, so an ICMP "port unreachable" reaches us at once.
            port = self.config.probe_port or self.relay.config.port
            dest = (PROBE,) + tuple(up[1:]) if self.config.probe_port else up
            n = self.survival.sent
            data = build.options(up[:3], (me, port), branch, "%s@%s" % (PROBE_FROM, self.config.domain), "p%d" % n,
                                 "%s.%s@%s" % (branch, self.relay.token(branch, 8), me), n)
            self.send(data, dest)
        self._survival_events()

    def probe_answered(self, resp, source, now):
        """An answer to our probe counts only from the upstream's address and
        with the probe's unguessable branch: forged 503s or 200s from
        strangers move nothing."""
        via = resp.top_via
        up = self.relay.config.upstream
        if source[2] != up[2] or not (source[1] == up[1] or self.relay.is_peer(source[1])):
            return
        if via is not None and via.branch and via.branch.startswith("z9hG4bKop-probe"):
            self.survival.probe_answered(via.branch, resp.status, now)
            self._survival_events()

    def upstream_unreachable(self, now):
        """The network said no (ICMP port or host unreachable on the probe's
        socket): the probe in flight failed, now rather than at its timeout."""
        sv = self.survival
        if sv is not None and sv.probe is not None:
            sv.probe = None
            sv.observe(False, now, None, "unreachable")
            self._survival_events()

    def upstream_failed(self, txn, what, now):
        """Real traffic says the upstream failed us (a relayed request timed
        out, or it answered 503)."""
        up = self.relay.config.upstream
        if self.survival is not None and txn.dest[1] == up[1] and txn.dest[2] == up[2]:
            self.survival.observe(False, now, None, what)
            self._survival_events()

    def _survival_events(self):
        for event, old, new, at in self.survival.events:
            self.events.append(UpstreamStateChanged(event, old, new))
        self.survival.events = []
