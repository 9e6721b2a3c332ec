"""The configuration rules that span fields (runtime/config.py check and
check_all run them). Each rule appends one line per error, naming the
field, the value and the rule; a rule that trips over a value the schema
already refused is skipped (check_all names that field).
"""

import ipaddress


def run_rules(cfg, errors):
    for rule in RULES:
        try:
            rule(cfg, errors)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            pass  # a value the schema refused (check_all names it)


def _rule_users(cfg, errors):
    for name, user in cfg["users"].items():
        _check_user_algorithms(name, user, cfg["auth"], errors)


def _rule_interfaces(cfg, errors):
    nets = {}
    for name, iface in sorted(cfg["interfaces"].items()):
        if iface and iface["method"] == "static" and not iface["address"]:
            errors.append("interfaces.%s.address: required when method is static" % name)
        elif iface and iface["address"]:
            i = ipaddress.IPv4Interface(iface["address"])
            if i.network.prefixlen < 31 and i.ip in (i.network.network_address, i.network.broadcast_address):
                errors.append("interfaces.%s.address: %s is the %s address of %s, not a host's" % (
                    name, i.ip, "network" if i.ip == i.network.network_address else "broadcast", i.network))
            nets[name] = i.network
            gw = iface["gateway"]
            if gw and ipaddress.IPv4Address(gw) not in i.network:
                errors.append("interfaces.%s.gateway: %s is not in %s's network %s" % (name, gw, name, i.network))
        if iface and iface["method"] != "static" and (iface["gateway"] or iface["dns"]):
            errors.append("interfaces.%s.gateway: gateway and dns are for method static (%s brings its own)" % (name, iface["method"]))
    if len(nets) == 2 and nets["lan0"].overlaps(nets["wan0"]):
        errors.append("interfaces.wan0.address: %s overlaps lan0's network %s" % (nets["wan0"], nets["lan0"]))


def _rule_listen(cfg, errors):
    """A listen address the router does not have stops the daemon (bind
    fails): with every interface static, it must be one of theirs."""
    seen = {}
    for n, entry in enumerate(cfg["sip"]["listen"]):
        key = (entry["transport"], entry["port"])
        for m, other in seen.get(key, []):
            if "0.0.0.0" in (other, entry["address"]) or other == entry["address"]:
                errors.append("sip.listen[%d]: %s %s:%d takes the port sip.listen[%d] (%s:%d) binds already"
                              % (n, entry["transport"], entry["address"], entry["port"], m, other, entry["port"]))
        seen.setdefault(key, []).append((n, entry["address"]))
    ifaces = [i for i in cfg["interfaces"].values() if i]
    lan = (cfg["interfaces"].get("lan0") or {}).get("address")
    if lan:
        i = ipaddress.IPv4Interface(lan)
        for n, entry in enumerate(cfg["sip"]["listen"]):
            a = entry["address"]
            if a.replace(".", "").isdigit() and ipaddress.IPv4Address(a) in i.network and ipaddress.IPv4Address(a) != i.ip:
                errors.append("sip.listen[%d].address: %s is in lan0's network but is not lan0's address (%s)" % (n, a, i.ip))
                return
    if not ifaces or any(i["method"] != "static" for i in ifaces):
        return  # a DHCP lease may bring the address: the daemon retries a bind that fails
    own = [i["address"].split("/")[0] for i in ifaces]
    for n, entry in enumerate(cfg["sip"]["listen"]):
        a = entry["address"]
        if a not in own and a not in ("0.0.0.0", "::") and not a.startswith("127."):
            errors.append("sip.listen[%d].address: %s is not an address of this router (%s, 0.0.0.0 or 127.0.0.1)" % (n, a, ", ".join(own)))


def _rule_advertise(cfg, errors):
    """Renumbering lan0 left sip.advertise naming the old address: phones
    then send in-dialog requests to an address nobody has."""
    adv, lan = cfg["sip"]["advertise"], (cfg["interfaces"].get("lan0") or {}).get("address")
    if not adv or not lan or not adv.replace(".", "").isdigit():
        return
    i, a = ipaddress.IPv4Interface(lan), ipaddress.IPv4Address(adv)
    wan = (cfg["interfaces"].get("wan0") or {}).get("address")
    if a in i.network and a != i.ip:
        errors.append("sip.advertise: %s is in lan0's network but is not lan0's address (%s): renumbered?" % (adv, i.ip))
    elif a.is_private and a not in i.network and not (wan and a == ipaddress.IPv4Interface(wan).ip):
        # A private address outside lan0 is no public NAT address either.
        errors.append("sip.advertise: %s is a private address outside lan0's network %s: renumbered?" % (adv, i.network))


def _rule_upstream(cfg, errors):
    if cfg["upstream"]["host"] and not (cfg["interfaces"].get("lan0") or {}).get("address"):
        errors.append("upstream.host: relaying to %s needs interfaces.lan0.address (the phones' network)" % cfg["upstream"]["host"])
    trunk = cfg["survival"]["fallback_trunk"]
    if trunk and split_trunk(trunk) is None:
        errors.append("survival.fallback_trunk: %r has no valid port after ':' (1-65535)" % trunk)


def _rule_media(cfg, errors):
    m = cfg["media"]
    if m["port_min"] % 2 or m["port_max"] <= m["port_min"]:
        errors.append("media.port_min: %d must be even and below media.port_max (%d)" % (m["port_min"], m["port_max"]))
    lan = (cfg["interfaces"].get("lan0") or {}).get("address")
    if lan:
        net = ipaddress.IPv4Interface(lan).network
        for n, gw in enumerate(m["lan_gateways"]):
            if ipaddress.IPv4Address(gw) not in net:
                errors.append("media.lan_gateways[%d]: %s is not in lan0's network %s" % (n, gw, net))


def _rule_limits(cfg, errors):
    lim = cfg["limits"]
    if lim["tcp_first_message_s"] > lim["tcp_idle_s"]:
        errors.append("limits.tcp_first_message_s: %d must not exceed limits.tcp_idle_s (%d)" % (lim["tcp_first_message_s"], lim["tcp_idle_s"]))
    r = cfg["registrar"]
    if not r["min_expires"] <= r["default_expires"] <= r["max_expires"]:
        errors.append("registrar.default_expires: %d must lie between min_expires (%d) and max_expires (%d)" % (r["default_expires"], r["min_expires"], r["max_expires"]))


def _rule_dialplan(cfg, errors):
    if cfg["dialplan"] and not cfg["upstream"]["host"]:
        errors.append("dialplan: needs upstream.host (the dial plan routes a site's calls between its upstream, trunk and phones)")
    for i, rule in enumerate(cfg["dialplan"]):
        try:
            _check_dial_rule("dialplan[%d]" % i, rule, cfg, errors)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            pass  # a value the schema refused (check_all names it)


def _check_dial_rule(at, rule, cfg, errors):
    from ..core.dialplan import regex_problem, group_count, template_groups

    if rule["match"] is None and rule["regex"] is None:
        errors.append("%s: needs match (a dial pattern) or regex, one of them" % at)
    elif rule["match"] is not None and rule["regex"] is not None:
        errors.append("%s.regex: give match or regex, not both" % at)
    groups = 0
    if rule["regex"] is not None:
        why = regex_problem(rule["regex"])
        if why:
            errors.append("%s.regex: %s %s" % (at, _shown(rule["regex"]), why))
        else:
            groups = group_count(rule["regex"])
    if rule["prepend"] is not None and rule["replace"] is not None:
        errors.append("%s.prepend: give prepend or replace, not both" % at)
    for n in template_groups(rule["replace"] or ""):
        if n > groups:
            errors.append("%s.replace: ${%d} names a group the %s does not have (it has %d)" % (
                at, n, "regex" if rule["regex"] is not None else "match (a pattern has only ${0})", groups))
    for j, name in enumerate(rule["callers"]):
        if name not in cfg["users"]:
            errors.append("%s.callers[%d]: %r is not one of users (a caller is a user who proved who they are)" % (at, j, name))
    known = {g for u in cfg["users"].values() for g in u["groups"]}
    for j, name in enumerate(rule["groups"]):
        if name not in known:
            errors.append("%s.groups[%d]: %r is no user's group (users.NAME.groups)" % (at, j, name))
    if rule["target"] == "trunk" and not cfg["survival"]["fallback_trunk"]:
        errors.append("%s.target: 'trunk' needs survival.fallback_trunk" % at)


def _shown(text):
    """As typed, in quotes; repr only when it holds what a terminal should not print."""
    return "'%s'" % text if text.isprintable() and "'" not in text else repr(text)


RULES = (_rule_users, _rule_interfaces, _rule_listen, _rule_advertise, _rule_upstream, _rule_media, _rule_limits, _rule_dialplan)


def split_trunk(text):
    """'host' or 'host:port' -> ("udp", host, port, None); None when the port
    is not 1-65535."""
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "5060")
    if not (port.isdigit() and 1 <= int(port) <= 65535):
        return None
    return ("udp", host, int(port), None)


def _check_user_algorithms(name, user, auth, errors):
    """Every list a user's phone may be challenged with must include an
    algorithm the user has an HA1 for, or that phone could never register."""
    if user["algorithms"]:
        lists = [("users.%s.algorithms" % name, user["algorithms"])]
    else:
        lists = [("auth.algorithms", auth["algorithms"])]
        lists += [("auth.by_network[%d].algorithms" % i, n["algorithms"]) for i, n in enumerate(auth["by_network"])]
    for where, algorithms in lists:
        if not [a for a in algorithms if user["ha1"].get(a)]:
            errors.append("users.%s.ha1: needs a value for one of %s (%s)" % (name, ", ".join(algorithms), where))
