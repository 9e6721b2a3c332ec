"""The dial plan as a routing rule (siterules.py calls it for a LAN phone's
new call): dialplan.py decides, this turns its answer into a decision
(routing.py's rules hold here).

What a target means in each state:
- upstream: NORMAL, to the upstream with the rewritten number; SURVIVAL,
  as if no rule matched (a catch-all rule for the upstream must not
  keep the site's phones from calling each other while it is away).
- trunk: the fallback trunk, in either state, once the caller proved who
  they are (toll fraud needs an open trunk).
- local: SURVIVAL, the site's phone of that number (the router is its
  registrar then); NORMAL, the upstream, which is.
- refuse: the rule's status.
Emergency numbers are left to the site's own rules (siterules.py), unchanged.
"""

from .decisions import Forward, Reply
from .events import TrunkUsed
from .dialplan import EMERGENCY, NEED_CALLER, dialled
from .userrules import authorized, to_user

NORMAL, SURVIVAL = "normal", "survival"


def dial_route(p, req, source, uri, state, now):
    """The decision for a new INVITE by the dial plan, or None: no rule
    matched (or no plan), the site's own routing goes on."""
    plan = p.config.dialplan
    if plan is None or not plan.rules or req.method != "INVITE" or req.to.tag is not None or not uri.is_sip or not uri.user:
        return None  # a To tag: a dialog's request, never a new call the plan routes (routing.py decides on it)
    number = dialled(uri.user)
    if number is None:  # what the plan cannot read must not pass it unread (the next hop would read it)
        return Reply(484, "Address Incomplete (not a number the dial plan reads)")
    got = plan.route(number, state, caller_known=False)
    if got is NEED_CALLER:
        d = authorized(p, req, source, now, True)
        if d is not None:
            return d  # 407 first: a rule for some callers needs to know who calls
        got = plan.route(number, state, proven_caller(p, req), True)
    if got is not None and got.rule == EMERGENCY and state == SURVIVAL:
        return to_trunk(p, req, source, number, now, True)  # however the phone wrote it
    if got is None or got.rule == EMERGENCY:
        return None
    if got.target == "refuse":
        return Reply(got.status, got.reason)
    if got.target == "trunk":
        return to_trunk(p, req, source, got.number, now, False)
    new = uri if got.number == number else uri.copy(user=got.number)
    if state == SURVIVAL and got.target == "local":
        d = authorized(p, req, source, now)
        return d or to_user(p, new.copy(host=p.config.domain, port=None, params=[], headers=[]), now)
    if state == SURVIVAL:
        return None  # the upstream's call while it is away: as if no rule matched (a local phone, else 503)
    return Forward([(None if new is uri else new, p.relay.config.upstream)])


def preloaded_route(p, req, source, routes, ours):
    """A LAN phone's new INVITE naming its own next hop (a Route set not
    ours) would go where the phone says, past every rule: with a dial
    plan, refused. None: go on."""
    plan = p.config.dialplan
    if plan is None or not plan.rules or not routes or ours or req.method != "INVITE" or req.to.tag is not None:
        return None
    if p.relay.side(source[1]) != "lan":
        return None  # the WAN's requests: relay_route and survival_route decide
    return Reply(403, "Forbidden (the dial plan routes calls: no Route of your own)")


def proven_caller(p, req):
    """The user whose credentials the router checked for this request
    (userrules.authorized), else None: a rule naming callers never
    matches a caller who only says who they are."""
    return req._cache.get("proven")


def to_trunk(p, req, source, number, now, emergency):
    trunk = p.survival.config.trunk
    if trunk is None:
        return Reply(503, "Service Unavailable (no fallback trunk for %s)" % number, (("retry-after", "30"),))
    if not emergency and p.config.authenticator is not None:
        d = authorized(p, req, source, now, True)
        if d is not None:
            return d  # challenged: toll fraud needs an open trunk
    ruri = "sip:%s@%s:%d" % (number, trunk[1], trunk[2])
    return Forward([(ruri, trunk)], TrunkUsed(req.method, emergency, ruri))
