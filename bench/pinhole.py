"""Pinhole open/close cost with real nftables, in a namespace made here
(root). Prints one line.

    .venv/bin/python bench/pinhole.py [--calls 1000] [--concurrent 500]

A call's pinholes are its RTP and RTCP legs (DNAT, SNAT and accept for
each), opened in one batch and closed in one batch, as the daemon does.
Measured: median and p99 wall time to open and to close a call over
--calls calls, and the element count with --concurrent calls open. The
same run measures the usual alternative, one nft rule per pinhole
(add rule, delete rule by handle), under the same load.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from outpost.core.addr import ipv4  # noqa: E402
from outpost.core.media import Leg  # noqa: E402
from outpost.runtime.pinhole import NftPinholes  # noqa: E402

NS = "pinbench%d" % (os.getpid() % 10000)
RULESET = os.path.join(ROOT, "rootfs_overlay", "etc", "nftables.conf")


def nft(*args, stdin=None):
    return subprocess.run(["ip", "netns", "exec", NS, "nft"] + list(args), input=stdin, capture_output=True, text=True, check=True)


def legs(i):
    phone = ipv4("192.0.2.%d" % (10 + i % 200))
    base = 4000 + 2 * (i // 200)
    wan = 40000 + 2 * i
    router, remote = ipv4("203.0.113.2"), ipv4("203.0.113.10")
    return [Leg(("c%d" % i, 0, "rtp"), (phone, base), (router, wan), (remote, 5004 + 2 * i)),
            Leg(("c%d" % i, 0, "rtcp"), (phone, base + 1), (router, wan + 1), (remote, 5005 + 2 * i))]


def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def outpost(calls, concurrent):
    h = NftPinholes(nft=["ip", "netns", "exec", NS, "nft"])
    opens, closes = [], []
    for i in range(calls):
        ls = legs(i)

        def op():
            for leg in ls:
                h.open(leg)
            assert h.apply()

        def cl():
            for leg in ls:
                h.close(leg)
            assert h.apply()
        opens.append(timed(op))
        closes.append(timed(cl))
    for i in range(concurrent):
        for leg in legs(i):
            h.open(leg)
    assert h.apply()
    count = sum(len(elements(kind, name)) for kind, name in (("map", "media_dnat"), ("map", "media_snat"), ("set", "media_in"), ("set", "media_out")))
    return opens, closes, count


def elements(kind, name):
    for item in json.loads(nft("-j", "list", kind, "inet", "outpost", name).stdout)["nftables"]:
        if kind in item:
            return item[kind].get("elem", [])
    return []


def rule_per_pinhole(calls, concurrent):
    """The alternative: a DNAT rule and an accept rule per leg, deleted by handle."""
    nft("add", "chain", "inet", "outpost", "pin_fwd")
    nft("add", "chain", "inet", "outpost", "pin_nat", "{ type nat hook prerouting priority dstnat - 1; }")
    opens, closes = [], []

    def add(ls):
        handles = []
        for leg in ls:
            for chain, rule in (("pin_nat", "udp dport %d dnat ip to %s:%d" % (leg.wan[1], leg.lan[0], leg.lan[1])),
                                ("pin_fwd", "ip saddr %s udp sport %d ip daddr %s udp dport %d accept" % (leg.remote[0], leg.remote[1], leg.lan[0], leg.lan[1]))):
                out = nft("-e", "-a", "add", "rule", "inet", "outpost", chain, rule).stdout
                handles.append((chain, out.rsplit("# handle ", 1)[1].split()[0]))
        return handles

    def delete(handles):
        nft("-f", "-", stdin="".join("delete rule inet outpost %s handle %s\n" % h for h in handles))

    for i in range(calls):
        holder = []
        opens.append(timed(lambda: holder.append(add(legs(i)))))
        closes.append(timed(lambda: delete(holder[0])))
    for i in range(concurrent):
        add(legs(i))
    count = nft("list", "chain", "inet", "outpost", "pin_fwd").stdout.count("accept") + \
        nft("list", "chain", "inet", "outpost", "pin_nat").stdout.count("dnat")
    return opens, closes, count


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--concurrent", type=int, default=500)
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("bench/pinhole.py needs root (it makes a network namespace)")
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        nft("-f", RULESET)
        o_open, o_close, o_count = outpost(args.calls, args.concurrent)
        nft("-f", RULESET)
        r_open, r_close, r_count = rule_per_pinhole(args.calls, args.concurrent)
    finally:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    print("pinhole: outpost (set elements, one nft batch per call) open median %.1f ms p99 %.1f ms, close median %.1f ms p99 %.1f ms, "
          "%d elements for %d calls | rule per pinhole: open median %.1f ms p99 %.1f ms, close median %.1f ms p99 %.1f ms, %d rules "
          "| open %.1fx faster | %d calls, RTP+RTCP per call, nft %s"
          % (statistics.median(o_open), p99(o_open), statistics.median(o_close), p99(o_close), o_count, args.concurrent,
             statistics.median(r_open), p99(r_open), statistics.median(r_close), p99(r_close), r_count,
             statistics.median(r_open) / statistics.median(o_open), args.calls,
             subprocess.run(["nft", "--version"], capture_output=True, text=True).stdout.split()[1]))


if __name__ == "__main__":
    main()
