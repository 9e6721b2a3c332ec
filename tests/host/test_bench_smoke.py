"""The benchmarks still run (a very short run: timings are never asserted)."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_parse_prints_one_summary_line():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "parse.py"), "--seconds", "0.02"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    lines = out.strip().splitlines()
    assert len(lines) == 1
    assert re.search(r"INVITE\+SDP outpost/CPython \d+, outpost/MicroPython \d+, sippy/CPython \d+", lines[0])
    assert re.search(r"REGISTER outpost/CPython \d+, outpost/MicroPython \d+, sippy/CPython \d+", lines[0])
