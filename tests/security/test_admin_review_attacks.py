"""An independent attacker's review of #13's console changes (the commit
history, set typed by the schema, the confirmed-commit timer, the
supervisor, outpost-console's exit codes). Each test is the attack; each
must now fail to do harm."""

import json
import os
import subprocess
import sys
import time

import pytest

from consolerig import PASSWORD, SITE, Chardev, ShellRecorder, session
from outpost.runtime import consoleload
from outpost.runtime.schema import Invalid
from outpost.runtime.siteconfig import SiteConfig
from outpost.runtime.siteops import check_text

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "firmware"))


def site_text(tmp_path, port, extra=""):
    return ("sip:\n  domain: example.com\n  listen: [{transport: udp, address: 127.0.0.1, port: %d}]\n%s"
            "state: {dir: %s/state, status_file: %s/run/status.json}\n" % (port, extra, tmp_path, tmp_path))


@pytest.mark.parametrize("network", ["10.0.0.0/255.0.0.0", "192.168.1.1/0.0.0.255", "192.168.1.1/09", "192.168.1.1/024"])
def test_a_network_spelling_the_daemon_or_busybox_reads_otherwise_is_refused(tmp_path, network):
    """ipaddress takes netmask and hostmask forms and /09; the daemon's
    parser crashed on them (the daemon never started again) and busybox ip
    refused them or read /024 as octal at boot. One spelling only."""
    errors = check_text(site_text(tmp_path, 5060, "  trusted_networks: [%s]\n" % network))
    assert errors == ["sip.trusted_networks[0]: %r is not an IPv4 address with a prefix length 0-32 (like 192.0.2.1/24)" % network]
    (tmp_path / "outpost.yaml").write_text(SITE)
    with pytest.raises(Invalid):
        SiteConfig(str(tmp_path)).set("interfaces.lan0", "{mac: '52:54:00:4f:50:01', address: %s}" % network)


def test_apply_says_failure_when_the_daemon_refuses_the_reload(tmp_path, capsys):
    """A committed file the daemon will not run must not exit 0: the router
    runs the previous configuration. (This daemon refuses every reload.)"""
    from harness import free_port
    from outpost.hosttool import main as tool

    port = free_port()
    (tmp_path / "run").mkdir()
    (tmp_path / "outpost.yaml").write_text(site_text(tmp_path, port))
    session(tmp_path, ["exit"], [PASSWORD] * 3)  # first boot
    refusing = ("import outpost.runtime.daemon as d; d.Daemon._reload = lambda self: 'refused for the test'; "
                "from outpost.cli import main; main(['run', '--config', %r])" % str(tmp_path / "outpost.json"))
    d = subprocess.Popen([sys.executable, "-c", refusing], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (tmp_path / "none.pid").write_text(str(d.pid))
    new = tmp_path / "new.yaml"
    new.write_text(site_text(tmp_path, port, "  aliases: [example.org]\n"))
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    for _ in range(100):
        if (tmp_path / "run" / "status.json").exists():
            break
        time.sleep(0.1)
    dev = Chardev(tmp_path, ShellRecorder())
    try:
        rc = tool(["--port", dev.url, "--password-file", str(tmp_path / "pw"), "--quiet", "apply", str(new)])
    finally:
        dev.close()
        d.kill()
        d.wait()
    assert json.loads((tmp_path / "run" / "status.json").read_text())["reloads"]["error"] == "refused for the test"
    assert rc == 1
    assert "error: reload: refused for the test" in capsys.readouterr().err


def test_a_site_file_with_a_key_that_is_not_a_word_is_one_error_not_a_crash(tmp_path, capsys):
    """A date or a [list] as a key: JSON has none; the session died with a
    TypeError (the candidate lost) and so did check-config."""
    session(tmp_path, ["exit"], [PASSWORD] * 3)
    evil = SITE + "2024-01-01: x\n"
    rc, out = session(tmp_path, consoleload.encode_block(evil) + ["set sip.timers {1: x}", "set sip.listen [{1: x}]",
                                                                   "show config sip.domain", "exit"], [PASSWORD])
    assert rc == 0 and "Traceback" not in out and '"example.com"' in out
    assert "error: load: datetime.date(2024, 1, 1) is not a key name" in out
    assert out.count("is not a key name") == 3
    assert check_text(evil) == ["config: datetime.date(2024, 1, 1) is not a key name (keys are words; quote it)"]


def test_the_timer_never_cancels_a_newer_commit_confirmed(tmp_path, monkeypatch):
    """The admin repeats `commit confirmed` just as the first one's timer
    wakes: the timer must neither disarm the newer one nor log a false
    reason; the newer one is still rolled back when its time comes."""
    from outpost.runtime import siteops, supervision

    (tmp_path / "outpost.yaml").write_text(SITE)
    admin = SiteConfig(str(tmp_path))
    admin.commit()
    admin.set("sip.aliases", "[a.example]")
    seq_a = admin.commit(confirmed_minutes=1).seq
    real_check, fired = SiteConfig.check, []

    def check(self):
        cfg = real_check(self)
        if self is not admin and not fired:  # the timer, between its read and its lock
            fired.append(1)
            admin.set("sip.aliases", "[b.example]")
            admin.commit(confirmed_minutes=1)
        return cfg
    monkeypatch.setattr(SiteConfig, "check", check)
    assert siteops.roll_back_unconfirmed(str(tmp_path), seq_a) is None  # B came first: nothing to do
    monkeypatch.setattr(SiteConfig, "check", real_check)
    pending = admin.history.pending()
    assert pending and pending["seq"] != seq_a
    msg = supervision.confirm_timer(str(tmp_path), str(tmp_path / "x.pid"), sleep=lambda s: None, now=lambda: pending["deadline"] + 1)
    assert "was not confirmed in time: rolled back" in msg
    assert "b.example" not in (tmp_path / "outpost.yaml").read_text()


def test_a_call_id_cannot_make_outpost_console_report_a_failure():
    """Data shown at column 0 (a Call-ID) that reads `error: ` is indented:
    only the console's own refusals start so."""
    import io

    from outpost.hosttool import failed
    from outpost.runtime.console import Console
    from outpost.runtime.consoleviews import calls

    out = io.StringIO()
    c = Console("/nonexistent", stdout=out)
    c.say_lines(calls({"calls": [{"call_id": "error: x", "seconds": 1, "legs": []}]}, "/s"))
    assert not failed(out.getvalue())


@pytest.mark.parametrize("name", ["resolv.conf", "interfaces", "outpost.yaml", "history/index.json"])
def test_the_status_file_cannot_be_aimed_into_the_site_directory(tmp_path, name):
    """resolv.conf was one name short of the guard: the daemon (root) would
    have rewritten it every few seconds and S10network copied it to
    /etc/resolv.conf at boot."""
    (tmp_path / "outpost.yaml").write_text(SITE)
    site = SiteConfig(str(tmp_path))
    site.set("state.status_file", str(tmp_path / name))
    with pytest.raises(Invalid, match="is in the site directory"):
        site.commit()
    site.set("state.status_file", "/run/outpost/status.json")
    site.set("state.dir", str(tmp_path / "state"))
    site.set("state.status_file", str(tmp_path / "state" / "secret"))
    with pytest.raises(Invalid, match="the daemon's own state"):
        site.commit()
