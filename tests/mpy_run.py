"""Run the core tests under MicroPython: every test_* function of every
tests/core/test_*.py, the same files pytest runs on CPython.

    micropython tests/mpy_run.py [test_file.py ...]

Prints one line per failure with its traceback and closes with the plain
'micropython: N passed, N failed' line; exits 1 on any failure.
"""

import os
import sys

_path = __file__ if __file__.startswith("/") else os.getcwd() + "/" + __file__
HERE = _path.rsplit("/", 1)[0]
ROOT = HERE.rsplit("/", 1)[0]
sys.path.insert(0, ROOT + "/firmware")
sys.path.insert(0, HERE + "/core")


def modules(argv):
    if argv:
        return [a.rsplit("/", 1)[-1][:-3] for a in argv]
    return sorted(n[:-3] for n in os.listdir(HERE + "/core") if n.startswith("test_") and n.endswith(".py"))


def main(argv):
    passed = failed = 0
    for name in modules(argv):
        try:
            mod = __import__(name)
        except Exception as e:
            print("ERROR importing", name)
            sys.print_exception(e)
            failed += 1
            continue
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            fn = getattr(mod, attr)
            if not callable(fn):
                continue
            try:
                fn()
                passed += 1
            except Exception as e:
                failed += 1
                print("FAILED %s.%s" % (name, attr))
                sys.print_exception(e)
    print("micropython: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


sys.exit(main(sys.argv[1:]))
