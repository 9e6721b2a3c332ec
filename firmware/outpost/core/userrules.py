"""Rules about the domain's own users: who they prove they are (§22.3),
where their registered contacts are, which bindings the registrar takes.
Each returns a decision (decisions.py) or None: go on."""

from .decisions import REGISTER, Forward, Reply
from .targets import binding_dest

# Requests from our own users that must carry Proxy-Authorization.
AUTH_METHODS = ("INVITE", "MESSAGE", "SUBSCRIBE", "REFER")


def authorized(p, req, source, now, required=False):
    """Requests from our users must prove who they are (407), and so must
    any request leaving for another domain (`required`). None: go on."""
    auth = p.config.authenticator
    if auth is None or not p.config.auth_invite or req.to.tag is not None or req._cache.get("proven"):
        return None  # proven: a rule before this one checked (and consumed) the credentials
    frm = req.from_.uri
    from_ours = frm.is_sip and frm.host.lower() == p.config.domain and frm.user in auth.users
    if not required and (req.method not in AUTH_METHODS or not from_ours):
        return None
    user, stale = auth.check(req, "proxy-authorization", now, source[1])
    if user is None:
        challenges = auth.challenges(now, stale, frm.user, source[1])
        return Reply(407, "Proxy Authentication Required", [("proxy-authenticate", c) for c in challenges])
    if from_ours and user != frm.user:
        return Reply(403, "Forbidden (From is not you)")
    if not auth.users[user].allowed_from(source[1]):
        return Reply(403, "Forbidden (not from an allowed network)")
    for f in req.fields("proxy-authorization"):
        req.remove_field(f)  # consumed here (RFC 3261 §22.3)
    req._cache["proven"] = user  # who this request proved to be (dialrules.py's callers)
    return None


def to_user(p, uri, now):
    """A user of our domain: every contact it registered, or why not."""
    aor = uri.copy(host=p.config.domain, port=None, params=[], headers=[]).aor()
    bindings = p.location.lookup(aor, now)
    if not bindings:
        auth = p.config.authenticator
        known = auth is None or uri.user in auth.users
        return Reply(480, "Temporarily Unavailable") if known else Reply(404, "Not Found")
    return Forward([(b.uri, binding_dest(b)) for b in bindings])


def register_check(p, req):
    """A binding the registrar may take, or why not."""
    for c in req.contacts:
        if not c.star and (p.is_me(c.uri) or (c.uri.is_sip and c.uri.has_param("oc"))):
            # A binding that leads back to the router sends its calls round in a loop.
            return Reply(403, "Forbidden (Contact names this router)")
        if not c.star and p.relay is not None and (not c.uri.is_sip or p.relay.side(c.uri.host.strip("[]")) != "lan"):
            # The local registrar (survival) serves the site's phones: a
            # contact elsewhere would make the router send there for them.
            return Reply(403, "Forbidden (Contact outside the LAN)")
    return REGISTER
