"""Digest challenges for our registrar and proxy: nonces and their checks.

A nonce is `<issued ms, hex>.<HMAC-SHA256 of it, truncated>`: stateless to
issue and to verify, so a restart does not invalidate challenges that are
still fresh. Replays are refused by tracking the highest nonce-count seen per
nonce (RFC 7616 §3.3); a nonce used without qop (RFC 2069 clients) is spent
by its first use. The tracking table is bounded: at the bound the entry
seen first goes, and so that its next use is answered stale=true (the
phone re-auths) rather than taken for a fresh nonce (a sniffed
credential replayed after a flood of other nonces), every nonce issued
no later than the last one evicted and not in the table is stale. For
the same reason nonces issued before this table existed (a restart) are
stale on their first use here: the table that knew their counts is gone.
"""

from .compat import sha256
import binascii

from . import digest
from .errors import RemoteProtocolError
from .uri import parse_uri

from .defaults import NONCE_TTL_S

# A nonce is good for this long after it was issued; then stale=true.
NONCE_TTL_MS = NONCE_TTL_S * 1000
# Nonces whose nonce-count we remember. 4 per phone for 1,000 phones.
MAX_TRACKED_NONCES = 4096

OK = "ok"
STALE = "stale"
INVALID = "invalid"
REPLAY = "replay"


class HmacSha256:
    """RFC 2104 HMAC-SHA256 with the pads computed once (MicroPython has no
    hmac module, and its hash objects cannot be copied)."""

    def __init__(self, key):
        if len(key) > 64:
            key = sha256(key).digest()
        key = key + b"\x00" * (64 - len(key))
        self.ipad = bytes([b ^ 0x36 for b in key])
        self.opad = bytes([b ^ 0x5C for b in key])

    def digest(self, data):
        return sha256(self.opad + sha256(self.ipad + data).digest()).digest()


class Nonces:
    def __init__(self, secret, ttl_ms=NONCE_TTL_MS, max_tracked=MAX_TRACKED_NONCES):
        self.hmac = HmacSha256(secret)
        self.ttl_ms = ttl_ms
        self.max_tracked = max_tracked
        self._seen = {}  # nonce -> highest nc (0: spent without qop)
        self._order = []  # nonces in the order first seen: eviction is O(1)
        self._head = 0
        self._counter = 0
        self.evicted_upto = 0  # issue counter of the newest nonce evicted from _seen
        self.not_before = None  # ms: nonces issued earlier are unknown to this table

    def _mac(self, body):
        return binascii.hexlify(self.hmac.digest(body.encode())).decode()[:24]

    def issue(self, now):
        self._counter += 1
        body = "%x-%x" % (now, self._counter)
        return body + "." + self._mac(body)

    def check(self, nonce, nc, now):
        """OK, STALE (expired or forgotten: challenge again with stale=true),
        INVALID (not ours) or REPLAY (a nonce-count not above the last)."""
        body, dot, mac = (nonce or "").partition(".")
        if not dot or not digest.equal(self._mac(body), mac):
            return INVALID
        issued, counter = _issue(body)
        if issued is None:
            return INVALID
        if now - issued > self.ttl_ms or issued > now:
            return STALE
        seen = self._seen.get(nonce)
        if seen is None and (counter <= self.evicted_upto or (self.not_before is not None and issued < self.not_before)):
            return STALE  # its count was forgotten: never taken for a fresh nonce
        if nc is None:
            if seen is not None:
                return STALE  # a qop-less nonce is good once
            self._remember(nonce, 0)
            return OK
        try:
            count = int(nc, 16)
        except ValueError:
            return INVALID
        if seen is not None and count <= seen:
            return REPLAY
        self._remember(nonce, count)
        return OK

    def _remember(self, nonce, count):
        if nonce not in self._seen:
            while len(self._seen) >= self.max_tracked:
                self._forget_oldest()
            self._order.append(nonce)
        self._seen[nonce] = count

    def _forget_oldest(self):
        order = self._order
        while self._head < len(order):
            n = order[self._head]
            self._head += 1
            if n in self._seen:
                del self._seen[n]
                self.evicted_upto = max(self.evicted_upto, _issue(n.partition(".")[0])[1] or 0)
                break
        if self._head > 1024 and self._head * 2 > len(order):
            del order[:self._head]
            self._head = 0

    def forget_expired(self, now):
        """Housekeeping: nonces past their lifetime, oldest first."""
        order = self._order
        while self._head < len(order):
            n = order[self._head]
            if n in self._seen and now - int(n.split("-")[0], 16) <= self.ttl_ms:
                break
            self._seen.pop(n, None)
            self._head += 1
        if self._head > 1024 and self._head * 2 > len(order):
            del order[:self._head]
            self._head = 0


def _issue(body):
    """(issued ms, counter) of a nonce's body "<ms hex>-<counter hex>", or (None, None)."""
    ms, dash, counter = body.partition("-")
    try:
        return int(ms, 16), int(counter, 16)
    except ValueError:
        return None, None


def ipv4_int(addr):
    """'192.0.2.1' -> int, or None when it is not an IPv4 address."""
    parts = addr.split(".")
    if len(parts) != 4:
        return None
    n = 0
    for p in parts:
        if not p.isdigit() or int(p) > 255:
            return None
        n = n * 256 + int(p)
    return n


def parse_networks(cidrs):
    """['192.0.2.0/24', ...] -> [(network, mask)] for allowed_from()."""
    out = []
    for c in cidrs:
        addr, _, bits = c.partition("/")
        n, bits = ipv4_int(addr), int(bits or 32)
        mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF if bits else 0
        out.append((n & mask, mask))
    return out


class Credentials:
    """A user's stored secrets: HA1 per algorithm, never the password; the
    networks the user may register and call from (empty: anywhere); and the
    digest algorithms this user's phone is challenged with (None: as the
    network or the site says)."""

    __slots__ = ("username", "realm", "ha1", "networks", "algorithms")

    def __init__(self, username, realm, ha1, networks=(), algorithms=None):
        self.username = username
        self.realm = realm
        self.ha1 = ha1  # {"MD5": hex, "SHA-256": hex}
        self.networks = networks  # [(network, mask)]
        self.algorithms = algorithms

    def allowed_from(self, addr):
        if not self.networks:
            return True
        return within(addr, self.networks)

    @staticmethod
    def from_password(username, realm, password, algorithms=("SHA-256", "MD5")):
        return Credentials(username, realm, {a: digest.ha1(a, username, realm, password) for a in algorithms})


def within(addr, networks):
    """Is the IPv4 literal `addr` in any of parse_networks()'s networks? (A
    host name never is.) The one address-in-network test of the core."""
    n = ipv4_int(addr)
    return n is not None and any(n & mask == net for net, mask in networks)


class Authenticator:
    """Checks Authorization (registrar, 401) or Proxy-Authorization (proxy, 407).

    Which algorithms a phone is challenged with, and may answer with: its
    user's own list, else the first of `by_network` its address is in, else
    the site's. Many phones (baresip 1.0, older desk phones) give up on the
    whole challenge when any WWW-Authenticate is SHA-256, so one site-wide
    list cannot serve both them and phones that do SHA-256."""

    def __init__(self, realm, users, nonces, algorithms=("MD5",), by_network=()):
        self.realm = realm
        self.users = users  # username -> Credentials
        self.nonces = nonces
        self.algorithms = algorithms
        self.by_network = by_network  # [([(network, mask)], algorithms)]
        # uri -> bool: a URI naming this router or its domain (no user part),
        # which a digest `uri` may name instead of the Request-URI: sipp signs
        # the address it sends to, or whatever -auth_uri says, and phones
        # behind an outbound proxy the proxy. Set by the proxy.
        self.names_us = None

    def offered(self, username, source):
        """The algorithms for a phone claiming `username` from `source` (an
        address), most preferred first."""
        user = self.users.get(username)
        if user is not None and user.algorithms:
            return user.algorithms
        for networks, algorithms in self.by_network:
            if source is not None and within(source, networks):
                return algorithms
        return self.algorithms

    def challenges(self, now, stale=False, username=None, source=None):
        """Header values, most preferred algorithm first (RFC 8760 §2.4)."""
        nonce = self.nonces.issue(now)
        return [digest.challenge(self.realm, nonce, a, stale=stale) for a in self.offered(username, source)]

    def check(self, req, header, now, source=None):
        """(username or None, stale): the authenticated user, or why not. A
        credential for another Request-URI is refused with 400 (RFC 3261
        §22.4): a response sniffed on one request cannot serve another."""
        for cred in req.auth(header):
            if cred.scheme.lower() != "digest" or cred.get("realm") != self.realm:
                continue
            if not _same_uri(cred.get("uri"), req.uri, self.names_us):
                raise RemoteProtocolError(400, "Bad Request (digest uri does not match the Request-URI)")
            alg = cred.get("algorithm", "MD5")
            user = self.users.get(cred.get("username"))
            if user is None or alg not in self.offered(user.username, source) or alg not in user.ha1:
                return None, False
            if not digest.verify(cred, user.ha1[alg], req.method):
                return None, False
            verdict = self.nonces.check(cred.get("nonce"), cred.get("nc"), now)
            if verdict == OK:
                return user.username, False
            return None, verdict == STALE
        return None, False


def keep_nonces(auth, prev, now, names_us):
    """A reload brings a new Authenticator: it keeps the nonce-count table
    `prev`, or every credential seen before the reload would replay.
    Returns the table in use (None without users)."""
    if auth is None:
        return prev
    auth.names_us = names_us
    if prev is None:
        auth.nonces.not_before = now  # nothing of an earlier run is known here
    elif auth.nonces is not prev:
        prev.ttl_ms = auth.nonces.ttl_ms
        auth.nonces = prev
    return auth.nonces


def _same_uri(text, uri, names_us=None):
    if not text:
        return False
    if text == str(uri):
        return True
    try:
        got = parse_uri(text, "digest uri")
    except RemoteProtocolError:
        return False
    return got == uri or (names_us is not None and got.is_sip and not got.user and names_us(got))
