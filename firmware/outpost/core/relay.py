"""The signalling half of the SIP ALG: phones on the LAN, their server on
the WAN, the router between them (sans-I/O).

Rules of this file:
- A side is where an address lives: "lan" inside lan0's networks, "wan"
  everywhere else (the upstream, the internet). A message "crosses" when
  it arrives on one side and leaves on the other.
- Nothing that leaves on the WAN names a LAN address: the phones' Vias are
  kept here and put back on the responses (only the router's Via goes
  upstream), their Contacts become the router's WAN address with a token
  (`;oc=`), a LAN address inside a Call-ID becomes a token too, and the
  SDP is rewritten by MediaAlg, and the router's Record-Route names its
  address on the side the message goes to. Messages coming in are
  mapped back.
- Tokens are a keyed hash of what they stand for, so they are the same
  after a restart (bindings are restored from disk) and need no counter.
- A REGISTER is relayed upstream; the router learns the binding only from
  upstream's 2xx, never from the request alone.
Bounds: MAX_CONTACTS mapped contacts, MAX_HOSTS hosts in Call-IDs; at the
bound the least recently used entry goes (a call that old has ended, or
its phone re-registers and maps again).
"""

import binascii

from .compat import sha256
from .alg import MediaAlg
from .auth import ipv4_int
from .location import Binding
from .uri import URI, parse_uri

MAX_CONTACTS = 4096
MAX_HOSTS = 1024
CONTACT_PARAM = "oc"
CALLID_MARK = "opx"  # "opx" + 8 hex digits stands for a LAN host in a Call-ID


class RelayConfig:
    def __init__(self, lan_networks, lan_address, wan_address, upstream, port=5060):
        self.lan_networks = lan_networks  # [(network, mask)]
        self.lan_address = lan_address  # ours on lan0: Via and Record-Route towards phones
        self.wan_address = wan_address  # ours on wan0: what upstream sees
        self.upstream = upstream  # (transport, host, port, None): where relayed requests go
        self.port = port
        # Addresses on the WAN that may start dialogs with the phones: the
        # upstream (the runtime adds what a host name resolves to).
        self.peers = set(h for h in (upstream[1],) if ipv4_int(h) is not None)


class Relay:
    def __init__(self, config, secret, media=None):
        self.config = config
        self.secret = secret
        self.media = media if media is not None else MediaAlg(config.wan_address)
        self.contacts = {}  # token -> [contact text, source, last used ms]
        self.hosts = {}  # token -> LAN host text found in Call-IDs

    def set_config(self, config):
        self.config = config
        self.media.wan = config.wan_address

    # -- sides -----------------------------------------------------------------

    def side(self, host):
        n = ipv4_int(host)
        if n is not None:
            for net, mask in self.config.lan_networks:
                if n & mask == net:
                    return "lan"
        return "wan"

    def is_peer(self, host):
        return host in self.config.peers

    def address(self, side):
        return self.config.wan_address if side == "wan" else self.config.lan_address

    # -- tokens ------------------------------------------------------------------

    def token(self, text, n=10):
        return binascii.hexlify(sha256(self.secret + text.encode()).digest()).decode()[:n]

    def remember(self, contact, source, now):
        tok = self.token(contact)
        entry = self.contacts.get(tok)
        if entry is None:
            if len(self.contacts) >= MAX_CONTACTS:
                _evict(self.contacts, 2)
            self.contacts[tok] = [contact, source, now]
        else:
            entry[1], entry[2] = source, now
        return tok

    def resolve(self, uri, now):
        """The phone's (contact text, source) behind a WAN contact of ours, or None."""
        tok = uri.param(CONTACT_PARAM) if uri.is_sip else None
        entry = self.contacts.get(tok) if tok else None
        if entry is None:
            return None
        entry[2] = now
        return entry[0], entry[1]

    def wan_contact(self, uri, tok):
        transport = self.config.upstream[0]
        params = [(CONTACT_PARAM, tok)]
        if transport != "udp":
            params.insert(0, ("transport", transport))
        return URI("sip", uri.user, None, self.config.wan_address, self.config.port).with_params(add=params)

    # -- Call-IDs -------------------------------------------------------------------

    def call_id_out(self, cid):
        """A Call-ID as upstream may see it: LAN addresses in it replaced."""
        at = cid.rfind("@")
        host = cid[at + 1:] if at >= 0 else ""
        if not host or self.side(host) != "lan" or ipv4_int(host) is None:
            return cid
        tok = self.token(host, 8)
        if tok not in self.hosts:
            if len(self.hosts) >= MAX_HOSTS:
                self.hosts.pop(next(iter(self.hosts)))
            self.hosts[tok] = host
        return cid[:at + 1] + CALLID_MARK + tok

    def call_id_in(self, cid):
        """A Call-ID as the phone knows it (the inverse of call_id_out)."""
        i = cid.rfind("@" + CALLID_MARK)
        if i < 0:
            return cid
        host = self.hosts.get(cid[i + 1 + len(CALLID_MARK):])
        return cid if host is None else cid[:i + 1] + host

    # -- messages crossing ---------------------------------------------------------------

    def to_wan(self, msg, source, now, key):
        """A request or response from the LAN about to leave on the WAN."""
        for c in msg.contacts:
            if not c.star and c.uri.is_sip and self.side(c.uri.host.strip("[]")) == "lan":
                msg.set_uri(c, self.wan_contact(c.uri, self.remember(str(c.uri), source, now)))
        _set_call_id(msg, self.call_id_out(msg.call_id))
        self.media.from_lan(msg, key)

    def to_lan(self, msg, key):
        """A request or response from the WAN about to leave on the LAN."""
        _set_call_id(msg, self.call_id_in(msg.call_id))
        self.media.from_wan(msg, key)

    def key(self, msg, phone):
        """The media table's key for this call leg: the Call-ID as the phone
        knows it, and the phone (transport, host, port, flow). Two phones of
        this site calling each other through a proxy upstream share one
        Call-ID: each is a leg of its own here."""
        return "%s|%s:%d" % (self.call_id_in(msg.call_id), phone[1], phone[2])

    # -- registrations ---------------------------------------------------------------

    def register_out(self, msg):
        """A phone's REGISTER leaving for upstream: {token: contact} it asks for."""
        asked = {}
        for c in msg.contacts:
            if not c.star and c.uri.is_sip:
                text = str(c.uri)
                asked[self.token(text)] = (text, c.expires)
        return asked

    def register_answered(self, resp, ctx, location, now):
        """Upstream's final answer to a relayed REGISTER: learn the phone's
        bindings from a 2xx only, and show the phone its own Contacts."""
        info = ctx.relay
        if info is None or not 200 <= resp.status < 300:
            return []
        aor, asked, source, call_id, cseq, ua = info
        header_expires = resp.expires
        changed = []
        listed = set()
        for c in resp.contacts:
            if c.star or not c.uri.is_sip:
                continue
            tok = c.uri.param(CONTACT_PARAM)
            entry = self.contacts.get(tok) if tok else None
            if entry is None:
                continue
            resp.set_uri(c, parse_uri(entry[0], "Contact"))
            if tok not in asked:
                continue  # another phone of the same AOR: shown, already known
            listed.add(tok)
            expires = c.expires if c.expires is not None else header_expires
            if expires is None:
                expires = asked[tok][1] if asked[tok][1] is not None else 3600
            if expires > 0:
                b = Binding(aor, entry[0], now + expires * 1000, c.q, call_id, cseq, source, ua)
                location.put(b)
                changed.append(("binding", b))
        for tok in asked:
            if tok not in listed:
                gone = location.remove(aor, parse_uri(asked[tok][0], "Contact"))
                if gone is not None:
                    changed.append(("expired", gone))
        return changed

    def restore(self, location, now):
        """Bindings restored from disk: their tokens map again."""
        for b in location.all():
            if self.side(b.source[1]) == "lan":
                self.remember(b.contact, b.source, now)


def _set_call_id(msg, cid):
    if cid != msg.call_id:
        msg.replace_field(msg.fields("call-id")[0], cid)


def _evict(table, at):
    """Drop the least recently used entry (index `at` holds the time)."""
    oldest = None
    for k in table:
        if oldest is None or table[k][at] < table[oldest][at]:
            oldest = k
    if oldest is not None:
        del table[oldest]
