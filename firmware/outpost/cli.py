"""`outpost`: the daemon's command line.

    outpost run --config FILE [--log-level LEVEL] [--syslog]
    outpost check-config FILE     (a site file, YAML, or the daemon's JSON)
    outpost confirm-timer [--site DIR]   (commit confirmed's automatic rollback)
    outpost ha1 USER REALM        (password on stdin: prints the config entry)
    outpost console [--site DIR] [--state DIR]   (the serial console CLI)
"""

import argparse
import gc
import logging
import logging.handlers
import sys


def _logging(level, syslog):
    handler = logging.handlers.SysLogHandler("/dev/log") if syslog else logging.StreamHandler(sys.stderr)
    fmt = "outpost: %(levelname)s %(message)s" if syslog else "%(asctime)s outpost %(levelname)s %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger("outpost")
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))


def cmd_run(args):
    from .runtime import config
    from .runtime.schema import Invalid

    try:
        cfg = config.load(args.config)
    except Invalid as e:
        for err in e.errors:
            print("outpost: %s" % err, file=sys.stderr)
        return 2
    except OSError as e:
        print("outpost: cannot read %s: %s" % (args.config, e.strerror), file=sys.stderr)
        return 2
    _logging(args.log_level or cfg["log"]["level"], args.syslog or cfg["log"]["syslog"])
    _event_loop(cfg)
    import asyncio
    from .runtime.daemon import Daemon

    try:
        asyncio.run(Daemon(cfg, args.config).run(_tune_gc))
    except OSError as e:
        logging.getLogger("outpost").error("cannot start: %s", e)
        print("outpost: cannot start: %s" % e, file=sys.stderr)  # the supervisor logs the last stderr line
        return 1
    return 0


def _event_loop(cfg):
    """The loop config.py's daemon.event_loop names: uvloop (it needs ssl),
    or asyncio without ssl when no TLS transport is configured: asyncio
    imports ssl just in case, and with it OpenSSL, about 5 MB of a router's
    memory for nothing (asyncio checks for ssl being None)."""
    if cfg["daemon"]["event_loop"] == "uvloop":
        try:
            import uvloop
        except ImportError:
            logging.getLogger("outpost").warning("daemon.event_loop: uvloop is not installed; running asyncio's loop")
        else:
            uvloop.install()
            logging.getLogger("outpost").info("event loop: uvloop %s", uvloop.__version__)
            return
    if not any(e["transport"] == "tls" for e in cfg["sip"]["listen"]):
        sys.modules.setdefault("ssl", None)


def cmd_check(args):
    """A site file (YAML, as written for `outpost-console apply`) or the
    daemon's JSON: every error, one per line; exit 1 if any."""
    from .runtime import config
    from .runtime.schema import Invalid

    try:
        with open(args.file, encoding="utf-8") as f:
            text = f.read(1 << 20)
    except (OSError, UnicodeDecodeError) as e:
        print("%s: %s" % (args.file, getattr(e, "strerror", None) or e))
        return 1
    if args.file.endswith(".json"):
        try:
            config.load(args.file)
            errors = []
        except (Invalid, OSError) as e:
            errors = getattr(e, "errors", None) or [str(e)]
    else:
        from .runtime.siteops import check_text

        errors = check_text(text)
    for err in errors:
        print("%s: %s" % (args.file, err))
    if not errors:
        print("%s: valid" % args.file)
    return 1 if errors else 0


def cmd_confirm_timer(args):
    from .runtime.supervision import confirm_timer

    confirm_timer(args.site, args.pidfile)
    return 0


def cmd_ha1(args):
    import getpass  # here, not at the top: the daemon need not carry it

    from .core import digest

    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("password: ")
    print('"%s": {"ha1": {"SHA-256": "%s", "MD5": "%s"}}' % (
        args.user, digest.ha1("SHA-256", args.user, args.realm, password), digest.ha1("MD5", args.user, args.realm, password)))
    return 0


# CPython's cyclic collector, measured under bench/proxy.sh's call load at
# 400 calls/s: with its defaults (700, 10, 10) a full pass walked every
# transaction in flight and stopped the loop for up to 92 ms, long enough
# for the socket's buffer to overflow (p99 setup 68 ms). The core leaves no
# cyclic garbage (tests/host/test_no_reference_cycles.py; 146 objects
# collected in 20 s at 800 calls/s, all of them start-up's), so the
# collector has only the runtime's rare cycle to find. Measured with
# gc.callbacks at 800 calls/s for 20 s: a young pass every 10,000
# allocations took up to 10.6 ms, 34 times; every 1,000 it takes up to
# 2.4 ms (240 passes, the same CPU in all), and a middle pass only every
# 1,000 young ones (none ran under that load; at 50 they took 8 ms each).
# Loop iterations over 5 ms: 11 -> 2 in the same 20 s. A full pass waits
# for 100 middle ones.
GC_THRESHOLDS = (1000, 1000, 100)


def _tune_gc():
    """Once the daemon is up: what start-up made (modules, config, tables)
    lives as long as the process, so no pass walks it again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class _Help(argparse.HelpFormatter):
    """A fixed width: argparse asks shutil for the terminal's otherwise, on
    every add_argument, and shutil imports bz2, lzma and zlib, 0.5 MB of
    the daemon's RSS for a help text it never prints."""

    def __init__(self, prog):
        super().__init__(prog, width=80)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["console"]:
        from .runtime.console import main as console_main

        return console_main(argv[1:])
    p = argparse.ArgumentParser(formatter_class=_Help, prog="outpost", description="SIP proxy, registrar and ALG for branch-office routers")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", formatter_class=_Help, help="run the daemon in the foreground")
    r.add_argument("--config", required=True)
    r.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    r.add_argument("--syslog", action="store_true")
    r.set_defaults(fn=cmd_run)
    c = sub.add_parser("check-config", formatter_class=_Help, help="validate a config file")
    c.add_argument("file")
    c.set_defaults(fn=cmd_check)
    t = sub.add_parser("confirm-timer", formatter_class=_Help, help="roll back a commit confirmed that is not confirmed in time (the console starts it)")
    t.add_argument("--site", default="/data/etc/outpost")
    t.add_argument("--pidfile", default="/var/run/outpost.pid")
    t.set_defaults(fn=cmd_confirm_timer)
    h = sub.add_parser("ha1", formatter_class=_Help, help="print a user's HA1 entry (password on stdin)")
    h.add_argument("user")
    h.add_argument("realm")
    h.set_defaults(fn=cmd_ha1)
    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
