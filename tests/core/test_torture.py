"""RFC 4475 torture tests: one test per case of the RFC, messages written
here from the RFC's descriptions (§3.1.1 valid, §3.1.2 invalid, §3.2
transaction layer, §3.3 application layer, §3.4 RFC 2543 compatibility),
plus RFC 5118's IPv6 forms.

Valid-but-strange messages must parse, validate and read correctly, and
serialise back byte for byte. Invalid ones must raise RemoteProtocolError
with the status the RFC asks for, and requests get an answer built from
their own lines; responses are dropped.
"""

from support import sip, raises, remote_status
from outpost.core.message import parse_message
from outpost.core.errors import RemoteProtocolError
from outpost.core.response import error_response
from outpost.core.proxycheck import check_request
from outpost.core.uri import unescape, unescape_text


def ok(data):
    m = parse_message(data).validate()
    assert m.serialise() == data
    return m


def status_of(data):
    """Status for an invalid message; asserts it can (or cannot) be answered."""
    def run():
        parse_message(data).validate()
    e = raises(RemoteProtocolError, run)
    answer = error_response(data, e)
    if data.startswith(b"SIP/"):
        assert answer is None, "a response is never answered"
    else:
        assert answer is not None and answer.startswith(b"SIP/2.0 %d " % e.status)
        assert parse_message(answer).status == e.status
    return e.status


SDP = "v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.3\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n"


# -- 3.1.1 valid messages ------------------------------------------------------

def test_wsinv_short_tortuous_invite_reads_correctly():
    body = SDP.encode()
    data = (
        b"INVITE sip:alice@branch.example.com;unknownparam SIP/2.0\r\n"
        b"TO :\r\n sip:alice@branch.example.com ;   tag    = 8321234356\r\n"
        b'from   : "Bob \\"the builder\\" \\\\"       <sip:bob@example.com>\r\n  ;\r\n  tag = 5a8\r\n'
        b"MaX-fOrWaRdS: 0068\r\n"
        b"Call-ID: wsinv.4f9dkqz@192.0.2.4\r\n"
        b"Content-Length   : %d\r\n"
        b"cseq: 0009\r\n  INVITE\r\n"
        b"Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;rport;branch=z9hG4bKwsinv1\r\n"
        b"s :\r\n"
        b"NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n"
        b"UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"
        b"Content-Type: application/sdp\r\n"
        b"Route:\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n"
        b"v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n"
        b" SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\n"
        b'm:"Quoted string \\"\\"" <sip:bob@192.0.2.4> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33\r\n'
        b"\r\n" % len(body)
    ) + body
    m = ok(data)
    assert m.method == "INVITE" and m.uri.has_param("unknownparam")
    assert m.to.tag == "8321234356" and m.to.uri.host == "branch.example.com"
    assert m.from_.tag == "5a8" and m.from_.display == 'Bob "the builder" \\'
    assert m.max_forwards == 68
    assert m.cseq.seq == 9 and m.cseq.method == "INVITE"
    assert [v.transport for v in m.vias] == ["UDP", "TCP", "UDP"]
    assert [v.branch for v in m.vias] == ["z9hG4bKwsinv1", "z9hG4bK9ikj8", "z9hG4bK30239"]
    assert m.vias[0].rport == -1 and m.vias[1].host == "spindle.example.com"
    c = m.contacts[0]
    assert c.display == 'Quoted string ""' and c.param("newparam") == "newvalue"
    assert c.has_param("secondparam") and c.q == 330
    assert m.get("subject") == ""
    assert " ".join(m.get("newfangledheader").split()) == "newfangled value continued newfangled value"
    assert m.get("unknownheaderwithunusualvalue") == ";;,,;;,;"
    assert m.routes[0].uri.has_param("lr")
    assert m.sdp().media[1].kind == "video"


def test_intmeth_wide_range_of_valid_characters():
    data = sip(
        "~odd.Method_7!%*+'` sip:u~s(e)r&x=y+$/p?q,/;;*:pa$$w~rd_(ok)@branch.example.com SIP/2.0",
        "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~",
        'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>',
        'From: token1~` token2\'+_ token3*%!.- <sip:mundane@example.com>;fromParam\'\'~+*_!.-%="работающий";tag=_token~1\'+`*%!-.',
        "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
        "CSeq: 139122385 ~odd.Method_7!%*+'`",
        "Max-Forwards: 255",
        "extensionHeader-!.%*+_`'~:\ufeffbig-endian UTF-8 text follows",
    )
    m = ok(data)
    assert m.method == "~odd.Method_7!%*+'`"
    assert m.uri.user == "u~s(e)r&x=y+$/p?q,/;;*" and m.uri.password == "pa$$w~rd_(ok)"
    assert m.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert m.from_.display == "token1~` token2'+_ token3*%!.-"
    assert m.from_.tag == "_token~1'+`*%!-."
    assert m.from_.param("fromparam''~+*_!.-%") == "работающий"
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.get("extensionheader-!.%*+_`'~").endswith("text follows")


def test_esc01_valid_percent_escapes_are_unescaped_for_comparison():
    data = sip(
        "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0",
        "To: sip:%75se%72@example.com",
        "From: <sip:I%20have%20spaces@example.net>;tag=938",
        "Max-Forwards: 87",
        "i: esc01.239409asdfakjkn23onasd0-3234",
        "CSeq: 234234 INVITE",
        "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw",
        "C: application/sdp",
        "Contact: <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>",
        body=SDP,
    )
    m = ok(data)
    assert unescape_text(m.uri.user) == "sips:user@example.com"
    assert m.uri.host == "example.net"
    assert unescape_text(m.from_.uri.user) == "I have spaces"
    assert m.to.uri == parse_message(sip("OPTIONS sip:user@example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "To: <sip:user@example.com>", "From: <sip:a@b>;tag=1", "Call-ID: c", "CSeq: 1 OPTIONS")).to.uri
    c = m.contacts[0].uri
    assert unescape(c.user) == b"caller" and c.params[0].name == "%6c%72"
    assert unescape(c.param("n%61me")) == b"value%41"


def test_escnull_escaped_nulls_in_uris():
    data = sip(
        "REGISTER sip:example.com SIP/2.0",
        "To: sip:null-%00-null@example.com",
        "From: sip:null-%00-null@example.com;tag=839923423",
        "Max-Forwards: 70",
        "Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd",
        "CSeq: 14398234 REGISTER",
        "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw",
        "Contact: <sip:%00@host5.example.com>",
        "Contact: <sip:%00%00@host5.example.com>",
        "L:0",
        cl=False,
    )
    m = ok(data)
    assert unescape(m.to.uri.user) == b"null-\x00-null"
    assert [unescape(c.uri.user) for c in m.contacts] == [b"\x00", b"\x00\x00"]


def test_esc02_percent_that_is_not_an_escape():
    data = sip(
        "RE%47IST%45R sip:registrar.example.com SIP/2.0",
        "To: \"%Z%45\" <sip:resource@example.com>",
        "From: \"%Z%45\" <sip:resource@example.com>;tag=f232jadfj23",
        "Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf",
        "Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209824",
        "CSeq: 29344 RE%47IST%45R",
        "Max-Forwards: 70",
        "Contact: <sip:alias1@host1.example.com>",
        "C%6Fntact: <sip:alias2@host2.example.com>",
        "Contact: <sip:alias3@host3.example.com>",
    )
    m = ok(data)
    assert m.method == "RE%47IST%45R"  # a token, not REGISTER
    assert m.to.display == "%Z%45"
    assert len(m.contacts) == 2 and m.count("c%6fntact") == 1


def test_lwsdisp_no_space_between_display_name_and_angle():
    m = ok(sip(
        "OPTIONS sip:user@example.com SIP/2.0",
        "To: sip:user@example.com",
        "From: caller<sip:caller@example.com>;tag=323",
        "Max-Forwards: 70",
        "Call-ID: lwsdisp.1234abcd@funky.example.com",
        "CSeq: 60 OPTIONS",
        "Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw",
    ))
    assert m.from_.display == "caller" and m.from_.uri.user == "caller"


def test_longreq_long_values_in_header_fields():
    long_tag = "longvalue" * 100
    vias = ["Via: SIP/2.0/TCP sip%d.example.com;branch=z9hG4bK%s" % (i, "b" * 200) for i in range(34)]
    data = sip(
        "INVITE sip:user@example.com SIP/2.0",
        'To: "I have a user name of %s proportion" <sip:user@example.com:6000;unknownparam1=very%s;longparam%s=shortvalue;very%sParam=%s>' % ("extreme" * 10, "long" * 50, "name" * 25, "long" * 25, "long" * 30),
        "From: sip:%s@example.com;tag=%s" % ("a" * 1000, long_tag),
        "Call-ID: longreq.%s" % ("onereallyreallyreallyreallylongcallid" * 8),
        "CSeq: 3882340 INVITE",
        "Unknown-%s-Name: unknown-%s-value; unknown-%s-parameter-name = unknown-%s-parameter-value" % ("Long" * 20, "long" * 20, "long" * 20, "long" * 20),
        *vias,
        "Contact: <sip:amazinglylongcallername%s@host5.example.net>" % ("x" * 300),
        "Max-Forwards: 70",
        "Content-Type: application/sdp",
        body=SDP,
    )
    m = ok(data)
    assert len(m.vias) == 34 and m.vias[33].host == "sip33.example.com"
    assert m.from_.tag == long_tag and len(m.from_.uri.user) == 1000
    assert m.to.uri.port == 6000


def test_dblreq_trailing_octets_after_content_length_are_ignored():
    first = sip(
        "REGISTER sip:example.com SIP/2.0",
        "To: sip:j.user@example.com",
        "From: sip:j.user@example.com;tag=43251j3j324",
        "Max-Forwards: 8",
        "I: dblreq.0ha0isndaksdj99sdfafnl3lk233412",
        "Contact: sip:j.user@host.example.com",
        "CSeq: 8 REGISTER",
        "Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492",
        cl=0,
    )
    second = sip("INVITE sip:joe@example.com SIP/2.0", "t: sip:joe@example.com", "From: sip:caller@example.net;tag=141334", body=SDP)
    m = parse_message(first + second).validate()
    assert m.method == "REGISTER" and m.body == b""
    assert m.serialise() == first


def test_semiuri_semicolon_in_user_part():
    m = ok(sip(
        "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0",
        "To: sip:j_user@example.com",
        "From: sip:caller@example.org;tag=33242",
        "Max-Forwards: 3",
        "Call-ID: semiuri.0ha0isndaksdj",
        "CSeq: 8 OPTIONS",
        "Accept: application/sdp, application/pkcs7-mime,",
        " multipart/mixed, multipart/signed,",
        " message/sip, message/sipfrag",
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw",
    ))
    assert m.uri.user == "user;par=u%40example.net" and m.uri.host == "example.com"
    assert m.uri.params == []
    assert len(m.fields("accept")) == 6


def test_transports_varied_and_unknown_transport_types():
    m = ok(sip(
        "OPTIONS sip:user@example.com SIP/2.0",
        "To: sip:user@example.com",
        "From: <sip:caller@example.com>;tag=323",
        "Max-Forwards: 70",
        "Call-ID:  transports.kijh4akdnaqjkwendsasfdj",
        "Accept: application/sdp",
        "CSeq: 60 OPTIONS",
        "Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw",
        "Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf",
        "Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj",
        "Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en",
        "Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee",
    ))
    assert [v.transport for v in m.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_mpart01_multipart_body_passes_unchanged():
    body = (
        "--7a9cbec02ceef655\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: binary\r\n\r\n" + SDP +
        "\r\n--7a9cbec02ceef655\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        "\x30\x82\x01\x52\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02\xa0\r\n--7a9cbec02ceef655--\r\n"
    )
    data = sip(
        "MESSAGE sip:kumiko@example.org SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK-mpart01",
        "Max-Forwards: 70",
        "From: \"Kumiko\" <sip:kumiko@example.org>;tag=49583",
        "To: <sip:kumiko@example.org>",
        "Call-ID: mpart01.1x46@192.0.2.2",
        "CSeq: 1 MESSAGE",
        "Content-Type: multipart/mixed;boundary=7a9cbec02ceef655",
        body=body,
    )
    m = ok(data)
    assert m.content_type == "multipart/mixed" and m.sdp() is None
    assert m.body == body.encode()


def test_unreason_unusual_utf8_reason_phrase():
    reason = "= 2**3 * 5**2 но сто девяносто девять - простое"
    m = ok(sip(
        "SIP/2.0 200 " + reason,
        "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923",
        "Call-ID: unreason.1234ksdfak3j2erwedfsASdf",
        "CSeq: 35 INVITE",
        "From: sip:user@example.com;tag=11141343",
        "To: sip:user@example.edu;tag=2229",
        "Content-Type: application/sdp",
        "Contact: <sip:user@host198.example.com>",
        body=SDP,
    ))
    assert m.status == 200 and m.reason == reason


def test_noreason_empty_reason_phrase():
    m = ok(sip(
        "SIP/2.0 100 ",
        "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe",
        "Call-ID: noreason.asndj203insdf99223ndf",
        "CSeq: 35 INVITE",
        "From: <sip:user@example.com>;tag=39ansfi3",
        "To: <sip:user@example.edu>;tag=902jndnke3",
    ))
    assert m.status == 100 and m.reason == ""


# -- 3.1.2 invalid messages ----------------------------------------------------

def _req(first, *lines, **kw):
    base = ["Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw", "To: sip:user@example.com", "From: sip:caller@example.net;tag=134161461246",
            "Call-ID: torture.0ha0isndaksdj", "CSeq: 1 %s" % first.split(" ")[0], "Max-Forwards: 7"]
    names = [ln.split(":")[0].lower() for ln in lines]
    keep = [b for b in base if b.split(":")[0].lower() not in names]
    return sip(first, *(keep + list(lines)), **kw)


def test_badinv01_extraneous_header_separators_is_400():
    assert status_of(_req("INVITE sip:user@example.com SIP/2.0", "To: sip:j.user@example.com;;", "Via: SIP/2.0/UDP 192.0.2.15;;,;,,", "Contact: \"Joe\" <sip:joe@example.org>;;;;")) == 400


def test_clerr_content_length_larger_than_datagram_is_400():
    assert status_of(_req("INVITE sip:user@example.com SIP/2.0", "Content-Type: application/sdp", cl=9999, body=SDP)) == 400


def test_ncl_negative_content_length_is_400():
    assert status_of(_req("INVITE sip:user@example.com SIP/2.0", cl=-999, body=SDP)) == 400


def test_scalar02_request_with_overlarge_scalars_is_400():
    assert status_of(_req(
        "REGISTER sip:example.com SIP/2.0", "CSeq: 36893488147419103232 REGISTER", "Max-Forwards: 300",
        "Expires: 1000000000000000000000", "Contact: <sip:user@host129.example.com>;expires=280297596632815",
    )) == 400


def test_scalarlg_response_with_overlarge_scalars_is_dropped():
    status_of(sip(
        "SIP/2.0 503 Service Unavailable",
        "Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw",
        "To: <sip:user@example.com>;tag=2229",
        "From: <sip:other@example.net>;tag=338333",
        "Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r",
        "CSeq: 36893488147419103232 OPTIONS",
        "Retry-After: 949302838503028349304023988",
        "Warning: 1812 overture \"In Progress\"",
    ))


def test_quotbal_unterminated_quoted_display_name_is_400():
    assert status_of(_req("INVITE sip:user@example.com SIP/2.0", "To: \"Mr. J. User <sip:j.user@example.com>")) == 400


def test_ltgtruri_angle_brackets_around_request_uri_is_400():
    assert status_of(_req("INVITE <sip:user@example.com> SIP/2.0")) == 400


def test_lwsruri_embedded_space_in_request_uri_is_400():
    assert status_of(_req("INVITE sip:user@example.com; lr SIP/2.0")) == 400


def test_lwsstart_multiple_spaces_in_request_line_is_400():
    assert status_of(_req("INVITE  sip:user@example.com  SIP/2.0")) == 400


def test_trws_trailing_space_after_request_line_is_400():
    assert status_of(_req("OPTIONS sip:remote-target@example.com SIP/2.0  ")) == 400


def test_escruri_headers_in_request_uri_is_400():
    assert status_of(_req("INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0")) == 400


def test_baddate_unparsable_date_is_still_a_valid_message():
    # RFC 4475 §3.1.2.12: the Date value is wrong, the message is not; a proxy forwards it.
    m = ok(_req("INVITE sip:user@example.com SIP/2.0", "Date: Fri, 01 Jan 2010 16:00:00 EST"))
    assert m.get("date").endswith("EST")


def test_regbadct_addr_spec_with_uri_headers_is_400():
    assert status_of(_req("REGISTER sip:example.com SIP/2.0", "Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E")) == 400


def test_badaspec_spaces_inside_angle_brackets_are_tolerated():
    # RFC 4475 §3.1.2.14 allows either 400 or ignoring the spaces; phones send them.
    m = ok(_req("OPTIONS sip:user@example.org SIP/2.0", 'To: "Watson, Thomas" < sip:t.watson@example.org >'))
    assert str(m.to.uri) == "sip:t.watson@example.org"


def test_baddn_unquoted_non_token_display_name_is_400():
    assert status_of(_req("OPTIONS sip:t.watson@example.org SIP/2.0", "From: Bell, Alexander <sip:a.g.bell@example.com>;tag=43")) == 400


def test_badvers_unknown_sip_version_is_505():
    assert status_of(_req("OPTIONS sip:t.watson@example.org SIP/7.0", "Via: SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw")) == 505


def test_mismatch01_cseq_method_mismatch_is_400():
    assert status_of(_req("OPTIONS sip:user@example.com SIP/2.0", "CSeq: 8 INVITE")) == 400


def test_mismatch02_unknown_method_with_cseq_mismatch_is_400():
    # RFC 4475 §3.1.2.18 accepts 400 or 501; a proxy forwards unknown methods,
    # so what is wrong here is the mismatch: 400.
    assert status_of(_req("NEWMETHOD sip:user@example.com SIP/2.0", "CSeq: 8 INVITE")) == 400


def test_bigcode_overlarge_response_code_is_dropped():
    status_of(sip(
        "SIP/2.0 4294967301 better not break the receiver",
        "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe",
        "Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i",
        "CSeq: 353494 INVITE",
        "From: <sip:user@example.com>;tag=39ansfi3",
        "To: <sip:user@example.edu>;tag=902jndnke3",
    ))


# -- 3.2 transaction layer -----------------------------------------------------

def test_badbranch_branch_that_is_only_the_magic_cookie_parses():
    m = ok(_req("OPTIONS sip:user@example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK"))
    assert m.top_via.branch == "z9hG4bK"


# -- 3.3 application layer -----------------------------------------------------

def test_insuf_missing_required_header_fields_is_400():
    data = sip("INVITE sip:user@example.com SIP/2.0", "CSeq: 193942 INVITE", "Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf", "Content-Type: application/sdp", body=SDP)
    e = raises(RemoteProtocolError, lambda: parse_message(data).validate())
    assert e.status == 400 and "Missing" in e.reason


def test_unkscm_unknown_request_uri_scheme_is_416():
    assert status_of(_req("OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0")) == 416


def test_novelsc_known_but_atypical_scheme_is_416():
    assert status_of(_req("OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0")) == 416


def test_unksm2_unknown_schemes_in_header_fields_are_accepted():
    m = ok(_req("REGISTER sip:example.com SIP/2.0", "To: isbn:2983792873", "From: <http://www.example.com>;tag=3234233", "Contact: <name:John_Smith>"))
    assert m.to.uri.scheme == "isbn" and m.from_.uri.scheme == "http" and m.contacts[0].uri.scheme == "name"


def test_bext01_unknown_proxy_require_is_420_with_unsupported():
    m = ok(_req("OPTIONS sip:user@example.com SIP/2.0", "Require: nothingSupportedHere", "Proxy-Require: noProxiesSupportThis, nothingSupportedHere"))
    e = raises(RemoteProtocolError, check_request, m, ("path",))
    assert e.status == 420
    assert e.headers == (("unsupported", "noproxiessupportthis, nothingsupportedhere"),)
    answer = error_response(m.raw, e)
    assert b"\r\nUnsupported: noproxiessupportthis, nothingsupportedhere\r\n" in answer


def test_invut_unknown_content_type_is_forwarded_unchanged():
    m = ok(_req("INVITE sip:user@example.com SIP/2.0", "Content-Type: application/unknownformat", body="<audio> <pcmu port=\"443\"/> </audio>\r\n"))
    assert m.content_type == "application/unknownformat" and m.sdp() is None


def test_regaut01_unknown_authorization_scheme_parses():
    m = ok(_req("REGISTER sip:example.com SIP/2.0", "Authorization: NoOneKnowsThisScheme opaque-data=here"))
    a = m.auth("authorization")[0]
    assert a.scheme == "NoOneKnowsThisScheme" and a.get("opaque-data") == "here"


def test_multi01_repeated_single_value_fields_are_400():
    e = raises(RemoteProtocolError, lambda: parse_message(_req("INVITE sip:user@company.com SIP/2.0", "Call-ID: a", "Call-ID: b")).validate())
    assert e.status == 400 and e.reason == "Multiple Call-ID header fields"
    data = sip(
        "INVITE sip:user@company.com SIP/2.0",
        "Contact: <sip:caller@host25.example.net>",
        "Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKunique",
        "Max-Forwards: 70",
        "CSeq: 5 INVITE",
        "Call-ID: multi01.98asdh@192.0.2.1",
        "CSeq: 59 INVITE",
        "Call-ID: multi01.98asdh@192.0.2.2",
        "From: sip:caller@example.com;tag=3413415",
        "To: sip:user@example.com",
        "To: sip:other@example.net",
        "From: sip:caller@example.net;tag=2923420123",
    )
    assert status_of(data) == 400


def test_mcl01_multiple_content_length_values_is_400():
    data = _req("OPTIONS sip:user@example.com SIP/2.0", "Content-Length: 0", cl=193)
    assert status_of(data) == 400


def test_bcast_response_with_broadcast_via_parses():
    m = ok(sip(
        "SIP/2.0 200 OK",
        "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923",
        "Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23",
        "Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf",
        "CSeq: 35 INVITE",
        "From: sip:user@example.com;tag=11141343",
        "To: sip:user@example.edu;tag=2229",
    ))
    assert m.vias[1].host == "255.255.255.255"


def test_zeromf_max_forwards_zero_is_483_unless_for_us():
    m = ok(_req("OPTIONS sip:user@example.com SIP/2.0", "Max-Forwards: 0"))
    assert remote_status(check_request, m) == 483
    check_request(m, (), True)  # an OPTIONS to the router itself is answered


def test_cparam01_params_after_addr_spec_belong_to_the_header():
    m = ok(_req("REGISTER sip:example.com SIP/2.0", "Contact: sip:+19725552222@gw1.example.net;unknownparam"))
    c = m.contacts[0]
    assert c.uri.params == [] and c.has_param("unknownparam")


def test_cparam02_params_inside_angle_brackets_belong_to_the_uri():
    m = ok(_req("REGISTER sip:example.com SIP/2.0", "Contact: <sip:+19725552222@gw1.example.net;unknownparam>"))
    c = m.contacts[0]
    assert c.uri.has_param("unknownparam") and not c.has_param("unknownparam")


def test_regescrt_escaped_header_in_contact_uri():
    m = ok(_req("REGISTER sip:example.com SIP/2.0", "Contact: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>"))
    (name, value), = m.contacts[0].uri.headers
    assert name == "Route" and unescape(value) == b"<sip:sip.example.com>"


def test_sdp01_unacceptable_accept_is_still_valid():
    m = ok(_req("INVITE sip:user@example.com SIP/2.0", "Accept: text/nobodyKnowsThis", "Content-Type: application/sdp", body=SDP))
    assert [f.text for f in m.fields("accept")] == ["text/nobodyKnowsThis"]


# -- 3.4 backward compatibility -------------------------------------------------

def test_inv2543_rfc2543_syntax_without_branch_or_tags():
    m = ok(sip(
        "INVITE sip:UserB@example.com SIP/2.0",
        "Via: SIP/2.0/UDP iftgw.example.com",
        "From: <sip:+13035551111@ift.client.example.net;user=phone>",
        "Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>",
        "To: sip:+16505552222@ss1.example.net;user=phone",
        "Call-ID: inv2543.1717@ift.client.example.com",
        "CSeq: 56 INVITE",
        "Content-Type: application/sdp",
        body=SDP,
    ))
    assert m.top_via.branch is None and m.from_.tag is None and m.max_forwards is None
    assert m.to.param("user") == "phone" and m.to.uri.params == []  # addr-spec: a header param


# -- RFC 5118 IPv6 -------------------------------------------------------------

def test_ipv6_in_request_uri_via_and_contact():
    m = ok(_req(
        "REGISTER sip:[2001:db8::10]:5070 SIP/2.0",
        "Via: SIP/2.0/UDP [2001:db8::9:1]:5060;branch=z9hG4bKas3-111;received=2001:db8::9:255",
        "Contact: \"Caller\" <sip:caller@[2001:db8::1]>",
    ))
    assert m.uri.host == "[2001:db8::10]" and m.uri.port == 5070
    assert m.top_via.host == "[2001:db8::9:1]" and m.top_via.received == "2001:db8::9:255"
    assert m.contacts[0].uri.host == "[2001:db8::1]"


def test_ipv6_unterminated_reference_is_400():
    assert status_of(_req("REGISTER sip:[2001:db8::10 SIP/2.0")) == 400


def test_ipv6_port_inside_brackets_is_an_address_not_a_port():
    m = ok(_req("REGISTER sip:[2001:db8::10:5070] SIP/2.0"))
    assert m.uri.host == "[2001:db8::10:5070]" and m.uri.port is None
