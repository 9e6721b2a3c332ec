"""Digest arithmetic against the RFCs' own examples, and challenge round trips."""

from support import register, raises
from outpost.core import digest
from outpost.core.message import parse_message
from outpost.core.errors import RemoteProtocolError


def test_rfc2617_example():
    ha1 = digest.ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
    r = digest.response("MD5", ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "GET", "/dir/index.html", "auth", "00000001", "0a4f113b")
    assert r == "6629fae49393a05397450978507c4ef1"


def test_rfc7616_examples_md5_and_sha256():
    nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    for alg, want in (("MD5", "8ca523f5e9506fed4657c9700eebdbec"), ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")):
        ha1 = digest.ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life")
        assert digest.response(alg, ha1, nonce, "GET", "/dir/index.html", "auth", "00000001", cnonce) == want


def _signed_register(alg, password="s3cret", qop="auth"):
    ha1 = digest.ha1(alg, "bob", "example.com", "s3cret")
    client_ha1 = digest.ha1(alg, "bob", "example.com", password)
    value = digest.credentials("bob", "example.com", client_ha1, "n0nce", "REGISTER", "sip:example.com", alg, qop, "00000001" if qop else None, "c0ffee" if qop else None)
    m = parse_message(register(("Authorization: " + value,))).validate()
    return m.auth("authorization")[0], ha1


def test_verify_every_algorithm_with_and_without_qop():
    for alg in digest.ALGORITHMS:
        for qop in ("auth", None):
            if alg.endswith("-sess") and not qop:
                continue
            creds, ha1 = _signed_register(alg, qop=qop)
            assert creds.scheme == "Digest" and creds.get("username") == "bob"
            assert digest.verify(creds, ha1, "REGISTER"), alg
            assert not digest.verify(creds, ha1, "INVITE"), alg
            wrong, _ = _signed_register(alg, password="guess", qop=qop)
            assert not digest.verify(wrong, ha1, "REGISTER"), alg


def test_unknown_algorithm_and_incomplete_credentials():
    m = parse_message(register(('Authorization: Digest username="bob", realm="r", nonce="n", uri="sip:x", response="0", algorithm=SHA-512-256',))).validate()
    assert not digest.verify(m.auth("authorization")[0], "00", "REGISTER")
    m = parse_message(register(('Authorization: Digest username="bob", realm="r", nonce="n", uri="sip:x"',))).validate()
    raises(RemoteProtocolError, digest.verify, m.auth("authorization")[0], "00", "REGISTER")
    m = parse_message(register(('Authorization: Digest username="bob", realm="r", nonce="n", uri="sip:x", response="0", qop=auth',))).validate()
    raises(RemoteProtocolError, digest.verify, m.auth("authorization")[0], "00", "REGISTER")


def test_challenge_parses_back():
    value = digest.challenge("example.com", "abc", "SHA-256", opaque="op", stale=True)
    m = parse_message(register(("WWW-Authenticate: " + value,)))
    a = m.auth("www-authenticate")[0]
    assert (a.get("realm"), a.get("nonce"), a.get("algorithm"), a.get("qop"), a.get("opaque"), a.get("stale")) == ("example.com", "abc", "SHA-256", "auth", "op", "true")


def test_equal_compares_whole_strings():
    assert digest.equal("abc", "abc") and not digest.equal("abc", "abd") and not digest.equal("abc", "ab")


def test_auth_params_with_quoted_commas_and_escapes():
    m = parse_message(register(('Authorization: Digest username="a\\"b", realm="x, y", nonce=n, uri="sip:x", response="r"',)))
    a = m.auth("authorization")[0]
    assert a.get("username") == 'a"b' and a.get("realm") == "x, y" and a.get("nonce") == "n"
    for bad_value in ('Digest a="x" b', '"quoted" scheme=x', 'Digest a="unterminated', 'Digest a=b c=d', 'Digest =x'):
        m = parse_message(register(("Authorization: " + bad_value,)))
        raises(RemoteProtocolError, m.auth, "authorization")
    for token68 in ("Digest username", "Digest a="):  # legal syntax, useless credentials
        a = parse_message(register(("Authorization: " + token68,))).auth("authorization")[0]
        assert a.token68 and raises(RemoteProtocolError, digest.verify, a, "00", "REGISTER").status == 400


def test_nonce_tracking_is_bounded_and_refuses_replays():
    from outpost.core.auth import Nonces, OK, REPLAY, STALE, INVALID
    n = Nonces(b"k" * 32, ttl_ms=1000, max_tracked=3)
    a = n.issue(0)
    assert n.check(a, "00000001", 1) == OK and n.check(a, "00000001", 2) == REPLAY and n.check(a, "00000002", 3) == OK
    assert n.check(a + "x", "00000003", 4) == INVALID and n.check(a, "00000003", 2000) == STALE
    others = [n.issue(10) for _ in range(3)]
    for o in others:
        assert n.check(o, "00000001", 11) == OK
    assert len(n._seen) == 3  # a was forgotten first
    # Forgotten is not fresh: the evicted nonce is stale (the phone re-auths),
    # or a sniffed credential would replay once enough others pushed it out.
    assert n.check(a, None, 12) == STALE and n.check(a, None, 13) == STALE
    n.forget_expired(5000)
    assert n._seen == {}
