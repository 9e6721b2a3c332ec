"""The load behind bench/proxy.sh: outpost against Kamailio, same sipp load,
same run. Prints one line.

For each proxy: sipp's built-in UAC calls a sipp UAS (uas_load.xml) through
the proxy (UDP, no auth, Request-URI routing, Record-Route), the rate raised
step by step until a step fails by loadstep.py's strict rules (any failed
call, unexpected message or kernel UDP drop, or sipp not holding the rate);
the highest passing step is the proxy's rate. Then:
- one step at 80% of that rate: the setup latency (INVITE to 200, sipp's
  response-time trace) a site sees with headroom, p50 and p99, and how
  fast the CPU ran in it against the top step (loadstep.py's probe);
- a REGISTER-with-digest ladder (1,000 users, MD5) judged the same way;
- a storm: 3x the proxy's own rate offered for one step, and the peak PSS
  it causes (memory must be bounded by configuration, not by the load).
PSS "at rest" is summed over the proxy's processes holding 1,000 bindings
once every transaction has ended.

Peers: Kamailio with one UDP worker (the fair peer for a single-threaded
daemon) and with two (what a 2-core router would run); both are reported.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "firmware"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import loadstep  # noqa: E402
from procstat import cpu_seconds, pss_mb, tree  # noqa: E402
from harness import free_port  # noqa: E402
from outpost.core import digest  # noqa: E402
from outpost.runtime.udp import RCVBUF  # noqa: E402

USERS = 1000
PASSWORD = "secret"
RATES = (100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1200, 1400, 1600, 1800, 2000, 2250, 2500, 2750, 3000,
         3500, 4000, 5000, 6000)


class Outpost:
    name = "outpost"

    def __init__(self, work, loop="asyncio"):
        self.port = free_port()
        self.label = "outpost" if loop == "asyncio" else "outpost-" + loop
        cfg = {
            "sip": {"domain": "example.com", "listen": [{"transport": "udp", "address": "127.0.0.1", "port": self.port}]},
            "auth": {"algorithms": ["MD5"], "invite": False},
            "users": {"bench%04d" % i: {"ha1": {"MD5": digest.ha1("MD5", "bench%04d" % i, "example.com", PASSWORD)}} for i in range(USERS)},
            "registrar": {"max_bindings": 10000},
            "limits": {"rate_per_source": 0},  # one source sends everything here
            "state": {"dir": os.path.join(work, "outpost-state"), "write_delay_ms": 1000},
            "log": {"level": "warning"},
            "daemon": {"event_loop": loop},
        }
        path = os.path.join(work, "outpost.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "firmware"))
        # -OO: as on the router, whose .pyc are compiled that way (no docstrings).
        self.proc = subprocess.Popen([sys.executable, "-OO", "-m", "outpost", "run", "--config", path],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "outpost.log"), "wb"), env=env)
        time.sleep(1.0)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Kamailio:
    name = "kamailio"

    def __init__(self, work, children):
        self.port = free_port()
        self.label = "kamailio-%d" % children
        with open(os.path.join(HERE, "kamailio.cfg")) as f:
            text = f.read().replace("@PORT@", str(self.port)).replace("@CHILDREN@", str(children))
        path = os.path.join(work, "kamailio-%d.cfg" % children)
        with open(path, "w") as f:
            f.write(text)
        # 512 MB shared, 32 MB per process: memory is never its limit here.
        # -b: the UDP receive buffer outpost takes (runtime/udp.py RCVBUF);
        # Kamailio's own ceiling is 256 KiB. One run each way, ladder to
        # 5,000 calls/s: 3,000 both times, so it is parity, not rescue.
        self.proc = subprocess.Popen(["kamailio", "-f", path, "-DD", "-E", "-m", "512", "-M", "32", "-b", str(RCVBUF), "-w", work],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "kamailio.log"), "wb"),
                                     start_new_session=True)
        time.sleep(1.5)
        if self.proc.poll() is not None:
            raise RuntimeError("kamailio did not start: " + open(os.path.join(work, "kamailio.log")).read()[-2000:])

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(10)


def users_file(work):
    inf = os.path.join(work, "users.csv")
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(USERS):
            f.write("bench%04d;[authentication username=bench%04d password=%s]\n" % (i, i, PASSWORD))
    return inf


def register_args(proxy, inf, rate, n):
    return ["127.0.0.1:%d" % proxy.port, "-sf", os.path.join(HERE, "register_load.xml"), "-inf", inf, "-key", "contact_port", "5999",
            "-r", str(rate), "-m", str(n), "-p", str(free_port())]


def call_args(proxy, uas_port, rate, n):
    return ["127.0.0.1:%d" % uas_port, "-rsa", "127.0.0.1:%d" % proxy.port, "-sn", "uac", "-r", str(rate), "-m", str(n),
            "-p", str(free_port())]


def settle(proxy, limit_s=60):
    """Wait until the proxy is idle (under 5% of a core for a second): a
    step must not pay for the retransmissions of the one before."""
    pids = tree(proxy.proc.pid)
    end = time.time() + limit_s
    while time.time() < end:
        c0 = cpu_seconds(pids)
        time.sleep(1.0)
        if cpu_seconds(pids) - c0 < 0.05:
            return


def step(proxy, work, args, rate, seconds, label, uas_pids=()):
    settle(proxy)
    calls = int(rate * seconds)
    s = loadstep.run(args(rate, calls), work, proxy.proc.pid, proxy.port, rate, calls, seconds, uas_pids)
    print(s.line(proxy.label, label), file=sys.stderr, flush=True)
    return s


def ramp(proxy, work, args, seconds, label, uas_pids=()):
    """(highest passing step or None, first failing step or None)."""
    best = None
    for rate in RATES:
        s = step(proxy, work, args, rate, seconds, label, uas_pids)
        if s.reason is not None:
            return best, s
        best = s
    return best, None


def at_rest_pss(proxy, work, wait=34):
    """PSS holding 1,000 bindings once nothing else is held: registered at
    200/s, then 34 s for every transaction to end (Timer J, 64*T1)."""
    inf = users_file(work)
    s = step(proxy, work, lambda r, n: register_args(proxy, inf, r, n), 200, USERS / 200.0, "fill")
    if s.ok != USERS:
        raise RuntimeError("%s: only %d of %d registrations succeeded" % (proxy.label, s.ok, USERS))
    time.sleep(wait)
    return pss_mb(tree(proxy.proc.pid))


def measure(proxy, work, seconds):
    r = {"rest": at_rest_pss(proxy, work)}
    uas_port = free_port()
    uas = subprocess.Popen(["sipp", "-sf", os.path.join(HERE, "uas_load.xml"), "-i", "127.0.0.1", "-p", str(uas_port), "-nostdin",
                            "-key", "contact_host", "127.0.0.1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    time.sleep(0.5)
    calls = lambda rate, n: call_args(proxy, uas_port, rate, n)  # noqa: E731
    try:
        r["calls"], r["calls_fail"] = ramp(proxy, work, calls, seconds, "call", [uas.pid])
        top = r["calls"].rate if r["calls"] else RATES[0]
        r["at80"] = step(proxy, work, calls, max(10, int(top * 0.8) // 10 * 10), seconds, "call@80%", [uas.pid])
        inf = users_file(work)
        r["regs"], r["regs_fail"] = ramp(proxy, work, lambda rate, n: register_args(proxy, inf, rate, n), seconds, "register")
        r["storm"] = step(proxy, work, calls, 3 * top, seconds, "call@3x", [uas.pid])
    finally:
        uas.terminate()
        uas.wait(10)
    return r


def summary(label, r):
    c, a, st = r["calls"], r["at80"], r["storm"]
    rate = c.rate if c else 0
    ms = 10.0 * c.cpu / rate if rate else 0
    regs = r["regs"].rate if r["regs"] else 0
    # The CPU's speed in the 80% step against the top step's (loadstep's
    # probe): on a host whose speed wanders, 80% of a rate measured on a
    # fast CPU is more than 100% of a slow one, and p99 says so.
    slower = a.work_us / c.work_us if c and c.work_us else 0
    return ("%s %d calls/s (CPU %.0f%%, %.2f ms/call, PSS %.1f MB; at %d/s setup p50 %s ms p99 %s ms, CPU %.0f%% running %.2fx as "
            "slow as in the top step; offered %d/s: PSS %.1f MB), %d REGISTER/s, PSS %.1f MB at rest with %d bindings"
            % (label, rate, c.cpu if c else 0, ms, c.pss if c else 0, a.rate, a.p50, a.p99, a.cpu, slower, st.rate, st.pss, regs,
               r["rest"], USERS))


def limits(label, r):
    out = []
    for key in ("calls_fail", "regs_fail"):
        f = r[key]
        if f is not None:
            out.append("%s %s %d/s: %s" % (label, "call" if key == "calls_fail" else "register", f.rate, f.reason))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each load step (at least 10 s to count)")
    ap.add_argument("--workers", default="1,2", help="Kamailio UDP worker counts to measure, comma-separated")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, sipp traces)")
    ap.add_argument("--loops", default="asyncio,uvloop", help="outpost's event loops to measure, comma-separated (daemon.event_loop)")
    ap.add_argument("--only", choices=("outpost", "kamailio"), help="measure one proxy (no ratios)")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="outpost-bench-")
    makers = [("outpost", lambda loop=loop: Outpost(work, loop)) for loop in args.loops.split(",") if loop]
    makers += [("kamailio", lambda n=int(n): Kamailio(work, n)) for n in args.workers.split(",") if n]
    results = []
    try:
        for name, make in makers:
            if args.only and name != args.only:
                continue
            proxy = make()
            try:
                results.append((proxy.label, measure(proxy, work, args.seconds)))
            finally:
                proxy.stop()
    finally:
        if args.keep:
            print("work directory kept: " + work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(line(results, args.seconds))
    return 0


def line(results, seconds):
    parts = [summary(label, r) for label, r in results]
    for ours, o in results:
        for label, r in results:
            if ours.startswith("outpost") and label.startswith("kamailio") and r["calls"] and o["calls"]:
                oc, k = o["calls"], r["calls"]
                parts.append("%s/%s calls %.2fx, CPU per call %.1fx" % (ours, label, oc.rate / k.rate, (oc.cpu / oc.rate) / (k.cpu / k.rate)))
    why = [x for label, r in results for x in limits(label, r)]
    return ("proxy: " + " | ".join(parts) + " | UDP on loopback, %gs steps on %d cores; a step passes with 0 failed calls, 0 unexpected "
            "messages, 0 kernel UDP drops and the rate held; first failing steps: %s" % (seconds, os.cpu_count(), "; ".join(why) or "none"))


if __name__ == "__main__":
    sys.exit(main())
