"""Each LAN phone a host of its own: a namespace with one address, cabled
to a bridge (the office switch) in the site's `lan` namespace, whose
uplink is the existing eth0 to the router's lan0.

    phone ns eth0 <-> p-NAME --+
    phone ns eth0 <-> p-NAME --+-- br0 (lan ns) -- eth0 <-> lan0 (rtr)

Real phones need this: baresip and linphonec send RTP from a wildcard
socket, so in a namespace shared by several addresses every phone's
media would leave from the first one, whatever its SDP says. A capture
on a phone's switch port (p-NAME) sees exactly that phone's traffic.
"""

from netns import ROUTER_LAN, sh

SWITCH = "192.0.2.2"  # the switch's own address, its namespace's default route's source


def switch_ports(site):
    """Turn the site's lan namespace into a switch. Its hosts (lan_hosts)
    must be just SWITCH."""
    lan = site.topo.lan
    sh("ip", "-n", lan, "addr", "flush", "dev", "eth0")
    sh("ip", "-n", lan, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", lan, "link", "set", "eth0", "master", "br0")
    sh("ip", "-n", lan, "addr", "add", SWITCH + "/24", "dev", "br0")
    sh("ip", "-n", lan, "link", "set", "br0", "up")
    sh("ip", "-n", lan, "route", "replace", "default", "via", ROUTER_LAN)


class PhoneHost:
    """A namespace for one phone at `ip`, on port p-NAME of the switch."""

    def __init__(self, site, name, ip):
        self.ip, self.name = ip, name
        self.port = "p-" + name
        self.ns = "%s-%s" % (site.topo.lan, name)
        self.lan = site.topo.lan

    def up(self):
        self.down()
        sh("ip", "netns", "add", self.ns)
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.lan, "link", "add", self.port, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
        sh("ip", "-n", self.lan, "link", "set", self.port, "master", "br0")
        sh("ip", "-n", self.lan, "link", "set", self.port, "up")
        sh("ip", "-n", self.ns, "addr", "add", self.ip + "/24", "dev", "eth0")
        sh("ip", "-n", self.ns, "link", "set", "eth0", "up")
        sh("ip", "-n", self.ns, "route", "add", "default", "via", ROUTER_LAN)
        return self

    def down(self):
        sh("ip", "netns", "del", self.ns, check=False)
