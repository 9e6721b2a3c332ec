"""Floods against the SIP port meet the kernel first: the image's own
/etc/nftables.conf in a router namespace (tests/integration/netns.py),
senders in the WAN and LAN namespaces, a counter standing in for the
daemon on 5060. What the counter receives is what Python would see.

The ruleset's numbers (rootfs_overlay/etc/nftables.conf): WAN 300
packets/s per source with bursts of 600, LAN 1000/s with bursts of 2000,
meters of 4096 WAN sources, 16 TCP connections per WAN source.
"""

import json
import os

import pytest

from netns import ROUTER_WAN, ROUTER_LAN, Topology, sh
from nsrun import counted, send_udp, settle, spoof_udp, stop, tcp_acceptor, tcp_connect_many, udp_counter

UPSTREAM, STRANGER, PHONE = "203.0.113.10", "203.0.113.66", "192.0.2.20"
WAN_BURST, WAN_METER_SIZE, WAN_TCP_PER_SOURCE = 600, 4096, 16

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


@pytest.fixture
def topo():
    t = Topology(prefix="sf", wan_hosts=(UPSTREAM, STRANGER)).up()
    yield t
    t.down()


def meter_elements(topo, name):
    out = sh("ip", "netns", "exec", topo.rtr, "nft", "-j", "list", "set", "inet", "outpost", name).stdout
    for item in json.loads(out)["nftables"]:
        if "set" in item:
            return item["set"].get("elem", [])
    return []


def test_a_wan_strangers_flood_is_dropped_by_the_kernel_while_the_upstream_gets_through(topo):
    counter = udp_counter(topo.rtr)
    flood = send_udp(topo.wan, STRANGER, (ROUTER_WAN, 5060), 20000)
    upstream = send_udp(topo.wan, UPSTREAM, (ROUTER_WAN, 5060), 200, rate=100)  # busy hour, for 2 s
    flood.wait(timeout=60)
    upstream.wait(timeout=60)
    seen = counted(counter)
    assert seen.get(UPSTREAM) == 200  # every one of the upstream's messages
    # The stranger gets its burst and 300/s while it floods: nowhere near 20,000.
    assert WAN_BURST // 2 <= seen.get(STRANGER, 0) <= WAN_BURST + 300 * 3


def test_a_lan_phone_at_a_busy_rate_is_never_dropped(topo):
    """Guards against over-blocking: a phone's burst (a re-registration
    storm after a power cut sends a few per phone) passes whole."""
    counter = udp_counter(topo.rtr)
    send_udp(topo.lan, PHONE, (ROUTER_LAN, 5060), 1500).wait(timeout=60)
    assert counted(counter).get(PHONE) == 1500


def test_spoofed_sources_cannot_grow_the_meter_or_open_a_gap_for_a_real_flood(topo):
    spoof_udp(topo.wan, ROUTER_WAN, WAN_METER_SIZE + 3000)
    assert len(meter_elements(topo, "sip_wan_meter")) == WAN_METER_SIZE  # bounded: the set is full, no bigger
    # With the meter full, a new source is not tracked: it shares the
    # bucket of the untracked instead of flooding unmetered.
    settle(2.5)  # the shared bucket refills after the spoofed burst
    counter = udp_counter(topo.rtr)
    send_udp(topo.wan, STRANGER, (ROUTER_WAN, 5060), 20000).wait(timeout=60)
    assert counted(counter).get(STRANGER, 0) <= WAN_BURST + 300 * 3


def test_one_wan_source_cannot_hold_more_than_its_share_of_tcp_connections(topo):
    """Half-open and idle connections held in the kernel, before the daemon
    would see them: the 17th connection from one address is dropped."""
    acceptor = tcp_acceptor(topo.rtr)
    try:
        assert tcp_connect_many(topo.wan, (ROUTER_WAN, 5060), 40) == WAN_TCP_PER_SOURCE
    finally:
        stop(acceptor)
