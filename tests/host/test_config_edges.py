"""#13 finding 4: a value that passes validation must never stop the daemon.
`10.20.0.300/24` and `/33` passed the old pattern checks, committed, and
then threw in proxy_config (the reload kept the old config, nothing
logged) or kept the network from coming up at boot. Here every field of
the schema is set to each edge of its rule; whatever validates must build
the core's config, and the daemon (a real process on loopback) must start
with all the low edges at once, answer OPTIONS, reload all the high edges
on SIGHUP and answer again."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

from outpost.runtime import config as configmod
from outpost.runtime.schema import Bool, Int, List, OneOf, Record

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAN = {"lan0": {"mac": "52:54:00:4f:50:01", "address": "127.0.0.1/8"}}


def leaves(schema, path=()):
    """(path, [edge values]) for every Int, OneOf and Bool leaf."""
    for name, (node, _) in schema.fields.items():
        p = path + (name,)
        if isinstance(node, Record):
            yield from leaves(node, p)
        elif isinstance(node, Int):
            yield p, [v for v in (node.min, node.max) if v is not None]
        elif isinstance(node, OneOf):
            yield p, list(node.choices)
        elif isinstance(node, Bool):
            yield p, [True, False]


def base(tmp_path, port):
    return {"sip": {"domain": "example.com", "listen": [{"transport": "udp", "address": "127.0.0.1", "port": port}]},
            "interfaces": LAN, "upstream": {"host": "127.0.0.2"},
            "users": {"alice": {"ha1": {"MD5": "0" * 32, "SHA-256": "0" * 64}}},
            "state": {"dir": str(tmp_path / "state"), "status_file": str(tmp_path / "status.json")}}


def put(cfg, path, value):
    node = cfg
    for step in path[:-1]:
        node = node.setdefault(step, {})
    node[path[-1]] = value


def test_every_field_at_its_edges_builds_the_cores_config(tmp_path):
    built = 0
    for path, values in leaves(configmod.SCHEMA):
        if path[0] in ("sip", "interfaces") and path[-1] in ("transport", "method"):
            continue  # the listen transport and NIC method change what else is required: covered below
        for value in values:
            cfg = base(tmp_path, 5060)
            put(cfg, path, value)
            checked, errors = configmod.check_all(json.loads(json.dumps(cfg)))
            if errors:
                continue  # refused where it is typed: fine, never half-applied
            configmod.proxy_config(checked, b"k" * 32, ["127.0.0.1"], "127.0.0.1")
            built += 1
    assert built > 60  # every leaf at least once


def edge_config(tmp_path, port, which):
    cfg = base(tmp_path, port)
    for path, values in leaves(configmod.SCHEMA):
        if path[-1] in ("transport", "method", "level") or path[0] == "state":
            continue
        put(cfg, path, values[0] if which == "low" else values[-1])
    checked, errors = configmod.check_all(json.loads(json.dumps(cfg)))
    # Cross-field rules refuse some combinations of edges (port_min even and
    # below port_max ...): fix exactly those, so every other edge stays.
    cfg["media"]["port_min"], cfg["media"]["port_max"] = (40000, 40002) if which == "low" else (49996, 49998)
    cfg["registrar"]["default_expires"] = 60 if which == "low" else cfg["registrar"]["max_expires"]
    cfg["limits"]["tcp_first_message_s"] = min(cfg["limits"]["tcp_first_message_s"], cfg["limits"]["tcp_idle_s"])
    checked, errors = configmod.check_all(json.loads(json.dumps(cfg)))
    assert errors == [], errors
    return cfg


def options(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.bind(("127.0.0.1", 0))
    me = s.getsockname()[1]
    msg = ("OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-edge%d\r\nMax-Forwards: 70\r\n"
           "From: <sip:probe@example.com>;tag=1\r\nTo: <sip:example.com>\r\nCall-ID: edge-%d@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n"
           "Content-Length: 0\r\n\r\n" % (me, time.time_ns(), time.time_ns()))
    try:
        for _ in range(10):
            s.sendto(msg.encode(), ("127.0.0.1", port))
            try:
                return s.recv(65535).decode(errors="replace").split("\r\n", 1)[0]
            except socket.timeout:
                continue
        return None
    finally:
        s.close()


def test_the_daemon_starts_on_every_low_edge_and_reloads_every_high_one(tmp_path):
    from harness import free_port

    port = free_port()
    path = tmp_path / "outpost.json"
    path.write_text(json.dumps(edge_config(tmp_path, port, "low")))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "firmware"))
    p = subprocess.Popen([sys.executable, "-m", "outpost", "run", "--config", str(path)], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(tmp_path / "daemon.err", "wb"))
    try:
        first = options(port)
        assert first and first.startswith("SIP/2.0 "), (tmp_path / "daemon.err").read_text()[-2000:]
        path.write_text(json.dumps(edge_config(tmp_path, port, "high")))
        p.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline:
            st = json.loads((tmp_path / "status.json").read_text() or "{}") if (tmp_path / "status.json").exists() else {}
            if (st.get("reloads") or {}).get("count") == 1:
                break
            time.sleep(0.1)
        assert st["reloads"] == {"count": 1, "error": None}, (tmp_path / "daemon.err").read_text()[-2000:]
        assert options(port).startswith("SIP/2.0 ") and p.poll() is None
    finally:
        p.kill()
        p.wait()


def test_a_listener_that_cannot_bind_is_reported_and_retried_not_fatal(tmp_path):
    """Found on the image: `set sip.listen[0].address 10.9.9.9` (an address a
    DHCP lease might bring) passed commit and the daemon then exited in a
    loop ('Cannot assign requested address', the log saying no more). It
    now serves on the listeners it could bind and says which one failed."""
    from harness import free_port

    port = free_port()
    cfg = base(tmp_path, port)
    cfg["sip"]["listen"].append({"transport": "udp", "address": "192.0.2.99", "port": port})
    del cfg["upstream"], cfg["interfaces"]  # no static interfaces: the address may come from a lease
    path = tmp_path / "outpost.json"
    path.write_text(json.dumps(cfg))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "firmware"))
    p = subprocess.Popen([sys.executable, "-m", "outpost", "run", "--config", str(path)], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(tmp_path / "daemon.err", "wb"))
    try:
        assert (options(port) or "").startswith("SIP/2.0 "), (tmp_path / "daemon.err").read_text()[-2000:]
        st = json.loads((tmp_path / "status.json").read_text())
        assert st["listen_errors"] == ["udp 192.0.2.99:%d: Cannot assign requested address" % port] and p.poll() is None
    finally:
        p.kill()
        p.wait()
