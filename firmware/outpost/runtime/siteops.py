"""Site-file operations outside a console session: the confirmed-commit
timer's rollback and the offline check of a site file (outpost
check-config). Both go through SiteConfig, as a session's commit does."""

import json
import time

from . import config as configmod
from .commits import Lock
from .schema import Invalid
from .siteconfig import SiteConfig, _yaml
from .sitetree import check_plain, passwords_to_ha1, yaml_problem


def roll_back_unconfirmed(site_dir, seq, tries=5):
    """Commit confirmed `seq` was not confirmed in time: the file committed
    before it becomes the committed one again. Returns what happened, or
    None when a commit confirmed or replaced it meanwhile. Every decision is
    taken under the commit lock (commit's only_if_pending); a commit landing
    between reading and locking is a retry, never a reason to give up."""
    for _ in range(tries):
        site = SiteConfig(site_dir)
        when = next((time.strftime("%H:%M:%S UTC", time.gmtime(at)) for _, at, _, _, s in site.history.entries() if s == seq), "?")
        text = site.history.before(seq)
        if text is None:
            return _give_up(site, seq, when, "the history holds nothing before it")
        site.data = site._load(text)
        site._pin_password()
        try:
            r = site.commit(comment="automatic rollback: the commit confirmed at %s was not confirmed" % when, how="auto-rollback",
                            only_if_pending=seq)
        except Invalid as e:
            if site.committed_text != site._read(site.yaml_path) or e.errors[0].startswith("commit: the committed"):
                continue  # someone committed meanwhile: look again
            return _give_up(site, seq, when, "the file before it no longer validates (%s)" % "; ".join(e.errors))
        if r.state == "confirmed-meanwhile":
            return None
        return ("the commit confirmed at %s was not confirmed in time: rolled back to the configuration before it" % when,
                bool(r.restart or r.reboot))
    return None


def _give_up(site, seq, when, why):
    with Lock(site.dir):
        if (site.history.pending() or {}).get("seq") != seq:
            return None  # not ours any more: a newer commit confirmed is pending instead
        site.history.disarm()
    return "the commit confirmed at %s was not confirmed, but %s: kept" % (when, why), False


def check_text(text):
    """Every error in a site file's text, as `commit` would find them after
    `load` (outpost check-config: offline, on the admin's laptop)."""
    try:
        data = _yaml().load(text) if text.strip() else {}
    except Exception as e:  # ruamel's errors have no common base
        return ["not YAML: %s" % yaml_problem(e)]
    try:
        check_plain(data, "config")
        passwords_to_ha1(data)
    except ValueError as e:
        return [str(e)]
    except Invalid as e:
        return list(e.errors)
    _, errors = configmod.check_all(json.loads(json.dumps(data, default=str)))
    return errors
