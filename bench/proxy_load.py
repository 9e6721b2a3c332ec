"""The load behind bench/proxy.sh: outpost against Kamailio, same sipp load,
same run. Prints one line.

For each proxy: sipp's built-in UAC calls a sipp UAS (uas_load.xml) through the
proxy (UDP, no auth, Request-URI routing, Record-Route), the rate raised
step by step until a step has a failed call or sipp cannot reach the rate;
then a REGISTER-with-digest load (1,000 users, MD5: sipp answers nothing
else) raised the same way. CPU% is the proxy's CPU time (all its processes)
over the best call step's wall time; PSS is summed over its processes after
1,000 registrations, once every transaction has ended, i.e. what holding
1,000 bindings costs at rest.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "firmware"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from harness import free_port  # noqa: E402
from outpost.core import digest  # noqa: E402

USERS = 1000
PASSWORD = "secret"
CALL_RATES = (100, 200, 300, 400, 500, 600, 800, 1000, 1300, 1600, 2000, 2500, 3000, 4000)
REG_RATES = (100, 200, 300, 400, 500, 600, 800, 1000, 1300, 1600, 2000, 2500, 3000, 4000, 5000)


def tree(pid):
    """pid and every descendant."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def cpu_seconds(pid):
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / tick


def pss_mb(pid):
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024.0


class Outpost:
    name = "outpost"

    def __init__(self, work):
        self.port = free_port()
        cfg = {
            "sip": {"domain": "example.com", "listen": [{"transport": "udp", "address": "127.0.0.1", "port": self.port}]},
            "auth": {"algorithms": ["MD5"], "invite": False},
            "users": {"bench%04d" % i: {"ha1": {"MD5": digest.ha1("MD5", "bench%04d" % i, "example.com", PASSWORD)}} for i in range(USERS)},
            "registrar": {"max_bindings": 10000},
            "limits": {"rate_per_source": 0},  # one source sends everything here
            "state": {"dir": os.path.join(work, "outpost-state"), "write_delay_ms": 1000},
            "log": {"level": "warning"},
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
        with open(os.path.join(HERE, "kamailio.cfg")) as f:
            text = f.read().replace("@PORT@", str(self.port)).replace("@CHILDREN@", str(children))
        path = os.path.join(work, "kamailio.cfg")
        with open(path, "w") as f:
            f.write(text)
        # 128 MB shared, 16 MB per process: far more than this load needs.
        self.proc = subprocess.Popen(["kamailio", "-f", path, "-DD", "-E", "-m", "128", "-M", "16", "-w", work],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "kamailio.log"), "wb"),
                                     start_new_session=True)
        time.sleep(1.5)
        if self.proc.poll() is not None:
            raise RuntimeError("kamailio did not start: " + open(os.path.join(work, "kamailio.log")).read()[-2000:])

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(10)


def sipp(args, work, name, timeout):
    out = os.path.join(work, name + ".out")
    with open(out, "wb") as f:
        p = subprocess.run(["sipp"] + args + ["-nostdin", "-i", "127.0.0.1", "-timeout", str(timeout), "-timeout_error", "-trace_err",
                                              "-trace_stat", "-stf", os.path.join(work, name + ".csv")],
                           stdout=f, stderr=subprocess.STDOUT, cwd=work, timeout=timeout + 30)
    text = open(out, errors="replace").read()
    ok = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", text)
    failed = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", text)
    return p.returncode, int(ok[-1]) if ok else 0, int(failed[-1]) if failed else -1


def ramp(proxy, work, rates, seconds, make_args, label):
    """Highest rate whose step completed every call; its CPU% too."""
    best = (0, 0.0)
    for rate in rates:
        calls = int(rate * seconds)
        cpu0, t0 = cpu_seconds(proxy.proc.pid), time.time()
        rc, ok, failed = sipp(make_args(rate, calls), work, "%s_%s_%d" % (proxy.name, label, rate), int(seconds * 3 + 10))
        wall = time.time() - t0
        cpu = 100.0 * (cpu_seconds(proxy.proc.pid) - cpu0) / wall
        achieved = ok / wall
        print("  %s %s %d/s: rc=%s ok=%d failed=%d wall=%.1fs cpu=%.0f%%" % (proxy.name, label, rate, rc, ok, failed, wall, cpu), file=sys.stderr)
        if rc != 0 or failed != 0 or ok < calls or achieved < 0.85 * rate * seconds / (seconds + 1.0):
            break
        best = (rate, cpu)
    return best


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


def steady_pss(proxy, work, wait=34):
    """PSS holding 1,000 bindings once nothing else is held: registered at
    200/s, then 34 s for every transaction to end (Timer J, 64*T1)."""
    inf = users_file(work)
    rc, ok, failed = sipp(register_args(proxy, inf, 200, USERS), work, proxy.name + "_fill", 30)
    if ok != USERS:
        raise RuntimeError("%s: only %d of %d registrations succeeded" % (proxy.name, ok, USERS))
    time.sleep(wait)
    return pss_mb(proxy.proc.pid)


def measure(proxy, work, seconds):
    pss = steady_pss(proxy, work)
    uas_port = free_port()
    subprocess.Popen(["sipp", "-sf", os.path.join(HERE, "uas_load.xml"), "-i", "127.0.0.1", "-p", str(uas_port), "-nostdin", "-bg"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    time.sleep(0.5)
    try:
        calls = ramp(proxy, work, CALL_RATES, seconds, lambda r, n: [
            "127.0.0.1:%d" % uas_port, "-rsa", "127.0.0.1:%d" % proxy.port, "-sn", "uac", "-r", str(r), "-m", str(n),
            "-p", str(free_port())], "call")
    finally:
        subprocess.run(["pkill", "-f", "uas_load.xml -i 127.0.0.1 -p %d" % uas_port])
    inf = users_file(work)
    regs = ramp(proxy, work, REG_RATES, seconds, lambda r, n: register_args(proxy, inf, r, n), "register")
    return calls, regs, pss


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each load step")
    ap.add_argument("--children", type=int, default=os.cpu_count() or 2, help="Kamailio UDP worker processes")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, sipp traces)")
    ap.add_argument("--only", choices=("outpost", "kamailio"), help="measure one proxy (no ratios)")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="outpost-bench-")
    results = {}
    try:
        makers = {"outpost": lambda: Outpost(work), "kamailio": lambda: Kamailio(work, args.children)}
        for name in makers:
            if args.only and name != args.only:
                continue
            proxy = makers[name]()
            try:
                results[proxy.name] = measure(proxy, work, args.seconds)
            finally:
                proxy.stop()
    finally:
        if args.keep:
            print("work directory kept: " + work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.only:
        (c, cpu), (r, _), pss = results[args.only]
        print("proxy: %s %d calls/s (CPU %.0f%%), %d REGISTER/s, PSS %.1f MB with %d bindings" % (args.only, c, cpu, r, pss, USERS))
        return 0
    (oc, ocpu), (orr, _), opss = results["outpost"]
    (kc, kcpu), (kr, _), kpss = results["kamailio"]
    oms = 10.0 * ocpu / oc if oc else 0  # CPU ms per call at that step
    kms = 10.0 * kcpu / kc if kc else 0
    print("proxy: outpost %d calls/s (CPU %.0f%%, %.2f ms/call), %d REGISTER/s, PSS %.1f MB with %d bindings | kamailio %d calls/s "
          "(CPU %.0f%%, %.2f ms/call, %d children), %d REGISTER/s, PSS %.1f MB | outpost/kamailio calls %.2fx, CPU per call %.1fx, "
          "REGISTER %.2fx, PSS %.2fx | UDP, sipp %ss steps on %d cores (a rate both reach is sipp's ceiling)"
          % (oc, ocpu, oms, orr, opss, USERS, kc, kcpu, kms, args.children, kr, kpss, oc / kc if kc else 0, oms / kms if kms else 0,
             orr / kr if kr else 0, opss / kpss if kpss else 0, args.seconds, os.cpu_count()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
