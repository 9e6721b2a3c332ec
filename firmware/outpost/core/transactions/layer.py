"""Matching messages to transactions, and their timers.

Server transactions are found by RFC 3261 §17.2.3: top Via branch (with the
magic cookie), sent-by and method (ACK matches its INVITE), or for RFC 2543
peers without the cookie by Request-URI, tags, Call-ID, CSeq and top Via;
and by the host the request came from: sent-by and branch are the peer's
own words, so without it anyone who learns or guesses a phone's branch
could take its transaction (a CANCEL answered 481 to the wrong host, the
real one absorbed as a retransmission).
Client transactions are found by §17.1.3: top Via branch and CSeq method.

Bounds: at most `max_transactions` live at once. At the bound the oldest
transaction that is only absorbing retransmissions (Completed, Confirmed,
Accepted: RFC 3261 and 6026 keep them 32 s on UDP) is ended early; only
when every one is still active does `new_server()` return None, and the TU
answers 503 (RFC 3261 §21.5.4) or drops a flood. It also returns None to a
source already holding its share (1/SHARE_PER_SOURCE of the bound) of
server transactions not yet answered: no one host takes the table.
"""

from .base import T1, T2, T4, TERMINATED, LINGER_STATES, response_event
from .client_invite import ClientInvite
from .client_non_invite import ClientNonInvite
from .server_invite import ServerInvite
from .server_non_invite import ServerNonInvite
from .deadlines import Deadlines

MAGIC = "z9hG4bK"

from ..defaults import MAX_TRANSACTIONS, SHARE_PER_SOURCE  # reasons and bounds: core/defaults.py


def server_key(req, host=None):
    """The key of the server transaction `req` from `host` belongs to (or creates)."""
    via = req.top_via
    method = "INVITE" if req.method == "ACK" else req.method
    branch = via.branch
    if branch and branch.startswith(MAGIC):
        return ("3261", host, branch, via.sent_by.lower(), method)
    # RFC 2543: no branch to trust. The ACK's To tag is the one we sent,
    # so it is left out of the key (§17.2.3).
    return ("2543", host, str(req.uri), req.from_.tag, req.call_id, req.cseq.seq, via.text, method)


def client_key(branch, method):
    return (branch, "INVITE" if method == "ACK" else method)


def tu_event(status):
    return "send_1xx" if status < 200 else "send_2xx" if status < 300 else "send_final"


class TransactionLayer:
    def __init__(self, t1=T1, t2=T2, t4=T4, max_transactions=MAX_TRANSACTIONS):
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
        self.max_transactions = max_transactions
        self.servers = {}
        self.clients = {}
        self.outbox = []  # (bytes, dest)
        self.deadlines = Deadlines()
        # A phone keeps a handful at once (REGISTER, SUBSCRIBEs, a call or
        # two): a share under 16 would refuse it before any attacker.
        self.share = max(max_transactions // SHARE_PER_SOURCE, min(max_transactions, 16))
        self._waiting = {}  # source host -> its server transactions not yet answered
        self.over_share = 0  # requests refused for their source's share
        self._linger = []  # FIFO of lingering transactions, oldest first
        self._linger_head = 0
        self.evicted = 0
        self.now = 0  # the time of the input being handled: owners told of a timeout read it here

    def __len__(self):
        return len(self.servers) + len(self.clients)

    # -- what transactions call ------------------------------------------------

    def send(self, data, dest):
        self.outbox.append((data, dest))

    def schedule(self, txn, at):
        self.deadlines.push(at, txn)

    def lingering(self, txn):
        self._release(txn)
        self._linger.append(txn)

    def _release(self, txn):
        """An answered or ended server transaction leaves its source's share."""
        if txn.held:
            txn.held = False
            host = txn.dest[1]
            n = self._waiting[host] - 1
            if n:
                self._waiting[host] = n
            else:
                del self._waiting[host]

    def _make_room(self):
        """True when there is room for one more transaction, ending the
        oldest lingering one if that is what it takes."""
        if len(self) < self.max_transactions:
            return True
        q = self._linger
        while self._linger_head < len(q):
            txn = q[self._linger_head]
            q[self._linger_head] = None
            self._linger_head += 1
            if self._linger_head > 1024 and self._linger_head * 2 > len(q):
                del q[:self._linger_head]  # compact (slice deletion: lists allow it on both runtimes)
                self._linger_head = 0
            if txn is not None and txn.state in LINGER_STATES:
                txn.state = TERMINATED
                self.evicted += 1
                self.terminated(txn)
                return True
        return False

    def terminated(self, txn):
        self._release(txn)
        table = self.servers if txn.kind.startswith("Server") else self.clients
        if table.get(txn.key) is txn:
            del table[txn.key]
        txn.tell("on_terminated")
        txn.forget()

    # -- server side -----------------------------------------------------------

    def match_server(self, req, host=None):
        return self.servers.get(server_key(req, host))

    def new_server(self, req, dest, reliable, now):
        """A server transaction for a new request (not ACK), or None at the
        bound or past its source's share."""
        host = dest[1]
        if self._waiting.get(host, 0) >= self.share:
            self.over_share += 1
            return None
        if not self._make_room():
            return None
        cls = ServerInvite if req.method == "INVITE" else ServerNonInvite
        key = server_key(req, dest[1])
        txn = cls(self, key, req.raw, dest, reliable)
        txn.start(now)
        self.servers[key] = txn
        if txn.state not in LINGER_STATES and txn.state != TERMINATED:
            txn.held = True
            self._waiting[host] = self._waiting.get(host, 0) + 1
        return txn

    def respond(self, txn, status, data, now):
        """The TU sends a response through its server transaction."""
        txn.fire(tu_event(status), now, data)

    def may_respond(self, txn, status):
        """Can the server transaction still send this response (a late
        provisional after a final, say, cannot)?"""
        return txn.accepts(tu_event(status))

    def respond_once(self, txn, data, now):
        """A final answer sent once, statelessly (RFC 3261 §16.11 allows a
        stateless answer): the transaction ends with it."""
        txn.fire("send_final_once", now, data)

    def server_request(self, txn, req, now):
        """A retransmission or an ACK for an existing server transaction."""
        txn.fire("ack" if req.method == "ACK" else "request", now, req)

    # -- client side -----------------------------------------------------------

    def new_client(self, method, branch, data, dest, reliable, now, owner=None):
        self.now = now
        if not self._make_room():
            return None
        cls = ClientInvite if method == "INVITE" else ClientNonInvite
        key = client_key(branch, method)
        txn = cls(self, key, data, dest, reliable)
        txn.owner = owner
        self.clients[key] = txn
        txn.start(now)
        return txn

    def match_client(self, resp):
        via = resp.top_via
        if via is None or not via.branch:
            return None
        return self.clients.get(client_key(via.branch, resp.cseq.method))

    def cancel(self, txn, now):
        """The TU cancels a client INVITE: True when a CANCEL may go now
        (the caller sends it, as a transaction of its own), False when it
        must wait for a provisional."""
        if not txn.accepts("cancel"):
            return False
        txn.fire("cancel", now)
        return True

    def client_response(self, txn, resp, now):
        txn.fire(response_event(resp.status), now, resp)

    def transport_error(self, txn, now):
        self.now = now
        txn.fire("transport_error", now)

    # -- time ------------------------------------------------------------------

    def next_deadline(self):
        """Earliest time (ms) a timer is due, or None."""
        return self.deadlines.next_deadline()

    def expire(self, now):
        self.now = now
        while True:
            txn = self.deadlines.pop_due(now)
            if txn is None:
                return
            if txn.state != TERMINATED:
                txn.expire(now)
