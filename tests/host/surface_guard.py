"""The core's one door: what runtime/ may use of it.

The runtime drives the proxy through its surface (core/proxy.py's header)
and nothing else; what the core decides reaches the runtime as events
(core/events.py), never as a chain into its tables. Three rules, checked
on the source (ast):

1. Imports from the core: only the modules and names in ALLOWED, which
   are the surface (Proxy, its events and the types they carry), the
   config objects the runtime builds (config is an input too), and
   stateless helpers a transport or the console needs (framing, digest,
   building an OPTIONS).
2. On the proxy (an expression `... .proxy`, or a name bound to one or to
   `Proxy(...)`), only the attributes in PUBLIC.
3. Nowhere in runtime/ an attribute that names one of the core's tables
   (INTERNAL): those are reached only through the proxy's own methods.
"""

import ast
import os

PUBLIC = {"receive", "datagrams_to_send", "next_event", "next_deadline", "handle_timer", "transport_failed",
          "set_config", "status", "saved_bindings", "restore_bindings"}
INTERNAL = {"txns", "location", "limiter", "contexts", "sessions", "actions", "sides", "tokens", "survival_events"}
ALLOWED = {
    "proxy": {"Proxy", "ProxyConfig", "PROBE"},
    "events": None,  # every event
    "defaults": None,  # every default (numbers)
    "addr": {"IPv4"},
    "media": {"Leg", "Guard"},
    "errors": {"RemoteProtocolError"},
    "framer": {"StreamFramer", "KEEPALIVE"},
    "response": {"error_response"},
    "digest": None,
    "build": None,
    "headers": {"field_key"},
    "auth": {"Authenticator", "Credentials", "Nonces", "ipv4_int", "parse_networks"},
    "registrar": {"RegistrarPolicy"},
    "relay": {"RelayConfig"},
    "survival": {"SurvivalConfig"},
    # The dial plan is config the runtime builds; the console's test-dial
    # asks it (a pure function of the number) and checks rules with it.
    "dialplan": {"DialPlan", "Rule", "EMERGENCY", "NEED_CALLER", "REFUSED", "dialled", "regex_problem", "group_count", "template_groups"},
}


def violations_in_source(source, filename="<source>"):
    """[(filename, line, what)] for every use of the core outside its door."""
    tree = ast.parse(source, filename)
    out = []
    proxies = _proxy_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            out += [(filename, node.lineno, w) for w in _import_violations(node)]
        elif isinstance(node, ast.Import):
            out += [(filename, node.lineno, a.name) for a in node.names if a.name.startswith("outpost.core")]
        elif isinstance(node, ast.Attribute):
            if _is_proxy(node.value, proxies) and node.attr not in PUBLIC:
                out.append((filename, node.lineno, "proxy." + node.attr))
            elif node.attr in INTERNAL:
                out.append((filename, node.lineno, "." + node.attr))
    return out


def _import_violations(node):
    module = node.module or ""
    if node.level == 0:
        if not module.startswith("outpost.core"):
            return []
        rest = module[len("outpost.core"):].lstrip(".")
    elif node.level in (1, 2) and (module == "core" or module.startswith("core.")):  # runtime/ or cli.py
        rest = module[len("core"):].lstrip(".")
    else:
        return []
    names = [a.name for a in node.names]
    if rest == "":  # from ..core import x: x is a module
        return ["core." + n for n in names if n not in ALLOWED or ALLOWED[n] is not None]
    allowed = ALLOWED.get(rest, set())
    if allowed is None:
        return []
    return ["core.%s.%s" % (rest, n) for n in names if n not in allowed]


def _proxy_names(tree):
    """Names bound to the proxy: `p = self.proxy`, `p = Proxy(...)`."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            v = node.value
            if _ends_in_proxy(v) or (isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "Proxy"):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _ends_in_proxy(node):
    return (isinstance(node, ast.Attribute) and node.attr == "proxy") or (isinstance(node, ast.Name) and node.id == "proxy")


def _is_proxy(node, names):
    return _ends_in_proxy(node) or (isinstance(node, ast.Name) and node.id in names)


def runtime_violations(root):
    """Every violation in runtime/ and the package's command-line modules."""
    pkg = os.path.join(root, "firmware", "outpost")
    files = [os.path.join(pkg, "runtime", n) for n in sorted(os.listdir(os.path.join(pkg, "runtime"))) if n.endswith(".py")]
    files += [os.path.join(pkg, n) for n in ("cli.py", "hosttool.py", "__main__.py") if os.path.exists(os.path.join(pkg, n))]
    out = []
    for path in files:
        with open(path) as f:
            out += violations_in_source(f.read(), os.path.relpath(path, root))
    return out
