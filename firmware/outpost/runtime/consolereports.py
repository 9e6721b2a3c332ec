"""What `show` prints, read from where each thing lives: the site files
(candidate and committed), the daemon's status file and process, the
saved bindings, the firewall, the commit history. The session
(console.py) only picks the report and prints its lines.
"""

import os

from . import consoledial, consoleshow, consoleviews
from .consolegrammar import rollback_number
from .store import read_json


class Where:
    """The session's view of the router: which files, which process."""

    def __init__(self, site, site_dir, state_dir, pidfile, run_dir, hostname, dirty):
        self.site, self.site_dir, self.state_dir = site, site_dir, state_dir
        self.pidfile, self.run_dir, self.hostname, self.dirty = pidfile, run_dir, hostname, dirty


def config(where, which, path, pipes):
    """Candidate (config) or committed (running); a PATH not set shows the
    value in force, marked (default). KeyError for a PATH that is not set
    under `| display set`."""
    from .siteconfig import SiteConfig

    site = where.site if which == "config" else SiteConfig(where.site_dir)
    compare = next((a[-1] for n, a in pipes if n == "compare"), None)
    if compare is not None:
        return [site.diff_against(rollback_number(compare)).rstrip("\n") or "no changes"]
    if ("display", ["set"]) in pipes:
        lines = consoleshow.display_set_at(site._plain(), path)
        if lines is None:
            raise KeyError("%s: not set" % path)
        return lines
    if path is None:
        return [site.text().rstrip("\n")]
    value, default = site.effective(path)
    return [consoleshow.value_text(value) + ("  (default)" if default else "")]


def view(where, what, now):
    """The lines of `show WHAT` for everything but the configuration;
    None when the firewall cannot be read (pinholes)."""
    plain = where.site._plain()
    d = consoleshow.daemon(where.pidfile, where.run_dir)
    st, path = consoleshow.status_file(plain)
    live = st if d["alive"] or not d["pid"] else None  # a dead daemon's file says nothing
    if what == "registrations":
        return consoleviews.registrations(read_json(os.path.join(where.state_dir or "", "bindings.json"), {}), now * 1000)
    if what == "pinholes":
        return consoleshow.pinholes()
    if what == "status":
        return _status(where, plain, d, st, now)
    if what == "calls":
        return consoleviews.calls(live, path)
    if what == "survival":
        return consoleviews.survival(live, path, now)
    if what == "interfaces":
        return consoleshow.interfaces()
    if what == "dialplan":
        return consoledial.show(where.site)
    return consoleshow.commits(where.site.history.entries(), where.site.history.pending(), now)


def _status(where, plain, d, st, now):
    from .. import __version__

    state = "changed, not committed" if where.dirty else "committed"
    pending = where.site.history.pending()
    if pending:
        state += "; commit confirmed: rolls back in %s unless committed" % consoleshow.age(pending["deadline"] - now)
    process = consoleshow.daemon_lines(d, st, now) + [consoleshow.interface_summary()]
    cleared = read_json(_cleared_path(where), None)
    return consoleviews.status(__version__, where.hostname, state, process, st if d["alive"] else None, plain, cleared)


def _cleared_path(where):
    return os.path.join(where.run_dir, "counters-cleared.json")


def clear_counters(where, now):
    """`clear counters`: the daemon keeps counting; show status prints what
    came since this snapshot, for as long as the same daemon runs (its
    pid and start time are in the snapshot). A runtime file: a restart
    starts the counters at zero anyway."""
    import json

    from .store import write_atomic

    d = consoleshow.daemon(where.pidfile, where.run_dir)
    st, path = consoleshow.status_file(where.site._plain())
    if st is None or not d["alive"]:
        raise ValueError("clear counters: the daemon is not running (no %s): nothing to clear" % path)
    snap = {"pid": st.get("pid"), "started": st.get("started"), "at": int(now), "counters": st.get("counters"), "traffic": st.get("traffic")}
    write_atomic(_cleared_path(where), json.dumps(snap).encode(), sync=False)
    return ["counters cleared (show status counts from now; a daemon restart starts them at zero too)"]
