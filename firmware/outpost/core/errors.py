"""Whose fault it is (after h11): the peer's, or the caller's.

RemoteProtocolError: the peer sent something we cannot accept. It carries
the SIP status a server should answer with (400, 413, 414, 416, 505, 513)
and a reason phrase naming what is wrong. Whether it *can* be answered
(it cannot when the offending message is a response, or has no Via) is
decided by `message.error_response()`.

LocalProtocolError: our own code misused the API (edits that overlap, a
non-bytes buffer). It is a bug, never something a peer can trigger.

Refused: neither: the router declines for its own reasons, a bound reached
(calls, a source's share of them, media ports) or a state it is in (no WAN
address yet). Answered with its status like a RemoteProtocolError, but
counted as overload, never as the peer's malformed message.
"""


class RemoteProtocolError(Exception):
    def __init__(self, status, reason, headers=()):
        super().__init__("%d %s" % (status, reason))
        self.status = status
        self.reason = reason
        # Extra header fields the answer must carry, e.g. 420's Unsupported.
        self.headers = headers
        # For stream errors: the header section received, so it can be
        # answered, and the messages framed before it in the same chunk.
        self.message = None
        self.framed = ()


class LocalProtocolError(Exception):
    pass


class Refused(Exception):
    def __init__(self, status, reason, headers=()):
        super().__init__("%d %s" % (status, reason))
        self.status = status
        self.reason = reason
        self.headers = headers


def bad(reason, status=400):
    """Shorthand used by every parser: `raise bad("Malformed CSeq")`."""
    return RemoteProtocolError(status, reason)
