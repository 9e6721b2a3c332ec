"""Loops and spirals (RFC 3261 §16.3 step 4, §16.6 step 8), and where a
request came from (§18.2.1, RFC 3581): rules on one request, no state.

A request that comes back to us unchanged is a loop (482); one that comes
back changed (another Request-URI, another Route set: two phones' BYE
passing through an upstream twice) is a spiral and is forwarded. The
branch we put in our Via makes the difference visible: its first part is
a hash of every field a spiral may change, the second is unique to the
server transaction the request arrived in.
"""

import binascii

from .compat import md5

# What the hash covers besides Request-URI, tags, Call-ID and CSeq.
LOOP_FIELDS = ("route", "proxy-require", "proxy-authorization")


def mark_source(req, source):
    """§18.2.1 and RFC 3581: record where the request came from."""
    via = req.top_via
    host = source[1]
    if via.host.strip("[]").lower() != host.lower() or via.rport == -1:
        req.set_param(via, "received", host)
    if via.rport == -1:
        req.set_param(via, "rport", "%d" % source[2])


def looped(req, me):
    """Our own Via (an address in `me`, (host, port) pairs) with the branch
    we would compute for this very request: it came back unchanged."""
    mine = "z9hG4bK" + _hash(req, False, 12)
    for via in req.vias[1:]:
        if (via.host.lower(), via.port or 5060) in me and via.branch and via.branch.startswith(mine):
            return True
    return False


def branch_prefix(req):
    """Loop part (the same whenever this request comes back) and a part
    unique to the server transaction it arrived in."""
    return "z9hG4bK%s.%s" % (_hash(req, False, 12), _hash(req, True, 8))


def _hash(req, with_top_via, n):
    # Asked for by the loop check (on the request as received, before our
    # Routes are popped) and again for the branch: computed once.
    key = "hash%d" % with_top_via
    h = req._cache.get(key)
    if h is None:
        text = "%s|%s|%s|%s|%d" % (req.uri, req.from_.tag, req.to.tag, req.call_id, req.cseq.seq)
        for name in LOOP_FIELDS:
            for f in req.fields(name):
                text += "|" + f.text
        if with_top_via:
            text += "|" + (req.top_via.branch or req.top_via.text)
        h = req._cache[key] = binascii.hexlify(md5(text.encode()).digest()).decode()
    return h[:n]
