"""The built image in QEMU: it boots to a login on its serial console, the
daemon and the ruleset are up, SIP answers from outside, and the data disk
keeps what was written to it across a reboot."""

import socket
import time

from vm import VM, free_port


def options(port, timeout=40):
    """Status of an OPTIONS sent to the router through QEMU's port forward."""
    deadline = time.time() + timeout
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(1.0)
    lp = s.getsockname()[1]
    try:
        while time.time() < deadline:
            s.sendto(("OPTIONS sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%x;rport\r\nMax-Forwards: 70\r\n"
                      "From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:192.0.2.1>\r\nCall-ID: boot-%x\r\nCSeq: 1 OPTIONS\r\n"
                      "Content-Length: 0\r\n\r\n" % (lp, int(time.time() * 1e6), int(time.time() * 1e6))).encode(), ("127.0.0.1", port))
            try:
                return int(s.recv(65535).split(b" ", 2)[1])
            except socket.timeout:
                continue
        return None
    finally:
        s.close()


def test_image_boots_with_daemon_ruleset_and_sip(tmp_path):
    port = free_port()
    vm = VM(tmp_path, hostfwd=["udp:127.0.0.1:%d-:5060" % port]).boot()
    try:
        links = vm.run("ip -o link")
        assert "lan0" in links and "wan0" in links
        ruleset = vm.run("nft list ruleset")
        assert "table inet outpost" in ruleset and "masquerade" in ruleset, ruleset
        assert vm.run("mount | grep -c ' /data '").strip() == "1"
        assert options(port) == 200
        assert "python3 -m outpost run" in vm.run("ps -o args | grep -v grep | grep outpost")
        print("boot to login %.1f s" % vm.t_login)
    finally:
        vm.kill()


def test_data_disk_survives_a_reboot(tmp_path):
    vm = VM(tmp_path).boot()
    try:
        vm.run("echo marker-4475 > /data/etc/outpost/site-note; sync")
        vm.poweroff()
        again = VM(tmp_path, data=vm.data).boot()
        try:
            assert "marker-4475" in again.run("cat /data/etc/outpost/site-note")
        finally:
            again.kill()
    finally:
        vm.kill()
