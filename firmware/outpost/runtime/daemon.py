"""The outpost daemon: the sans-I/O proxy wired to sockets, one timer,
durable bindings and signals.

It talks to the core only through its surface (core/proxy.py's header;
tests/host/test_core_surface.py holds it to that). After every datagram
and every timer it drains the core's events, puts the pinholes among them
into the firewall before it sends the datagrams the core queued with
them, logs the rest, and re-arms one asyncio timer at the earliest
deadline (the core's, the state writer's, housekeeping's). SIGHUP reloads
the config (a bad one is logged and ignored), SIGTERM and SIGINT flush
the bindings and stop.
"""

import asyncio
import logging
import os
import signal
import time

from ..core import events as ev
from ..core.proxy import Proxy
from . import config as configmod
from . import statusfile
from .. import __version__
from .consoleviews import field
from .netinfo import local_ipv4, source_address
from .network import Network
from .resolver import Resolver
from .schema import Invalid
from .store import Snapshotter, read_json
from .transport import is_ip

log = logging.getLogger("outpost")

HOUSEKEEPING_MS = 10000  # idle TCP, addresses, unbound listeners, pinhole refresh, status
WAN_PROBE = "198.51.100.1"  # TEST-NET-2: any off-LAN address finds the default route


def now_ms():
    return int(time.monotonic() * 1000)


class Daemon:
    def __init__(self, cfg, config_path):
        self.cfg = cfg
        self.config_path = config_path
        # Each SIGHUP's outcome, for the console's commit to report truly.
        self._reloads = {"count": 0, "error": None}
        self.internal_errors = 0  # bugs of ours contained here (the core counts its own)
        state_dir = cfg["state"]["dir"]
        os.makedirs(state_dir, exist_ok=True)
        self.key = configmod.secret(state_dir)
        now = now_ms()
        self._dns = Resolver(now_ms, configmod.host_names(cfg), self._resolved_changed)  # configured names only, bounded
        self._resolved = frozenset()
        self._probe_port = None
        self._addresses = local_ipv4()
        self._wan = self._wan_address(cfg)
        self.proxy = Proxy(self._proxy_config(cfg), now)
        self.bindings_path = os.path.join(state_dir, "bindings.json")
        kept = self.proxy.restore_bindings(statusfile.loaded(read_json(self.bindings_path, {}), now), now)
        log.info("outpost: %d registrations restored from %s", kept, self.bindings_path)
        self.firewall = None
        self._relaying(cfg)
        self.snap = Snapshotter(self.bindings_path, lambda: statusfile.saved(self.proxy.saved_bindings(), now_ms()),
                                cfg["state"]["write_delay_ms"])
        self.net = Network(self.receive, self.received, self._transport_failed, self._dns, now_ms, configmod.tcp_limits(cfg))
        self._debug = self.net.debug = log.isEnabledFor(logging.DEBUG)
        self._timer = None
        self._timer_at = None
        self._housekeeping = now + HOUSEKEEPING_MS
        self._stopped = None
        self._started = time.time()

    def _proxy_config(self, cfg):
        return configmod.proxy_config(cfg, self.key, self._addresses, self._wan, self._resolved, self._probe_port)

    def _wan_address(self, cfg):
        """Our address towards the upstream (changes with a DHCP lease)."""
        host = cfg["upstream"]["outbound_proxy"] or cfg["upstream"]["host"]
        if not host:
            # No upstream: where the default route leaves from (a UDP connect
            # to a documentation address looks the route up, sends nothing).
            return source_address(WAN_PROBE) if (cfg["interfaces"].get("lan0") or {}).get("address") else None
        if not is_ip(host):
            hit = self._dns.get(host)
            if hit is None:
                return getattr(self, "_wan", None)
            host = hit[0]
        return source_address(host, cfg["upstream"]["port"])

    def _relaying(self, cfg):
        """Relaying began, goes on or stopped (start, or a reload of
        upstream.host): the firewall takes over the ruleset's media sets,
        empty, or lets them go. (Loaded only while relaying: a router
        without an upstream keeps its memory.)"""
        up = self.proxy.status(now_ms()).get("upstream")
        relays = up is not None
        if relays and self.firewall is None:
            from .firewall import Firewall

            self.firewall = Firewall(cfg["media"]["idle_timeout_s"], cfg["media"]["lock"])
            log.info("relaying to %s:%d from %s (media ports %d-%d)", cfg["upstream"]["host"], cfg["upstream"]["port"],
                     up["wan_address"], cfg["media"]["port_min"], cfg["media"]["port_max"])
            return True
        if not relays and self.firewall is not None:
            log.info("relaying stopped: closing every pinhole")
            self.firewall.flush()
            self.firewall = None
        elif self.firewall is not None:
            self.firewall.configure(cfg["media"]["idle_timeout_s"], cfg["media"]["lock"])
        return False

    def _upstream(self, cfg):
        """The upstream as the probe socket connects to it, or None (not
        relaying: no upstream, or no LAN to relay for)."""
        up = cfg["upstream"]
        if not up["host"] or not (cfg["interfaces"].get("lan0") or {}).get("address"):
            return None
        return (up["transport"], up["outbound_proxy"] or up["host"], up["port"])

    # -- the loop ----------------------------------------------------------------

    async def start(self):
        loop = asyncio.get_running_loop()
        for entry in self.cfg["sip"]["listen"]:
            await self.net.listen(entry, HOUSEKEEPING_MS // 1000)
        self._stopped = loop.create_future()
        for sig, handler in ((signal.SIGHUP, self.reload), (signal.SIGTERM, self.stop), (signal.SIGINT, self.stop)):
            loop.add_signal_handler(sig, handler)
        self._started = time.time()
        await self._open_probe()
        if self.firewall is not None:
            self.firewall.flush()  # whatever an earlier run left
        self._write_status()
        self._arm()

    async def run(self, on_started=None):
        await self.start()
        if on_started is not None:
            on_started()
        await self._stopped

    def receive(self, data, source):
        if self._debug:
            log.debug("recv %s %s:%d %r", source[0], source[1], source[2], data.split(b"\r\n", 1)[0][:120])
        try:
            self.proxy.receive(data, source, now_ms())
        except Exception:  # a bug of ours: the message is lost, the router is not
            self.internal_errors += 1
            log.exception("internal error on a message from %s:%d (dropped)", source[1], source[2])

    def received(self):
        """After a batch of receive()s (the sockets call it: up to 32
        datagrams of one wakeup, a TCP read's messages), what they caused
        is pumped once: one nft batch, one re-arm of the timer. Pumped per
        message, that bookkeeping was 13% of a proxied call's CPU (0.61 ->
        0.53 ms)."""
        self._pump()

    def _pump(self):
        try:
            events = []
            while True:
                e = self.proxy.next_event()
                if e is None:
                    break
                events.append(e)
            # Pinholes first: a phone may send RTP within milliseconds of the SIP
            # message that carries the answer, and a packet that beats its
            # pinhole is NATed wrongly for the call's whole life.
            pinholes = self.firewall is not None and self.firewall.apply(events)
            for data, dest in self.proxy.datagrams_to_send():
                self._send(data, dest)
            if events:
                self._log(events)
            if pinholes:
                self._write_status()  # "show calls" sees a call as it starts and ends
        finally:
            self._arm()  # whatever failed above, retransmissions and expiry go on

    def _send(self, data, dest):
        """One message out. A destination a packet named that the socket
        cannot take (an IPv6 literal on an IPv4 socket) costs that message
        alone, never the rest of the batch's output."""
        try:
            self.net.send(data, dest)
        except Exception:
            self.internal_errors += 1
            log.exception("internal error sending to %s:%s (dropped)", safe(str(dest[1])), dest[2])

    def _log(self, events):
        changed = False
        for e in events:
            kind = type(e)
            if kind is ev.BindingChanged:
                log.info("registered %s at %s expires in %ds", safe(e.binding.aor), safe(e.binding.uri), e.binding.remaining(now_ms()))
                changed = True
            elif kind is ev.BindingExpired:
                log.info("registration of %s at %s expired", safe(e.binding.aor), safe(e.binding.uri))
                changed = True
            elif kind is ev.UpstreamStateChanged:
                log.warning("upstream %s", e)
                self._write_status()
            elif kind is ev.TrunkUsed:
                log.info("survival: %s", safe(str(e)))
            elif kind is ev.RequestRefused:
                log.warning("refused: %s", safe(str(e)))
            elif kind is ev.CallLimitReached:
                log.info("call %s reached media.max_call_s: its pinholes are closed", safe(e.call_id))
        if changed:
            self.snap.changed(now_ms())

    def _transport_failed(self, dest, data):
        """The core answers what waited on dest (the request `data`, or all
        to dest) now. Later, not inside the send loop that found it."""
        asyncio.get_running_loop().call_soon(self._transport_failed_now, dest, data)

    def _transport_failed_now(self, dest, data):
        self.proxy.transport_failed(dest, now_ms(), data)
        self._pump()

    def _arm(self):
        now = now_ms()
        at = self._housekeeping
        for t in (self.proxy.next_deadline(), self.snap.due):
            if t is not None and t < at:
                at = t
        if self._timer is not None and self._timer_at <= at:
            # Armed for sooner: it fires, handles what is due (perhaps
            # nothing: a timer stopped since) and arms again. Re-arming only
            # for a sooner deadline saves a call_later and a cancelled
            # handle on nearly every message under load.
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
                self._housekeep(now)
        except Exception:  # a bug of ours must not stop the timers (retransmissions)
            self.internal_errors += 1
            log.exception("internal error in the timer")
        finally:
            self._pump()

    def _housekeep(self, now):
        self.net.tcp.close_idle()
        self._refresh_addresses()
        if self.net.unbound:
            self.net.bind_again(HOUSEKEEPING_MS // 1000)
        if self.firewall is not None:
            self.firewall.refresh(now)
        self._write_status()

    def _refresh_addresses(self):
        """A DHCP lease can come after we started: requests to the new
        address are for us too."""
        addresses = local_ipv4()
        wan = self._wan_address(self.cfg)
        if addresses != self._addresses or wan != self._wan:
            log.info("local addresses now %s%s", ", ".join(addresses) or "none", " (WAN %s)" % wan if wan else "")
            self._addresses, self._wan = addresses, wan
            self.proxy.set_config(self._proxy_config(self.cfg))

    def _resolved_now(self, cfg):
        up = cfg["upstream"]
        hits = [self._dns.get(name) for name in (up["host"], up["outbound_proxy"]) if name]
        return frozenset(hit[0] for hit in hits if hit is not None)

    def _resolved_changed(self):
        """The upstream by name: what it resolves to may start calls too
        (kept until a reload: a call from the old address may still be up)."""
        resolved = self._resolved_now(self.cfg)
        if resolved - self._resolved:
            self._resolved |= resolved
            self.proxy.set_config(self._proxy_config(self.cfg))

    async def _open_probe(self):
        port = await self.net.open_probe(self._upstream(self.cfg))
        if port != self._probe_port:  # the probes' Via names it
            self._probe_port = port
            self.proxy.set_config(self._proxy_config(self.cfg))

    def counters(self, core=None):
        """The core's counters (from its `status`, when the caller has it)
        with the bugs of ours the runtime contained."""
        counters = (self.proxy.status(now_ms()) if core is None else core)["counters"]
        counters["internal_errors"] = counters.get("internal_errors", 0) + self.internal_errors + (
            self.firewall.internal_errors if self.firewall is not None else 0)
        return counters

    def _write_status(self):
        """What the console's "show status" shows."""
        now = now_ms()
        core = self.proxy.status(now)
        if "upstream" in core:
            core["upstream"]["host"] = self.cfg["upstream"]["host"]
        core["counters"] = self.counters(core)
        statusfile.write(self.cfg["state"]["status_file"], core, now, version=__version__, started=int(self._started),
                         tcp_connections=len(self.net.tcp.flows), addresses=self._addresses, reloads=self._reloads,
                         listen_errors=sorted(self.net.unbound))

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
        if self.firewall is not None and cfg["upstream"]["host"] and _media(cfg) != _media(self.cfg):
            log.warning("media ports and call limits change only on restart (calls are using them)")
            for k in ("port_min", "port_max", "max_calls", "max_call_s"):
                cfg["media"][k] = self.cfg["media"][k]
        self._addresses = local_ipv4()
        self._dns.allow(configmod.host_names(cfg))
        old_up = self._upstream(self.cfg)
        self.cfg = cfg
        self._wan = self._wan_address(cfg)
        self._resolved = self._resolved_now(cfg)
        self.proxy.set_config(self._proxy_config(cfg))
        if self._relaying(cfg):
            self.firewall.flush()
        if self._upstream(cfg) != old_up:
            asyncio.ensure_future(self._open_probe())
        self.net.tcp.configure(**configmod.tcp_limits(cfg))
        self._debug = self.net.debug = log.isEnabledFor(logging.DEBUG)
        log.info("configuration reloaded from %s (%d users)", self.config_path, len(cfg["users"]))
        return None

    def stop(self):
        if self._stopped is None or self._stopped.done():
            return
        log.info("stopping: saving %d registrations", self.proxy.status(now_ms())["registrations"])
        self.snap.flush(now_ms())
        self.net.close()
        self._stopped.set_result(None)


def _media(cfg):
    m = cfg["media"]
    return (m["port_min"], m["port_max"], m["max_calls"], m["max_call_s"])


def safe(value, limit=200):
    """Text from the network as a log line may show it: escaped as the
    console shows it (`log` puts the log on the admin's terminal), and no
    longer than `limit`."""
    return field(value, limit)
