"""Three network namespaces for the router tests, made and removed here.

    lan  phones     192.0.2.0/24     eth0 <-> lan0 of rtr (192.0.2.1)
    rtr  the router                  wan0 (203.0.113.2) <-> eth0 of wan
    wan  upstream   203.0.113.0/24

Only documentation ranges; the lan side's default route is the router,
the wan side has no default route at all, so nothing can leave them.
The router gets the image's own /etc/nftables.conf.
"""

import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULESET = os.path.join(ROOT, "rootfs_overlay", "etc", "nftables.conf")
ROUTER_LAN, ROUTER_WAN = "192.0.2.1", "203.0.113.2"


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True)


class Topology:
    def __init__(self, prefix="p", lan_hosts=("192.0.2.20",), wan_hosts=("203.0.113.10",)):
        tag = "%s%d" % (prefix, os.getpid() % 100000)
        self.lan, self.rtr, self.wan = tag + "-lan", tag + "-rtr", tag + "-wan"
        self.lan_hosts, self.wan_hosts = lan_hosts, wan_hosts

    def up(self):
        self.down()
        for ns in (self.lan, self.rtr, self.wan):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.rtr, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", self.lan)
        sh("ip", "-n", self.rtr, "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", self.wan)
        addrs = [(self.rtr, "lan0", ROUTER_LAN + "/24"), (self.rtr, "wan0", ROUTER_WAN + "/24")]
        addrs += [(self.lan, "eth0", h + "/24") for h in self.lan_hosts] + [(self.wan, "eth0", h + "/24") for h in self.wan_hosts]
        for ns, dev, addr in addrs:
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
        for ns, dev in ((self.rtr, "lan0"), (self.rtr, "wan0"), (self.lan, "eth0"), (self.wan, "eth0")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", self.lan, "route", "add", "default", "via", ROUTER_LAN)
        sh("ip", "netns", "exec", self.rtr, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "netns", "exec", self.rtr, "nft", "-f", RULESET)
        return self

    def down(self):
        for ns in (self.lan, self.rtr, self.wan):
            sh("ip", "netns", "del", ns, check=False)

    def elements(self, kind, name):
        out = sh("ip", "netns", "exec", self.rtr, "nft", "-j", "list", kind, "inet", "outpost", name).stdout
        for item in json.loads(out)["nftables"]:
            body = item.get(kind)
            if body:
                return body.get("elem", [])
        return []
