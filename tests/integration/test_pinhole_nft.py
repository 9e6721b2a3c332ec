"""The pinhole helper against real nftables and real packets.

Three namespaces made here: lan (a phone, 192.0.2.20), rtr (the router:
lan0 192.0.2.1, wan0 203.0.113.2, the image's own /etc/nftables.conf) and
wan (the far end, 203.0.113.10), joined by veth pairs. Nothing routes out
of them; they are deleted afterwards.
"""

import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from outpost.core.addr import ipv4  # noqa: E402
from outpost.core.media import Guard, Leg  # noqa: E402
from outpost.runtime.pinhole import NftPinholes  # noqa: E402
from netns import Topology, sh  # noqa: E402

PHONE, ROUTER_LAN, ROUTER_WAN, REMOTE = "192.0.2.20", "192.0.2.1", "203.0.113.2", "203.0.113.10"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


@pytest.fixture
def topo():
    t = Topology().up()
    yield t
    t.down()


def elements(topo, kind, name):
    return topo.elements(kind, name)


def udp_exchange(topo, src_ns, src, dst, listen_ns, listen, payload=b"rtp", wait=1.5):
    """Send one datagram from src (addr, port) in src_ns to dst; return the
    (data, source) the listener in listen_ns got, or None."""
    listener = subprocess.Popen(["ip", "netns", "exec", listen_ns, sys.executable, "-c",
                                 "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind((%r,%d))\ns.settimeout(%s)\n"
                                 "try:\n    d,a=s.recvfrom(2048); print(d.decode(), a[0], a[1])\nexcept socket.timeout:\n    print('none')"
                                 % (listen[0], listen[1], wait)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    sh("ip", "netns", "exec", src_ns, sys.executable, "-c",
       "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
       "s.bind((%r,%d))\ns.sendto(%r,(%r,%d))" % (src[0], src[1], payload, dst[0], dst[1]))
    out = listener.communicate(timeout=10)[0].split()
    return None if out == ["none"] else (out[0], out[1], int(out[2]))


def helper(topo, timeout_s=120):
    h = NftPinholes(timeout_s, nft=["ip", "netns", "exec", topo.rtr, "nft"])
    h.flush()
    assert h.apply()
    return h


def test_pinhole_lets_exactly_the_negotiated_media_through_and_closes(topo):
    h = helper(topo)
    leg = Leg(("call1", 0, "rtp"), (ipv4(PHONE), 4000), (ipv4(ROUTER_WAN), 40000), (ipv4(REMOTE), 5004))
    h.open(leg)
    assert h.apply()
    assert elements(topo, "map", "media_dnat")[0][0]["elem"]["val"] == 40000
    assert len(elements(topo, "set", "media_in")) == 1 and len(elements(topo, "set", "media_out")) == 1 and len(elements(topo, "map", "media_snat")) == 1
    # The negotiated remote reaches the phone through the WAN media port...
    assert udp_exchange(topo, topo.wan, (REMOTE, 5004), (ROUTER_WAN, 40000), topo.lan, (PHONE, 4000)) == ("rtp", REMOTE, 5004)
    # ...and the phone's media leaves from exactly that WAN address and port.
    assert udp_exchange(topo, topo.lan, (PHONE, 4000), (REMOTE, 5004), topo.wan, (REMOTE, 5004)) == ("rtp", ROUTER_WAN, 40000)
    # Another port, or another remote port, is dropped.
    assert udp_exchange(topo, topo.wan, (REMOTE, 5004), (ROUTER_WAN, 40002), topo.lan, (PHONE, 4002)) is None
    assert udp_exchange(topo, topo.wan, (REMOTE, 6000), (ROUTER_WAN, 40000), topo.lan, (PHONE, 4000)) is None
    # BYE: the elements go, and media stops although conntrack remembers the flow.
    h.close(leg)
    assert h.apply()
    assert elements(topo, "map", "media_dnat") == [] and elements(topo, "set", "media_in") == []
    assert udp_exchange(topo, topo.wan, (REMOTE, 5004), (ROUTER_WAN, 40000), topo.lan, (PHONE, 4000)) is None
    assert udp_exchange(topo, topo.lan, (PHONE, 4000), (REMOTE, 5004), topo.wan, (REMOTE, 5004)) is None


def test_elements_expire_by_themselves_when_nobody_refreshes_them(topo):
    """What a kill -9 of the daemon leaves behind is gone after the timeout."""
    h = helper(topo, timeout_s=2)
    h.open(Leg(("call2", 0, "rtp"), (ipv4(PHONE), 4010), (ipv4(ROUTER_WAN), 40010), (ipv4(REMOTE), 5010)))
    assert h.apply()
    assert elements(topo, "map", "media_dnat")
    time.sleep(3)
    assert elements(topo, "map", "media_dnat") == [] and elements(topo, "set", "media_in") == []


def test_refresh_extends_and_a_late_close_is_harmless(topo):
    h = helper(topo, timeout_s=3)
    leg = Leg(("call3", 0, "rtp"), (ipv4(PHONE), 4020), (ipv4(ROUTER_WAN), 40020), (ipv4(REMOTE), 5020))
    h.open(leg)
    assert h.apply()
    time.sleep(2)
    h.refresh(leg)
    assert h.apply()
    time.sleep(2)
    assert elements(topo, "map", "media_dnat")  # 4 s after opening: refreshed at 2 s
    time.sleep(2)
    h.close(leg)  # already expired: the replay ignores the missing elements
    assert h.apply() and h.replays == 1


def test_first_sender_lock_lets_one_unknown_source_in_and_keeps_it(topo):
    """media.lock first_sender: a far end behind NAT sends from another
    port than its SDP says; the first sender gets the WAN port, a second
    one does not."""
    h = NftPinholes(120, nft=["ip", "netns", "exec", topo.rtr, "nft"], lock="first_sender")
    h.flush()
    leg = Leg(("call4", 0, "rtp"), (ipv4(PHONE), 4030), (ipv4(ROUTER_WAN), 40030), (ipv4(REMOTE), 5030))
    h.open(leg)
    assert h.apply()
    assert udp_exchange(topo, topo.wan, (REMOTE, 6666), (ROUTER_WAN, 40030), topo.lan, (PHONE, 4030)) == ("rtp", REMOTE, 6666)
    assert udp_exchange(topo, topo.wan, (REMOTE, 6668), (ROUTER_WAN, 40030), topo.lan, (PHONE, 4030)) is None
    # The latched sender goes on; and nothing reaches a port with no pinhole.
    assert udp_exchange(topo, topo.wan, (REMOTE, 6666), (ROUTER_WAN, 40030), topo.lan, (PHONE, 4030)) == ("rtp", REMOTE, 6666)
    assert udp_exchange(topo, topo.wan, (REMOTE, 6666), (ROUTER_WAN, 40032), topo.lan, (PHONE, 4032)) is None
    h.close(leg)
    assert h.apply() and elements(topo, "set", "media_any") == []


def test_a_phone_sending_before_its_pinhole_is_dropped_then_leaves_from_the_sdp_port(topo):
    """A phone answering an offer sends RTP at once (baresip: 5 ms), before
    the router has seen its answer. Masqueraded, that flow would leave from
    a port no SDP named and conntrack would keep it for the whole call. The
    guard (set while the offer crosses) drops those packets; once the
    pinhole is in, the very same socket's media leaves from the WAN port
    the router's SDP named."""
    h = helper(topo)
    guard = Guard(("call5", 0, "rtp-guard"), ipv4(PHONE), (ipv4(REMOTE), 5040))
    h.open(guard)
    assert h.apply() and len(elements(topo, "set", "media_guard")) == 1
    assert udp_exchange(topo, topo.lan, (PHONE, 4040), (REMOTE, 5040), topo.wan, (REMOTE, 5040)) is None
    # The answer seen: the leg opens (the guard stays for the call's life).
    leg = Leg(("call5", 0, "rtp"), (ipv4(PHONE), 4040), (ipv4(ROUTER_WAN), 40040), (ipv4(REMOTE), 5040))
    h.open(leg)
    assert h.apply()
    assert udp_exchange(topo, topo.lan, (PHONE, 4040), (REMOTE, 5040), topo.wan, (REMOTE, 5040)) == ("rtp", ROUTER_WAN, 40040)
    # Another LAN port to the guarded far end stays dropped; unguarded
    # traffic (not a call's far end) is the LAN's to send as ever.
    assert udp_exchange(topo, topo.lan, (PHONE, 4042), (REMOTE, 5040), topo.wan, (REMOTE, 5040)) is None
    assert udp_exchange(topo, topo.lan, (PHONE, 4044), (REMOTE, 5050), topo.wan, (REMOTE, 5050))[1] == ROUTER_WAN
    h.close(leg)
    h.close(guard)
    assert h.apply() and elements(topo, "set", "media_guard") == []


PRIME = """
import sys
sys.path.insert(0, %r)
from outpost.core.addr import ipv4
from outpost.core.media import Leg
from outpost.runtime.conntrack import Conntrack
ct = Conntrack()
leg = Leg(("call6", 0, "rtp"), (ipv4(%r), 4060), (ipv4(%r), 40060), (ipv4(%r), 5060))
print(ct.prime([leg]), ct.prime([leg]), ct.failed)
"""


def test_a_primed_entry_carries_both_first_packets_with_the_legs_nat(topo):
    """When a call is answered both ends may send their first RTP within
    microseconds; two new entries for one flow clash and the kernel
    rewrites one side's source port. The daemon makes the flow's entry
    itself (ctnetlink, the leg's SNAT) before the SIP goes out. Proven
    here without the maps: with only the primed entry and the accept
    sets, the far end's packet reaches the phone through the WAN port and
    the phone's leaves from it."""
    h = helper(topo)
    leg = Leg(("call6", 0, "rtp"), (ipv4(PHONE), 4060), (ipv4(ROUTER_WAN), 40060), (ipv4(REMOTE), 5060))
    h.open(leg)
    assert h.apply()
    h._batch += [("delete", "media_dnat", (40060,), None), ("delete", "media_snat", (ipv4(PHONE).n, 4060), None)]
    assert h.apply() and elements(topo, "map", "media_dnat") == [] and elements(topo, "map", "media_snat") == []
    out = subprocess.run(["ip", "netns", "exec", topo.rtr, sys.executable, "-c", PRIME % (os.path.join(ROOT, "firmware"), PHONE, ROUTER_WAN, REMOTE)],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "0", "False"], out  # made once; the second finds it there
    assert udp_exchange(topo, topo.wan, (REMOTE, 5060), (ROUTER_WAN, 40060), topo.lan, (PHONE, 4060)) == ("rtp", REMOTE, 5060)
    assert udp_exchange(topo, topo.lan, (PHONE, 4060), (REMOTE, 5060), topo.wan, (REMOTE, 5060)) == ("rtp", ROUTER_WAN, 40060)


def test_a_far_end_packet_the_kernel_would_give_a_new_source_port_is_dropped(topo):
    """Two conntrack entries for one media flow, one made from each end
    (a race the prime narrows but cannot close: the far end's first packet
    may be half way through the router when the entry is made), clash:
    the kernel then rewrites the far end's source port so the phone sees
    RTP from a port no SDP named, for the call's life. Reproduced here
    without the race: an entry from phone to far end already holds the
    tuple (masqueraded, as a phone's stray packet would make it) when the
    far end sends to the leg's WAN port. The ruleset drops that packet
    (its entry is never confirmed) instead of delivering it rewritten."""
    h = helper(topo)
    assert udp_exchange(topo, topo.lan, (PHONE, 4070), (REMOTE, 5070), topo.wan, (REMOTE, 5070))[1] == ROUTER_WAN
    leg = Leg(("call7", 0, "rtp"), (ipv4(PHONE), 4070), (ipv4(ROUTER_WAN), 40070), (ipv4(REMOTE), 5070))
    h.open(leg)
    assert h.apply()
    assert udp_exchange(topo, topo.wan, (REMOTE, 5070), (ROUTER_WAN, 40070), topo.lan, (PHONE, 4070)) is None
    counters = sh("ip", "netns", "exec", topo.rtr, "nft", "list", "chain", "inet", "outpost", "nat_clash").stdout
    assert "packets 1 " in counters, counters
