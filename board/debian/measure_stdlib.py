"""Prints the stdlib modules the device needs (see stdlib.txt); run from the repo root."""
# Which stdlib modules does the device need? Start the daemon for a moment,
# load ruamel.yaml as the config editor will, and list what got imported.
import sys, os, io, json, tempfile, threading, signal
sys.path.insert(0, "firmware")
w = tempfile.mkdtemp()
import runpy


def daemon(event_loop):
    """`outpost run` for 1.5 s, as the device starts it ("python3 -m outpost")."""
    json.dump({"sip": {"domain": "example.com", "listen": [{"transport": "udp", "address": "127.0.0.1", "port": 15060},
                                                           {"transport": "tcp", "address": "127.0.0.1", "port": 15060}]},
               "state": {"dir": w}, "log": {"level": "debug", "syslog": False}, "daemon": {"event_loop": event_loop}},
              open(w + "/c.json", "w"))
    threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
    sys.argv = ["outpost", "run", "--config", w + "/c.json"]
    try:
        runpy.run_module("outpost", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass


daemon("asyncio")
if sys.modules.get("ssl", 0) is None:
    del sys.modules["ssl"]  # the run above blocked it (no TLS); uvloop needs it
daemon("uvloop")  # daemon.event_loop: uvloop imports ssl, idna and more of asyncio
import logging.handlers, ruamel.yaml, subprocess, shlex, difflib, getpass, termios
# A console session, as on the serial line: first boot, edit, commit.
from outpost.runtime.console import Console
open(w + "/outpost.yaml", "w").write("sip:\n  domain: example.com\n  listen:\n    - {transport: udp, address: 192.0.2.1}\n")
Console(w, w, stdin=io.StringIO("set registrar.default_expires 900\ndiff\ncommit\nshow registrations\nexit\n"), stdout=io.StringIO(),
        pidfile=w + "/none", ask_password=lambda p: "measure-pw").run()
y = ruamel.yaml.YAML(); y.load(io.StringIO("a: 1 # c\n"))
stdlib = os.path.dirname(os.__file__)
names = set()
for name, mod in list(sys.modules.items()):
    f = getattr(mod, "__file__", None)
    if f and f.startswith(stdlib) and "site-packages" not in f:
        names.add(os.path.relpath(f, stdlib))
for n in sorted(names):
    print(n)
