"""pytest path setup: the firmware package and the core tests' helpers are
imported the same way tests/mpy_run.py imports them under MicroPython."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (os.path.join(ROOT, "firmware"), os.path.join(ROOT, "tests", "core"), os.path.join(ROOT, "tests", "host"), os.path.join(ROOT, "tests", "integration"), os.path.join(ROOT, "tests", "system"), os.path.join(ROOT, "tests", "security")):
    if p not in sys.path:
        sys.path.insert(0, p)
