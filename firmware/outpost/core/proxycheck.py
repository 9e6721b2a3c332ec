"""RFC 3261 §16.3 request validation steps that need only the request.

Step 1 (syntax) is `Request.validate()`; step 2 (URI scheme, 416) is there
too. These are steps 3 and 6: loop detection (step 4) needs the proxy's own
Via and lives with the proxy core.
"""

from .errors import RemoteProtocolError


def check_request(req, supported=(), for_us=False):
    """Raise RemoteProtocolError(483 or 420) when a proxy must refuse `req`.

    for_us: the request is addressed to this element (an OPTIONS ping), which
    may answer it even at Max-Forwards 0 (§16.3 step 3, §11).
    """
    if req.max_forwards == 0 and not (for_us and req.method == "OPTIONS"):
        raise RemoteProtocolError(483, "Too Many Hops")
    missing = [t for t in req.tokens("proxy-require") if t not in supported]
    if missing:
        raise RemoteProtocolError(420, "Bad Extension", (("unsupported", ", ".join(missing)),))
