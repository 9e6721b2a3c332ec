"""One sipp load step against a proxy, judged strictly (bench/proxy_load.py).

A step passes only when every one of these holds:
- sipp exits 0 and completed every call it was asked for;
- no failed call and no unexpected message (sipp's counters);
- no kernel UDP receive drop, on the proxy's socket or anywhere else
  (/proc/net/udp per socket, /proc/net/snmp RcvbufErrors for the sockets
  sipp closed);
- sipp held the offered rate: every call was started within the step's
  length plus one second (its per-second statistics).
Beside each step a probe times a fixed piece of Python work (about 1 ms
of CPU, every 50 ms) in thread CPU time: its median is how fast the
machine's CPU ran during the step (bench/machine.py: this one's speed
varies up to 1.9x for seconds at a time, whatever runs on it), so a step
that ran on a slow CPU says so.
What a failed step measured is kept too, with the reason, so a limit that
is sipp's (sipp's own CPU at a core, drops on its sockets) is shown to be
sipp's and not the proxy's.
"""

import csv
import os
import statistics
import subprocess
import threading
import time

from machine import work  # the same fixed work bench/machine.py times
from procstat import cpu_seconds, pss_mb, tree

SAMPLE_S = 0.5  # PSS sampling period during a step
PROBE_S = 0.05  # CPU speed probe period during a step


def udp_drops(port=None):
    """Kernel receive drops on the UDP sockets bound to `port` (all when None)."""
    total = 0
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if port is None or int(cols[1].rsplit(":", 1)[1], 16) == port:
                        total += int(cols[-1])
        except OSError:
            pass
    return total


def rcvbuf_errors():
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100.0))]


class PeakPss(threading.Thread):
    """The highest PSS of a process tree while the step runs."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids, self.peak, self.done = pids, 0.0, threading.Event()

    def run(self):
        while not self.done.wait(SAMPLE_S):
            self.peak = max(self.peak, pss_mb(self.pids))

    def stop(self):
        self.done.set()
        self.join()
        self.peak = max(self.peak, pss_mb(self.pids))
        return self.peak


class CpuSpeed(threading.Thread):
    """The median thread-CPU microseconds of a fixed piece of work while
    the step runs: the CPU's own speed, descheduling excluded."""

    def __init__(self):
        super().__init__(daemon=True)
        self.times, self.done = [], threading.Event()

    def run(self):
        while not self.done.wait(PROBE_S):
            t0 = time.thread_time()
            work()
            self.times.append((time.thread_time() - t0) * 1e6)

    def stop(self):
        self.done.set()
        self.join()
        return statistics.median(self.times) if self.times else 0.0


class Step:
    """What one step measured, and whether it passed."""

    def __init__(self, rate, calls):
        self.rate, self.calls = rate, calls
        self.rc = self.ok = self.failed = self.unexpected = self.retrans = 0
        self.proxy_drops = self.other_drops = 0
        self.started_in = None  # seconds sipp took to start every call
        self.wall = self.cpu = self.sipp_cpu = self.pss = 0.0
        self.work_us = 0.0  # CpuSpeed's median: higher is a slower CPU
        self.p50 = self.p99 = None
        self.reason = None

    def judge(self, seconds):
        if self.proxy_drops:
            self.reason = "kernel dropped %d datagrams on the proxy's socket" % self.proxy_drops
        elif self.other_drops:
            self.reason = "kernel dropped %d datagrams on sipp's sockets (sipp CPU %.0f%%)" % (self.other_drops, self.sipp_cpu)
        elif self.failed or self.unexpected:
            self.reason = "%d failed calls, %d unexpected messages" % (self.failed, self.unexpected)
        elif self.rc != 0 or self.ok < self.calls:
            self.reason = "sipp exit %s, %d of %d calls completed" % (self.rc, self.ok, self.calls)
        elif self.started_in is None or self.started_in > seconds + 1:
            self.reason = "sipp did not hold the rate (sipp CPU %.0f%%)" % self.sipp_cpu
        return self.reason is None

    def line(self, name, label):
        lat = "p50 %s ms p99 %s ms" % (self.p50, self.p99) if self.p50 is not None else "no latency"
        return "  %s %s %d/s: ok=%d failed=%d unexpected=%d retrans=%d drops=%d/%d %s cpu=%.0f%% sipp=%.0f%% pss=%.1fMB work=%dus %s" % (
            name, label, self.rate, self.ok, self.failed, self.unexpected, self.retrans, self.proxy_drops, self.other_drops,
            lat, self.cpu, self.sipp_cpu, self.pss, self.work_us, "PASS" if self.reason is None else "FAIL: " + self.reason)


def _stats(path):
    """The rows of sipp's per-second statistics file."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def _elapsed_s(text):
    h, m, s = text.split(":")[:3]
    return int(h) * 3600 + int(m) * 60 + float(s)


def run(args, work, proxy_pid, proxy_port, rate, calls, seconds, uas_pids=()):
    """Run sipp with `args` (a UAC at `rate` for `calls`) in its own directory."""
    step = Step(rate, calls)
    d = os.path.join(work, "step-%d-%d" % (rate, int(time.time() * 1000)))
    os.makedirs(d)
    timeout = int(seconds * 3 + 15)
    cmd = ["sipp"] + args + ["-nostdin", "-i", "127.0.0.1", "-timeout", str(timeout), "-timeout_error", "-trace_err",
                             "-trace_stat", "-stf", "stats.csv", "-fd", "1", "-trace_rtt", "-rtt_freq", "1"]
    pids = tree(proxy_pid)  # Kamailio's workers; outpost is one process
    drops0, snmp0, cpu0 = udp_drops(proxy_port), rcvbuf_errors(), cpu_seconds(pids)
    uas0 = sum(cpu_seconds(p) for p in uas_pids)
    peak = PeakPss(pids)
    peak.start()
    speed = CpuSpeed()
    speed.start()
    t0 = time.time()
    with open(os.path.join(d, "sipp.out"), "wb") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=d)
        # wait4: the UAC's exact CPU time, with no polling beside the load.
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    sipp_cpu = usage.ru_utime + usage.ru_stime
    step.wall = time.time() - t0
    step.pss = peak.stop()
    step.work_us = speed.stop()
    step.rc = p.returncode
    step.cpu = 100.0 * (cpu_seconds(pids) - cpu0) / step.wall
    # The UAC's CPU, or the UAS's over the step: the busier sipp.
    step.sipp_cpu = 100.0 * max(sipp_cpu, sum(cpu_seconds(p) for p in uas_pids) - uas0) / step.wall
    step.proxy_drops = udp_drops(proxy_port) - drops0
    step.other_drops = max(0, rcvbuf_errors() - snmp0 - step.proxy_drops)
    _read_results(step, d, calls)
    step.judge(seconds)
    return step


def _read_results(step, d, calls):
    try:
        rows = _stats(os.path.join(d, "stats.csv"))
    except OSError:
        rows = []
    if rows:
        last = rows[-1]
        step.ok = int(last["SuccessfulCall(C)"])
        step.failed = int(last["FailedCall(C)"])
        step.unexpected = int(last["FailedUnexpectedMessage(C)"]) + int(last["OutOfCallMsgs(C)"]) + int(last["DeadCallMsgs(C)"])
        step.retrans = int(last["Retransmissions(C)"])
        for row in rows:
            if int(row["OutgoingCall(C)"]) >= calls:
                step.started_in = _elapsed_s(row["ElapsedTime(C)"])
                break
    times = []
    for name in os.listdir(d):
        if name.endswith("_rtt.csv"):
            with open(os.path.join(d, name)) as f:
                next(f, None)
                for line in f:
                    parts = line.split(";")
                    if len(parts) >= 2:
                        try:
                            times.append(float(parts[1]))
                        except ValueError:
                            pass
    step.p50, step.p99 = percentile(times, 50), percentile(times, 99)
