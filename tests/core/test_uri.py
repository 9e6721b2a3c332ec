"""URIs: sip/sips/tel/opaque parsing, escaping, comparison (RFC 3261 §19.1.4)."""

from support import remote_status
from outpost.core.uri import parse_uri, unescape, unescape_text, is_ipv4, is_ipv6


def test_sip_uri_components():
    u = parse_uri("sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr?subject=project%20x&priority=urgent")
    assert (u.scheme, u.user, u.password, u.host, u.port) == ("sips", "alice", "secret", "[2001:db8::1]", 5061)
    assert u.transport == "tls" and u.has_param("lr") and u.param("lr") == ""
    assert u.headers == [("subject", "project%20x"), ("priority", "urgent")]
    assert str(u) == "sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr?subject=project%20x&priority=urgent"


def test_host_only_and_tel_and_opaque():
    u = parse_uri("sip:203.0.113.2")
    assert u.user is None and u.host == "203.0.113.2" and u.hostport == "203.0.113.2"
    t = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert t.scheme == "tel" and t.user == "+1-201-555-0123" and t.param("phone-context") == "example.com"
    o = parse_uri("urn:service:sos")
    assert o.opaque == "service:sos" and not o.is_sip


def test_scheme_is_case_insensitive_and_text_preserved():
    u = parse_uri("SIP:Bob@Example.COM")
    assert u.scheme == "sip" and str(u) == "SIP:Bob@Example.COM"


def test_copy_reserialises():
    u = parse_uri("sip:alice@192.0.2.10:5060;transport=udp")
    assert str(u.copy(host="203.0.113.2", port=40000)) == "sip:alice@203.0.113.2:40000;transport=udp"
    assert str(u.with_params(drop=("transport",), add=(("lr", None), ("ob", "1")))) == "sip:alice@192.0.2.10:5060;lr;ob=1"


def test_comparison_rules():
    eq = [
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com", "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
        ("sip:alice@atlanta.com?subject=project%20x&priority=urgent", "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
        ("tel:+1-201-555-0123", "tel:+12015550123"),
    ]
    ne = [
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
        ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
    ]
    for a, b in eq:
        assert parse_uri(a) == parse_uri(b), (a, b)
    for a, b in ne:
        assert parse_uri(a) != parse_uri(b), (a, b)


def test_aor_is_canonical():
    assert parse_uri("sip:%62ob@Example.COM:5060;transport=tcp").aor() == "sip:bob@example.com"
    assert parse_uri("tel:+1-201-555-0123").aor() == "tel:+12015550123"


def test_escaping():
    assert unescape("a%20b%00") == b"a b\x00"
    assert unescape_text("%C3%BC%FF") == "\u00fc%FF" or unescape_text("%C3%BC%FF") == "%C3%BC%FF"
    assert unescape_text("plain") == "plain"


def test_malformed_uris_are_400():
    for text in ("sip:", "sip:@host", "sip:user@", "sip:user@host:99999", "sip:user@host:abc", "sip:[2001:db8::1",
                 "sip:user@ho st", "sip:a%2@b", "sip:a%zz@b", "sip:a@b;=x", "sip:a@b?x", "1sip:a@b", "sip:a@-bad",
                 "sip:a@b..c", "tel:", "tel:12 34", "sip:a@b;p=\"q\"", "sip:a@[::1::2]", "noscheme"):
        assert remote_status(parse_uri, text) == 400, text


def test_ip_literals():
    assert is_ipv4("192.0.2.1") and not is_ipv4("192.0.2") and not is_ipv4("256.1.1.1") and not is_ipv4("1.2.3.04a")
    for good in ("::1", "2001:db8::9:1", "::ffff:192.0.2.1", "2001:db8:0:0:0:0:0:1", "fe80::"):
        assert is_ipv6(good), good
    for bad_ in ("", ":::", "2001:db8::1::2", "12345::", "1:2:3:4:5:6:7", "g::1", "::ffff:999.0.2.1"):
        assert not is_ipv6(bad_), bad_
