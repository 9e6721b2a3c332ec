"""The upstream's health as the proxy sees it (sans-I/O): survival.py's
machine fed with probes, their answers, and what real traffic and the
network say. Functions of the relay and the survival machine; what they
decide leaves as a datagram to send or as events, never sent here.
"""

from . import build
from .events import UpstreamStateChanged

PROBE_FROM = "outpost-probe"
# The transport of a probe's destination: the runtime's socket connected to
# the upstream (config.probe_port), so ICMP errors reach it.
PROBE = "probe"


def probe(relay, survival, config, now):
    """The OPTIONS probe when one is due (from the timer): (data, dest) or None."""
    branch = survival.probe_due(now, relay.token("probe|%d|%d" % (now, survival.sent), 16))
    if branch is None:
        return None
    up = relay.config.upstream
    me = relay.config.wan_address
    # The runtime may give probes their own socket connected to the
    # upstream, so an ICMP "port unreachable" reaches us at once.
    port = config.probe_port or relay.config.port
    dest = (PROBE,) + tuple(up[1:]) if config.probe_port else up
    n = survival.sent
    data = build.options(up[:3], (me, port), branch, "%s@%s" % (PROBE_FROM, config.domain), "p%d" % n,
                         "%s.%s@%s" % (branch, relay.token(branch, 8), me), n)
    return data, dest


def probe_answered(relay, survival, resp, source, now):
    """An answer to our probe counts only from the upstream's address and
    with the probe's unguessable branch: forged 503s or 200s from strangers
    move nothing."""
    via = resp.top_via
    up = relay.config.upstream
    if source[2] != up[2] or not (source[1] == up[1] or relay.is_peer(source[1])):
        return
    if via is not None and via.branch and via.branch.startswith("z9hG4bKop-probe"):
        survival.probe_answered(via.branch, resp.status, now)


def unreachable(survival, now):
    """The network said no (ICMP port or host unreachable on the probe's
    socket, a TCP connect refused): the probe in flight failed, now rather
    than at its timeout."""
    if survival.probe is not None:
        survival.probe = None
        survival.observe(False, now, None, "unreachable")


def failed(relay, survival, dest, what, now):
    """Real traffic says the upstream failed us (a relayed request to
    `dest` timed out, or it answered 503)."""
    up = relay.config.upstream
    if dest[1] == up[1] and dest[2] == up[2]:
        survival.observe(False, now, None, what)


def events(survival):
    """The machine's moves since last asked, as events."""
    out = [UpstreamStateChanged(event, old, new) for event, old, new, at in survival.events]
    survival.events = []
    return out
