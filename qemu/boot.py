"""Boot the image in QEMU: the command line for ./build.sh qemu and for the
system tests, in one place.

    python3 qemu/boot.py [--images DIR] [--data FILE] [--serial stdio|tcp:PORT]
                       [--net user|tap:LANTAP,WANTAP] [--hostfwd udp:HOSTPORT-:GUESTPORT ...]

-cpu cortex-a53: -cpu max is about five times slower here (it emulates
pointer authentication). Serial on a TCP socket uses server=on,wait=on, so
nothing the guest prints is lost before the test connects.
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAN_MAC = "52:54:00:4f:50:01"
WAN_MAC = "52:54:00:4f:50:02"


def command(images, data=None, serial="stdio", net="user", hostfwd=(), memory="256M"):
    images = images or os.path.join(ROOT, "output", "images")
    data = data or os.path.join(images, "data.img")
    cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a53", "-m", memory, "-smp", "1", "-nographic",
           "-kernel", os.path.join(images, "Image"), "-initrd", os.path.join(images, "rootfs.cpio.gz"),
           "-append", "console=ttyAMA0 quiet",
           "-drive", "file=%s,if=none,format=raw,id=data" % data, "-device", "virtio-blk-device,drive=data"]
    if serial.startswith("tcp:"):
        cmd += ["-serial", "tcp:127.0.0.1:%s,server=on,wait=on" % serial[4:], "-monitor", "none"]
    if net.startswith("tap:"):
        lan, wan = net[4:].split(",")
        cmd += ["-netdev", "tap,id=lan,ifname=%s,script=no,downscript=no" % lan,
                "-netdev", "tap,id=wan,ifname=%s,script=no,downscript=no" % wan]
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
    cmd = command(args.images, args.data, args.serial, args.net, args.hostfwd)
    if args.serial == "stdio":
        print("Outpost in QEMU: the serial console is this terminal; log in as root. Quit with Ctrl-A then X.", file=sys.stderr)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
