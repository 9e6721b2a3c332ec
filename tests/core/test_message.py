"""Message framing, lazy header access, lump edits and serialisation."""

from support import sip, raises, remote_status, invite, register
from corpus import VALID, INVALID
from outpost.core.message import parse_message, is_keepalive
from outpost.core.errors import RemoteProtocolError, LocalProtocolError
from outpost.core.response import error_response, make_response
from outpost.core import limits


def test_every_corpus_message_round_trips_byte_exact():
    for data in VALID:
        m = parse_message(data).validate()
        assert m.serialise() == data, data[:40]
        # Reading every typed field must not change a byte either.
        m.vias, m.from_, m.to, m.contacts, m.cseq, m.routes, m.record_routes
        assert m.serialise() == data


def test_every_invalid_corpus_message_gets_its_status():
    for data, status in INVALID:
        e = raises(RemoteProtocolError, lambda: parse_message(data).validate())
        assert e.status == status, (e.status, status, data[:40])
        assert error_response(data, e).startswith(b"SIP/2.0 %d " % status)


def test_compact_and_long_names_are_the_same_field():
    m = parse_message(VALID[7]).validate()  # BYE in compact form
    assert m.call_id == "3848276298220188511@192.0.2.10"
    assert m.from_.tag == "8321234356" and m.to.tag == "9fxced76sl"
    assert m.top_via.transport == "TCP" and not m.has("content-length")


def test_header_names_are_case_insensitive():
    m = parse_message(sip("OPTIONS sip:a@b SIP/2.0", "vIA: SIP/2.0/UDP h;branch=z9hG4bK1", "FROM: <sip:a@b>;tag=1", "to: <sip:c@d>", "CALL-id: x", "cseq: 1 OPTIONS")).validate()
    assert m.top_via.host == "h" and m.call_id == "x"


def test_list_fields_split_outside_quotes_and_angle_brackets():
    m = parse_message(sip(
        "REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@example.com>;tag=1", "To: <sip:a@example.com>",
        "Call-ID: x", "CSeq: 1 REGISTER",
        'Contact: "Doe, John" <sip:a@192.0.2.1;p=x>;q=0.5;note="x, y", <sip:a@192.0.2.2;maddr=192.0.2.9>;expires=30,sip:a@192.0.2.3',
    )).validate()
    c = m.contacts
    assert [x.uri.host for x in c] == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert c[0].display == "Doe, John" and c[0].q == 500 and c[0].param("note") == "x, y" and c[1].expires == 30


def test_several_lines_and_several_values_keep_their_order():
    m = parse_message(sip("OPTIONS sip:a@b SIP/2.0", "Via: SIP/2.0/UDP h1;branch=z9hG4bK1, SIP/2.0/UDP h2;branch=z9hG4bK2", "Via: SIP/2.0/UDP h3;branch=z9hG4bK3",
                          "From: <sip:a@b>;tag=1", "To: <sip:c@d>", "Call-ID: x", "CSeq: 1 OPTIONS")).validate()
    assert [v.host for v in m.vias] == ["h1", "h2", "h3"]


def test_headers_are_parsed_only_when_read():
    data = sip("OPTIONS sip:a@b SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@b>;tag=1", "To: <sip:c@d>", "Call-ID: x",
               "CSeq: 1 OPTIONS", "Record-Route: garbage <<<")
    m = parse_message(data).validate()  # Record-Route is not read by validation
    assert remote_status(lambda: m.record_routes) == 400
    assert m.serialise() == data


def test_contact_star_and_overlarge_expires():
    m = parse_message(register(("Contact: *",))).validate
    assert remote_status(m) == 400  # '*' mixed with a binding
    data = sip("REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@example.com>;tag=1", "To: <sip:a@example.com>",
               "Call-ID: x", "CSeq: 2 REGISTER", "Contact: *", "Expires: 99999999999")
    m = parse_message(data).validate()
    assert m.contacts[0].star and m.expires == 0xFFFFFFFF


def test_q_values():
    for text, q in (("1", 1000), ("0", 0), ("0.5", 500), ("0.001", 1), ("1.000", 1000)):
        m = parse_message(register(("Contact: <sip:x@192.0.2.1>;q=" + text,)))
        assert m.contacts[1].q == q
    for text in ("1.5", "2", "0.1234", "abc", ".5"):
        m = parse_message(register(("Contact: <sip:x@192.0.2.1>;q=" + text,)))
        assert remote_status(lambda: m.contacts[1].q) == 400, text


def test_strict_integers():
    for bad_value in ("+5", "1_0", " ", "0x10", "\u0661", "-1", "256"):
        m = parse_message(sip("OPTIONS sip:a@b SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Max-Forwards: " + bad_value))
        assert remote_status(lambda: m.max_forwards) == 400, bad_value


def test_framing_errors_have_their_statuses():
    assert remote_status(parse_message, b"x" * (limits.MAX_MESSAGE_BYTES + 1)) == 513
    many = ["X-H%d: v" % i for i in range(limits.MAX_HEADER_FIELDS + 1)]
    assert remote_status(parse_message, sip("OPTIONS sip:a@b SIP/2.0", *many)) == 513
    assert remote_status(parse_message, b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n") == 400
    assert remote_status(parse_message, b"OPTIONS sip:a@b SIP/2.0") == 400
    assert remote_status(parse_message, b"OPTIONS sip:a@b SIP/2.0\r\n continued\r\n\r\n") == 400
    assert remote_status(parse_message, b"OPTIONS sip:a@b SIP/2.0\r\nVia\xff: x\r\n\r\n") == 400
    assert remote_status(parse_message, b"SIP/2.0 20 OK\r\n\r\n") == 400
    assert remote_status(parse_message, b"SIP/2.0 700 Strange\r\n\r\n") == 400
    assert remote_status(parse_message, b"INVITE sip:a@b SIP/2.x\r\n\r\n") == 400
    m = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nSubject: \xff\xfe\r\n\r\n")
    assert remote_status(m.get, "subject") == 400


def test_parse_message_refuses_a_str():
    raises(LocalProtocolError, parse_message, "INVITE sip:a@b SIP/2.0\r\n\r\n")


def test_keepalives_are_recognised():
    assert is_keepalive(b"\r\n\r\n") and is_keepalive(b"\r\n") and not is_keepalive(invite())


def test_leading_crlf_before_start_line_is_ignored():
    m = parse_message(b"\r\n\r\n" + VALID[1]).validate()
    assert m.method == "REGISTER"


# -- edits ---------------------------------------------------------------------

def test_proxy_edits_touch_only_what_they_change():
    data = invite(extra=("X-Unknown: ;;odd,,value",))
    m = parse_message(data).validate()
    v = m.top_via
    m.set_param(v, "received", "203.0.113.7")
    m.set_param(v, "rport", "40021")
    m.insert_field("record-route", "<sip:203.0.113.2;lr>", before="via")
    m.insert_field("via", "SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bKout1")
    mf = m.fields("max-forwards")[0]
    m.replace_field(mf, "%d" % (m.max_forwards - 1))
    out = m.serialise()
    expected = data.replace(b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport\r\n",
                            b"Record-Route: <sip:203.0.113.2;lr>\r\nVia: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bKout1\r\n"
                            b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport=40021;received=203.0.113.7\r\n")
    expected = expected.replace(b"Max-Forwards: 70", b"Max-Forwards: 69")
    assert out == expected
    m2 = parse_message(out).validate()
    assert [x.branch for x in m2.vias] == ["z9hG4bKout1", "z9hG4bK74bf9"] and m2.vias[1].rport == 40021


def test_removing_our_via_from_a_response():
    resp = VALID[2].replace(b"Via: ", b"Via: SIP/2.0/UDP 203.0.113.2;branch=z9hG4bKout1, ", 1)
    m = parse_message(resp).validate()
    m.remove_field(m.vias[0])
    assert m.serialise() == VALID[2]
    m = parse_message(VALID[2].replace(b"Via: ", b"Via: SIP/2.0/UDP 203.0.113.2;branch=z9hG4bKout1\r\nVia: ", 1))
    m.remove_field(m.vias[0])
    assert m.serialise() == VALID[2]
    m = parse_message(resp)
    m.remove_field(m.vias[1])  # the last of a shared line takes its comma with it
    assert m.serialise() == resp.replace(b", SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;received=203.0.113.7;rport=40021", b"")


def test_request_uri_and_contact_rewrite():
    m = parse_message(invite()).validate()
    m.set_request_uri(m.uri.copy(host="192.0.2.20", port=5062))
    c = m.contacts[0]
    m.set_uri(c, c.uri.copy(host="203.0.113.2", port=40000))
    out = parse_message(m.serialise()).validate()
    assert str(out.uri) == "sip:bob@192.0.2.20:5062"
    assert str(out.contacts[0].uri) == "sip:alice@203.0.113.2:40000;transport=udp"


def test_addr_spec_gets_angle_brackets_when_params_are_added():
    data = register(("Contact: sip:x@192.0.2.30",))
    m = parse_message(data).validate()
    c = m.contacts[1]
    m.set_uri(c, c.uri.with_params(add=(("ob", None),)))
    assert b"Contact: <sip:x@192.0.2.30;ob>\r\n" in m.serialise()


def test_set_param_on_flag_and_removal():
    m = parse_message(invite()).validate()
    m.set_param(m.top_via, "rport", None)  # already a flag: nothing to do
    assert not m.edited or m.serialise() == invite()
    m.remove_param(m.top_via, "rport")
    assert b";rport" not in m.serialise()


def test_body_edit_fixes_content_length():
    m = parse_message(invite()).validate()
    m.replace_body(b"v=0\r\n")
    out = parse_message(m.serialise())
    assert out.body == b"v=0\r\n" and out.get("content-length") == "5"


def test_body_edit_adds_content_length_when_absent():
    data = sip("MESSAGE sip:a@b SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Content-Type: text/plain", cl=False, body="hi")
    m = parse_message(data)
    m.replace_body(b"hello")
    assert m.serialise().endswith(b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")


def test_overlapping_edits_are_our_bug():
    m = parse_message(invite())
    m.replace_field(m.fields("call-id")[0], "a")
    m.replace_field(m.fields("call-id")[0], "b")
    raises(LocalProtocolError, m.serialise)
    raises(LocalProtocolError, m.edit, 0, len(m.raw) + 5, b"")


def test_forks_have_independent_edits():
    m = parse_message(invite()).validate()
    m.set_param(m.top_via, "received", "203.0.113.7")
    a, b = m.fork(), m.fork()
    a.set_request_uri("sip:bob@192.0.2.21")
    b.set_request_uri("sip:bob@192.0.2.22")
    assert b"INVITE sip:bob@192.0.2.21 " in a.serialise() and b"received=203.0.113.7" in a.serialise()
    assert b"INVITE sip:bob@192.0.2.22 " in b.serialise() and b"received=203.0.113.7" in b.serialise()
    assert parse_message(a.serialise()).validate().sdp().media[0].port == 49170


def test_utf8_display_name_edits_land_on_byte_offsets():
    data = register(('Contact: "Jürgen Müller" <sip:jm@192.0.2.40>;expires=60',))
    m = parse_message(data).validate()
    c = m.contacts[1]
    m.set_uri(c, c.uri.copy(host="203.0.113.2"))
    m.set_param(c, "expires", "120")
    out = parse_message(m.serialise()).validate()
    assert out.contacts[1].display == "Jürgen Müller" and out.contacts[1].uri.host == "203.0.113.2"
    assert out.contacts[1].expires == 120


# -- responses -----------------------------------------------------------------

def test_make_response_copies_lines_and_adds_to_tag():
    req = parse_message(invite()).validate()
    out = parse_message(make_response(req, 180, "Ringing", to_tag="abc")).validate()
    assert out.status == 180 and out.to.tag == "abc" and out.call_id == req.call_id
    assert out.top_via.branch == req.top_via.branch and out.cseq.method == "INVITE"
    trying = parse_message(make_response(req, 100, "Trying", to_tag="abc")).validate()
    assert trying.to.tag is None  # RFC 3261 §8.2.6.2: no tag on 100


def test_error_response_is_stable_across_retransmissions():
    data = sip("OPTIONS sip:a@b SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@b>;tag=1", "To: <sip:c@d>", "Call-ID: x", "CSeq: 1 INVITE")
    e = raises(RemoteProtocolError, lambda: parse_message(data).validate())
    a, b = error_response(data, e), error_response(data, e)
    assert a == b and b"400 CSeq method does not match request method\r\n" in a
    assert parse_message(a).to.tag


def test_unanswerable_messages_are_dropped():
    e = RemoteProtocolError(400, "Bad")
    assert error_response(b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n", e) is None
    assert error_response(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n", e) is None
    assert error_response(b"INVITE sip:a@b SIP/2.0\r\nFrom: x\r\n\r\n", e) is None
    assert error_response(b"\xff\xfe garbage", e) is None


def test_leading_routes_on_one_line_and_on_several_are_removed():
    from outpost.core.message import parse_message as pm
    base = ["ACK sip:b@203.0.113.20 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKa", "From: <sip:a@x>;tag=1", "To: <sip:b@x>;tag=2",
            "Call-ID: r1", "CSeq: 1 ACK"]
    m = pm(sip(*(base + ["Route: <sip:192.0.2.1;lr>, <sip:203.0.113.2;lr>, <sip:203.0.113.10;lr>"]))).validate()
    m.remove_leading("route", 2)
    assert b"Route: <sip:203.0.113.10;lr>\r\n" in m.serialise()
    m = pm(sip(*(base + ["Route: <sip:192.0.2.1;lr>, <sip:203.0.113.2;lr>", "Route: <sip:203.0.113.10;lr>"]))).validate()
    m.remove_leading("route", 2)
    out = m.serialise()
    assert b"192.0.2.1;lr" not in out and out.count(b"Route:") == 1
    m = pm(sip(*(base + ["Route: <sip:192.0.2.1;lr>", "Route: <sip:203.0.113.2;lr>, <sip:203.0.113.10;lr>"]))).validate()
    m.remove_leading("route", 2)
    assert b"Route: <sip:203.0.113.10;lr>\r\n" in m.serialise() and b"203.0.113.2;" not in m.serialise()


def test_a_value_seen_before_is_parsed_once_yet_each_message_edits_its_own():
    a, b = parse_message(invite()).validate(), parse_message(invite()).validate()
    assert a.from_.field is not b.from_.field and a.from_.uri is b.from_.uri  # one parse, shared read-only
    a.set_param(a.from_, "tag", "changed")
    assert b";tag=changed" in a.serialise() and b";tag=changed" not in b.serialise()


def test_new_values_each_time_never_grow_the_value_cache_past_its_bound():
    from outpost.core import sipmessage

    for i in range(limits.MAX_VALUE_CACHE * 3):
        m = parse_message(invite(uri="sip:u%d@example.com" % i).replace(b"From: Alice", b"From: \"n%d\"" % i)).validate()
        assert m.from_.display == "n%d" % i and m.uri.user == "u%d" % i
        assert len(sipmessage._ADDRS) <= limits.MAX_VALUE_CACHE and len(sipmessage._URIS) <= limits.MAX_VALUE_CACHE
