"""The outpost daemon: the sans-I/O proxy wired to sockets, one timer,
durable bindings and signals.

One loop, one timer: after every datagram and every timer the daemon sends
what the core queued and re-arms a single asyncio timer at the earliest
deadline (the core's, the state writer's, housekeeping's). SIGHUP reloads
the config (a bad one is logged and ignored), SIGTERM and SIGINT flush the
bindings and stop.
"""

import asyncio
import logging
import os
import signal
import time

from ..core.proxy import Proxy
from ..core.location import LocationTable
from . import config as configmod
from .schema import Invalid
from .store import Snapshotter, read_json, write_atomic
from .. import __version__
from ..compat import json
from .transport import Udp, TcpPool, is_ip
from .netinfo import local_ipv4, source_address
from .resolver import Resolver
from .consoleviews import field

log = logging.getLogger("outpost")

HOUSEKEEPING_MS = 10000  # idle TCP, old nonces
WAN_PROBE = "198.51.100.1"  # TEST-NET-2: any off-LAN address finds the default route


def now_ms():
    return int(time.monotonic() * 1000)


class Daemon:
    def __init__(self, cfg, config_path):
        self.cfg = cfg
        self.config_path = config_path
        # Each SIGHUP's outcome, for the console's commit to report truly.
        self._reloads = {"count": 0, "error": None}
        self._unbound = {}  # "udp 10.9.9.9:5060: why" -> listen entry, retried
        state_dir = cfg["state"]["dir"]
        os.makedirs(state_dir, exist_ok=True)
        self.key = configmod.secret(state_dir)
        now = now_ms()
        self._addresses = local_ipv4()
        self._wan = self._wan_address(cfg)
        pc = configmod.proxy_config(cfg, self.key, self._addresses, self._wan)
        self.proxy = Proxy(pc, now, LocationTable(pc.max_bindings, pc.max_per_aor))
        self.bindings_path = os.path.join(state_dir, "bindings.json")
        kept = self._restore(now)
        log.info("outpost: %d registrations restored from %s", kept, self.bindings_path)
        self.pinholes = None
        self.conntrack = None
        self._probe = None  # Udp connected to the upstream
        self._pinhole_refresh = 0
        if self.proxy.relay is not None:
            self.proxy.relay.restore(self.proxy.location, now)
            self._relay_started(cfg)
        self.snap = Snapshotter(self.bindings_path, self._snapshot, cfg["state"]["write_delay_ms"])
        self.udp = []
        self.tcp = TcpPool(self.receive, now_ms, **configmod.tcp_limits(cfg))
        self.tcp.on_connect_failed = self._tcp_failed
        self._timer = None
        self._timer_at = None
        self._housekeeping = now + HOUSEKEEPING_MS
        self._dns = Resolver(now_ms, configmod.host_names(cfg), self._add_peers)  # configured names only, bounded
        self._stopped = None
        self._debug = log.isEnabledFor(logging.DEBUG)

    def _wan_address(self, cfg):
        """Our address towards the upstream (changes with a DHCP lease)."""
        host = cfg["upstream"]["outbound_proxy"] or cfg["upstream"]["host"]
        if not host:
            # No upstream: where the default route leaves from (a UDP connect
            # to a documentation address looks the route up, sends nothing).
            return source_address(WAN_PROBE) if (cfg["interfaces"].get("lan0") or {}).get("address") else None
        if not is_ip(host):
            hit = self._dns.get(host) if hasattr(self, "_dns") else None
            if hit is None:
                return getattr(self, "_wan", None)
            host = hit[0]
        return source_address(host, cfg["upstream"]["port"])

    def _relay_started(self, cfg):
        """Relaying began (at start, or a reload set upstream.host): the
        pinhole helper takes over the ruleset's media sets, empty. (Loaded
        only then: a router without an upstream keeps their memory.)"""
        from .conntrack import Conntrack
        from .pinhole import NftPinholes

        self.pinholes = NftPinholes(cfg["media"]["idle_timeout_s"], lock=cfg["media"]["lock"])
        self.conntrack = Conntrack()
        log.info("relaying to %s:%d from %s (media ports %d-%d)", cfg["upstream"]["host"], cfg["upstream"]["port"],
                 self.proxy.relay.config.wan_address, cfg["media"]["port_min"], cfg["media"]["port_max"])

    # -- persistence ---------------------------------------------------------------

    def _snapshot(self):
        # Monotonic ms mean nothing after a reboot: store wall-clock expiry.
        offset = int(time.time() * 1000) - now_ms()
        items = self.proxy.location.snapshot()
        for d in items:
            d["expires_at"] += offset
        return {"version": 1, "bindings": items}

    def _restore(self, now):
        data = read_json(self.bindings_path, {})
        items = data.get("bindings", []) if isinstance(data, dict) else []
        offset = int(time.time() * 1000) - now
        for d in items:
            if isinstance(d, dict) and isinstance(d.get("expires_at"), (int, float)):
                d["expires_at"] = int(d["expires_at"]) - offset
        return self.proxy.location.restore(items, now)

    # -- the loop ----------------------------------------------------------------

    async def start(self):
        loop = asyncio.get_running_loop()
        for entry in self.cfg["sip"]["listen"]:
            await self._listen(entry)
        self._stopped = loop.create_future()
        for sig, handler in ((signal.SIGHUP, self.reload), (signal.SIGTERM, self.stop), (signal.SIGINT, self.stop)):
            loop.add_signal_handler(sig, handler)
        self._started = time.time()
        self._probe = None
        await self._open_probe_socket()
        if self.pinholes is not None:
            self.pinholes.flush()  # whatever an earlier run left
            self._apply_pinholes()
        self._write_status()
        self._arm()

    async def _listen(self, entry):
        """Bind one listener. One that cannot bind (an address the host does
        not have yet, a port taken) is logged with its address, shown by
        show status, and tried again every housekeeping round: the daemon
        keeps serving on the others instead of exiting in a loop."""
        host, port = entry["address"], entry["port"]
        try:
            if entry["transport"] == "udp":
                _, proto = await asyncio.get_running_loop().create_datagram_endpoint(lambda: Udp(self.receive), local_addr=(host, port))
                self.udp.append(proto)
            else:
                await self.tcp.listen(host, port)
        except OSError as e:
            what = "%s %s:%d: %s" % (entry["transport"], host, port, e.strerror or e)
            if self._unbound.get(what) is None:
                log.error("cannot listen on %s (trying again every %d s)", what, HOUSEKEEPING_MS // 1000)
            self._unbound[what] = entry
            return
        self._unbound = {k: v for k, v in self._unbound.items() if v is not entry}
        log.info("listening on %s %s:%d", entry["transport"], host, port)

    def _bind_again(self):
        for entry in list({id(e): e for e in self._unbound.values()}.values()):
            asyncio.ensure_future(self._listen(entry))

    async def _open_probe_socket(self):
        """Probes leave from a UDP socket connected to the upstream: an ICMP
        port or host unreachable then comes back to us as an error on it
        (an unconnected socket never hears of it)."""
        if self._probe is not None and self._probe.transport is not None:
            self._probe.transport.close()
        self._probe, self.proxy.probe_port = None, None
        up = self.proxy.relay.config.upstream if self.proxy.relay is not None and self.proxy.survival is not None else None
        if up is None or up[0] != "udp" or not is_ip(up[1]):
            return
        loop = asyncio.get_running_loop()
        try:
            _, proto = await loop.create_datagram_endpoint(lambda: Udp(self.receive, self._upstream_unreachable), remote_addr=(up[1], up[2]))
        except OSError as e:
            log.info("probes share the SIP socket (%s)", e)
            return
        self._probe = proto
        self.proxy.probe_port = proto.transport.get_extra_info("sockname")[1]

    def _upstream_unreachable(self, exc):
        """ICMP unreachable on the probes' socket: the probe failed, now."""
        log.debug("upstream unreachable: %s", exc)
        self.proxy.upstream_unreachable(now_ms())
        self._pump()

    def _tcp_failed(self, host, port):
        """A TCP peer refused or could not be reached: what waits on it gets
        503 now; for the upstream, evidence for survival too."""
        self._unreachable(("tcp", host, port))
        relay = self.proxy.relay
        if relay is not None and relay.config.upstream[0] == "tcp" and (host, port) == tuple(relay.config.upstream[1:3]):
            self.proxy.upstream_unreachable(now_ms())
            self._pump()

    def _add_peers(self):
        """The upstream by name: what it resolves to may start calls too."""
        relay = self.proxy.relay
        if relay is None:
            return
        for name in (self.cfg["upstream"]["host"], self.cfg["upstream"]["outbound_proxy"]):
            hit = self._dns.get(name) if name else None
            if hit is not None:
                relay.config.peers.add(hit[0])

    def _write_status(self):
        """What the console's "show status" shows; on tmpfs, so no flash wear."""
        p = self.proxy
        status = {"version": __version__, "pid": os.getpid(), "started": int(self._started),
                  "registrations": len(p.location), "transactions": len(p.txns), "tcp_connections": len(self.tcp.flows),
                  "addresses": self._addresses, "counters": p.counters, "reloads": self._reloads,
                  "listen_errors": sorted(self._unbound)}
        if p.relay is not None:
            now = now_ms()
            status["upstream"] = {"host": self.cfg["upstream"]["host"], "wan_address": p.relay.config.wan_address,
                                  "state": "relaying" if p.relaying else "local survival"}
            sv = p.survival
            if sv is not None:
                wall = time.time() * 1000 - now
                status["survival"] = {"state": sv.state, "since": int((sv.since + wall) / 1000), "failures": sv.failures,
                                      "probes": [{"at": int((t + wall) / 1000), "ok": ok, "rtt_ms": rtt, "what": what}
                                                 for t, ok, rtt, what in sv.history]}
            status["calls"] = [{"call_id": c.call_id.split("|")[0], "seconds": (now - c.created) // 1000,
                                "legs": [_leg_json(leg) for leg in c.legs.values()]} for c in p.relay.media.sessions.values()]
        try:
            write_atomic(self.cfg["state"]["status_file"], json.dumps(status).encode(), sync=False)
        except OSError as e:
            log.debug("status file: %s", e)

    async def run(self):
        await self.start()
        await self._stopped

    def receive(self, data, source):
        if self._debug:
            log.debug("recv %s %s:%d %r", source[0], source[1], source[2], data.split(b"\r\n", 1)[0][:120])
        try:
            self.proxy.receive(data, source, now_ms())
        except Exception:  # a bug of ours: the message is lost, the router is not
            self.proxy.counters["internal_errors"] = self.proxy.counters.get("internal_errors", 0) + 1
            log.exception("internal error on a message from %s:%d (dropped)", source[1], source[2])
        self._pump()

    def _pump(self):
        # Pinholes first: a phone may send RTP within milliseconds of the SIP
        # message that carries the answer, and a packet that beats its
        # pinhole is NATed wrongly for the call's whole life.
        self._media_actions()
        for data, dest in self.proxy.datagrams_to_send():
            self.send(data, dest)
        events = self.proxy.events
        if events:
            self.proxy.events = []
            self._events(events)
        self._arm()

    def _events(self, events):
        changed = False
        for kind, b in events:
            if kind == "binding":
                log.info("registered %s at %s expires in %ds", safe(b.aor), safe(b.uri), b.remaining(now_ms()))
                changed = True
            elif kind == "expired":
                log.info("registration of %s at %s expired", safe(b.aor), safe(b.uri))
                changed = True
            elif kind == "survival":
                log.warning("upstream %s", b)
                self._write_status()
            elif kind == "trunk":
                log.info("survival: %s", safe(b))
            elif kind == "refused":
                log.warning("refused: %s", safe(b))
            elif kind == "call_limit":
                log.info("call %s reached media.max_call_s: its pinholes are closed", safe(b))
        if changed:
            self.snap.changed(now_ms())

    def _media_actions(self):
        """The core's pinhole actions into nft, before any SIP goes out.
        Conntrack entries between a leg's two ends go first (a call before
        on the same ports, its NAT on another WAN port: a packet meeting it
        would leave from that port, and the far end's first packet would
        clash with it and get a new source port), then the batch, then
        those tuples once more, then each new leg's own entry is made."""
        relay = self.proxy.relay
        if relay is None or not relay.media.actions:
            return
        actions, relay.media.actions = relay.media.actions, []
        live = set(self.pinholes.live)  # a leg replacing one of the same key is no new flow
        stale = []
        for kind, leg in actions:
            stale += self._pinhole(kind, leg)
            if self._debug:
                log.debug("pinhole %s %r", kind, leg)
        self.conntrack.forget(stale)
        self._apply_pinholes()
        # Whatever crossed before the batch went in, then the entries both
        # first packets will meet (conntrack.py: why).
        self.conntrack.forget(stale)
        # Only streams new to the call: a far end re-offering in a loop
        # must not make an entry per re-INVITE (conntrack's table is the
        # whole router's).
        self.conntrack.prime([leg for kind, leg in actions if kind == "open" and leg.key not in live and leg.key in self.pinholes.live])
        self._write_status()  # "show calls" sees a call as it starts and ends
        if self.conntrack.failed and not getattr(self, "_ct_logged", False):
            self._ct_logged = True
            log.warning("cannot reach conntrack over netlink: a call reusing the last call's ports may get stale NAT")

    def _pinhole(self, kind, leg):
        """One leg to the helper; the conntrack tuples to forget. The helper
        refuses a leg whose values are not typed (TypeError: a bug of ours,
        never text from a packet): logged, and the message's other legs
        still go in."""
        from .conntrack import leg_tuples

        try:
            if kind in ("open", "guard"):
                self.pinholes.open(leg)
            else:
                self.pinholes.close(leg)  # close, unguard
            # Only an opening leg's: after a close, the old entry keeps the
            # phone's late packets on the old WAN port, where the ruleset
            # drops them; deleted, they would leave masqueraded.
            return leg_tuples(leg) if kind == "open" else []
        except TypeError as e:
            self.proxy.counters["internal_errors"] = self.proxy.counters.get("internal_errors", 0) + 1
            log.error("pinhole %s refused: %s", kind, e)
        return []

    def _apply_pinholes(self):
        try:
            ok = self.pinholes.apply()
        except OSError as e:
            ok = False
            log.error("nft: %s", e)
        if not ok:
            log.error("nft refused some pinhole changes (is the base ruleset loaded?): %s", self.pinholes.error)

    def send(self, data, dest):
        transport, host, port, flow = dest
        if self._debug:
            log.debug("send %s %s:%d %r", transport, host, port, data.split(b"\r\n", 1)[0][:120])
        if transport == "tcp":
            if not self._dns.refuse(host):  # a connect to a name would resolve it
                self.tcp.send(data, host, port, flow)
            else:
                self._unreachable(dest, data)
        elif transport == "udp":
            if not self.udp:
                return
            if is_ip(host):
                self.udp[0].send(data, host, port)
            else:
                self._dns.resolve_then(host, lambda addr: self.udp[0].send(data, addr, port), lambda: self._unreachable(dest, data))
        elif transport == "probe":
            if self._probe is not None:
                self._probe.send(data)
        else:
            log.info("no %s transport: dropping a message to %s:%d", transport, host, port)

    def _unreachable(self, dest, data=None):
        """No way to dest (a name that does not resolve, or one the router
        does not resolve, a failed connect): the core answers what waited
        on it (the request `data`, or all to dest) with 503 now. Later, not
        inside the send loop that found it."""
        asyncio.get_running_loop().call_soon(self._unreachable_now, dest, data)

    def _unreachable_now(self, dest, data):
        self.proxy.unreachable(dest, now_ms(), data)
        self._pump()

    def _arm(self):
        now = now_ms()
        at = self._housekeeping
        for t in (self.proxy.next_deadline(), self.snap.due):
            if t is not None and t < at:
                at = t
        if self._timer is not None and self._timer_at == at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = asyncio.get_running_loop().call_later(max(0, at - now) / 1000.0, self._on_timer)

    def _on_timer(self):
        self._timer = None
        now = now_ms()
        try:
            self.proxy.handle_timer(now)
            try:
                self.snap.poll(now)
            except OSError as e:  # a full or failing flash: keep serving, try again
                log.error("cannot save registrations to %s: %s", self.bindings_path, e)
                self.snap.changed(now)
            if now >= self._housekeeping:
                self._housekeeping = now + HOUSEKEEPING_MS
                self.tcp.close_idle()
                self._refresh_addresses()
                if self._unbound:
                    self._bind_again()
                self._refresh_pinholes(now)
                self._write_status()
                auth = self.proxy.config.authenticator
                if auth is not None:
                    auth.nonces.forget_expired(now)
        except Exception:  # a bug of ours must not stop the timers (retransmissions)
            self.proxy.counters["internal_errors"] = self.proxy.counters.get("internal_errors", 0) + 1
            log.exception("internal error in the timer")
        finally:
            self._pump()

    def _refresh_pinholes(self, now):
        """The NAT maps of live calls, at half the idle timeout."""
        relay = self.proxy.relay
        if relay is None or now < self._pinhole_refresh:
            return
        self._pinhole_refresh = now + self.cfg["media"]["idle_timeout_s"] * 500
        n = 0
        for leg in list(relay.media.legs()) + list(relay.media.guards()):
            self.pinholes.refresh(leg)
            n += 1
        if n:
            self._apply_pinholes()

    def _refresh_addresses(self):
        """A DHCP lease can come after we started: requests to the new
        address are for us too."""
        addresses = local_ipv4()
        wan = self._wan_address(self.cfg)
        if addresses != self._addresses or wan != self._wan:
            log.info("local addresses now %s%s", ", ".join(addresses) or "none", " (WAN %s)" % wan if wan else "")
            self._addresses, self._wan = addresses, wan
            self.proxy.set_config(configmod.proxy_config(self.cfg, self.key, addresses, wan))
            self._add_peers()

    # -- signals ----------------------------------------------------------------

    def reload(self):
        error = None
        try:
            error = self._reload()
        except Exception as e:  # a config that passed validation and still trips: say so, keep running
            log.exception("reload failed, keeping the running config")
            error = "%s: %s" % (type(e).__name__, e)
        self._reloads = {"count": self._reloads["count"] + 1, "error": error}
        self._write_status()  # show survival/status see the outcome now, not in 10 s

    def _reload(self):
        try:
            cfg = configmod.load(self.config_path)
        except (Invalid, OSError) as e:
            log.error("reload refused, keeping the running config: %s", e)
            return str(e)
        if cfg["sip"]["listen"] != self.cfg["sip"]["listen"] or cfg["state"] != self.cfg["state"]:
            log.warning("listen addresses and state dir change only on restart")
        self._addresses = local_ipv4()
        self._wan = self._wan_address(cfg)
        pc = configmod.proxy_config(cfg, self.key, self._addresses, self._wan)
        was = self.proxy.relay
        if was is not None and pc.relay is not None and pc.media != self.proxy.config.media:
            log.warning("media ports and call limits change only on restart (calls are using them)")
            pc.media = self.proxy.config.media
        old_up = self.proxy.relay.config.upstream if was is not None else None
        self.proxy.set_config(pc)
        self._dns.allow(configmod.host_names(cfg))
        self._add_peers()
        if (self.proxy.relay.config.upstream if self.proxy.relay is not None else None) != old_up:
            asyncio.ensure_future(self._open_probe_socket())
        if was is None and self.proxy.relay is not None:
            self._relay_started(cfg)
            self.pinholes.flush()
            self._apply_pinholes()
        elif was is not None and self.proxy.relay is None:
            log.info("relaying stopped: closing every pinhole")
            self.pinholes.flush()
            self._apply_pinholes()
            self.pinholes = None
        elif self.pinholes is not None:
            self.pinholes.timeout_s, self.pinholes.lock = cfg["media"]["idle_timeout_s"], cfg["media"]["lock"]
        self.proxy.location.max_bindings, self.proxy.location.max_per_aor = pc.max_bindings, pc.max_per_aor
        lim = self.proxy.limiter
        lim.rate, lim.burst, lim.max_sources = pc.rate, pc.burst, pc.max_sources
        txns = self.proxy.txns
        txns.t1, txns.t2, txns.t4, txns.max_transactions = pc.t1, pc.t2, pc.t4, pc.max_transactions
        self.tcp.configure(**configmod.tcp_limits(cfg))
        self.cfg = cfg
        self._debug = log.isEnabledFor(logging.DEBUG)
        log.info("configuration reloaded from %s (%d users)", self.config_path, len(cfg["users"]))
        return None

    def stop(self):
        if self._stopped is None or self._stopped.done():
            return
        log.info("stopping: saving %d registrations", len(self.proxy.location))
        self.snap.flush(now_ms())
        self.tcp.close()
        if self._probe is not None and self._probe.transport is not None:
            self._probe.transport.close()
        for u in self.udp:
            if u.transport is not None:
                u.transport.close()
        self._stopped.set_result(None)


def safe(value, limit=200):
    """Text from the network as a log line may show it: escaped as the
    console shows it (`log` puts the log on the admin's terminal), and no
    longer than `limit`."""
    return field(value, limit)


def _leg_json(leg):
    return {"kind": leg.key[2], "stream": leg.key[1], "lan": "%s:%d" % leg.lan, "wan": "%s:%d" % leg.wan,
            "remote": "%s:%d" % leg.remote if leg.remote else None, "in": leg.inbound, "out": leg.outbound}

