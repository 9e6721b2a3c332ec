"""The TCP framer: Content-Length framing, keep-alives, bounds."""

from support import sip, raises, invite
from corpus import VALID
from outpost.core.framer import StreamFramer, KEEPALIVE
from outpost.core.errors import RemoteProtocolError
from outpost.core.response import error_response
from outpost.core import limits


def feed_bytewise(data):
    f = StreamFramer()
    out = []
    for i in range(len(data)):
        out += f.feed(data[i:i + 1])
    return out, f.pending()


def framed():
    return [m for m in VALID if b"Content-Length" in m and b"\n\n" not in m]


def test_back_to_back_messages_in_one_chunk():
    msgs = framed()
    assert StreamFramer().feed(b"".join(msgs)) == msgs


def test_split_at_every_byte_gives_the_same_messages():
    stream = KEEPALIVE + b"\r\n".join(framed()) + KEEPALIVE
    whole = StreamFramer().feed(stream)
    assert whole[0] == KEEPALIVE and whole[-1] == KEEPALIVE
    assert feed_bytewise(stream) == (whole, 0)


def test_every_two_way_split_gives_the_same_messages():
    stream = invite() + KEEPALIVE + VALID[1]
    whole = StreamFramer().feed(stream)
    for cut in range(len(stream) + 1):
        f = StreamFramer()
        assert f.feed(stream[:cut]) + f.feed(stream[cut:]) == whole, cut


def test_incomplete_message_is_held():
    f = StreamFramer()
    data = invite()
    assert f.feed(data[:-5]) == [] and f.pending() == len(data) - 5
    assert f.feed(data[-5:]) == [data]


def test_missing_content_length_is_400_and_answerable():
    data = sip("OPTIONS sip:a@b SIP/2.0", "Via: SIP/2.0/TCP h;branch=z9hG4bK1", "From: <sip:a@b>;tag=1", "To: <sip:c@d>", "Call-ID: x", "CSeq: 1 OPTIONS", cl=False)
    f = StreamFramer()
    e = raises(RemoteProtocolError, f.feed, data)
    assert e.status == 400 and e.reason == "Missing Content-Length"
    assert error_response(data, e).startswith(b"SIP/2.0 400 Missing Content-Length\r\n")
    assert raises(RemoteProtocolError, f.feed, b"more") is e  # the stream is dead


def test_bounds():
    e = raises(RemoteProtocolError, StreamFramer().feed, b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * (limits.MAX_MESSAGE_BYTES // 6 + 1))
    assert e.status == 513
    e = raises(RemoteProtocolError, StreamFramer().feed, sip("OPTIONS sip:a@b SIP/2.0", "Via: SIP/2.0/TCP h", cl=limits.MAX_BODY_BYTES + 1))
    assert e.status == 413
    for cl in ("-1", "abc", "1 2"):
        assert raises(RemoteProtocolError, StreamFramer().feed, sip("OPTIONS sip:a@b SIP/2.0", "Via: SIP/2.0/TCP h", cl=cl)).status == 400
    assert raises(RemoteProtocolError, StreamFramer().feed, sip("OPTIONS sip:a@b SIP/2.0", "l: 0", "Content-Length: 0", cl=False)).status == 400
