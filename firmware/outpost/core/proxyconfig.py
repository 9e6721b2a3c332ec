"""What the proxy is told (sans-I/O): its domain, listeners, secret,
credentials, bounds and timers, and where it relays. Built by the runtime
(runtime/config.py proxy_config) from the site's configuration and handed
to Proxy(config) or Proxy.set_config(config); every default comes from
core/defaults.py.
"""

from . import defaults


class ProxyConfig:
    def __init__(self, domain, listen, secret, authenticator=None, registrar_policy=None, t1=defaults.T1, t2=defaults.T2,
                 t4=defaults.T4, max_transactions=defaults.MAX_TRANSACTIONS, max_bindings=defaults.MAX_BINDINGS,
                 max_per_aor=defaults.MAX_PER_AOR, rate=defaults.RATE, burst=defaults.BURST, max_sources=defaults.MAX_SOURCES):
        self.domain = domain.lower()
        self.listen = listen  # {"udp": (host, port), "tcp": (host, port)}
        self.secret = secret
        self.authenticator = authenticator
        self.registrar_policy = registrar_policy
        self.t1, self.t2, self.t4 = t1, t2, t4
        self.timer_c = defaults.TIMER_C
        self.max_transactions = max_transactions
        self.max_bindings = max_bindings
        self.max_per_aor = max_per_aor
        self.rate = rate
        self.burst = burst
        self.max_sources = max_sources
        self.auth_invite = True  # challenge INVITE & co. from our own users (407)
        self.aliases = []  # more (host, port) that are this router (a wildcard listener's addresses)
        # Without users, REGISTER and relaying are accepted only from these
        # [(network, mask)] (the LAN and loopback): a fresh router is no open
        # registrar or relay for whoever reaches its WAN address.
        self.trusted = [(0x7F000000, 0xFF000000)]
        self.relay = None  # a relay.RelayConfig: phones' server upstream, this router its ALG
        self.media = None  # (port_min, port_max, max_calls, max_call_ms) for the ALG
        self.survival = None  # a survival.SurvivalConfig: watch the upstream, take over when it fails
        self.survival_policy = None  # the registrar's policy while routing locally (short Expires)
        self.dialplan = None  # a dialplan.DialPlan: where a dialled number goes, in every state
        # Without an upstream: ([(network, mask)] of lan0, our WAN address or
        # None). A request leaving for an address outside lan0 names the WAN
        # address in Via and Record-Route, never the LAN one it advertises
        # to phones (and is refused while the WAN address is unknown).
        self.outside = None
        self.probe_port = None  # the runtime's socket for probes (its local port), if it has one
