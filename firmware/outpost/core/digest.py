"""HTTP Digest for SIP (RFC 2617, RFC 7616, RFC 8760), as pure functions.

MD5 and SHA-256, with and without -sess, qop=auth (auth-int is not offered:
no SIP phone in the field uses it and it forces hashing every body). The
router stores HA1 = H(user:realm:password), never the password, so stored
credentials are only as good as the realm they were made for.

Nonces, their lifetime and nonce-count replay tracking belong to whoever
issues them (the registrar); this module only does the arithmetic.
"""

from .compat import md5, sha256
import binascii

from .errors import bad

ALGORITHMS = ("MD5", "SHA-256", "MD5-sess", "SHA-256-sess")


def _hash_name(algorithm):
    a = (algorithm or "MD5").upper()
    if a in ("MD5", "MD5-SESS"):
        return "md5"
    if a in ("SHA-256", "SHA-256-SESS"):
        return "sha256"
    return None


def supported(algorithm):
    return _hash_name(algorithm) is not None


def H(algorithm, text):
    name = _hash_name(algorithm)
    if name is None:
        raise bad("Unsupported digest algorithm")
    h = md5(text.encode()) if name == "md5" else sha256(text.encode())
    return binascii.hexlify(h.digest()).decode()


def ha1(algorithm, username, realm, password):
    return H(algorithm, "%s:%s:%s" % (username, realm, password))


def response(algorithm, ha1_hex, nonce, method, uri, qop=None, nc=None, cnonce=None):
    """request-digest (RFC 7616 §3.4.1). `ha1_hex` is H(user:realm:pass)."""
    if (algorithm or "").upper().endswith("-SESS"):
        if not cnonce:
            raise bad("Digest -sess requires cnonce")
        ha1_hex = H(algorithm, "%s:%s:%s" % (ha1_hex, nonce, cnonce))
    ha2 = H(algorithm, "%s:%s" % (method, uri))
    if qop:
        if qop != "auth":
            raise bad("Unsupported qop")
        if not nc or not cnonce:
            raise bad("Digest qop=auth requires nc and cnonce")
        return H(algorithm, "%s:%s:%s:%s:%s:%s" % (ha1_hex, nonce, nc, cnonce, qop, ha2))
    return H(algorithm, "%s:%s:%s" % (ha1_hex, nonce, ha2))


def equal(a, b):
    """Comparison whose time does not depend on where the strings differ."""
    if len(a) != len(b):
        return False
    r = 0
    for x, y in zip(a.encode(), b.encode()):
        r |= x ^ y
    return r == 0


def verify(credentials, ha1_hex, method):
    """Check an Authorization/Proxy-Authorization `Auth` against HA1.

    Returns True or False; raises RemoteProtocolError(400) for credentials
    missing what their own qop and algorithm require.
    """
    p = credentials.params
    for name in ("username", "realm", "nonce", "uri", "response"):
        if name not in p:
            raise bad("Digest credentials without " + name)
    algorithm = p.get("algorithm", "MD5")
    if not supported(algorithm):
        return False
    expected = response(algorithm, ha1_hex, p["nonce"], method, p["uri"], p.get("qop"), p.get("nc"), p.get("cnonce"))
    return equal(expected, p["response"].lower())


def challenge(realm, nonce, algorithm="MD5", opaque=None, stale=False, qop="auth"):
    """A WWW-Authenticate / Proxy-Authenticate value."""
    out = 'Digest realm="%s", nonce="%s", algorithm=%s' % (realm, nonce, algorithm)
    if qop:
        out += ', qop="%s"' % qop
    if opaque:
        out += ', opaque="%s"' % opaque
    if stale:
        out += ", stale=true"
    return out


def credentials(username, realm, ha1_hex, nonce, method, uri, algorithm="MD5", qop=None, nc=None, cnonce=None, opaque=None):
    """An Authorization value answering a challenge (the router as a client)."""
    r = response(algorithm, ha1_hex, nonce, method, uri, qop, nc, cnonce)
    out = 'Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=%s' % (username, realm, nonce, uri, r, algorithm)
    if qop:
        out += ", qop=%s, nc=%s, cnonce=\"%s\"" % (qop, nc, cnonce)
    if opaque:
        out += ', opaque="%s"' % opaque
    return out
