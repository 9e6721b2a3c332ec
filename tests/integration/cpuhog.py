"""Busy processes beside a test, so it runs on a loaded router: N Python
busy loops, started here and stopped here by PID."""

import subprocess
import sys

from routersite import stop

LOOP = "while True: pass"


class CpuHogs:
    def __init__(self, n):
        self.n, self.procs = n, []

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", LOOP]) for _ in range(self.n)]
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            stop(p)
        self.procs = []
