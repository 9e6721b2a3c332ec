"""Prints the stdlib modules the device needs (see stdlib.txt); run from the repo root."""
# Which stdlib modules does the device need? Start the daemon for a moment,
# load ruamel.yaml as the config editor will, and list what got imported.
import sys, os, json, tempfile, threading, signal
sys.path.insert(0, "firmware")
w = tempfile.mkdtemp()
json.dump({"sip": {"domain": "example.com", "listen": [{"transport": "udp", "address": "127.0.0.1", "port": 15060}, {"transport": "tcp", "address": "127.0.0.1", "port": 15060}]},
           "state": {"dir": w}, "log": {"level": "debug", "syslog": False}}, open(w + "/c.json", "w"))
threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
import runpy  # the device starts the daemon as "python3 -m outpost": measure that path
sys.argv = ["outpost", "run", "--config", w + "/c.json"]
try:
    runpy.run_module("outpost", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
import logging.handlers, ruamel.yaml, subprocess, shlex, difflib, getpass
y = ruamel.yaml.YAML(); import io; y.load(io.StringIO("a: 1 # c\n"))
stdlib = os.path.dirname(os.__file__)
names = set()
for name, mod in list(sys.modules.items()):
    f = getattr(mod, "__file__", None)
    if f and f.startswith(stdlib) and "site-packages" not in f:
        names.add(os.path.relpath(f, stdlib))
for n in sorted(names):
    print(n)
