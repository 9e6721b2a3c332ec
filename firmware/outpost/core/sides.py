"""Who is who, for the proxy's decisions (sans-I/O).

Rules of this file:
- A host is *trusted* when it is inside `sip.trusted_networks`, lan0's
  network or loopback: without users, only they may register or relay.
- A *stranger* is owed one answer and nothing more: with an upstream, any
  WAN host but a configured peer; without one, any untrusted host.
- *Outside* means beyond the site where the router knows its sides (an
  upstream, or lan0 in the config): a dialog's requests from outside reach
  only the site's phones (`inside`).
- Once the router stands between a LAN and the internet, some places are
  never a destination (`forbidden`): loopback, multicast, unspecified,
  IPv6 (the ALG and the ruleset are IPv4 only), the router itself. A lab
  proxy on loopback, with neither upstream nor lan0, may send anywhere.
Built anew by the proxy with each config (`Proxy.set_config`).
"""

from .addr import ipv4, is_unicast
from .auth import within


class Sides:
    def __init__(self, config, relay, own):
        self.config = config
        self.relay = relay
        self.own = own  # the router's own addresses (text)

    def trusted(self, host):
        return within(host, self.config.trusted)

    def stranger(self, host):
        if self.relay is not None:
            return self.relay.side(host) == "wan" and not self.relay.is_peer(host)
        return not self.trusted(host)

    def outside(self, host):
        if self.relay is not None:
            return self.stranger(host)
        return self.config.outside is not None and not self.trusted(host) and not self.on_lan(host)

    def on_lan(self, host):
        """Inside lan0's networks, without an upstream (`config.outside`)."""
        out = self.config.outside
        return out is not None and within(host, out[0])

    def inside(self, uri, now):
        """Is this Request-URI a phone of the site (a contact token of ours,
        a LAN address, a trusted network)?"""
        if not uri.is_sip:
            return False
        host = uri.host.strip("[]")
        if self.relay is not None and (self.relay.resolve(uri, now) is not None or self.relay.side(host) == "lan"):
            return True
        return self.trusted(host)

    def forbidden(self, dest):
        if self.relay is None and self.config.outside is None:
            return False
        if ":" in dest[1]:
            return True
        a = ipv4(dest[1])
        return a is not None and (not is_unicast(a) or str(a) in self.own)
