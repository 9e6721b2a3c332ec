"""Proof that a request belongs to a dialog this router is in (sans-I/O).

Rules of this file:
- Every Record-Route the router inserts carries `;ot=<token>`: an HMAC,
  with the router's secret, of the side of the router the route names
  ("lan", "wan", or "any" without an upstream), the side requests reaching
  it go on to (a call between two phones of the LAN never leads to the
  WAN), the dialog's Call-ID as the WAN side sees it, and the tag of the
  side that created the dialog (the initial request's From tag).
- A request is in one of the router's dialogs only when every Route it
  popped as "us" carries a token that verifies for that request's Call-ID
  and one of its two tags, and the request has a To tag. A Route naming the
  router without a token (a phone's outbound proxy setting) is just us:
  it proves nothing.
- So a far end controls requests of its own call only (it knows that
  call's token and nothing else), and a stranger cannot make up a dialog.
Tokens are 16 hex digits (64 bits): guessing one takes 2**63 tries.
"""

import binascii

from .auth import HmacSha256
from .digest import equal

PARAM = "ot"
LENGTH = 16


class DialogTokens:
    def __init__(self, secret):
        self._mac = HmacSha256(b"dialog|" + secret)

    def make(self, side, call_id, tag):
        """side: "<the route's side>><the side it leads to>"."""
        text = "%s|%s|%s" % (side, call_id, tag or "")
        return binascii.hexlify(self._mac.digest(text.encode())).decode()[:LENGTH]

    def verify(self, token, side, call_id, tags):
        """Does `token` prove (side, call_id, one of tags)?"""
        if not token or len(token) != LENGTH:
            return False
        for tag in tags:
            if tag is not None and equal(self.make(side, call_id, tag), token):
                return True
        return False


    # -- the router's use of them (relay: the ALG's Relay, or None) ------------

    def record_route(self, host, port, transport, call_id, tag, relay, toward):
        """Our Record-Route URI for the side `host` is on, leading `toward`
        a side, with the dialog's token."""
        tp = "" if transport == "udp" else ";transport=" + transport
        tok = self.make(_side(host, relay) + ">" + toward, _call_id(call_id, relay), tag)
        return "sip:%s:%d;lr%s;%s=%s" % (host, port, tp, PARAM, tok)

    def proves(self, uri, req, relay, toward):
        """Does this Route (or Request-URI) of ours prove req's dialog, for
        a request going on `toward` a side?"""
        side = _side(uri.host, relay) + ">" + toward
        return self.verify(uri.param(PARAM), side, _call_id(req.call_id, relay), (req.from_.tag, req.to.tag))


def side_of(host, relay):
    return "any" if relay is None else relay.side(host.strip("[]"))


_side = side_of


def _call_id(cid, relay):
    """The Call-ID a token is made with: as the WAN side sees it, so both
    sides of a crossing dialog prove the same token."""
    return cid if relay is None else relay.call_id_wan(cid)[0]
