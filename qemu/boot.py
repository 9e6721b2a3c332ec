"""Boot the image in QEMU: the command line for ./build.sh qemu and for the
system tests, in one place.

    python3 qemu/boot.py [--images DIR] [--data FILE] [--serial stdio|tcp:PORT]
                       [--net user|netns] [--hostfwd udp:HOSTPORT-:GUESTPORT ...]

--net netns (root): lan0 and wan0 on tap devices whose host ends sit in
network namespaces "outpost-lan" (192.0.2.10/24) and "outpost-wan"
(203.0.113.10/24), with the guest at 192.0.2.1 and 203.0.113.2: QEMU opens
the taps, then they move into the namespaces. Nothing routes out of them.

-cpu cortex-a53: -cpu max is about five times slower here (it emulates
pointer authentication). Serial on a TCP socket uses server=on,wait=on, so
nothing the guest prints is lost before the test connects.
"""

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAN_MAC = "52:54:00:4f:50:01"
WAN_MAC = "52:54:00:4f:50:02"


# The guest's wan0 address when it sits in a namespace (no DHCP there).
NETNS_WAN = "203.0.113.2/24"


class Netns:
    """Namespaces lan/wan with the host ends of the guest's NICs."""

    def __init__(self, prefix="outpost-"):
        self.lan, self.wan = prefix + "lan", prefix + "wan"
        self.lan_tap, self.wan_tap = prefix[:6] + "tl0", prefix[:6] + "tw0"

    def ip(self, *args, check=True):
        return subprocess.run(["ip"] + list(args), check=check, capture_output=True)

    def create(self):
        self.destroy()
        for ns in (self.lan, self.wan):
            self.ip("netns", "add", ns)
            self.ip("-n", ns, "link", "set", "lo", "up")
        for tap in (self.lan_tap, self.wan_tap):
            self.ip("tuntap", "add", "dev", tap, "mode", "tap")
        return self

    def attach(self, timeout=10):
        """Once QEMU holds the taps: move them into the namespaces and address them."""
        deadline = time.time() + timeout
        for tap, ns, addr in ((self.lan_tap, self.lan, "192.0.2.10/24"), (self.wan_tap, self.wan, "203.0.113.10/24")):
            while b"NO-CARRIER" in self.ip("link", "show", tap).stdout and time.time() < deadline:
                time.sleep(0.05)
            self.ip("link", "set", tap, "netns", ns)
            self.ip("-n", ns, "addr", "add", addr, "dev", tap)
            self.ip("-n", ns, "link", "set", tap, "up")
        self.ip("-n", self.lan, "route", "add", "default", "via", "192.0.2.1")

    def run(self, ns, *cmd, **kw):
        return subprocess.run(["ip", "netns", "exec", ns] + list(cmd), **kw)

    def destroy(self):
        for tap, ns in ((self.lan_tap, self.lan), (self.wan_tap, self.wan)):
            self.ip("-n", ns, "link", "del", tap, check=False)
            self.ip("link", "del", tap, check=False)
            self.ip("netns", "del", ns, check=False)


def command(images, data=None, serial="stdio", net="user", hostfwd=(), memory="256M", netns=None):
    images = images or os.path.join(ROOT, "output", "images")
    data = data or os.path.join(images, "data.img")
    cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a53", "-m", memory, "-smp", "1", "-nographic",
           "-kernel", os.path.join(images, "Image"), "-initrd", os.path.join(images, "rootfs.cpio.gz"),
           "-append", "console=ttyAMA0 quiet" + (" outpost.wan0=static:" + NETNS_WAN if netns else ""),
           "-drive", "file=%s,if=none,format=raw,id=data" % data, "-device", "virtio-blk-device,drive=data"]
    if serial.startswith("tcp:"):
        cmd += ["-serial", "tcp:127.0.0.1:%s,server=on,wait=on" % serial[4:], "-monitor", "none"]
    if netns is not None:
        cmd += ["-netdev", "tap,id=lan,ifname=%s,script=no,downscript=no" % netns.lan_tap,
                "-netdev", "tap,id=wan,ifname=%s,script=no,downscript=no" % netns.wan_tap]
    else:
        fwd = "".join(",hostfwd=%s" % h for h in hostfwd)
        cmd += ["-netdev", "user,id=lan,net=10.0.3.0/24", "-netdev", "user,id=wan" + fwd]
    cmd += ["-device", "virtio-net-device,netdev=lan,mac=" + LAN_MAC, "-device", "virtio-net-device,netdev=wan,mac=" + WAN_MAC]
    return cmd


def main(argv=None):
    ap = argparse.ArgumentParser(description="boot the Outpost image in QEMU")
    ap.add_argument("--images")
    ap.add_argument("--data")
    ap.add_argument("--serial", default="stdio")
    ap.add_argument("--net", default="user")
    ap.add_argument("--hostfwd", action="append", default=[])
    args = ap.parse_args(argv)
    netns = Netns().create() if args.net == "netns" else None
    cmd = command(args.images, args.data, args.serial, args.net, args.hostfwd, netns=netns)
    if args.serial == "stdio":
        print("Outpost in QEMU: the serial console is this terminal (first boot: choose the console password; `shell` gives root). "
              "Quit with Ctrl-A then X.", file=sys.stderr)
    if netns is None:
        os.execvp(cmd[0], cmd)
    proc = subprocess.Popen(cmd)
    try:
        netns.attach()
        print("lan: ip netns exec %s ... (192.0.2.10); wan: ip netns exec %s ... (203.0.113.10)" % (netns.lan, netns.wan), file=sys.stderr)
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
        netns.destroy()


if __name__ == "__main__":
    main()
