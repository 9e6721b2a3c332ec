"""REGISTER processing, RFC 3261 §10.3, over the location table.

`register()` returns (status, reason, extra headers) for the proxy to send
through the server transaction, and the bindings it changed. The steps keep
the RFC's order: authenticate, check the address-of-record (a phone may
register only its own), then apply every Contact or none.
"""

from .location import Binding
from .errors import bad

from .defaults import DEFAULT_EXPIRES, MIN_EXPIRES, MAX_EXPIRES  # seconds; reasons: core/defaults.py


class RegistrarPolicy:
    def __init__(self, domain, default_expires=DEFAULT_EXPIRES, min_expires=MIN_EXPIRES, max_expires=MAX_EXPIRES):
        self.domain = domain.lower()
        self.default_expires = default_expires
        self.min_expires = min_expires
        self.max_expires = max_expires


class Outcome:
    __slots__ = ("status", "reason", "headers", "changed")

    def __init__(self, status, reason, headers=(), changed=()):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.changed = changed


def register(req, source, now, table, policy, authenticator):
    to = req.to.uri
    if not to.is_sip or to.host.lower() != policy.domain or not to.user:
        return Outcome(404, "Not Found")
    aor = to.aor()
    if authenticator is not None:
        user, stale = authenticator.check(req, "authorization", now, source[1])
        if user is None:
            challenges = authenticator.challenges(now, stale, to.user, source[1])
            return Outcome(401, "Unauthorized", [("www-authenticate", c) for c in challenges])
        if aor != "%s:%s@%s" % (to.scheme, user, policy.domain):
            return Outcome(403, "Forbidden (not your address-of-record)")
        if not authenticator.users[user].allowed_from(source[1]):
            return Outcome(403, "Forbidden (not from an allowed network)")
    contacts = req.contacts
    if not contacts:
        return _ok(table, aor, now)
    header_expires = req.expires
    if contacts[0].star:
        if header_expires != 0:
            raise bad("Contact * requires Expires: 0")
        for b in table.lookup(aor, now):
            if b.call_id == req.call_id and req.cseq.seq <= b.cseq:
                return Outcome(500, "Out-of-order REGISTER", [("retry-after", "1")])
        gone = table.remove_all(aor)
        return _ok(table, aor, now, gone)
    updates = []
    for c in contacts:
        expires = c.expires
        if expires is None:
            expires = header_expires if header_expires is not None else policy.default_expires
        if 0 < expires < policy.min_expires:
            return Outcome(423, "Interval Too Brief", [("min-expires", "%d" % policy.min_expires)])
        updates.append((c, min(expires, policy.max_expires)))
    new = 0
    for c, expires in updates:
        old = table.find(aor, c.uri)
        if old is not None and old.call_id == req.call_id and req.cseq.seq <= old.cseq:
            return Outcome(500, "Out-of-order REGISTER", [("retry-after", "1")])
        if old is None and expires:
            new += 1
    if new and not table.room_for(aor, new):
        return Outcome(503, "Too Many Registrations", [("retry-after", "60")])
    changed = []
    ua = req.get("user-agent")
    for c, expires in updates:
        if expires == 0:
            gone = table.remove(aor, c.uri)
            if gone is not None:
                changed.append(gone)
            continue
        b = Binding(aor, c.uri, now + expires * 1000, c.q, req.call_id, req.cseq.seq, source, ua)
        table.put(b)
        changed.append(b)
    return _ok(table, aor, now, changed)


def _ok(table, aor, now, changed=()):
    headers = [("contact", "<%s>;expires=%d" % (b.uri, b.remaining(now))) for b in table.lookup(aor, now)]
    return Outcome(200, "OK", headers, changed)
