"""Attacks on the boundary into the kernel: the pinhole helper and the
conntrack cleanup, against real nftables and real ctnetlink in a router
namespace (tests/integration/netns.py) loaded with the image's ruleset.

What reaches them comes from SDP (a LAN phone's, a far end's through the
upstream): the core types it at its edge, and these doors refuse anything
that is not typed, so no text from a packet can ever become ruleset.
"""

import json
import os

import pytest

from netns import ROOT, ROUTER_WAN, Topology, sh
from nsrun import run, send_udp, settle
from test_pinhole_nft import udp_exchange
from outpost.core.addr import IPv4, ipv4
from outpost.core.media import Leg
from outpost.runtime.pinhole import NftPinholes

PHONE, REMOTE = "192.0.2.20", "203.0.113.10"
INJECTIONS = [
    "203.0.113.10 . 1 }\n flush ruleset\n add element inet outpost media_in { 1.2.3.4",
    "203.0.113.10\t. 1 } ; flush ruleset ; add element inet outpost media_in { 1.2.3.4",
    "1.2.3.4 . 1 timeout 1d } ; add rule inet outpost input accept ; add element inet outpost media_in { 1.2.3.4",
    "localhost",  # nft would resolve a name given as text
]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


@pytest.fixture
def topo():
    t = Topology(prefix="sp").up()
    yield t
    t.down()


class Counting(NftPinholes):
    """The real helper, counting the nft processes it starts."""
    processes = 0

    def _run(self, *args, **kw):
        self.processes += 1
        return super()._run(*args, **kw)


def helper(topo, timeout_s=120, cls=NftPinholes):
    h = cls(timeout_s, nft=["ip", "netns", "exec", topo.rtr, "nft"])
    h.flush()
    assert h.apply()
    return h


def ruleset(topo):
    return sh("ip", "netns", "exec", topo.rtr, "nft", "list", "ruleset").stdout


def count(topo, kind, name):
    return len(topo.elements(kind, name))


def leg(call, lan_port, wan_port, remote=(ipv4(REMOTE), 5004), lan=None, kind="rtp"):
    return Leg((call, 0, kind), (lan or ipv4(PHONE), lan_port), (ipv4(ROUTER_WAN), wan_port), remote)


@pytest.mark.parametrize("text", INJECTIONS)
def test_sdp_text_in_a_leg_never_changes_the_ruleset(topo, text):
    """Finding 1: a c= address holding newlines, tabs, ';' and '}' was pasted
    into the nft batch. Through every field of a leg it is now a TypeError
    at the door, and the ruleset is exactly as it was."""
    h = helper(topo)
    before = ruleset(topo)
    attempts = [Leg(("x", 0, "rtp"), (ipv4(PHONE), 4000), (ipv4(ROUTER_WAN), 40000), (text, 1)),
                Leg(("x", 1, "rtp"), (text, 4000), (ipv4(ROUTER_WAN), 40002), (ipv4(REMOTE), 5004)),
                Leg(("x", 2, "rtp"), (ipv4(PHONE), 4004), (text, 40004), None)]
    refused = 0
    for attempt in attempts:
        try:
            h.open(attempt)
        except TypeError:
            refused += 1
        h.apply()
    assert ruleset(topo) == before
    assert refused == len(attempts)


@pytest.mark.parametrize("bad", [
    ("lan", ("192.0.2.20", 4000)), ("lan", (ipv4(PHONE), 0)), ("lan", (ipv4(PHONE), 65536)), ("lan", (ipv4(PHONE), -1)),
    ("lan", (ipv4(PHONE), True)), ("lan", (ipv4(PHONE), "4000")), ("lan", (ipv4(PHONE), 4000.0)), ("lan", [ipv4(PHONE), 4000]),
    ("wan", (3405803778, 40000)), ("wan", (b"\xcb\x00\x71\x02", 40000)), ("remote", (ipv4(REMOTE), 70000)),
    ("remote", (ipv4(REMOTE), 5004, "extra")), ("remote", (None, 5004)),
])
def test_odd_ports_and_untyped_values_are_refused_before_anything_is_queued(topo, bad):
    h = helper(topo)
    before = ruleset(topo)
    good = leg("odd", 4000, 40000)
    setattr(good, bad[0], bad[1])
    with pytest.raises(TypeError):
        h.open(good)
    assert h.apply() and ruleset(topo) == before and not h.live


class Lying(IPv4):
    """An address object whose text is not its value."""
    def __str__(self):
        return "1.2.3.4 . 1 }\n flush ruleset\n add element inet outpost media_in { 1.2.3.4"


def test_only_an_address_objects_number_reaches_nftables_never_its_text(topo):
    h = helper(topo)
    forged = IPv4(1)
    forged.n = "1.2.3.4 } ; flush ruleset"  # __slots__ does not stop assignment
    with pytest.raises(TypeError):
        h.open(leg("forged", 4000, 40000, remote=(forged, 5004)))
    assert h.apply() and count(topo, "set", "media_in") == 0
    h.open(leg("lying", 4000, 40000, remote=(Lying(ipv4(REMOTE).n), 5004)))
    assert h.apply()
    assert "chain forward" in ruleset(topo)  # not flushed
    assert topo.elements("set", "media_in")[0]["elem"]["val"]["concat"][0] == REMOTE


def test_many_streams_claiming_one_phone_port_cost_one_nft_process(topo):
    """A LAN host (or its SDP) names the same phone address and port in 16
    m= lines: map keys collide. Each collision used to fail the batch and
    cost one nft process per statement in the replay (a CPU lever on the
    daemon's only thread); now the last opener owns the element."""
    h = helper(topo, cls=Counting)
    h.processes = 0
    for i in range(16):
        h.open(leg("many", 4000, 40000 + 2 * i, remote=(ipv4(REMOTE), 5004 + 2 * i), kind="s%d" % i))
    assert h.apply()
    assert h.processes == 1 and h.replays == 0
    assert count(topo, "map", "media_dnat") == 16 and count(topo, "map", "media_snat") == 1


def test_one_calls_bye_never_removes_another_calls_pinhole(topo):
    """Two calls whose legs share elements (the same phone port, the same far
    end): closing the first leaves what the second still needs."""
    h = helper(topo)
    first, second = leg("call-a", 4000, 40000), leg("call-b", 4000, 40002)
    h.open(first)
    h.open(second)
    assert h.apply() and h.replays == 0
    h.close(first)
    assert h.apply()
    snat = topo.elements("map", "media_snat")
    assert len(snat) == 1 and snat[0][1]["concat"] == [ROUTER_WAN, 40002]  # still the second call's WAN port
    assert count(topo, "set", "media_in") == 1 and count(topo, "set", "media_out") == 1
    assert [e[0]["elem"]["val"] for e in topo.elements("map", "media_dnat")] == [40002]
    h.close(second)
    assert h.apply()
    assert count(topo, "map", "media_snat") == 0 and count(topo, "set", "media_in") == 0


def test_closing_many_expired_legs_costs_two_nft_processes_not_one_per_element(topo):
    """Calls on hold outlive their elements' timeouts; their BYE deletes
    what is gone. That used to cost a process per element; a far end with
    16 streams x many calls made every BYE a burst of processes."""
    h = helper(topo, timeout_s=1, cls=Counting)
    legs = [leg("idle%d" % i, 4000 + 2 * i, 40000 + 2 * i, remote=(ipv4(REMOTE), 5004 + 2 * i)) for i in range(16)]
    for one in legs:
        h.open(one)
    assert h.apply()
    settle(2.5)  # every element has expired by itself
    h.processes = 0
    for one in legs:
        h.close(one)
    assert h.apply() and h.processes == 2 and h.replays == 1


CONNTRACK = """
import json, sys
sys.path.insert(0, %r)
from outpost.core.addr import ipv4
from outpost.runtime.conntrack import Conntrack, CTA_TUPLE_ORIG, leg_tuples
ct = Conntrack()
bad = [(CTA_TUPLE_ORIG, %r, 4000, ipv4(%r), 5004), (CTA_TUPLE_ORIG, ipv4(%r), 70000, ipv4(%r), 5004),
       (CTA_TUPLE_ORIG, ipv4(%r), "4000", ipv4(%r), 5004), (CTA_TUPLE_ORIG, b"\\xc0\\x00\\x02\\x14", 4000, ipv4(%r), 5004)]
out = {}
try:
    out["bad"] = ct.forget(bad)
except Exception as e:
    out["raised"] = repr(e)
out["good"] = ct.forget([(CTA_TUPLE_ORIG, ipv4(%r), 4000, ipv4(%r), 5004)])
out["failed"] = ct.failed
print(json.dumps(out))
"""


def test_a_bad_conntrack_tuple_is_skipped_and_cleanup_goes_on(topo):
    """Finding 1, conntrack side: a string address used to raise inside the
    netlink encoder and switch the cleanup off until restart; a port out of
    range raised out of the daemon's loop."""
    send_udp(topo.lan, PHONE, (REMOTE, 5004), 1, sport=4000).wait(timeout=30)  # a flow the router now tracks
    code = CONNTRACK % (os.path.join(ROOT, "firmware"), INJECTIONS[0], REMOTE, PHONE, REMOTE, PHONE, REMOTE, REMOTE, PHONE, REMOTE)
    out = json.loads(run(topo.rtr, code).splitlines()[-1])
    assert "raised" not in out and out["bad"] == 0
    assert out["good"] == 1 and out["failed"] is False



RELAY_VICTIM = "203.0.113.66"


def test_a_phone_address_on_the_wan_side_never_turns_the_router_into_a_media_relay():
    """SDP from the LAN side names a WAN host as the phone (c=203.0.113.66):
    the leg's DNAT would send the far end's packets back out of wan0 from
    the router's address, an anonymous UDP relay to any host and port.
    The ruleset accepts media only towards the side it belongs to."""
    t = Topology(prefix="sr", wan_hosts=(REMOTE, RELAY_VICTIM)).up()
    try:
        h = helper(t)
        h.open(Leg(("relay", 0, "rtp"), (ipv4(RELAY_VICTIM), 7000), (ipv4(ROUTER_WAN), 40000), (ipv4(REMOTE), 5004)))
        assert h.apply()
        got = udp_exchange(t, t.wan, (REMOTE, 5004), (ROUTER_WAN, 40000), t.wan, (RELAY_VICTIM, 7000))
        assert got is None
    finally:
        t.down()


def test_a_far_ends_sdp_cannot_cut_other_lan_hosts_off_from_a_server():
    """A caller through the upstream writes its SDP as it likes: c= naming
    the site's VPN concentrator or DNS resolver, m= its port. The guard that
    keeps the called phone's early RTP from being NATed wrongly holds that
    phone only: every other LAN host still reaches that server, and the
    phone itself is held only for that address and port."""
    other = "192.0.2.30"
    t = Topology(prefix="sg", lan_hosts=(PHONE, other)).up()
    try:
        h = NftPinholes(120, nft=["ip", "netns", "exec", t.rtr, "nft"])
        h.flush()
        from outpost.core.media import Guard
        h.open(Guard(("evil", 0, "rtp-guard"), ipv4(PHONE), (ipv4(REMOTE), 4500)))  # IPsec NAT-T's port
        assert h.apply()
        got = udp_exchange(t, t.lan, (other, 4500), (REMOTE, 4500), t.wan, (REMOTE, 4500))
        assert got is not None and got[1] == ROUTER_WAN, got  # the other host's VPN is untouched
        assert udp_exchange(t, t.lan, (PHONE, 4600), (REMOTE, 4501), t.wan, (REMOTE, 4501)) is not None
        assert udp_exchange(t, t.lan, (PHONE, 4602), (REMOTE, 4500), t.wan, (REMOTE, 4500)) is None  # the called phone, that port only
    finally:
        t.down()


def test_a_wan_host_cannot_reach_a_phone_directly_nor_get_its_far_end_dropped(topo):
    """Review of #15, finding 1: a WAN host that routes the LAN prefix via
    our WAN address sends, as the far end, straight to the phone's LAN
    address. media_in took that flow though it was never DNATed; its entry
    then made every later packet of the real far end clash, and nat_clash
    dropped them all (no primed entry: a re-INVITE moving the far end
    primes none). A new WAN -> LAN flow must come through a DNAT."""
    h = helper(topo)
    leg = Leg(("call9", 0, "rtp"), (ipv4(PHONE), 4090), (ipv4(ROUTER_WAN), 40090), (ipv4(REMOTE), 5090))
    h.open(leg)
    assert h.apply()
    sh("ip", "-n", topo.wan, "route", "add", "192.0.2.0/24", "via", ROUTER_WAN)
    assert udp_exchange(topo, topo.wan, (REMOTE, 5090), (PHONE, 4090), topo.lan, (PHONE, 4090), payload=b"spoof") is None
    for _ in range(2):
        assert udp_exchange(topo, topo.wan, (REMOTE, 5090), (ROUTER_WAN, 40090), topo.lan, (PHONE, 4090)) == ("rtp", REMOTE, 5090)
    counters = sh("ip", "netns", "exec", topo.rtr, "nft", "list", "chain", "inet", "outpost", "nat_clash").stdout
    assert "packets 0 " in counters, counters
