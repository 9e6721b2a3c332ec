"""Where a request goes, as decisions (sans-I/O): RFC 3261 §16.3 to
§16.5, §10 and §22 for one request, and the branch site's rules
(siterules.py) where the router relays.

Rules of this file:
- A rule reads the proxy's state and the request, and returns a decision:
  `Reply` (an answer, a challenge among them), `Forward` (to these
  targets), `Register` (the registrar answers), or None (not this rule's
  request: the next rule decides). It never sends, never answers, never
  creates a transaction: `Proxy._carry_out` is the one place that does.
- What a rule may change is the request it routes (our Routes popped, a
  strict router's Request-URI put back, credentials consumed: §16.4,
  §22.3) and the nonce counts a credential uses up.
- The order of the rules is the order of the checks: loop, our Routes,
  the site's routing (relay or survival), the router itself, then the
  open-relay and credential checks, then the next hop.
"""

from .decisions import Drop, Forward, Reply
from .errors import RemoteProtocolError
from .loops import looped
from .proxycheck import check_request
from .dialrules import preloaded_route
from .siterules import relay_route, survival_route
from .targets import contact_dest, uri_dest
from .userrules import authorized, register_check, to_user

SUPPORTED = ("path",)
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, INFO, MESSAGE, REFER, NOTIFY, SUBSCRIBE"


def route(p, req, source, now):
    """The decision for a new request (not ACK, not CANCEL) from `source`."""
    uri = req.uri
    # No user part, and our address or our domain: the router itself.
    for_us = not uri.user and p.for_domain(uri) and not uri.has_param("oc")
    check_request(req, SUPPORTED, for_us)
    if looped(req, p.me):
        raise RemoteProtocolError(482, "Loop Detected")
    listed = len(req.routes)
    routes, ours = our_routes(p, req)  # ours: a dialog we record-routed
    # Strict routing (the Request-URI is a Record-Route of ours) only when
    # no Route of ours was there too: both at once is no real hop's doing.
    if not ours and routes and len(routes) == listed and for_us and uri.has_param("lr"):
        # The previous hop was a strict router (§16.4): the Request-URI is
        # our Record-Route and the real target is the last Route.
        ours = req.to.tag is not None and p.tokens.proves(uri, req, p.relay, toward(p, routes[-1].uri, req))
        last = routes[-1]
        req.set_request_uri(last.uri)
        req.remove_field(last)
        uri = last.uri
        routes = routes[:-1]
        for_us = False
    if p.relay is not None:
        d = preloaded_route(p, req, source, routes, ours)
        if d is not None:
            return d
        if p.relaying and not (for_us and req.method != "REGISTER"):
            return relay_route(p, req, source, routes, ours, now)
        d = survival_route(p, req, source, uri, routes, ours, for_us, now)
        if d is not None:
            return d
    if not routes:
        d = _for_the_router(p, req, source, uri, for_us)
        if d is not None:
            return d
    return _onward(p, req, source, uri, routes, ours, now)


def ack_route(p, req, source, now):
    """Where an ACK for a 2xx goes (RFC 3261 §16.11: its own request with
    no transaction, routed by Route): Forward to one dest, or Drop."""
    routes, ours = our_routes(p, req)
    relay = p.relay
    target = relay.resolve(req.uri, now) if relay is not None and not routes else None
    if target is not None:
        req.set_request_uri(target[0])
        dest = contact_dest(target[0], target[1])
    else:
        dest = uri_dest(routes[0].uri if routes else req.uri)
        if p.is_me(req.uri) and not routes:
            return Drop()  # an ACK to us: nothing to do
    if not ours and (p.restricted() or source is None or not p.sides.trusted(source[1])):
        return Drop("malformed")  # not a proven dialog of ours: an ACK never makes us send elsewhere
    return Forward([(None, dest)])


def our_routes(p, req):
    """Remove the leading Routes that are us (two when a call between two
    of our phones passes a proxy upstream); (routes left, in one of our
    dialogs): only when every one of them carries our token for this
    request's dialog and the side it goes on to (dialogtoken.py). A Route
    naming us is not proof."""
    routes = req.routes
    n = 0
    while n < len(routes) and p.is_me(routes[n].uri):
        n += 1
    rest = routes[n:]
    proven = n > 0 and req.to.tag is not None
    hops = [r.uri for r in routes[1:n]] + [rest[0].uri if rest else None]
    for i in range(n if proven else 0):
        proven = proven and p.tokens.proves(routes[i].uri, req, p.relay, toward(p, hops[i], req))
    if n:
        req.remove_leading("route", n)
    return rest, proven


def toward(p, uri, req):
    """The side a request goes on to: its next Route, else its Request-URI
    (a contact token of ours leads to a phone)."""
    if p.relay is None:
        return "any"
    if uri is None:
        uri = req.uri
        if p.relay.resolve(uri, p.now) is not None:
            return "lan"
    return p.relay.side(uri.host.strip("[]")) if uri.is_sip else "wan"


def _for_the_router(p, req, source, uri, for_us):
    if req.method == "REGISTER" and p.for_domain(uri):
        if p.config.authenticator is None and not p.sides.trusted(source[1]):
            return Reply(403, "Forbidden (registration only from trusted networks)")
        return register_check(p, req)
    if for_us:
        if req.method == "OPTIONS":
            return Reply(200, "OK", (("allow", ALLOW), ("accept", "application/sdp"), ("supported", ", ".join(SUPPORTED))))
        return Reply(404, "Not Found")
    return None


def _onward(p, req, source, uri, routes, ours, now):
    """A request for a local user, along its Routes, or to its Request-URI."""
    local = not routes and p.for_domain(uri) and uri.user
    if not local and not ours and p.config.authenticator is None and not p.sides.trusted(source[1]):
        return Reply(403, "Forbidden (relaying only for trusted networks)")
    if not local and not ours and p.restricted():
        # Leaving for someone else through us: never an open relay.
        if req.to.tag is not None:
            return Reply(403, "Forbidden (not a dialog of this proxy)")
        d = authorized(p, req, source, now, True)
    else:
        d = authorized(p, req, source, now)
    if d is not None:
        return d
    if ours and p.sides.outside(source[1]) and (routes or not p.sides.inside(uri, now)):
        return Reply(403, "Forbidden (from outside, a dialog's requests reach the site's phones only)")
    if routes:
        return Forward([(None, uri_dest(routes[0].uri))])
    if local:
        return to_user(p, uri, now)
    return Forward([(None, uri_dest(uri))])
