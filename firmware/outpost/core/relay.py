"""The signalling half of the SIP ALG: phones on the LAN, their server on
the WAN, the router between them (sans-I/O).

Rules of this file:
- A side is where an address lives: "lan" inside lan0's networks, "wan"
  everywhere else (the upstream, the internet). A message "crosses" when
  it arrives on one side and leaves on the other.
- Nothing that leaves on the WAN names a LAN address: the phones' Vias are
  kept here and put back on the responses (only the router's Via goes
  upstream), their Contacts (and a Refer-To naming a phone) become the
  router's WAN address with a token (`;oc=`), a LAN address anywhere in a
  Call-ID (with its port) becomes a token too, a LAN host in From or To
  becomes the WAN address, the SDP is rewritten by MediaAlg, and the
  router's Record-Route names its address on the side the message goes
  to. Any other header field that still names a LAN address is dropped.
  Messages coming in are mapped back.
- Tokens are a keyed hash of what they stand for, so they are the same
  after a restart (bindings are restored from disk) and need no counter.
- A REGISTER is relayed upstream; the router learns the binding only from
  upstream's 2xx, never from the request alone.
Bounds: MAX_CONTACTS mapped contacts, MAX_HOSTS hosts in Call-IDs; at the
bound the least recently used entry goes (a call that old has ended, or
its phone re-registers and maps again).
"""

import binascii

from .events import BindingChanged, BindingExpired
from .compat import sha256
from .alg import MediaAlg
from .addr import ipv4, runs_naming
from . import leaks
from .auth import ipv4_int, within
from .errors import RemoteProtocolError
from .bounded import SourceTable
from .location import Binding
from .uri import URI, parse_uri

MAX_CONTACTS = 4096
MAX_HOSTS = 1024
# A phone registers one or two contacts and puts its own address in its
# Call-IDs; a host needing more is churning the tables for everyone else.
CONTACTS_PER_SOURCE = 32
HOSTS_PER_SOURCE = 16
CONTACT_PARAM = "oc"
CALLID_MARK = "opx"  # "opx" + 8 hex digits stands for a LAN host[:port] in a Call-ID


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
        # Header fields passed to the WAN beyond leaks.KNOWN (lower case).
        self.pass_headers = frozenset()
        # LAN hosts whose SDP may name another LAN host (alg.MediaAlg.gateways).
        self.media_gateways = frozenset()


class Relay:
    def __init__(self, config, secret, media=None):
        self.config = config
        self.secret = secret
        self.media = media if media is not None else MediaAlg(config.wan_address)
        self.contacts = SourceTable(MAX_CONTACTS, CONTACTS_PER_SOURCE)  # token -> (contact text, source)
        self.hosts = SourceTable(MAX_HOSTS, HOSTS_PER_SOURCE)  # token -> LAN host[:port] text found in Call-IDs
        self.set_config(config)

    def set_config(self, config):
        self.config = config
        m = self.media
        m.set_wan(config.wan_address)
        m.lan_networks = config.lan_networks
        m.own = set(a for a in (ipv4(config.lan_address or ""), ipv4(config.wan_address or "")) if a is not None)
        m.exempt = config.peers
        m.gateways = config.media_gateways

    def names_lan(self, text):
        """Does `text` name a LAN address, percent-encoded or not?"""
        return leaks.names(text, self.config.lan_networks)

    # -- sides -----------------------------------------------------------------

    def side(self, host):
        return "lan" if within(host, self.config.lan_networks) else "wan"

    def is_peer(self, host):
        return host in self.config.peers

    def address(self, side):
        return self.config.wan_address if side == "wan" else self.config.lan_address

    # -- tokens ------------------------------------------------------------------

    def token(self, text, n=10):
        return binascii.hexlify(sha256(self.secret + text.encode()).digest()).decode()[:n]

    def contact_token(self, contact, source):
        """A contact's token is bound to the host it came from: another LAN
        host sending the same Contact text gets a token of its own and can
        never take over this one's entry (its source, its TCP flow)."""
        return self.token(contact + "|" + source[1])

    def remember(self, contact, source, now):
        tok = self.contact_token(contact, source)
        self.contacts.put(tok, (contact, source), source[1], now)
        return tok

    def resolve(self, uri, now):
        """The phone's (contact text, source) behind a WAN contact of ours, or None."""
        tok = uri.param(CONTACT_PARAM) if uri.is_sip else None
        return self.contacts.get(tok, now) if tok else None

    def wan_contact(self, uri, tok):
        transport = self.config.upstream[0]
        params = [(CONTACT_PARAM, tok)]
        if transport != "udp":
            params.insert(0, ("transport", transport))
        user = uri.user if uri.user and not self.names_lan(uri.user) else None
        return URI("sip", user, None, self.config.wan_address, self.config.port).with_params(add=params)

    # -- Call-IDs -------------------------------------------------------------------

    def call_id_wan(self, cid):
        """The Call-ID as upstream sees it: every LAN address in it (with its
        port) a token. The same text always gives the same Call-ID."""
        runs = runs_naming(cid, self.config.lan_networks)
        if not runs:
            return cid, ()
        out, last, hidden = [], 0, []
        for a, b in runs:
            tok = self.token(cid[a:b], 8)
            hidden.append((tok, cid[a:b]))
            out.append(cid[last:a] + CALLID_MARK + tok)
            last = b
        return "".join(out) + cid[last:], hidden

    def call_id_out(self, cid, source=None, now=0):
        """A Call-ID as upstream may see it, remembering how to map it back
        (the entry counts against `source`'s share)."""
        out, hidden = self.call_id_wan(cid)
        for tok, text in hidden:
            self.hosts.put(tok, text, source[1] if source else None, now)
        return out

    def call_id_in(self, cid):
        """A Call-ID as the phone knows it (the inverse of call_id_out)."""
        i = cid.find(CALLID_MARK)
        if i < 0:
            return cid
        out, last = [], 0
        while i >= 0:
            text = self.hosts.get(cid[i + 3:i + 11])
            if text is not None:
                out.append(cid[last:i] + text)
                last = i + 11
            i = cid.find(CALLID_MARK, i + 3)
        return "".join(out) + cid[last:]

    # -- messages crossing ---------------------------------------------------------------

    def to_wan(self, msg, source, now, key, create=True):
        """A request or response from the LAN about to leave on the WAN.
        `create`: it may start a media session (an INVITE or its answer)."""
        nets = self.config.lan_networks
        if msg.body[:4] == b"v=0\r" or msg.body[:4] == b"v=0\n":
            if msg.content_type != "application/sdp":  # SDP under another name would pass unrewritten
                raise RemoteProtocolError(415, "Unsupported Media Type (SDP labelled %s)" % msg.content_type)
        if msg.is_request and self.names_lan(str(msg.uri)):
            raise RemoteProtocolError(404, "Not Found (a LAN address is not reached through the upstream)")
        for c in msg.contacts:
            if c.star:
                continue
            if c.uri.is_sip and (self.side(c.uri.host.strip("[]")) == "lan" or self.names_lan(str(c.uri))):
                msg.set_uri(c, self.wan_contact(c.uri, self.remember(str(c.uri), source, now)))
            elif c.uri.is_sip and c.uri.has_param("gr"):
                # A GRUU (RFC 5627, linphone's dialog Contact): upstream sends
                # the ACK and BYE to it by name, which only the phone behind
                # this router answers. Our contact for the phone's own address
                # (where it sent from) takes its place.
                phone = URI("sip", c.uri.user, None, source[1], source[2])
                if source[0] != "udp":
                    phone = phone.with_params(add=[("transport", source[0])])
                msg.set_uri(c, self.wan_contact(c.uri, self.remember(str(phone), source, now)))
            elif self.names_lan(str(c.uri)):
                raise RemoteProtocolError(400, "Bad Request (Contact names a LAN address)")
            leaks.contact_params(msg, c, nets)
        leaks.party(msg, msg.from_, nets, self.config.wan_address)
        leaks.party(msg, msg.to, nets, self.config.wan_address)
        for f in msg.fields("refer-to"):
            self._refer_to_wan(msg, f, source, now)
        _set_call_id(msg, self.call_id_out(msg.call_id, source, now))
        leaks.sweep(msg, nets, self.config.pass_headers)
        self.media.from_lan(msg, key, create, source[1])

    def _refer_to_wan(self, msg, f, source, now):
        """A transfer target that is a phone of the site becomes our WAN
        contact for it; one still naming the LAN after that is dropped."""
        text = f.text
        lt, gt = text.find("<"), text.rfind(">")
        new = None
        if 0 <= lt < gt:
            try:
                uri = parse_uri(text[lt + 1:gt], "Refer-To")
            except RemoteProtocolError:
                uri = None
            if uri is not None and uri.is_sip and self.side(uri.host.strip("[]")) == "lan":
                plain = uri.copy(params=[p for p in uri.params if p.name.lower() != "maddr"], headers=[])
                tok = self.remember(str(plain), source, now)
                headers = [(n, self._replaces_wan(v, source, now) if n.lower() == "replaces" else v) for n, v in uri.headers]
                uri = uri.copy(host=self.config.wan_address, port=self.config.port, headers=headers).with_params(add=[(CONTACT_PARAM, tok)])
                new = text[:lt + 1] + str(uri) + text[gt:]
        if self.names_lan(new or text):
            msg.remove_field(f)
        elif new is not None:
            msg.replace_field(f, new)

    def _replaces_wan(self, value, source, now):
        """Replaces=<call-id>;to-tag=..;from-tag=.. (RFC 3891, escaped in a
        URI): the dialog named as upstream knows it, by its WAN Call-ID."""
        text = leaks.unescape(value)
        cid, semi, rest = text.partition(";")
        return leaks.escape(self.call_id_out(cid, source, now) + semi + rest)

    def to_lan(self, msg, key, create=True, owner=None, phone=None):
        """A request or response from the WAN about to leave on the LAN
        (`owner`: the WAN host a new media session counts against; `phone`:
        the LAN host it goes to)."""
        _set_call_id(msg, self.call_id_in(msg.call_id))
        self.media.from_wan(msg, key, create, owner, phone)

    def key(self, msg, phone):
        """The media table's key for this call leg: the Call-ID as the phone
        knows it, and the phone (transport, host, port, flow). Two phones of
        this site calling each other through a proxy upstream share one
        Call-ID: each is a leg of its own here."""
        return "%s|%s:%d" % (self.call_id_in(msg.call_id), phone[1], phone[2])

    @staticmethod
    def call_id_plain(key):
        """The Call-ID in a media table key, as the phone knows it."""
        return key.split("|", 1)[0]

    # -- registrations ---------------------------------------------------------------

    def register_out(self, msg, source):
        """A phone's REGISTER leaving for upstream: {token: contact} it asks for."""
        asked = {}
        for c in msg.contacts:
            if not c.star and c.uri.is_sip:
                text = str(c.uri)
                asked[self.contact_token(text, source)] = (text, c.expires)
        return asked

    def register_answered(self, resp, info, location, now):
        """Upstream's final answer to a relayed REGISTER (`info`, a
        RelayedRegister): learn the phone's bindings from a 2xx only, and
        show the phone its own Contacts."""
        if info is None or not 200 <= resp.status < 300:
            return []
        aor, asked, source, call_id, cseq, ua = info.aor, info.asked, info.source, info.call_id, info.cseq, info.user_agent
        header_expires = resp.expires
        changed = []
        listed = set()
        for c in resp.contacts:
            if c.star or not c.uri.is_sip:
                continue
            tok = c.uri.param(CONTACT_PARAM)
            entry = self.contacts.get(tok) if tok else None
            if entry is None:
                continue  # (contact text, source)
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
                changed.append(BindingChanged(b))
        for tok in asked:
            if tok not in listed:
                gone = location.remove(aor, parse_uri(asked[tok][0], "Contact"))
                if gone is not None:
                    changed.append(BindingExpired(gone))
        return changed

    def restore(self, location, now):
        """Bindings restored from disk: their tokens map again."""
        for b in location.all():
            if self.side(b.source[1]) == "lan":
                self.remember(b.contact, b.source, now)


def _set_call_id(msg, cid):
    if cid != msg.call_id:
        msg.replace_field(msg.fields("call-id")[0], cid)

