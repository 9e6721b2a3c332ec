"""The router as ALG between real phones and a real upstream server.

One site for the module, made here and removed afterwards:
  lan  sipp phones: alice 192.0.2.10
  rtr  outpost (relaying to upstream), the image's nftables ruleset
  wan  Kamailio 203.0.113.10 (registrar and proxy for hq.example.com,
       digest auth), bob's sipp phone 203.0.113.20, and tshark on eth0
Media is real RTP (tests/integration/rtp.py) through the kernel's NAT.
Every process is killed by PID; the namespaces are deleted.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from netns import ROUTER_WAN, sh
from routersite import ALICE, ALICE_RTP, ALICE_RTP2, BOB, BOB_RTP, DOMAIN, Site, stop

DAVE = "192.0.2.12"  # a second phone of the site
IDLE_S = 10  # media.idle_timeout_s (routersite's default): what a kill -9 leaves lives this long

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("alg"), lan_hosts=(ALICE, DAVE))
    try:
        s.start_capture()
        s.start_kamailio()
        s.start_outpost()
        yield s
    finally:
        s.close()


def test_phone_registers_upstream_through_the_router(site):
    site.register("alice", ALICE, 5080, name="reg_alice")
    site.register("bob", BOB, 5060, name="reg_bob")
    assert site.wait_log("registered sip:alice@%s at sip:alice@%s:5080" % (DOMAIN, ALICE))
    # Upstream holds alice at the router's WAN address, never at her LAN one.
    out = sh("ip", "netns", "exec", site.topo.wan, "kamcmd", "-s", "unix:" + site.ctl, "ul.lookup", "location",
             "alice@" + DOMAIN).stdout
    assert "sip:alice@%s:5060;oc=" % ROUTER_WAN in out and ALICE not in out, out


def test_outgoing_call_carries_rtp_both_ways_through_exact_pinholes(site):
    bob = site.answer(BOB, BOB_RTP, "bob_uas")
    time.sleep(0.5)
    alice = site.call("alice", ALICE, "bob", ALICE_RTP, "alice_uac", extra=("-d", "6000"))
    wan = site.wan_port(ALICE_RTP)
    t = site.tuples()
    # Exactly the negotiated RTP and RTCP tuples, nothing else.
    assert t["media_dnat"] == {(wan, (ALICE, ALICE_RTP)), (wan + 1, (ALICE, ALICE_RTP + 1))}
    assert t["media_snat"] == {((ALICE, ALICE_RTP), (ROUTER_WAN, wan)), ((ALICE, ALICE_RTP + 1), (ROUTER_WAN, wan + 1))}
    assert t["media_in"] == t["media_out"] == {(BOB, BOB_RTP, ALICE, ALICE_RTP), (BOB, BOB_RTP + 1, ALICE, ALICE_RTP + 1)}
    got_alice, got_bob = site.rtp(2.0, wan_port=wan)
    assert got_alice.get("%s:%d" % (BOB, BOB_RTP), 0) > 50, got_alice
    assert got_bob.get("%s:%d" % (ROUTER_WAN, wan), 0) > 50, got_bob  # alice's media, from the router's WAN port
    # A port the SDP did not name is closed.
    got_alice, _ = site.rtp(1.0, wan_port=wan + 2)
    assert got_alice == {}, got_alice
    site.done(alice)
    site.done(bob)
    assert site.wait_no_pinholes(), site.tuples()
    got_alice, got_bob = site.rtp(1.0, wan_port=wan)
    assert got_alice == {} and got_bob == {}, (got_alice, got_bob)


def test_incoming_call_reaches_the_phone_and_media_flows(site):
    alice = site.answer(ALICE, ALICE_RTP, "alice_uas", port=5080)
    time.sleep(0.5)
    bob = site.call("bob", BOB, "alice", BOB_RTP, "bob_uac", extra=("-d", "5000"))
    wan = site.wan_port(ALICE_RTP)
    assert site.tuples()["media_in"] == {(BOB, BOB_RTP, ALICE, ALICE_RTP), (BOB, BOB_RTP + 1, ALICE, ALICE_RTP + 1)}
    got_alice, got_bob = site.rtp(2.0, wan_port=wan)
    assert got_alice.get("%s:%d" % (BOB, BOB_RTP), 0) > 50 and got_bob.get("%s:%d" % (ROUTER_WAN, wan), 0) > 50, (got_alice, got_bob)
    site.done(bob)
    site.done(alice)
    assert site.wait_no_pinholes(), site.tuples()


def test_reinvite_moves_the_pinhole_and_hold_closes_inbound_media(site):
    bob = site.answer(BOB, BOB_RTP, "bob_uas2")
    time.sleep(0.5)
    alice = site.call("alice", ALICE, "bob", ALICE_RTP, "alice_reinvite", "uac_reinvite.xml", extra=("-key", "rtp_port2", str(ALICE_RTP2)))
    wan = site.wan_port(ALICE_RTP)
    # The re-INVITE moves the phone to another port: same WAN port, new tuple.
    assert site.wan_port(ALICE_RTP2, timeout=8) == wan
    t = site.tuples()
    assert t["media_in"] == {(BOB, BOB_RTP, ALICE, ALICE_RTP2), (BOB, BOB_RTP + 1, ALICE, ALICE_RTP2 + 1)}, t
    assert all(v[0] != (ALICE, ALICE_RTP) for v in t["media_snat"]), t
    # Then alice holds (sendonly): nothing may come in, her stream still goes out.
    deadline = time.time() + 8
    while time.time() < deadline and (BOB, BOB_RTP, ALICE, ALICE_RTP2) in site.tuples()["media_in"]:
        time.sleep(0.1)
    t = site.tuples()
    assert (BOB, BOB_RTP, ALICE, ALICE_RTP2) not in t["media_in"] and (BOB, BOB_RTP, ALICE, ALICE_RTP2) in t["media_out"], t
    got_alice, got_bob = site.rtp(1.0, alice_port=ALICE_RTP2, wan_port=wan)
    assert got_alice == {} and got_bob.get("%s:%d" % (ROUTER_WAN, wan), 0) > 20, (got_alice, got_bob)
    site.done(alice)
    site.done(bob)
    assert site.wait_no_pinholes(), site.tuples()


def test_early_media_opens_on_183_and_cancel_closes(site):
    bob = site.answer(BOB, BOB_RTP, "bob_early", "uas_early.xml")
    time.sleep(0.5)
    alice = site.call("alice", ALICE, "bob", ALICE_RTP, "alice_cancel", "uac_cancel.xml")
    wan = site.wan_port(ALICE_RTP)
    got_alice, _ = site.rtp(1.0, wan_port=wan)
    assert got_alice.get("%s:%d" % (BOB, BOB_RTP), 0) > 20, got_alice  # the ringback tone reaches the phone
    site.done(alice)
    site.done(bob)
    assert site.wait_no_pinholes(), site.tuples()


def test_a_busy_answer_after_early_media_closes_the_pinholes(site):
    bob = site.answer(BOB, BOB_RTP, "bob_busy", "uas_early_busy.xml")
    time.sleep(0.5)
    alice = site.call("alice", ALICE, "bob", ALICE_RTP, "alice_busy", "uac_busy.xml")
    site.wan_port(ALICE_RTP)
    site.done(alice)
    site.done(bob)
    assert site.wait_no_pinholes(), site.tuples()


def test_two_phones_of_the_site_call_through_the_upstream_proxy_with_media_on_the_lan(site):
    """Kamailio proxies alice's INVITE back to dave through the router
    without anchoring media: each phone must get the other's LAN address
    in its SDP, and RTP flows on the LAN with no pinhole."""
    site.register("dave", DAVE, name="reg_dave")
    dave = site.answer(DAVE, 7100, "dave_uas", port=5080, extra=("-trace_msg",))
    time.sleep(0.5)
    alice = site.call("alice", ALICE, "dave", ALICE_RTP, "alice_to_dave", extra=("-d", "4000", "-trace_msg"))
    deadline = time.time() + 10
    while time.time() < deadline and not site.log().count("recv udp 192.0.2.12:5080 b'SIP/2.0 200 OK'"):
        time.sleep(0.1)
    time.sleep(0.5)
    assert not any(site.tuples().values()), site.tuples()  # the router is not in the media path
    cmd = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtp.py")]
    a = subprocess.Popen(["ip", "netns", "exec", site.topo.lan] + cmd + [ALICE, str(ALICE_RTP), DAVE, "7100", "1.5"], stdout=subprocess.PIPE, text=True)
    d = subprocess.Popen(["ip", "netns", "exec", site.topo.lan] + cmd + [DAVE, "7100", ALICE, str(ALICE_RTP), "1.5"], stdout=subprocess.PIPE, text=True)
    got_a, got_d = (json.loads(x.communicate(timeout=30)[0])["received"] for x in (a, d))
    assert got_a.get("%s:7100" % DAVE, 0) > 50 and got_d.get("%s:%d" % (ALICE, ALICE_RTP), 0) > 50, (got_a, got_d)
    site.done(alice)
    site.done(dave)
    logs = {}
    for f in os.listdir(site.work):
        if f.endswith("_messages.log"):
            logs[f] = open(os.path.join(site.work, f), errors="replace").read()
    dave_log = "".join(v for k, v in logs.items() if k.startswith("uas_answer"))
    alice_log = "".join(v for k, v in logs.items() if k.startswith("uac_call"))
    assert "c=IN IP4 %s" % ALICE in dave_log.split("INVITE sip:", 1)[1] and "m=audio %d " % ALICE_RTP in dave_log, dave_log[-1500:]
    assert "c=IN IP4 %s" % DAVE in alice_log and "m=audio 7100 " in alice_log, alice_log[-1500:]


def test_no_lan_address_leaves_on_the_wan(site):
    """Everything SIP that crossed wan0 in the tests above, as tshark saw it."""
    stop(site.capture, signal.SIGINT)
    out = sh("tshark", "-r", site.pcap, "-Y", "udp.port == 5060", "-T", "fields", "-e", "ip.src", "-e", "udp.payload").stdout
    seen = 0
    for line in out.splitlines():
        src, _, payload = line.partition("\t")
        data = bytes.fromhex(payload.replace(":", ""))
        seen += 1
        assert b"192.0.2." not in data, (src, data.decode(errors="replace"))
    assert seen > 40  # registrations and five calls


def test_pinholes_of_a_killed_daemon_expire_by_themselves(site):
    bob = site.answer(BOB, BOB_RTP, "bob_uas3")
    time.sleep(0.5)
    alice = site.call("alice", ALICE, "bob", ALICE_RTP, "alice_long", extra=("-d", "30000"))
    site.wan_port(ALICE_RTP)
    stop(site.outpost, signal.SIGKILL)
    killed = time.time()
    assert any(site.tuples().values())
    assert site.wait_no_pinholes(IDLE_S + 3), site.tuples()
    assert time.time() - killed <= IDLE_S + 3
    stop(alice, signal.SIGKILL)
    stop(bob, signal.SIGKILL)
