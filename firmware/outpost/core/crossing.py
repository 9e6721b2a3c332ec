"""One proxied request's crossing of the router, LAN to WAN or back, and
its responses' way home (sans-I/O): the ALG's part of a ResponseContext.

Where the router relays, a request leaving on the other side from the one
it came in on is rewritten by relay.py (Contact, Call-ID, SDP through
alg.py's media sessions, LAN addresses swept) and loses the phone's Vias,
which stay here; its responses get them back, their Record-Route names us
as the side they go to reaches us, and their SDP passes the ALG again.

A `Crossing` owns that per-request state (the hidden Vias, a relayed
REGISTER's asked-for contacts, where our Record-Route sits); the
ResponseContext only carries it. Requests that stay on one side get our
address there and nothing else.
"""

# Methods whose initial request creates a dialog we stay in (Record-Route).
DIALOG_METHODS = ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY")


class RelayedRegister:
    """A REGISTER the router relayed upstream, as its 2xx needs it: whose
    bindings (aor), which contacts the phone asked for (token -> (contact
    text, expires)), from where, and the request's identity."""
    __slots__ = ("aor", "asked", "source", "call_id", "cseq", "user_agent")

    def __init__(self, aor, asked, source, call_id, cseq, user_agent):
        self.aor, self.asked, self.source = aor, asked, source
        self.call_id, self.cseq, self.user_agent = call_id, cseq, user_agent


class Crossing:
    __slots__ = ("hidden", "register", "rr_below")

    def __init__(self):
        self.hidden = None  # the phone's Via lines, when the request left on the WAN without them
        self.register = None  # a relayed REGISTER: what its binding needs once upstream says 2xx
        self.rr_below = None  # Record-Routes below ours in the forwarded request (a crossing dialog)

    def request(self, p, req, came_from, m, dest, now):
        """Prepare one forwarded copy `m` of `req` (from `came_from`) for the
        side `dest` is on; our address there (for Via and Record-Route)."""
        relay = p.relay
        into, out = relay.side(came_from[1]), relay.side(dest[1])
        if into == out:
            return relay.address(out)
        key = relay.key(req, came_from if out == "wan" else dest)
        create = req.method == "INVITE" and req.to.tag is None  # only a new call starts a media session
        if req.to.tag is None and req.method in DIALOG_METHODS:
            self.rr_below = len(req.record_routes)  # our Record-Route goes right above these
        if out == "wan":
            if self.hidden is None:
                self.hidden = m.header_lines("via")  # the phone's Vias stay here
            m.drop_lines("via")
            if req.method == "REGISTER":
                to = req.to.uri
                aor = to.copy(host=p.config.domain if p.for_domain(to) else to.host, port=None, params=[], headers=[]).aor()
                self.register = RelayedRegister(aor, relay.register_out(req, came_from), came_from, req.call_id, req.cseq.seq,
                                                req.get("user-agent"))
            relay.to_wan(m, came_from, now, key, create)
        else:
            relay.to_lan(m, key, create, came_from[1], dest[1])
        if req.method == "BYE":
            relay.media.end(key)
        return relay.address(out)

    def response(self, p, ctx, txn, resp, now):
        """A response on its way back to ctx's caller from `txn`'s callee;
        the events it caused (bindings a relayed REGISTER's 2xx made)."""
        relay = p.relay
        into, out = relay.side(txn.dest[1]), relay.side(ctx.server.dest[1])
        if into == out:
            return []
        key = relay.key(resp, txn.dest if out == "wan" else ctx.server.dest)
        self._record_route(p, resp, relay.address(out), into)
        create = ctx.method == "INVITE" and ctx.initial
        events = []
        if out == "lan":
            if self.register is not None and resp.status >= 200:
                events = relay.register_answered(resp, self.register, p.location, now)
            relay.to_lan(resp, key, create, txn.dest[1], ctx.server.dest[1])
        else:
            relay.to_wan(resp, txn.dest, now, key, create)  # the phone that answered
        if resp.status >= 300 and ctx.method == "INVITE" and ctx.initial:
            # A leg keyed by the phone that refused (a fork to the LAN) ends
            # with its refusal; the caller's leg only when no branch is left.
            if out == "wan" or all(b.final is not None or b.txn is txn for b in ctx.branches):
                relay.media.end(key)
        return events

    def _record_route(self, p, resp, mine, into):
        """The Record-Route we put in for this leg (others may be ours too:
        a call between two of our phones through a proxy passes twice)
        names us as the side the response goes to reaches us."""
        rrs = resp.record_routes
        if self.rr_below is None or len(rrs) <= self.rr_below:
            return
        rr = rrs[len(rrs) - 1 - self.rr_below]
        if p.is_me(rr.uri) and rr.uri.host != mine:
            # Named for the other side, so proven with that side's token.
            u = rr.uri
            resp.set_uri(rr, p.tokens.record_route(mine, u.port or 5060, u.transport or "udp", resp.call_id, resp.from_.tag, p.relay, into))


def ack_crossing(relay, req, came_from, dest, now):
    """An ACK for a 2xx crossing the router (it has no transaction and gets
    no response: the phone's Vias need not come back); our address on
    dest's side."""
    into, out = relay.side(came_from[1]), relay.side(dest[1])
    if into != out and out == "wan":
        req.drop_lines("via")
        relay.to_wan(req, came_from, now, relay.key(req, came_from), False)
    elif into != out:
        relay.to_lan(req, relay.key(req, dest), False, None, dest[1])
    return relay.address(out)


def end_media(relay, req, phones):
    """Free the media sessions of a call's legs (one per phone)."""
    if relay is not None:
        for phone in phones:
            relay.media.end(relay.key(req, phone))
