"""What a commit checks against the router's files, and the files it
writes for the boot scripts: rules that need the filesystem, apart from
the site file's editing (siteconfig.py) and from the value rules
(configrules.py), which need none.
"""

import os

from .schema import Invalid
from .store import write_atomic


def check_status_file(cfg, site_dir, history_dir):
    """The daemon writes state.status_file as root every few seconds: it
    may not land in the site directory (over outpost.yaml it would take
    the console password with it; over resolv.conf, DNS) nor on the
    state it keeps itself (the secret, the bindings)."""
    path = os.path.realpath(cfg["state"]["status_file"])
    site = os.path.realpath(site_dir)
    state = os.path.realpath(cfg["state"]["dir"])
    history = os.path.realpath(history_dir)
    if path == site or os.path.dirname(path) == site or path == history or path.startswith(history + os.sep):
        raise Invalid(["state.status_file: %r is in the site directory %s" % (cfg["state"]["status_file"], site_dir)])
    if path in (os.path.join(state, "secret"), os.path.join(state, "bindings.json")) or path == state:
        raise Invalid(["state.status_file: %r is the daemon's own state in state.dir" % cfg["state"]["status_file"]])


def check_realm(old, plain, cfg):
    """HA1s hash the realm: a new realm with the old HA1s would lock every
    phone out, silently. Refused unless each user's password was given
    again (their HA1s changed in this candidate). `old`: the committed
    site as plain data."""
    old_realm = (old.get("auth") or {}).get("realm") or (old.get("sip") or {}).get("domain")
    if not old_realm or old_realm == cfg["auth"]["realm"]:
        return
    old_users = old.get("users") if isinstance(old.get("users"), dict) else {}
    stale = sorted(n for n, u in (plain.get("users") or {}).items() if (old_users.get(n) or {}).get("ha1") == u.get("ha1"))
    if stale:
        raise Invalid(["sip.domain: the digest realm changes (%s -> %s) and the stored HA1s hash the old one: set "
                       "users.NAME.password again for %s after changing it, or set auth.realm: %s to keep the old realm"
                       % (old_realm, cfg["auth"]["realm"], ", ".join(stale), old_realm)])


def write_interfaces(site_dir, cfg):
    """`interfaces` (S10network reads it at boot: busybox sh parses no
    JSON) and `resolv.conf` (S10network copies it to /etc; DHCP leaves it
    alone then). None configured: both go, so the next boot takes the
    image's own defaults, not what an older commit left here."""
    ifaces = cfg.get("interfaces") or {}
    if not any(ifaces.values()):
        for name in ("interfaces", "resolv.conf"):
            if os.path.exists(os.path.join(site_dir, name)):
                os.unlink(os.path.join(site_dir, name))
        return
    lines = ["# written by commit from outpost.yaml: name mac method address gateway ('-': none)"]
    dns = []
    for name in sorted(ifaces):
        i = ifaces[name]
        if i:
            lines.append("%s %s %s %s %s" % (name, i["mac"], i["method"], i["address"] or "-", i["gateway"] or "-"))
            dns += i["dns"]
    write_atomic(os.path.join(site_dir, "interfaces"), ("\n".join(lines) + "\n").encode())
    resolv = os.path.join(site_dir, "resolv.conf")
    if dns:
        write_atomic(resolv, "".join("nameserver %s\n" % a for a in dns).encode())
    elif os.path.exists(resolv):
        os.unlink(resolv)
