"""The daemon's configuration: schema, loading, and what the core gets.

The daemon reads JSON (the console compiles the YAML site file into it; see
README "Configuration"). Passwords never appear here: users carry HA1
values per digest algorithm (`outpost ha1 USER REALM` prints them).
"""

import os

from ..compat import json
from ..core.auth import Authenticator, Credentials, Nonces
from ..core.proxy import ProxyConfig
from ..core.registrar import RegistrarPolicy
from .schema import REQUIRED, Bool, Hex, Host, Int, List, Map, OneOf, Port, Record, Str, validate, Invalid

LISTEN = Record({
    "transport": (OneOf("udp", "tcp"), REQUIRED),
    "address": (Host(), REQUIRED),
    "port": (Port(), 5060),
})

USER = Record({
    "ha1": (Record({
        "SHA-256": (Hex(64), None),
        "MD5": (Hex(32), None),
    }), REQUIRED),
})

SCHEMA = Record({
    "sip": (Record({
        "domain": (Host(), REQUIRED),
        "listen": (List(LISTEN, 1, 8), REQUIRED),
        "advertise": (Host(), None),
        "aliases": (List(Host(), 0, 64), []),
        "timers": (Record({
            "t1_ms": (Int(100, 5000), 500),
            "t2_ms": (Int(1000, 16000), 4000),
            "t4_ms": (Int(1000, 20000), 5000),
        }), {}),
    }), REQUIRED),
    "registrar": (Record({
        "default_expires": (Int(60, 86400), 3600),
        "min_expires": (Int(1, 3600), 60),
        "max_expires": (Int(60, 86400), 7200),
        "max_bindings": (Int(1, 100000), 10000),
        "max_contacts_per_aor": (Int(1, 100), 10),
    }), {}),
    "auth": (Record({
        "realm": (Host(), None),
        "algorithms": (List(OneOf("SHA-256", "MD5"), 1, 2), ["SHA-256", "MD5"]),
        "nonce_ttl_s": (Int(10, 3600), 300),
        "invite": (Bool(), True),
    }), {}),
    "users": (Map(USER), {}),
    "limits": (Record({
        "max_transactions": (Int(16, 100000), 8192),
        "max_tcp_connections": (Int(1, 10000), 256),
        "tcp_idle_s": (Int(10, 86400), 600),
        "rate_per_source": (Int(0, 100000), 200),
        "burst_per_source": (Int(1, 100000), 400),
        "max_sources": (Int(16, 100000), 1024),
    }), {}),
    "state": (Record({
        "dir": (Str(r"/[^\0]*", "is not an absolute path"), "/var/lib/outpost"),
        "write_delay_ms": (Int(0, 600000), 1000),
    }), {}),
    "console": (Record({
        "password_hash": (Str(r"pbkdf2-sha256\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+", "is not a pbkdf2-sha256 hash"), None),
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
    cfg = validate(SCHEMA, raw)
    errors = []
    realm = cfg["auth"]["realm"] or cfg["sip"]["domain"]
    for name, user in cfg["users"].items():
        have = [a for a in cfg["auth"]["algorithms"] if user["ha1"].get(a)]
        if not have:
            errors.append("users.%s.ha1: needs a value for one of %s" % (name, ", ".join(cfg["auth"]["algorithms"])))
    r = cfg["registrar"]
    if not r["min_expires"] <= r["default_expires"] <= r["max_expires"]:
        errors.append("registrar.default_expires: %d must lie between min_expires (%d) and max_expires (%d)" % (r["default_expires"], r["min_expires"], r["max_expires"]))
    if errors:
        raise Invalid(errors)
    cfg["auth"]["realm"] = realm
    return cfg


def secret(state_dir):
    """The nonce/branch secret, kept in the state dir so challenges outlive a restart."""
    from .store import write_atomic

    path = os.path.join(state_dir, "secret")
    try:
        with open(path, "rb") as f:
            s = f.read()
        if len(s) == 32:
            return s
    except OSError:
        pass
    s = os.urandom(32)
    write_atomic(path, s)
    return s


def proxy_config(cfg, key, local_addresses=()):
    """The core's config. `local_addresses`: the host's own addresses, which
    a wildcard listener answers for too."""
    sip = cfg["sip"]
    listen = {}
    aliases = list(sip["aliases"])
    for entry in sip["listen"]:
        host = sip["advertise"] or entry["address"]
        listen.setdefault(entry["transport"], (host, entry["port"]))
        if entry["address"] in ("0.0.0.0", "::"):
            aliases += local_addresses
        elif entry["address"] != host:
            aliases.append(entry["address"])
    a = cfg["auth"]
    users = {}
    for name, user in cfg["users"].items():
        users[name] = Credentials(name, a["realm"], {alg: v for alg, v in user["ha1"].items() if v})
    algorithms = tuple(a["algorithms"])
    authenticator = Authenticator(a["realm"], users, Nonces(key, a["nonce_ttl_s"] * 1000), algorithms) if users else None
    r = cfg["registrar"]
    lim = cfg["limits"]
    t = sip["timers"]
    pc = ProxyConfig(sip["domain"], listen, key, authenticator,
                     RegistrarPolicy(sip["domain"], r["default_expires"], r["min_expires"], r["max_expires"]),
                     t["t1_ms"], t["t2_ms"], t["t4_ms"], lim["max_transactions"], r["max_bindings"], r["max_contacts_per_aor"],
                     lim["rate_per_source"], lim["burst_per_source"], lim["max_sources"])
    pc.auth_invite = a["invite"]
    pc.aliases = [(h, e["port"]) for h in aliases for e in sip["listen"]]
    return pc
