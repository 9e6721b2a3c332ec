"""One proxied request and its branches: RFC 3261 §16.6 to §16.10.

A `ResponseContext` owns the client transactions forked for one server
transaction. It forwards provisional responses and every 2xx at once,
keeps the best final response of the others (§16.7 step 6), cancels the
pending branches on a 2xx or 6xx to INVITE (§16.7 step 10) or on CANCEL
(§16.10), and answers when the last branch is done.

It sends only through the transaction layer, whose tables decide what may
go. Everything else is one hook, the proxy, told five things: a response
is about to cross the router (`crossed`: the ALG's part, False to drop
it), a branch failed at the upstream (`upstream_failed`), the call failed
(`call_failed`), an ACK for a 2xx arrived (`forward_ack`), and the context
is done (`context_done`).
"""

from .build import cancel_for
from .crossing import DIALOG_METHODS, Crossing
from .dialogtoken import side_of
from .loops import branch_prefix
from .message import parse_message
from .response import make_response, own_tag


# Answers the proxy makes itself when no branch answered.
OWN = {408: (408, "Request Timeout"), 503: (503, "Service Unavailable (next hop unreachable)")}


def _rank(status):
    """Lower is better (§16.7 step 6): any 6xx wins, then 3xx, 4xx, 5xx."""
    return (0 if status >= 600 else 1, status)


class Branch:
    __slots__ = ("index", "txn", "final", "cancel_pending", "cancelled")

    def __init__(self, index, txn):
        self.index = index
        self.txn = txn
        self.final = None  # status once final
        self.cancel_pending = False  # CANCEL asked before any provisional (§9.1)
        self.cancelled = False


class ResponseContext:
    # One per relayed request, kept while its server transaction absorbs
    # retransmissions: thousands at once under load, so no per-instance dict.
    __slots__ = ("layer", "hook", "server", "raw", "via", "method", "branches", "best", "answered", "cancelling", "created", "initial",
                 "crossing")

    def __init__(self, layer, hook, server_txn, req, now):
        self.layer = layer
        self.hook = hook
        self.server = server_txn
        self.raw = req.raw  # the bytes its server transaction holds anyway; see `req`
        # Its top Via line as answers copy it: with the received and rport
        # it was given on arrival (RFC 3581), which `raw` does not have.
        line = req.top_via.field.line
        self.via = (line, req.line_bytes(line)) if req.line_edited(line) else None
        self.method = req.method
        self.branches = []
        self.best = None  # (rank, status, response bytes or None)
        self.answered = False  # a final response went upstream
        self.cancelling = False
        self.created = now
        self.initial = req.to.tag is None
        self.crossing = None  # crossing.Crossing: the ALG's state for this request, while relaying
        server_txn.owner = self

    @property
    def req(self):
        """The request while it is unanswered, parsed again from its bytes
        when an answer of our own needs it (a failure: rare). Keeping the
        parse instead held every unanswered request's objects, several KB
        each, and under a storm those were most of the daemon's memory."""
        if self.raw is None:
            return None
        req = parse_message(self.raw)
        if self.via is not None:
            req.replace_line(*self.via)
        return req

    def add_branch(self, txn):
        b = Branch(len(self.branches), txn)
        txn.owner = self
        self.branches.append(b)
        return b

    def _branch(self, txn):
        for b in self.branches:
            if b.txn is txn:
                return b
        return None

    # -- told by client transactions ---------------------------------------------

    def on_response(self, txn, resp, now):
        b = self._branch(txn)
        status = resp.status
        if b is None or status == 100:
            return
        top = resp.top_via
        if top is None or top.branch != txn.key[0]:
            return  # not our Via on top: nothing to forward
        resp.remove_field(top)
        hidden = self.crossing.hidden if self.crossing is not None else None
        if hidden is not None:
            resp.insert_before(top, b"".join(hidden))
        elif len(resp.vias) == 1 and self.raw is None:
            return  # answered already: a retransmission nobody can use
        elif len(resp.vias) == 1:
            # No Via left: meant for us, never forwarded as is (§16.7 step 3).
            # The caller still learns the outcome, from a response of ours.
            req = self.req
            resp = parse_message(make_response(req, status, resp.reason, to_tag=resp.to.tag or own_tag(req)))
        if self.crossing is not None and not self.hook.crossed(self, txn, resp, now):
            return  # the ALG could not pass it: dropped, never sent with a LAN address
        if status < 200:
            if b.cancel_pending:
                b.cancel_pending = False
                self._send_cancel(b, now)
            if not self.answered:
                self._respond(status, resp.serialise(), now)
            return
        if status == 503:
            self.hook.upstream_failed(txn.dest, "503", now)
        if b.final is None:
            b.final = status
        if status < 300:
            self.answered = True
            self._respond(status, resp.serialise(), now)
            self._release()
            if self.method == "INVITE":
                self.cancel_all(now)
            return
        if self.best is None or _rank(status) < self.best[0]:
            self.best = (_rank(status), status, resp.serialise())
        if status >= 600 and self.method == "INVITE":
            self.cancel_all(now)
        self._maybe_finish(now)

    def on_timeout(self, txn):
        b = self._branch(txn)
        if b is None or b.final is not None:
            return
        self.hook.upstream_failed(txn.dest, "timeout", self.layer.now)
        b.final = status = 503 if txn.unreachable else 408
        if self.best is None or _rank(status) < self.best[0]:
            self.best = (_rank(status), status, None)
        self._maybe_finish(self.layer.now)

    def on_timer_c(self, txn):
        b = self._branch(txn)
        if b is not None and b.final is None:
            self._send_cancel(b, self.layer.now)

    def on_ack(self, txn, ack, now):
        """An ACK for a 2xx that matched our INVITE server transaction."""
        self.hook.forward_ack(ack, now, txn.dest)

    def on_terminated(self, txn):
        if txn is self.server:
            self.hook.context_done(self)

    # -- CANCEL --------------------------------------------------------------------

    def cancel_all(self, now):
        self.cancelling = True
        for b in self.branches:
            if b.final is None and not b.cancelled:
                self._send_cancel(b, now)

    def _send_cancel(self, b, now):
        """CANCEL a branch when its transaction's table allows it (after a
        provisional, §9.1), or as soon as it does."""
        if b.cancelled:
            return
        if not self.layer.cancel(b.txn, now):
            b.cancel_pending = True
            return
        b.cancelled = True
        sent = parse_message(b.txn.request)
        data = cancel_for(sent)
        self.layer.new_client("CANCEL", sent.top_via.branch, data, b.txn.dest, b.txn.reliable, now)

    # -- answering ---------------------------------------------------------------------

    def _maybe_finish(self, now):
        if self.answered:
            return
        for b in self.branches:
            if b.final is None:
                return
        self.answered = True
        _, status, data = self.best
        if data is None or status == 503:
            # Our own 408 or 503 (no next hop), or a 503 received, which a
            # proxy turns into 500 (§16.7 step 6).
            status, reason = OWN.get(status, (500, "Server Internal Error")) if data is None else (500, "Server Internal Error")
            req = self.req
            data = make_response(req, status, reason, to_tag=own_tag(req))
        self.hook.call_failed(self)  # a timeout or an error: the call's media sessions end
        self._respond(status, data, now)
        self._release()

    def _respond(self, status, data, now):
        """Through the server transaction, if its table still takes it (a
        late provisional after a final, say, is dropped)."""
        if self.layer.may_respond(self.server, status):
            self.layer.respond(self.server, status, data, now)

    def _release(self):
        """Answered: the request is no longer needed, and this context may
        outlive the call by 32 s while its transaction absorbs retransmissions."""
        self.raw = self.via = None


def fork(p, req, txn, targets, now):
    """§16.6: fork `req` (its server transaction `txn`) to every
    (Request-URI or None, dest) in `targets`, each branch a client
    transaction of one new ResponseContext."""
    targets = [t for t in targets if not p.sides.forbidden(t[1])]
    if not targets:
        return p.reply(txn, req, 403, "Forbidden (not a destination)", (), now)
    ctx = ResponseContext(p.txns, p, txn, req, now)
    if p.relay is not None:
        ctx.crossing = Crossing()
    p.contexts[txn.key] = ctx
    if req.method == "INVITE":
        p.reply(txn, req, 100, "Trying", (), now)
    mf = req.max_forwards
    prefix = branch_prefix(req)
    for i in range(len(targets)):
        ruri, dest = targets[i]
        m = req.fork()
        if ruri is not None:
            m.set_request_uri(ruri)
        if mf is None:
            m.insert_field("max-forwards", "70")
        else:
            m.replace_field(m.fields("max-forwards")[0], "%d" % (mf - 1))
        transport, host, port = p._local(dest[0])
        host = ctx.crossing.request(p, req, txn.dest, m, dest, now) if ctx.crossing is not None else p._outside_address(dest)
        if req.method in DIALOG_METHODS and req.to.tag is None:
            # The side it leaves on reaches us at our address there; the
            # response shows the other side its own (alg_response).
            toward = side_of(txn.dest[1], p.relay)  # requests reaching this route go back to the caller's side
            m.insert_field("record-route", "<%s>" % p.tokens.record_route(host, port, transport, req.call_id, req.from_.tag, p.relay, toward))
        branch = "%s.%d" % (prefix, i)
        m.insert_field("via", "SIP/2.0/%s %s:%d;branch=%s;rport" % (transport.upper(), host, port, branch))
        client = p.txns.new_client(req.method, branch, m.serialise(), dest, dest[0] != "udp", now, ctx)
        if client is None:
            p.counters["overload"] += 1
            ctx.on_timeout(None)  # reads the layer's now, set by new_client
            continue
        ctx.add_branch(client)
        if req.method == "INVITE":
            client.timer_c_ms = p.config.timer_c  # sip.timers.timer_c_s, restarted by each provisional
    if not ctx.branches:
        p.contexts.pop(txn.key, None)
        p.call_failed(ctx)
        p.reply(txn, req, 503, "Service Unavailable", (("retry-after", "5"),), now)
