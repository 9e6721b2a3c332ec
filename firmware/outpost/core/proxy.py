"""The stateful proxy and registrar, sans-I/O (RFC 3261 §16, RFC 3581).

The runtime's one door (tests/host/test_core_surface.py holds it to this):

    p = Proxy(config, now)
    p.receive(data, source, now)   # source: (transport, host, port, flow)
    p.datagrams_to_send()          # [(bytes, dest)]
    p.next_event()                 # an events.* object, or None
    p.next_deadline() / p.handle_timer(now)
    p.transport_failed(dest, now, data=None)   # could not send (data) to dest
    p.set_config(config)           # a reload; limits and peers come with it
    p.status(now)                  # plain data for the console
    p.saved_bindings() / p.restore_bindings(items, now)   # persistence

`dest` in datagrams_to_send is (transport, host, port, flow); transport
PROBE is the survival probe, for the runtime's socket connected to the
upstream (config.probe_port) when it has one, else plain UDP.

Addresses are tuples (transport, host, port, flow): `flow` is the runtime's
connection id for TCP (None for UDP), so a response or a request to a
phone registered over TCP goes back on the connection it came in on.
"""

from .errors import Refused, RemoteProtocolError
from .events import BindingChanged, BindingExpired, CallLimitReached, PinholeClosed, PinholeOpened, RequestRefused
from .loops import branch_prefix, mark_source
from .message import parse_message, is_keepalive
from .response import make_response, error_response, own_tag
from .proxyconfig import ProxyConfig  # noqa: F401 (the runtime builds one: part of the surface)
from .decisions import Drop, Forward, Register, Reply
from .routing import ack_route, route
from .transactions.layer import TransactionLayer, server_key
from .location import LocationTable
from .registrar import register
from .forward import fork
from .ratelimit import RateLimiter
from .auth import ipv4_int, keep_nonces
from . import counters, upstream
from .crossing import ack_crossing, end_media
from .upstream import PROBE
from .dialogtoken import DialogTokens
from .sides import Sides

# Expired nonces are swept this often (each lives NONCE_TTL; a sweep walks
# the bounded nonce table once).
HOUSEKEEPING_MS = 10000


class Proxy:
    def __init__(self, config, now, location=None):
        self.config = config
        self.now = now
        self.txns = TransactionLayer(config.t1, config.t2, config.t4, config.max_transactions)
        self.location = location if location is not None else LocationTable(config.max_bindings, config.max_per_aor)
        self.limiter = RateLimiter(config.rate, config.burst, config.max_sources)
        self.contexts = {}
        self.counters = {"requests": 0, "responses": 0, "malformed": 0, "rate_limited": 0, "overload": 0}
        self.traffic = counters.fresh()  # received, by method and by response class
        self.events = []  # events.* objects for the runtime (next_event)
        self.me = set()
        self.relay = None
        self.survival = None
        self._housekeeping = now + HOUSEKEEPING_MS
        self.tokens = DialogTokens(config.secret)
        self.set_config(config)

    def set_config(self, config):
        """Install a (reloaded) config: the addresses that are us, the
        tables' bounds and the timers come with it."""
        self.config = config
        self.location.max_bindings, self.location.max_per_aor = config.max_bindings, config.max_per_aor
        lim = self.limiter
        lim.rate, lim.burst, lim.max_sources = config.rate, config.burst, config.max_sources
        txns = self.txns
        txns.t1, txns.t2, txns.t4, txns.max_transactions = config.t1, config.t2, config.t4, config.max_transactions
        me = set()
        for transport in config.listen:
            host, port = config.listen[transport]
            me.add((host.lower(), port))
        for host, port in config.aliases:
            me.add((host.lower(), port))
        self.me = me
        self._nonces = keep_nonces(config.authenticator, getattr(self, "_nonces", None), self.now, self.for_domain)
        # The ALG's modules load only when there is an upstream to relay to:
        # a router without one keeps their memory.
        if config.relay is None:
            self.relay = None
        elif self.relay is None:
            from .media import PortPool
            from .alg import MediaAlg
            from .relay import Relay

            low, high, max_calls, _ = config.media
            self.relay = Relay(config.relay, config.secret, MediaAlg(config.relay.wan_address, PortPool(low, high), max_calls))
        else:
            self.relay.set_config(config.relay)
        if config.relay is None or config.survival is None:
            self.survival = None
        elif self.survival is None:
            from .survival import Survival

            self.survival = Survival(config.survival, self.now)
        else:
            self.survival.config = config.survival  # a reload keeps the state and its history
        self.sides = Sides(config, self.relay, set(h for h, p in me))

    # -- sans-I/O surface ----------------------------------------------------------

    def datagrams_to_send(self):
        out = self.txns.outbox
        self.txns.outbox = []
        return out

    def next_event(self):
        """The oldest event not yet taken, or None. Pinholes first: the
        runtime must have them in place before the datagrams queued with
        them go out. The survival machine's moves come last."""
        if self.survival is not None and self.survival.events:
            self.events += upstream.events(self.survival)
        relay = self.relay
        if relay is not None and relay.media.actions:
            actions, relay.media.actions = relay.media.actions, []
            self.events[:0] = [(PinholeOpened if kind in ("open", "guard") else PinholeClosed)(leg) for kind, leg in actions]
        return self.events.pop(0) if self.events else None

    def next_deadline(self):
        t = self.txns.next_deadline()
        for e in (self.location.next_expiry(), self.survival.next_deadline() if self.survival is not None else None, self._housekeeping):
            if e is not None and (t is None or e < t):
                t = e
        return t

    def handle_timer(self, now):
        self.now = now
        self.txns.expire(now)
        for b in self.location.expire(now):
            self.events.append(BindingExpired(b))
        if self.relay is not None:
            self.relay.media.now = now
            for cid in self.relay.media.expire(now, self.config.media[3]):
                self.events.append(CallLimitReached(self.relay.call_id_plain(cid)))
        if self.survival is not None:
            sent = upstream.probe(self.relay, self.survival, self.config, now)
            if sent is not None:
                self.send(*sent)
        if now >= self._housekeeping:
            self._housekeeping = now + HOUSEKEEPING_MS
            auth = self.config.authenticator
            if auth is not None:
                auth.nonces.forget_expired(now)

    def status(self, now):
        from .status import status  # on first use: the console asks for it, the call path never does

        return status(self, now)

    def saved_bindings(self):
        """The location table as JSON-able dicts (monotonic expiry)."""
        return self.location.snapshot()

    def restore_bindings(self, items, now):
        """Bindings read back from flash; how many were kept."""
        kept = self.location.restore(items, now)
        if self.relay is not None:
            self.relay.restore(self.location, now)
        return kept

    def receive(self, data, source, now):
        self.now = now
        if self.relay is not None:
            self.relay.media.now = now
        if is_keepalive(data):
            return
        if not self.limiter.allow(source[1], now, len(data)):
            self.counters["rate_limited"] += 1
            return
        try:
            msg = parse_message(data).validate()
        except RemoteProtocolError as e:
            self.counters["malformed"] += 1
            answer = error_response(data, e)
            if answer is not None:
                self.send(answer, source)
            return
        counters.count(self, msg)
        if msg.is_request:
            self._request(msg, source, now)
        else:
            txn = self.txns.match_client(msg)
            if txn is not None and self._answered_by(txn, source):
                self.txns.client_response(txn, msg, now)
            elif self.survival is not None:
                upstream.probe_answered(self.relay, self.survival, msg, source, now)
            # Unmatched responses are dropped (RFC 6026 §8.2: stray).

    def transport_failed(self, dest, now, data=None):
        """The runtime could not send `data` (or, None: anything) to dest
        (transport, host, port): its name did not resolve, or is not one the
        router resolves, a TCP connect failed, or ICMP said unreachable. The
        transactions that could not send fail now (their tables'
        transport_error rows: 503, RFC 3261 §8.1.3.1 and §17.1.4, RFC 3263
        §4.3), not with 408 after Timer B/F; one sent before, on an earlier
        lookup, waits. For the upstream it is evidence for survival too."""
        self.now = now
        dest = tuple(dest[:3])
        for txn in [t for t in self.txns.clients.values() if tuple(t.dest[:3]) == dest and (data is None or t.request == data)]:
            txn.unreachable = True
            self.txns.transport_error(txn, now)
        if self.relay is not None and data is None:
            up = self.relay.config.upstream
            if self.survival is not None and (dest[0] == PROBE or dest == tuple(up[:3]) and up[0] == "tcp"):
                upstream.unreachable(self.survival, now)

    def _answered_by(self, txn, source):
        """A response counts only from where its request went: a branch is
        no secret from whoever saw the request, and a forged 200 would put
        the forger's SDP into a call."""
        host = txn.dest[1]
        if host == source[1]:
            return True
        if ipv4_int(host) is None and self.relay is not None and self.relay.is_peer(source[1]):
            return True  # the upstream by name: what the name resolved to
        self.counters["malformed"] += 1
        return False

    # -- helpers used by forward.ResponseContext -----------------------------------------

    def send(self, data, dest):
        self.txns.send(data, dest)

    def context_done(self, ctx):
        self.contexts.pop(ctx.server.key, None)

    def reply(self, txn, req, status, reason, headers=(), now=None):
        tag = own_tag(req) if req.to.tag is None else None
        data = make_response(req, status, reason, to_tag=tag, headers=headers)
        now = self.now if now is None else now
        if status >= 200 and not txn.reliable and self.sides.stranger(txn.dest[1]):
            # Timer G would send this up to 11 times to an address anyone can
            # forge, and a kept answer copies the request's lines (up to 64 KB
            # for 32 s, per transaction): a stranger gets one answer per
            # request it sends, and nothing of it is kept.
            self.txns.respond_once(txn, data, now)
        else:
            self.txns.respond(txn, status, data, now)

    # -- requests ---------------------------------------------------------------------

    def _request(self, req, source, now):
        mark_source(req, source)
        if req.method == "ACK":
            txn = self.txns.match_server(req, source[1])
            if txn is not None:
                self.txns.server_request(txn, req, now)
                return
            self.forward_ack(req, now, source)
            return
        txn = self.txns.match_server(req, source[1])
        if txn is not None:
            self.txns.server_request(txn, req, now)
            return
        reliable = source[0] != "udp"
        txn = self.txns.new_server(req, source, reliable, now)
        if txn is None:
            self.counters["overload"] += 1
            self.send(make_response(req, 503, "Service Unavailable", to_tag=own_tag(req), headers=(("retry-after", "5"),)), source)
            return
        try:
            if req.method == "CANCEL":
                self._cancel(req, txn, now)
            else:
                self._carry_out(route(self, req, source, now), req, txn, source, now)
        except (RemoteProtocolError, Refused) as e:
            if isinstance(e, Refused):
                self.counters["overload"] += 1
            if e.status in (488, 503):
                self.events.append(RequestRefused(req.method, req.call_id, e.status, e.reason))
            self._abandon(req, txn, source, e.status, e.reason, e.headers, now)
        except Exception:
            # A bug of ours (LocalProtocolError, or worse): the message is
            # lost, but its transaction, context and media must not be, or
            # a host repeating it fills the tables (the runtime logs it).
            self._abandon(req, txn, source, 500, "Server Internal Error", (), now)
            raise

    def _abandon(self, req, txn, source, status, reason, headers, now):
        """A request that failed half-way: answer it and free what it held."""
        self.contexts.pop(txn.key, None)
        if req.method == "INVITE" and req.to.tag is None and self.relay is not None:
            end_media(self.relay, req, [source])  # whatever the refused offer had allocated
        if self.txns.may_respond(txn, status):
            self.reply(txn, req, status, reason, headers, now)

    def is_me(self, uri):
        if not uri.is_sip:
            return False
        host = uri.host.lower()
        port = uri.port or (5061 if uri.scheme == "sips" else 5060)
        return (host, port) in self.me or (host.strip("[]"), port) in self.me

    def for_domain(self, uri):
        return uri.is_sip and (uri.host.lower() == self.config.domain or self.is_me(uri))

    def _carry_out(self, d, req, txn, source, now):
        """The one place a routing decision (routing.py) is carried out."""
        kind = type(d)
        if kind is Reply:
            self.reply(txn, req, d.status, d.reason, d.headers, now)
        elif kind is Forward:
            if d.note is not None:
                self.events.append(d.note)
            fork(self, req, txn, d.targets, now)
        elif kind is Register:
            policy = self.config.survival_policy if self.survival is not None and self.survival.local else self.config.registrar_policy
            out = register(req, source, now, self.location, policy, self.config.authenticator)
            for b in out.changed:
                self.events.append(BindingChanged(b))
            self.reply(txn, req, out.status, out.reason, out.headers, now)

    @property
    def relaying(self):
        return self.relay is not None and (self.survival is None or not self.survival.local)

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

    # -- what a ResponseContext asks of the proxy ------------------------------------

    def upstream_failed(self, dest, what, now):
        """Real traffic says the upstream failed us (survival's evidence)."""
        if self.survival is not None:
            upstream.failed(self.relay, self.survival, dest, what, now)

    def crossed(self, ctx, txn, resp, now):
        """A response on its way back across the router (the ALG's part);
        False: it cannot pass and is dropped, never sent with a LAN address."""
        try:
            self.events += ctx.crossing.response(self, ctx, txn, resp, now)
            return True
        except Refused:
            self.counters["overload"] += 1  # no media ports for it
        except RemoteProtocolError:
            self.counters["malformed"] += 1  # an answer whose SDP the ALG cannot pass
        return False

    def call_failed(self, ctx):
        """An initial INVITE ended without a call (a final error, a timeout,
        no branch left): every leg's session and ports go back."""
        if ctx.method == "INVITE" and ctx.initial and ctx.raw is not None:
            end_media(self.relay, ctx.req, [ctx.server.dest] + [b.txn.dest for b in ctx.branches])

    def restricted(self):
        """With users configured and auth.invite on, only our users may use
        the router to reach other domains (toll fraud needs an open relay)."""
        return self.config.authenticator is not None and self.config.auth_invite

    def _local(self, transport):
        t = transport if transport in self.config.listen else "udp"
        host, port = self.config.listen[t]
        return t, host, port

    def forward_ack(self, req, now, source=None):
        try:
            self._forward_ack(req, now, source)
        except RemoteProtocolError:
            self.counters["malformed"] += 1  # an ACK is never answered: drop it
        except Refused:
            self.counters["overload"] += 1  # no media ports for its answer: dropped, never sent with a LAN address

    def _forward_ack(self, req, now, source):
        """ACK for a 2xx: its own transaction-less request, routed by Route (§16.11)."""
        d = ack_route(self, req, source, now)
        if type(d) is Drop:
            if d.counter is not None:
                self.counters[d.counter] += 1
            return
        dest = d.targets[0][1]
        mf = req.max_forwards
        if mf == 0 or self.sides.forbidden(dest):
            return
        if mf is None:
            req.insert_field("max-forwards", "70")
        else:
            req.replace_field(req.fields("max-forwards")[0], "%d" % (mf - 1))
        transport, host, port = self._local(dest[0])
        if self.relay is not None and source is not None:
            host = ack_crossing(self.relay, req, source, dest, now)
        req.insert_field("via", "SIP/2.0/%s %s:%d;branch=%s.a;rport" % (transport.upper(), host, port, branch_prefix(req)))
        self.send(req.serialise(), dest)

    def _cancel(self, req, txn, now):
        key = server_key(req, txn.dest[1])
        inv_key = key[:-1] + ("INVITE",)
        ctx = self.contexts.get(inv_key)
        # Only the INVITE's sender may cancel it: a branch that a phone made
        # predictable is no licence for anyone else to end its calls.
        if ctx is None or ctx.answered or ctx.server.dest[1] != txn.dest[1]:
            return self.reply(txn, req, 481, "Call/Transaction Does Not Exist", (), now)
        self.reply(txn, req, 200, "OK", (), now)
        ctx.cancel_all(now)
        end_media(self.relay, req, [txn.dest] + [b.txn.dest for b in ctx.branches])  # the caller's leg, and the legs it rang
