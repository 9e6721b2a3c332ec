"""How steady this machine's CPU is: the yardstick for bench/proxy.sh's
latency figures. Prints one line.

    .venv/bin/python bench/machine.py [--seconds S]

A fixed piece of Python work (WORK, about 1 ms) is timed in thread CPU
time, so time the process spends descheduled does not count, only how
fast the CPU runs it:
- on CPU 0, with CPU 1 idle and with a busy loop on CPU 1, alternated
  every 0.3 s (ROUNDS pairs, the ratio of each pair): when the two vCPUs
  are hyperthreads of one core, whatever lscpu says, the second is much
  slower, and a proxy slows down whenever sipp or the kernel runs beside
  it;
- on CPU 0, CPU 1 idle, every 50 ms for S seconds: the spread of the same
  work's time is the host's own noise (other tenants on its cores).
A single-threaded proxy at 80% of its maximum rate builds a queue whenever
its CPU slows by more than a quarter, and the queue takes several times as
long to drain: that is what p99 setup latency at 80% measures here.
Run it with nothing else busy.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

WORK = 20000
ROUNDS = 10


def work():
    s = 0
    for i in range(WORK):
        s += i * i
    return s


def sample(seconds, pause):
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.thread_time()
        work()
        out.append((time.thread_time() - t0) * 1e6)
        if pause:
            time.sleep(pause)
    return sorted(out)


def pct(values, p):
    return values[min(len(values) - 1, int(len(values) * p / 100.0))]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the noise sample")
    args = ap.parse_args(argv)
    if os.cpu_count() < 2:
        print("machine: one CPU, nothing to compare")
        return 0
    os.sched_setaffinity(0, {0})
    ratio = statistics.median(sibling_ratios())
    noise = sample(args.seconds, 0.05)
    print("machine: fixed work on CPU 0 takes %.2fx as long with CPU 1 busy (median of %d alternated pairs: %s); on CPU 0 "
          "alone over %gs: p1 %d, p50 %d, p99 %d, max %d us, so the CPU's speed varies %.2fx from fastest to p99"
          % (ratio, ROUNDS, "CPUs 0 and 1 share a core" if ratio > 1.25 else "separate cores", args.seconds,
             pct(noise, 1), pct(noise, 50), pct(noise, 99), noise[-1], pct(noise, 99) / pct(noise, 1)))
    return 0


def sibling_ratios():
    """Work time with CPU 1 busy over work time with it idle, in adjacent
    0.3 s windows: the host's slow drift cancels out of each pair."""
    busy = subprocess.Popen([sys.executable, "-c", "import os\nos.sched_setaffinity(0, {1})\nwhile True: pass"])
    try:
        out = []
        for _ in range(ROUNDS):
            busy.send_signal(signal.SIGSTOP)
            time.sleep(0.05)
            idle = statistics.median(sample(0.3, 0.005))
            busy.send_signal(signal.SIGCONT)
            time.sleep(0.05)
            out.append(statistics.median(sample(0.3, 0.005)) / idle)
        return out
    finally:
        busy.kill()
        busy.wait()


if __name__ == "__main__":
    sys.exit(main())
