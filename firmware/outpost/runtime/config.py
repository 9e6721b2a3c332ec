"""The daemon's configuration: schema, loading, and what the core gets.

The daemon reads JSON (the console compiles the YAML site file into it; see
README "Configuration"). Passwords never appear here: users carry HA1
values per digest algorithm (`outpost ha1 USER REALM` prints them).
"""

import os

from ..compat import json
from ..core import defaults as D
from ..core.auth import Authenticator, Credentials, Nonces, ipv4_int, parse_networks
from ..core.headers import field_key
from ..core.proxy import ProxyConfig
from ..core.registrar import RegistrarPolicy
from .configrules import run_rules, split_trunk  # noqa: F401 (split_trunk: part of this module's surface)
from .schema import REQUIRED, IPv4, Bool, Hex, Host, HostPort, Int, List, Map, OneOf, Path, Port, Record, Str, validate, Invalid

LISTEN = Record({
    "transport": (OneOf("udp", "tcp"), REQUIRED),
    "address": (Host(), REQUIRED),
    "port": (Port(), 5060),
})

CIDR = IPv4(prefix=True)

USER = Record({
    "ha1": (Record({
        "SHA-256": (Hex(64), None),
        "MD5": (Hex(32), None),
    }), REQUIRED),
    # Where this user may register and call from; empty: anywhere.
    "networks": (List(CIDR, 0, 16), []),
    # Digest algorithms this user's phone is challenged with (none: the
    # network's, else auth.algorithms).
    "algorithms": (List(OneOf("SHA-256", "MD5"), 0, 2), []),
    # Names the dial plan's rules may call this user by (dialplan[].groups).
    "groups": (List(Str(r"[A-Za-z0-9._+\-]+", "is not a group name"), 0, 16), []),
})

DIAL_RULE = Record({
    "match": (Str(r"[0-9*#+X.\[\]-]+", "is not a dial pattern (digits, X, [..], .)", max_len=64), None),
    "regex": (Str(max_len=200), None),  # configrules.py: dialplan.regex_problem
    "callers": (List(Str(r"[A-Za-z0-9._+\-]+", "is not a user name"), 0, 64), []),
    "groups": (List(Str(r"[A-Za-z0-9._+\-]+", "is not a group name"), 0, 16), []),
    "state": (OneOf("normal", "survival", "any"), "any"),
    "strip": (Int(0, 32), 0),
    # No '#': a SIP URI's user part must escape it (core/dialplan.py).
    "prepend": (Str(r"[0-9*+]+", "is not digits, * or +", max_len=32), None),
    "replace": (Str(r"([0-9*+]|\$\{[0-9]\})+", "is not digits, * + and ${N}", max_len=64), None),
    "target": (OneOf("upstream", "trunk", "local", "refuse"), REQUIRED),
    "status": (Int(400, 699, "is not a failure status (400-699)"), 403),
    "reason": (Str(r"[A-Za-z0-9 ().,'-]+", "is not a plain reason phrase (letters, digits, spaces, ().,'-)", max_len=64), None),
})

# Phones on a network that take other digest algorithms than the site's.
AUTH_NETWORK = Record({
    "network": (CIDR, REQUIRED),
    "algorithms": (List(OneOf("SHA-256", "MD5"), 1, 2), REQUIRED),
})

IFACE = Record({
    "mac": (Str(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", "is not a MAC address (like 52:54:00:4f:50:01)"), REQUIRED),
    "method": (OneOf("static", "dhcp", "none"), "static"),
    "address": (CIDR, None),
    # Static only (DHCP brings its own): the default route and the DNS
    # servers that resolve upstream.host when it is a name.
    "gateway": (IPv4(), None),
    "dns": (List(IPv4(), 0, 3), []),
})

# The base ruleset (rootfs_overlay/etc/nftables.conf) guards this range.
MEDIA_RANGE = (40000, 49999)

SCHEMA = Record({
    # lan0 faces the phones, wan0 the upstream; named by MAC at boot.
    "interfaces": (Record({
        "lan0": (IFACE, None),
        "wan0": (IFACE, None),
    }), {}),
    "sip": (Record({
        "domain": (Host(), REQUIRED),
        "listen": (List(LISTEN, 1, 8), REQUIRED),
        "advertise": (Host(), None),
        "aliases": (List(Host(), 0, 64), []),
        # Where REGISTER and relaying are accepted from when no users are
        # configured; lan0's network and loopback are always trusted.
        "trusted_networks": (List(CIDR, 0, 32), []),
        "timers": (Record({
            "t1_ms": (Int(100, 5000), D.T1),
            "t2_ms": (Int(1000, 16000), D.T2),
            "t4_ms": (Int(1000, 20000), D.T4),
            # Timer C: how long a proxied INVITE may ring without a final
            # answer (RFC 3261: more than 3 minutes; Juniper's c-timeout).
            "timer_c_s": (Int(181, 600, "is not 181-600 (RFC 3261: more than three minutes)"), D.TIMER_C // 1000),
        }), {}),
    }), REQUIRED),
    "registrar": (Record({
        "default_expires": (Int(60, 86400), D.DEFAULT_EXPIRES),
        "min_expires": (Int(1, 3600), D.MIN_EXPIRES),
        "max_expires": (Int(60, 86400), D.MAX_EXPIRES),
        "max_bindings": (Int(1, 100000), D.MAX_BINDINGS),
        "max_contacts_per_aor": (Int(1, 100), D.MAX_PER_AOR),
    }), {}),
    "auth": (Record({
        "realm": (Host(), None),
        # MD5 alone by default: baresip 1.0 and many desk phones give up on
        # a challenge that has any SHA-256 in it (README "Phones").
        "algorithms": (List(OneOf("SHA-256", "MD5"), 1, 2), ["MD5"]),
        "by_network": (List(AUTH_NETWORK, 0, 16), []),
        "nonce_ttl_s": (Int(10, 3600), D.NONCE_TTL_S),
        "invite": (Bool(), True),
    }), {}),
    "users": (Map(USER), {}),
    # The HQ PBX or ITSP the router relays to ([alg]) and watches ([survival]).
    "upstream": (Record({
        "host": (Host(), None),
        "port": (Port(), 5060),
        "transport": (OneOf("udp", "tcp"), "udp"),
        "outbound_proxy": (Host(), None),
        # Header fields a phone's messages may carry to the WAN beyond the
        # standard ones the router knows (core/leaks.py KNOWN); others go.
        "pass_headers": (List(Str(r"[A-Za-z0-9!%*_+`'~.-]+", "is not a header field name"), 0, 64), []),
    }), {}),
    "media": (Record({
        "port_min": (Int(MEDIA_RANGE[0], MEDIA_RANGE[1], "is outside the media range the firewall guards (%d-%d)" % MEDIA_RANGE), D.PORT_MIN),
        "port_max": (Int(MEDIA_RANGE[0], MEDIA_RANGE[1], "is outside the media range the firewall guards (%d-%d)" % MEDIA_RANGE), D.PORT_MAX),
        "idle_timeout_s": (Int(10, 3600), D.MEDIA_IDLE_S),
        "max_call_s": (Int(60, 86400), D.MAX_CALL_S),
        "max_calls": (Int(1, 10000), D.MAX_CALLS),
        "lock": (OneOf("sdp", "first_sender"), "sdp"),
        # LAN hosts (an on-site PBX, a media gateway) whose SDP may name
        # another LAN host's media; any other phone's SDP must name itself.
        "lan_gateways": (List(IPv4(), 0, 32), []),
    }), {}),
    "survival": (Record({
        "probe_interval_s": (Int(1, 300), D.PROBE_INTERVAL_S),
        "failure_threshold": (Int(1, 20), D.FAILURE_THRESHOLD),
        "stability_s": (Int(5, 3600), D.STABILITY_S),
        "expires_s": (Int(30, 3600), D.SURVIVAL_EXPIRES_S),
        "fallback_trunk": (HostPort(), None),
        "fallback_patterns": (List(Str(r"[0-9*#+X.\[\]-]+", "is not a dial pattern (digits, X, [..], .)"), 0, 64), []),
        "emergency_numbers": (List(Str(r"[0-9+]+", "is not a number"), 0, 16), list(D.EMERGENCY_NUMBERS)),
    }), {}),
    # The dial plan (core/dialplan.py), in order; emergency numbers before
    # all of it. configrules.py checks what spans fields.
    "dialplan": (List(DIAL_RULE, 0, 128), []),
    "limits": (Record({
        "max_transactions": (Int(16, 100000), D.MAX_TRANSACTIONS),
        # TCP (runtime/transport.py): inbound connections in all and per
        # source address, outbound apart (strangers holding the inbound
        # slots never keep us from the upstream), how long an inbound one
        # may go without a whole SIP message, idle time after that, and the
        # unsent bytes a peer may leave with us before it is cut off.
        "max_tcp_connections": (Int(1, 10000), D.MAX_INBOUND),
        "max_tcp_outbound": (Int(1, 1000), D.MAX_OUTBOUND),
        "tcp_per_source": (Int(1, 1000), D.PER_SOURCE),
        "tcp_first_message_s": (Int(2, 600), D.FIRST_MESSAGE_S),
        "tcp_idle_s": (Int(10, 86400), D.IDLE_S),
        "tcp_buffer_kb": (Int(64, 16384, "is not 64-16384 (KiB; the largest SIP message is 64)"), D.BUFFER_KB),
        "rate_per_source": (Int(0, 100000), D.RATE),
        "burst_per_source": (Int(1, 100000), D.BURST),
        "max_sources": (Int(16, 100000), D.MAX_SOURCES),
    }), {}),
    "state": (Record({
        # The data disk the image mounts (rcS): registrations, the nonce
        # secret and the Contact-token key outlive a reboot.
        "dir": (Path(), "/data/state"),
        "write_delay_ms": (Int(0, 600000), 1000),
        # Written every 10 s for the console's "show status": RAM, not flash.
        "status_file": (Path(), "/run/outpost/status.json"),
    }), {}),
    "console": (Record({
        "password_hash": (Str(r"pbkdf2-sha256\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+", "is not a pbkdf2-sha256 hash"), None),
        # A session nobody types in ends (a console server's next user must
        # meet the login prompt); 30 s at least, so it cannot lock anyone out.
        "idle_timeout_s": (Int(30, 86400), D.CONSOLE_IDLE_S),
    }), {}),
    "daemon": (Record({
        # Since udp.py reads UDP itself on both loops, they cost about the
        # same CPU per call (bench/proxy.sh; alternated at 1,000 calls/s, 58
        # and 60 % of a core), but uvloop imports ssl and with it
        # OpenSSL: the daemon's RSS grows by 6.7 MB in the guest
        # (bench/image.py --loop uvloop; README's daemon.event_loop row). So
        # asyncio is the default. Without uvloop installed the daemon says
        # so and runs asyncio.
        "event_loop": (OneOf("asyncio", "uvloop"), "asyncio"),
    }), {}),
    "log": (Record({
        "level": (OneOf("debug", "info", "warning", "error"), "info"),
        "syslog": (Bool(), False),
    }), {}),
})


def load(path):
    """Validated config dict; raises Invalid (every error at once) or OSError."""
    with open(path, "rb") as f:
        text = f.read()
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise Invalid(["%s: not valid JSON (%s)" % (path, e)])
    return check(validate(SCHEMA, raw))


def check(cfg):
    """The rules that span fields; raises Invalid with every error. Returns
    cfg with the realm filled in."""
    errors = []
    run_rules(cfg, errors)
    if errors:
        raise Invalid(errors)
    cfg["auth"]["realm"] = cfg["auth"]["realm"] or cfg["sip"]["domain"]
    return cfg


def check_all(raw):
    """(config with defaults, every error at once): the schema's and the
    cross-field rules', even where the schema already refused a field (a
    rule that trips over such a value is skipped: its field is named)."""
    errors = []
    cfg = SCHEMA.check(raw, "", errors)
    if not isinstance(cfg, dict):
        return cfg, errors
    refused = {e.split(":", 1)[0] for e in errors}
    own = []
    run_rules(cfg, own)
    errors += [e for e in own if e.split(":", 1)[0] not in refused]
    if not errors:
        cfg["auth"]["realm"] = cfg["auth"]["realm"] or cfg["sip"]["domain"]
    return cfg, errors


def host_names(cfg):
    """The host names the daemon may resolve: the configured peers, never a
    host named in a packet (runtime/resolver.py)."""
    up, trunk = cfg["upstream"], cfg["survival"]["fallback_trunk"]
    return [h for h in (up["host"], up["outbound_proxy"], split_trunk(trunk)[1] if trunk else None) if h]


def tcp_limits(cfg):
    """The TCP pool's limits (runtime/transport.py TcpPool.configure)."""
    lim, up = cfg["limits"], cfg["upstream"]
    reserved = [(h, up["port"]) for h in (up["host"], up["outbound_proxy"]) if h and up["transport"] == "tcp"]
    return {"max_connections": lim["max_tcp_connections"], "idle_ms": lim["tcp_idle_s"] * 1000,
            "max_outbound": lim["max_tcp_outbound"], "max_per_source": lim["tcp_per_source"],
            "first_message_ms": lim["tcp_first_message_s"] * 1000, "max_buffer": lim["tcp_buffer_kb"] * 1024,
            "reserved": reserved}


def secret(state_dir):
    """The nonce/branch secret, kept in the state dir so challenges outlive a
    restart. 0600: whoever reads it can forge the router's nonces and
    Record-Route tokens."""
    from .store import write_atomic

    path = os.path.join(state_dir, "secret")
    try:
        with open(path, "rb") as f:
            s = f.read()
            if len(s) == 32:
                if os.fstat(f.fileno()).st_mode & 0o077:
                    os.fchmod(f.fileno(), 0o600)  # written 0644 by an older release
                return s
    except OSError:
        pass
    s = os.urandom(32)
    write_atomic(path, s, mode=0o600)
    return s


def proxy_config(cfg, key, local_addresses=(), wan_address=None, resolved=(), probe_port=None):
    """The core's config. `local_addresses`: the host's own addresses, which
    a wildcard listener answers for too; `wan_address`: ours towards the
    upstream server, as the kernel picks it (a DHCP lease); `resolved`:
    what the upstream's configured names resolved to (peers too: their
    requests start calls); `probe_port`: the runtime's socket for probes."""
    sip, r, lim, t = cfg["sip"], cfg["registrar"], cfg["limits"], cfg["sip"]["timers"]
    listen, aliases = _listen(sip, local_addresses)
    pc = ProxyConfig(sip["domain"], listen, key, _authenticator(cfg, key),
                     RegistrarPolicy(sip["domain"], r["default_expires"], r["min_expires"], r["max_expires"]),
                     t1=t["t1_ms"], t2=t["t2_ms"], t4=t["t4_ms"], max_transactions=lim["max_transactions"],
                     max_bindings=r["max_bindings"], max_per_aor=r["max_contacts_per_aor"],
                     rate=lim["rate_per_source"], burst=lim["burst_per_source"], max_sources=lim["max_sources"])
    pc.auth_invite = cfg["auth"]["invite"]
    pc.timer_c = t["timer_c_s"] * 1000
    pc.probe_port = probe_port
    pc.aliases = [(h, e["port"]) for h in aliases for e in sip["listen"]]
    lan = (cfg["interfaces"].get("lan0") or {}).get("address")
    pc.trusted = parse_networks(["127.0.0.0/8"] + ([lan] if lan else []) + sip["trusted_networks"])
    wan = (cfg["interfaces"].get("wan0") or {}).get("address")
    if lan and not cfg["upstream"]["host"]:
        pc.outside = (parse_networks([lan]), wan.split("/")[0] if wan else wan_address)
    if cfg["upstream"]["host"] and lan:
        _relaying(pc, cfg, lan, wan.split("/")[0] if wan else (wan_address or "0.0.0.0"), resolved)
    return pc


def _listen(sip, local_addresses):
    """({transport: (advertised host, port)}, [other hosts that are us]):
    a wildcard listener answers for every address the host has."""
    listen, aliases = {}, list(sip["aliases"])
    for entry in sip["listen"]:
        host = sip["advertise"] or entry["address"]
        listen.setdefault(entry["transport"], (host, entry["port"]))
        if entry["address"] in ("0.0.0.0", "::"):
            aliases += local_addresses
        elif entry["address"] != host:
            aliases.append(entry["address"])
    return listen, aliases


def _authenticator(cfg, key):
    a = cfg["auth"]
    users = {}
    for name, user in cfg["users"].items():
        users[name] = Credentials(name, a["realm"], {alg: v for alg, v in user["ha1"].items() if v}, parse_networks(user["networks"]),
                                  tuple(user["algorithms"]) or None)
    if not users:
        return None
    by_network = [(parse_networks([n["network"]]), tuple(n["algorithms"])) for n in a["by_network"]]
    return Authenticator(a["realm"], users, Nonces(key, a["nonce_ttl_s"] * 1000), tuple(a["algorithms"]), by_network)


def _relaying(pc, cfg, lan, wan, resolved):
    """The relay (ALG), media and survival parts, when there is an upstream."""
    from ..core.relay import RelayConfig
    from ..core.survival import SurvivalConfig

    up, m, sv, sip = cfg["upstream"], cfg["media"], cfg["survival"], cfg["sip"]
    udp = [e["port"] for e in sip["listen"] if e["transport"] == "udp"] or [5060]
    pc.relay = RelayConfig(parse_networks([lan]), lan.split("/")[0], wan,
                           (up["transport"], up["outbound_proxy"] or up["host"], up["port"], None), udp[0])
    pc.relay.peers.update(h for h in (up["host"], up["outbound_proxy"]) if h and ipv4_int(h) is not None)
    pc.relay.peers.update(resolved)
    pc.relay.pass_headers = frozenset(field_key(h) for h in up["pass_headers"])
    pc.relay.media_gateways = frozenset(m["lan_gateways"])
    pc.media = (m["port_min"], m["port_max"], m["max_calls"], m["max_call_s"] * 1000)
    trunk = split_trunk(sv["fallback_trunk"]) if sv["fallback_trunk"] else None
    pc.dialplan = dial_plan(cfg)
    pc.survival = SurvivalConfig(sv["probe_interval_s"] * 1000, sv["failure_threshold"], sv["stability_s"] * 1000, sv["expires_s"],
                                 trunk, sv["fallback_patterns"], sv["emergency_numbers"])
    short = sv["expires_s"]
    pc.survival_policy = RegistrarPolicy(sip["domain"], short, min(cfg["registrar"]["min_expires"], short), short)


def dial_plan(cfg):
    """The core's DialPlan from a checked configuration (the daemon's and
    the console's `test-dial`)."""
    from ..core.dialplan import DialPlan, Rule

    return DialPlan([Rule(r["target"], r["match"], r["regex"], r["callers"], r["state"], r["strip"], r["prepend"], r["replace"],
                          r["status"], r["reason"], r["groups"]) for r in cfg["dialplan"]], cfg["survival"]["emergency_numbers"],
                    {name: frozenset(u["groups"]) for name, u in cfg["users"].items() if u["groups"]})
