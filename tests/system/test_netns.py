"""The booted router between two network namespaces the test creates:
lan (192.0.2.10) and wan (203.0.113.10), the guest at 192.0.2.1 and
203.0.113.2. Nothing routes out of them; they are removed afterwards."""

import subprocess
import sys

from vm import VM

OPTIONS = r'''
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0); s.bind(("0.0.0.0", 0))
target = sys.argv[1]
for _ in range(40):
    s.sendto(("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP 0.0.0.0:%d;branch=z9hG4bKns%x;rport\r\nMax-Forwards: 70\r\n"
              "From: <sip:probe@example.com>;tag=n\r\nTo: <sip:%s>\r\nCall-ID: ns%x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
              % (target, s.getsockname()[1], time.time_ns(), target, time.time_ns())).encode(), (target, 5060))
    try:
        print(s.recv(65535).split(b" ", 2)[1].decode()); break
    except socket.timeout:
        pass
'''


def options_from(vm, ns, target):
    r = vm.netns.run(ns, sys.executable, "-c", OPTIONS, target, capture_output=True, text=True, timeout=60)
    return int(r.stdout.strip() or 0)


def test_router_answers_sip_on_both_sides_and_forwards_lan_to_wan(tmp_path):
    vm = VM(tmp_path, netns=True).boot()
    try:
        assert "203.0.113.2/24" in vm.run("ip -o -4 addr show wan0")
        assert options_from(vm, vm.netns.lan, "192.0.2.1") == 200
        assert options_from(vm, vm.netns.wan, "203.0.113.2") == 200
        # A LAN host reaches the WAN through the router, masqueraded:
        # the WAN side sees the router's address, never the phone's.
        listener = subprocess.Popen(["ip", "netns", "exec", vm.netns.wan, sys.executable, "-c",
                                     "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('203.0.113.10', 7000)); "
                                     "s.settimeout(20); d, a = s.recvfrom(100); print(a[0])"], stdout=subprocess.PIPE, text=True)
        vm.netns.run(vm.netns.lan, sys.executable, "-c",
                     "import socket, time\nfor _ in range(10):\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('203.0.113.10', 7000)); time.sleep(0.5)",
                     timeout=30)
        seen, _ = listener.communicate(timeout=30)
        assert seen.strip() == "203.0.113.2"
    finally:
        vm.kill()
    assert vm.netns.lan.encode() not in subprocess.run(["ip", "netns", "list"], capture_output=True).stdout
