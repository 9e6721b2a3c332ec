"""The branch site's routing rules: relaying to the upstream server (the
ALG role) and local survival when it stops answering. Decisions as in
routing.py (its rules hold here): a rule returns Reply, Forward or
Register, or None for "the proxy's own routing goes on".

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

from .dialrules import SURVIVAL, NORMAL, dial_route, to_trunk
from .survival import dial_match
from .decisions import Forward, Reply
from .targets import contact_dest, uri_dest
from .userrules import authorized, to_user


def relay_route(p, req, source, routes, ours, now):
    """Upstream answers: requests from phones go to it, requests from it
    reach the phone its Request-URI (our WAN contact) stands for."""
    relay = p.relay
    side = relay.side(source[1])
    uri = req.uri
    if routes:
        # From the WAN a dialog's requests reach a phone through our
        # contact token, never along a Route a far end added.
        if side == "wan":
            return Reply(403, "Forbidden (not a dialog of this router)")
        return (None if ours else lan_may_route(p, req, source, now)) or Forward([(None, uri_dest(routes[0].uri))])
    d = stranger_or_phone(p, req, source, uri, routes, ours, now)
    if d is not None:
        return d
    if ours:  # in a dialog we record-routed: the Request-URI is the next hop
        if p.is_me(uri) or side == "wan":
            # From the WAN, a dialog's requests reach a phone through our
            # contact token (resolved above), never another WAN address.
            return Reply(404, "Not Found")
        return Forward([(None, uri_dest(uri))])
    if side == "wan":
        if uri.is_sip and uri.user and (p.is_me(uri) or p.for_domain(uri)):
            return to_user(p, uri, now)  # a server that calls the AOR, not the contact
        return Reply(404, "Not Found")
    return dial_route(p, req, source, uri, NORMAL, now) or Forward([(None, relay.config.upstream)])


def lan_may_route(p, req, source, now):
    """A LAN host naming its own next hop (a Route set not proven ours)
    chooses where the router sends: one of our users must prove who they
    are (407), or without users it must be on a trusted network. None: go on."""
    if req.to.tag is not None:
        # It claims a dialog the router cannot prove: no credentials are
        # asked in a dialog, so an unproven one goes nowhere.
        return Reply(403, "Forbidden (not a dialog of this router)")
    if p.config.authenticator is None:
        return None if p.sides.trusted(source[1]) else Reply(403, "Forbidden (relaying only for trusted networks)")
    return authorized(p, req, source, now, True)


def stranger_or_phone(p, req, source, uri, routes, ours, now):
    """What every state decides first: a stranger's new call, or a
    request to one of our WAN contacts (the phone it stands for)."""
    relay = p.relay
    if not ours and relay.side(source[1]) == "wan" and not relay.is_peer(source[1]):
        # Scanners try INVITE sip:100@<public address> all day: a new call
        # from the WAN comes through the site's server or not at all.
        return Reply(403, "Forbidden (calls come through the upstream server)")
    target = relay.resolve(uri, now) if not routes else None
    if target is not None:
        return Forward([(target[0], contact_dest(target[0], target[1]))])
    return None


def survival_route(p, req, source, uri, routes, ours, for_us, now):
    """Routing while the upstream is not trusted; None: the proxy's own
    routing goes on (REGISTER, local phones, in-dialog requests)."""
    d = stranger_or_phone(p, req, source, uri, routes, ours, now)
    if d is not None:
        return d
    if routes or ours or for_us or req.method in ("REGISTER", "ACK") or req.to.tag is not None:
        return None
    if p.relay.side(source[1]) == "wan":
        return Reply(403, "Forbidden (relaying only for the LAN)")
    cfg = p.survival.config
    user = uri.user if uri.is_sip else None
    if user and user in cfg.emergency and req.method == "INVITE":
        return to_trunk(p, req, source, user, now, True)  # first of all: no challenge, no pattern
    d = dial_route(p, req, source, uri, SURVIVAL, now)
    if d is not None:
        return d
    if user and p.for_domain(uri) and p.location.lookup(uri.copy(host=p.config.domain, port=None, params=[], headers=[]).aor(), now):
        return None  # a local phone: the proxy's own routing
    if user and cfg.trunk is not None and any(dial_match(pat, user) for pat in cfg.patterns):
        return to_trunk(p, req, source, user, now, False)
    return Reply(503, "Service Unavailable (upstream unreachable: local calls only)",
                 (("retry-after", "%d" % max(1, cfg.interval_ms // 1000)),))
