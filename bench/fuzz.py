"""Fuzz campaign: mutated requests, responses and SDP from the LAN, the
upstream and strangers through the relaying proxy, in-process, with oracles.

    .venv/bin/python bench/fuzz.py [--count N] [--seed S] [--repro DIR] [--quick]
    .venv/bin/python bench/fuzz.py --replay DIR/some-finding.json [--shrink]

The site: phones alice 192.0.2.10:5062 and bob 192.0.2.11:5064 on lan0
(192.0.2.0/24, the router 192.0.2.1), the upstream 203.0.113.10:5060, the
router's WAN address 203.0.113.2, users alice and bob (digest), survival
with a fallback trunk 203.0.113.50:5060 (patterns 0XXXXXXXXX, +44.;
emergency 112, 911), media ports 40000-49999, calls end after 10 minutes,
no per-source rate limit (every datagram reaches the parser). The clock
is fake: it moves a few ms per message, more between conversations, and
every timer fires when due (transactions, probes, bindings, media).

Conversations (bench/fuzz_seeds.py) are replayed whole with some of their
messages mutated (bench/fuzz_mutate.py); answers are built from what the
router really sent, so mutations reach deep states. N counts mutated
messages; the unmutated rest of each conversation is fed and counted too.

Oracles, checked on everything the proxy emits:
1. Exceptions: anything raised out of receive() or handle_timer(), or a
   timer that stays due after it fired (the world starts afresh after one).
2. Destinations. A datagram caused by a message from source S may go to:
   - S itself (a response goes to the received/rport of the top Via, which
     the core sets to the source), whoever S is;
   - when S is not a stranger (S is a LAN host, the upstream, the trunk or
     the far end): any LAN host (192.0.2.0/24 except the router itself),
     and a response to any host that sent the router a request;
   - S on the LAN: the upstream, the trunk (survival), the far end's
     address (203.0.113.20) and any host the upstream or the trunk named
     in a Contact or Record-Route in this conversation (in-dialog requests
     go to the far end's Contact);
   - S the upstream: the upstream (a request from it to any other WAN
     host is not the ALG's job: nothing legitimate crosses WAN to WAN);
   - S the trunk or the far end: nothing more;
   - S a stranger (any other WAN address): S only. A stranger gets at most
     one answer and nothing is sent anywhere on its behalf. A response from
     a host the router sent a request to (even one it should not have) is
     not a stranger's: it goes back like the far end's.
   Timers may send only to a (host, port) something was already sent to,
   a host that sent a request (a 408), or the upstream (probes). Never to
   the router itself, 0.0.0.0, 255.255.255.255, loopback or multicast,
   whoever asked; a stranger never makes the router look up a host name.
3. Injected text: planted values carry a unique marker (INJ + 6 hex + Q).
   Each line of input and output gets a kind (start line, header name with
   compact forms expanded, folded lines belong to their header, "sdp:c="
   and so on in the body); a marker seen in an output line of a kind it was
   never planted in is injected text (a CRLF in a value that became a line
   of its own, a value that moved into another header), except a Route's
   URI (strict routing, RFC 3261 §16.4) or a registered Contact (§16.5)
   becoming the Request-URI.
   LAN leaks: a datagram to a WAN address that names a LAN address
   (192.0.2.x) in its start line, a header or an SDP body, unless the message that caused it came from the WAN and
   named that same address, or the host it goes to named it itself in a
   message with the same Call-ID (an echo of the sender's own text, like
   a 408 built from its request).
4. Pinholes: every ("open"|"close", Leg) from the media ALG must carry
   (address, port) pairs whose address prints as a plain dotted quad (str
   or core.addr.IPv4) and whose port is an int 1-65535 ("syntax"). Also
   counted: a LAN end outside 192.0.2.0/24 or the router's own address
   ("lan end"), a remote that is 0.0.0.0, broadcast, multicast, loopback
   or on the LAN ("remote"), a WAN end that is not 203.0.113.2 in the
   media range ("wan end").

Prints one line; the peer is the same mutated messages through
parse_message(...).validate() alone, timed in the same run. Exit status 1
when any oracle fired. With --repro DIR each distinct finding's world
(every input since the proxy was made) is written as JSON, shrunk to the
inputs that still reproduce it (the conversation alone when that is
enough; else the whole world, which `--replay FILE --shrink` cuts down).
"""

import json
import os
import random
import re
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from outpost.core.auth import Authenticator, Credentials, Nonces, parse_networks  # noqa: E402
from outpost.core.errors import RemoteProtocolError  # noqa: E402
from outpost.core.headers import COMPACT  # noqa: E402
from outpost.core.message import parse_message  # noqa: E402
from outpost.core.proxy import Proxy, ProxyConfig  # noqa: E402
from outpost.core.registrar import RegistrarPolicy  # noqa: E402
from outpost.core.relay import RelayConfig  # noqa: E402
from outpost.core.survival import SurvivalConfig  # noqa: E402

import fuzz_seeds as seeds  # noqa: E402
from fuzz_mutate import mutate, MARKER  # noqa: E402

SECRET = b"fuzz-campaign-secret-32-bytes!!!"
WORLD_SCENARIOS = 200  # conversations per proxy: tables fill, state piles up, a finding replays in bounded time
MUTATE_P = 0.45  # each message of a conversation is mutated with this probability (at least one is)
SAMPLES = 3  # findings printed (stderr) per oracle and kind
MARKER_RE = re.compile(rb"INJ[0-9a-f]{6}Q")
LAN_RE = re.compile(rb"192\.0\.2\.\d{1,3}")
CALL_ID_RE = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
DOTTED = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")
MEDIA = (40000, 49999)
KNOWN = ("start", "via", "route", "record-route", "contact", "from", "to", "call-id", "refer-to", "referred-by", "p-asserted-identity")


def make_proxy(now):
    users = {n: Credentials.from_password(n, seeds.DOMAIN, seeds.PASSWORD) for n in ("alice", "bob")}
    auth = Authenticator(seeds.DOMAIN, users, Nonces(SECRET), ("SHA-256", "MD5"))
    cfg = ProxyConfig(seeds.DOMAIN, {"udp": (seeds.LAN_IP, 5060)}, SECRET, auth, RegistrarPolicy(seeds.DOMAIN), rate=0)
    cfg.aliases = [(seeds.LAN_IP, 5060), (seeds.WAN_IP, 5060)]
    cfg.trusted = parse_networks(["127.0.0.0/8", "192.0.2.0/24"])
    cfg.relay = RelayConfig(parse_networks(["192.0.2.0/24"]), seeds.LAN_IP, seeds.WAN_IP, seeds.UPSTREAM)
    cfg.media = (MEDIA[0], MEDIA[1], 500, 600000)
    cfg.survival = SurvivalConfig(10000, 3, 30000, 60, seeds.TRUNK, ["0XXXXXXXXX", "+44."], ["112", "911"])
    cfg.survival_policy = RegistrarPolicy(seeds.DOMAIN, 60, 60, 60)
    return Proxy(cfg, now)


def who(host):
    if host.startswith("192.0.2."):
        return "lan"
    if not _ip(host):
        return "host name"
    return {seeds.UPSTREAM[1]: "upstream", seeds.TRUNK[1]: "trunk", seeds.FAR[1]: "far"}.get(host, "stranger")


def _ip(host):
    return DOTTED.match(host) is not None


def line_kinds(data):
    """{marker: {kind of every line it is on}}: see oracle 3."""
    out = {}
    kind = "start"
    body = False
    first = True
    for line in data.split(b"\n"):
        line = line.rstrip(b"\r")
        if first:
            first = False
        elif body:
            kind = "sdp:" + line[:2].decode("latin-1") if line[1:2] == b"=" else "body"
        elif not line:
            body, kind = True, "body"
        elif line[:1] not in b" \t":
            name = line.split(b":", 1)[0].strip().lower().decode("latin-1")
            kind = COMPACT.get(name, name)
        if MARKER in line:
            for m in MARKER_RE.findall(line):
                out.setdefault(m, set()).add(kind)
    return out


def _signalling(out):
    """The message without a body that is not SDP (a chat text may name an
    address: README, "Bodies that are not SDP pass unchanged")."""
    i = out.find(b"\r\n\r\n")
    if i < 0 or out[i + 4:i + 7] == b"v=0":
        return out
    return out[:i]


class Findings:
    def __init__(self, repro):
        self.counts = {"exceptions": 0, "unexpected destinations": 0, "injected text": 0, "LAN leaks": 0, "bad pinholes": 0}
        self.kinds = {}  # (oracle, kind) -> count
        self.first = {}  # (oracle, kind) -> sample text
        self.repro = repro
        self.saved = 0

    def add(self, oracle, kind, text, world):
        self.counts[oracle] += 1
        key = (oracle, kind)
        self.kinds[key] = self.kinds.get(key, 0) + 1
        if key not in self.first:
            self.first[key] = text
            if self.repro is not None:
                world.save(self.repro, oracle, kind, text)
                self.saved += 1

    def breakdown(self, oracle):
        parts = ["%s %d" % (k[1], n) for k, n in sorted(self.kinds.items(), key=lambda kv: -kv[1]) if k[0] == oracle]
        return " (%s)" % ", ".join(parts) if parts else ""


class World:
    """One proxy and what it has been told and has sent."""

    def __init__(self, now, findings, check=True):
        self.proxy = make_proxy(now)
        self.now = now
        self.start = now
        self.findings = findings
        self.check = check
        self.log = []  # every input: ("msg", source, hex, now) or ("tick", now)
        self.sent = []  # (parsed or None, data, dest) in this conversation
        self.seen_dests = set()
        self.requesters = set()
        self.called = set()  # (host, port) the router sent a request to
        self.named = set()  # (host, port) the upstream or trunk named in this conversation
        self.planted = {}  # marker -> kinds it was planted in
        self.retrans = set()
        self.wan_contact = {}
        self.said = {}  # (WAN host, Call-ID) -> LAN addresses it named itself
        self.answer_probes = True
        self.flow = "-"
        self.conv_start = 0
        self.current = None
        self.proxy_s = 0.0
        self.parse_s = 0.0
        self.broken = False

    # -- feeding --------------------------------------------------------------------

    def conversation(self, name):
        self.sent = []
        self.named = set()
        self.flow = name
        self.conv_start = len(self.log)

    def feed(self, source, data, at=None, how=()):
        at = self.now + 1 + (len(self.log) * 7919) % 23 if at is None else at
        self.tick_to(at)
        if self.broken:
            return
        self.now = at
        self.current = (source, data, how)
        self.log.append(("msg", list(source), data.hex(), self.now))
        kinds = line_kinds(data) if MARKER in data else {}
        for m, k in kinds.items():
            self.planted.setdefault(m, set()).update(k)
        if source[1] in (seeds.UPSTREAM[1], seeds.TRUNK[1]):
            self._learn(data)
        if data[:4] != b"SIP/":
            self.requesters.add((source[1], source[2]))
        if who(source[1]) != "lan" and b"192.0.2." in data:
            cid = CALL_ID_RE.search(data)
            key = (source[1], cid.group(1) if cid else b"")
            self.said[key] = self.said.get(key, set()) | set(LAN_RE.findall(data))
        t0 = time.perf_counter()
        try:
            self.proxy.receive(data, source, self.now)
        except Exception as e:  # noqa: BLE001 - counting every type is the point
            self.proxy_s += time.perf_counter() - t0
            return self._crash(e, "receive")
        self.proxy_s += time.perf_counter() - t0
        self._peer(data)
        self._drain(source, data)

    def _peer(self, data):
        t0 = time.perf_counter()
        try:
            parse_message(data).validate()
        except RemoteProtocolError:
            pass
        except Exception:  # noqa: BLE001 - the proxy's receive() already reported it
            pass
        self.parse_s += time.perf_counter() - t0

    def _learn(self, data):
        try:
            m = parse_message(data)
            uris = [c.uri for c in m.contacts if not c.star] + [r.uri for r in m.record_routes]
        except (RemoteProtocolError, AttributeError, TypeError, ValueError):
            return
        for u in uris:
            if u.is_sip:
                self.named.add((u.param("maddr") or u.host.strip("[]"), u.port or 5060))

    def tick_to(self, target):
        p = self.proxy
        for _ in range(10000):
            t = p.next_deadline()
            if t is None or t > target:
                self.now = max(self.now, target)
                return
            self.now = max(self.now, t)
            self.log.append(("tick", self.now))
            self.current = (("timers", "-", "-"), None, ())
            t0 = time.perf_counter()
            try:
                p.handle_timer(self.now)
            except Exception as e:  # noqa: BLE001
                self.proxy_s += time.perf_counter() - t0
                return self._crash(e, "handle_timer")
            self.proxy_s += time.perf_counter() - t0
            if p.next_deadline() is not None and p.next_deadline() <= t and p.next_deadline() <= self.now:
                return self._crash(RuntimeError("timer due at %d still due after handle_timer(%d)" % (p.next_deadline(), self.now)), "handle_timer")
            probes = self._drain(None, None)
            if self.answer_probes:
                for m in probes:
                    self.feed(seeds.UPSTREAM, seeds.respond(m, 200, "OK", to_tag="pr"))
        self._crash(RuntimeError("more than 10000 timers due before %d" % target), "handle_timer")

    def _crash(self, e, where):
        tb = traceback.extract_tb(e.__traceback__)
        at = "%s:%d" % (os.path.basename(tb[-1].filename), tb[-1].lineno) if tb else "?"
        self.findings.add("exceptions", "%s at %s" % (type(e).__name__, at), "%s in %s: %s at %s\n%s" % (type(e).__name__, where, e, at, self._input()), self)
        self.broken = True

    # -- oracles ----------------------------------------------------------------------

    def _drain(self, source, data):
        """Check every datagram and pinhole action; returns probes sent upstream."""
        p = self.proxy
        probes = []
        trigger = who(source[1]) if source is not None else "timer"
        if trigger in ("stranger", "host name") and data[:4] == b"SIP/" and (source[1], source[2]) in self.called:
            trigger = "far"
        said = set(LAN_RE.findall(data)) if data is not None and trigger != "lan" else set()
        for out, dest in p.datagrams_to_send():
            m = seeds.parsed(out)
            self.sent.append((m, out, dest))
            if m is not None and m.is_request:
                self.called.add((dest[1], dest[2]))
            if source is None and m is not None and m.is_request and m.method == "OPTIONS" and dest[1] == seeds.UPSTREAM[1] \
                    and seeds.PROBE_FROM in m.get("from", ""):
                probes.append(m)
            if self.check:
                self._check(out, m, dest, source, trigger, said)
        while True:  # the runtime's view: events, pinholes among them
            e = p.next_event()
            if e is None:
                break
            if self.check and type(e).__name__ in ("PinholeOpened", "PinholeClosed"):
                self._leg("guard" if type(e.leg).__name__ == "Guard" else "leg", e.leg)
        return probes

    def _check(self, out, m, dest, source, trigger, said):
        hp = (dest[1], dest[2])
        again = trigger == "timer" and hash(out) in self.retrans
        if not again:
            self.retrans.add(hash(out))
            if len(self.retrans) > 100000:
                self.retrans.clear()
        bad = self._destination(m, dest, hp, source, trigger)
        if bad:
            self.findings.add("unexpected destinations", bad, self._sample(out, dest), self)
        self.seen_dests.add(hp)
        if again:
            return
        if MARKER in out:
            for marker, kinds in line_kinds(out).items():
                planted = self.planted.get(marker, set())
                extra = kinds - planted - ({"start"} if planted & {"route", "contact"} else set())
                if extra:
                    self.findings.add("injected text", "%s -> %s" % ("/".join(sorted(planted)) or "?", "/".join(sorted(extra))),
                                      self._sample(out, dest), self)
        if who(dest[1]) != "lan" and b"192.0.2." in out:
            cid = CALL_ID_RE.search(out)
            echo = self.said.get((dest[1], cid.group(1) if cid else b""), ())
            leaked = [x for x in set(LAN_RE.findall(_signalling(out))) if x not in said and x not in echo]
            if leaked:
                self.findings.add("LAN leaks", self._leak_kind(out, leaked[0]), self._sample(out, dest), self)

    def _destination(self, m, dest, hp, source, trigger):
        host = dest[1]
        if trigger == "timer" and hp in self.seen_dests:
            return None  # a retransmission: its first send was judged
        if not _ip(host) and trigger == "stranger":
            return "stranger -> host name"
        if host in ("0.0.0.0", "255.255.255.255") or (_ip(host) and 224 <= int(host.split(".")[0]) <= 239) \
                or (host.startswith("127.")) or hp in ((seeds.LAN_IP, 5060), (seeds.WAN_IP, 5060)):
            return "%s -> %s" % (trigger, "itself" if hp in ((seeds.LAN_IP, 5060), (seeds.WAN_IP, 5060)) else host)
        if source is not None and hp == (source[1], source[2]):
            return None
        if trigger == "timer":
            return None if hp in self.requesters or host == seeds.UPSTREAM[1] else "timer -> new address"
        if trigger == "stranger":
            return "stranger -> %s" % who(host)
        response = m is not None and not m.is_request
        if who(host) == "lan" or (response and hp in self.requesters):
            return None
        if trigger == "lan" and (host in (seeds.UPSTREAM[1], seeds.TRUNK[1], seeds.FAR[1]) or hp in self.named):
            return None
        if trigger == "upstream" and host == seeds.UPSTREAM[1]:
            return None
        return "%s -> %s" % (trigger, who(host))

    @staticmethod
    def _leak_kind(out, addr):
        """Where the first mention is: a known header, an SDP line, another header."""
        marked = out.replace(addr, b"INJ000000Q", 1)
        kind = line_kinds(marked).get(b"INJ000000Q", {"?"}).pop()
        return "in " + (kind if kind in KNOWN or kind.startswith("sdp:") else "other header").replace("start", "start line")

    def _leg(self, kind, leg):
        bad = None
        guard = kind in ("guard", "unguard")  # a far end only (core/media.py Guard)
        ends = ([] if guard else [("lan", leg.lan), ("wan", leg.wan)]) + ([("remote", leg.remote)] if leg.remote is not None else [])
        for name, end in ends:
            ok = isinstance(end, tuple) and len(end) == 2 and isinstance(end[1], int) and not isinstance(end[1], bool) \
                and 0 < end[1] < 65536 and type(end[0]).__name__ in ("str", "IPv4") and DOTTED.match(str(end[0]))
            if not ok:
                bad = "syntax (%s end %r)" % (name, end if len(repr(end)) < 60 else repr(end)[:60] + "...")
                break
        if bad is None and not guard:
            lan, wan = str(leg.lan[0]), str(leg.wan[0])
            if not lan.startswith("192.0.2.") or lan in (seeds.LAN_IP, "192.0.2.0", "192.0.2.255"):
                bad = "lan end %s" % lan
            elif wan != seeds.WAN_IP or not MEDIA[0] <= leg.wan[1] <= MEDIA[1]:
                bad = "wan end %s:%d" % (wan, leg.wan[1])
        if bad is None and leg.remote is not None:
            r = str(leg.remote[0])
            first = int(r.split(".")[0])
            if r in ("0.0.0.0", "255.255.255.255") or 224 <= first <= 239 or first == 127 or r.startswith("192.0.2."):
                bad = "remote %s" % r
        if bad:
            self.findings.add("bad pinholes", bad.split(" (")[0].split(" ")[0] + (" end" if bad.startswith(("lan", "wan")) else ""),
                              "%s %r: %s" % (kind, leg, bad), self)

    def _input(self):
        source, data, how = self.current if self.current else (("-", "-", "-"), b"", ())
        return "after %s from %s:%s (conversation %s, mutations %s):\n%s" % (
            "timers" if data is None else "this input", source[1], source[2], self.flow, ",".join(how) or "none",
            (data or b"")[:1500].decode("latin-1"))

    def _sample(self, out, dest):
        return "sent to %s:%s\n%s\n%s" % (dest[1], dest[2], out[:1500].decode("latin-1"), self._input())

    # -- reproducers ----------------------------------------------------------------------

    def save(self, directory, oracle, kind, text):
        os.makedirs(directory, exist_ok=True)
        inputs = shrink(self.log, self.start, self.conv_start, oracle, kind)
        name = re.sub(r"[^a-z0-9]+", "-", ("%s %s" % (oracle, kind)).lower()).strip("-")[:80] + ".json"
        with open(os.path.join(directory, name), "w") as f:
            json.dump({"oracle": oracle, "kind": kind, "first": text, "start": self.start, "inputs": inputs,
                       "config": "bench/fuzz.py make_proxy()"}, f, indent=1)


def replay(inputs, start, quiet=True):
    """Feed a reproducer's inputs to a fresh world; its Findings."""
    f = Findings(None)
    w = World(start, f)
    w.answer_probes = False  # the log holds the probe answers that were fed
    for item in inputs:
        if item[0] == "tick":
            w.tick_to(item[1])
        else:
            w.feed(tuple(item[1]), bytes.fromhex(item[2]), item[3])
        if w.broken:
            break
    return f


def shrink(log, start, conv_start, oracle, kind, budget=60):
    """The conversation that fired, alone on a fresh proxy when that is
    enough (else the world's whole log), less every input (halves, then
    one at a time) it can do without."""
    def fires(inputs):
        return replay(inputs, start).kinds.get((oracle, kind), 0) > 0
    inputs = list(log[conv_start:])
    if not fires(inputs):
        if budget < 1000:
            return list(log)  # the whole world, unshrunk: `--replay FILE --shrink` does that offline
        inputs = list(log)
    chunk = len(inputs) // 2
    tries = 0
    while chunk >= 1 and tries < budget:
        i = 0
        while i < len(inputs) and tries < budget:
            cand = inputs[:i] + inputs[i + chunk:]
            tries += 1
            if cand and fires(cand):
                inputs = cand
            else:
                i += chunk
        chunk //= 2
    return inputs


def campaign(count, seed, repro, check=True):
    rng = random.Random(seed)
    findings = Findings(repro)
    counter = [0]

    def plant(text):
        counter[0] += 1
        return text.replace("{}", "INJ%06xQ" % (counter[0] & 0xFFFFFF))

    flows = [f for f, weight in seeds.FLOWS for _ in range(weight)]
    stats = {"mutated": 0, "fed": 0, "req": 0, "resp": 0, "sdp": 0}
    world = None
    n = 0
    proxy_s = parse_s = 0.0
    t_wall = time.perf_counter()
    while stats["mutated"] < count:
        if world is None or world.broken or n % WORLD_SCENARIOS == 0:
            if world is not None:
                proxy_s, parse_s = proxy_s + world.proxy_s, parse_s + world.parse_s
            world = World(1000000 + n * 10, findings, check)
        n += 1
        world.tick_to(world.now + rng.choice((5, 50, 500, 2000, 2000, 35000 if n % 7 == 0 else 3000, 200000 if n % 50 == 0 else 100)))
        flow = rng.choice(flows)
        world.conversation(getattr(flow, "__name__", "?"))
        steps = flow(n, rng)
        pick = [rng.random() < MUTATE_P for _ in steps]
        forced = rng.randrange(len(steps))
        for i, step in enumerate(steps):
            if world.broken:
                break
            got = step(world)
            if got is None:
                continue
            if got[0] == "tick":
                world.tick_to(world.now + got[1])
                continue
            if got[0] == "probes":
                world.answer_probes = got[1]
                continue
            _, source, data, kind = got
            if pick[i] or i == forced:
                data, how = mutate(data, rng, plant)
                stats["mutated"] += 1
            else:
                how = ()
            stats["fed"] += 1
            stats[kind] += 1
            if b"\r\nv=0" in data or b"\nv=0" in data:
                stats["sdp"] += 1
            world.feed(source, data, how=how)
        world.answer_probes = True
    proxy_s, parse_s = proxy_s + world.proxy_s, parse_s + world.parse_s
    return stats, findings, proxy_s, parse_s, time.perf_counter() - t_wall, n


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "-h" in argv or "--help" in argv:
        print(__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1])
        return 0

    def opt(name, default):
        return argv[argv.index(name) + 1] if name in argv else default
    if "--replay" in argv:
        with open(opt("--replay", None)) as f:
            r = json.load(f)
        if "--shrink" in argv:
            r["inputs"] = shrink(r["inputs"], r["start"], 0, r["oracle"], r["kind"], 400)
            with open(opt("--replay", None), "w") as f:
                json.dump(r, f, indent=1)
        got = replay(r["inputs"], r["start"])
        for key, text in got.first.items():
            print("%s: %s\n%s\n" % (key[0], key[1], text))
        return 1 if got.kinds else 0
    count = int(opt("--count", "2000" if "--quick" in argv else "1000000"))
    seed = int(opt("--seed", "1"))
    repro = opt("--repro", None)
    stats, f, proxy_s, parse_s, wall, n = campaign(count, seed, repro)
    c = f.counts
    for key in sorted(f.first):
        sys.stderr.write("== %s: %s (%d)\n%s\n\n" % (key[0], key[1], f.kinds[key], f.first[key]))
    print("fuzz: %d mutated of %d messages (req %d, resp %d, sdp %d; %d conversations, seed %d) through the relaying proxy in %.1f s = %s msg/s"
          " (%.0f s wall with the oracles); exceptions %d%s; unexpected destinations %d%s; injected text %d%s; LAN leaks %d%s; bad pinholes %d%s"
          " | peer: parse+validate only %s msg/s on the same messages"
          % (stats["mutated"], stats["fed"], stats["req"], stats["resp"], stats["sdp"], n, seed, proxy_s, "{:,}".format(int(stats["fed"] / proxy_s)),
             wall, c["exceptions"], f.breakdown("exceptions"), c["unexpected destinations"], f.breakdown("unexpected destinations"),
             c["injected text"], f.breakdown("injected text"), c["LAN leaks"], f.breakdown("LAN leaks"), c["bad pinholes"], f.breakdown("bad pinholes"),
             "{:,}".format(int(stats["fed"] / parse_s)) if parse_s else "-"))
    return 1 if any(c.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
