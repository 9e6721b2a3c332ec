"""A TCP peer trickling a message a byte at a time made the framer copy its
whole buffer for every byte (quadratic in the message: about 2 GB of
copying for one 64 KB header). Held chunks are now joined once, when they
can finish a header or a body; this checks the work done, not the time."""

from outpost.core.framer import StreamFramer

MSG = b"INVITE sip:a@b SIP/2.0\r\nX-Pad: " + b"a" * 60000 + b"\r\nContent-Length: 5\r\n\r\nhello"



def test_a_trickled_message_is_joined_once_not_per_byte():
    f = StreamFramer()
    joins = 0
    out = []
    last = None
    for i in range(len(MSG)):
        out += f.feed(MSG[i:i + 1])
        if f._buf is not last:
            joins += 1
            last = f._buf
    assert out == [MSG] and f.pending() == 0
    assert joins <= 8, joins  # the first byte, the header's end, the body's end (and the reset)


def test_pings_between_messages_are_still_answered_at_once():
    f = StreamFramer()
    assert f.feed(b"\r\n\r\n") == [b"\r\n\r\n"]
    assert f.feed(MSG[:10]) == [] and f.feed(MSG[10:]) == [MSG]
