"""Attacks on the console password: nothing typed after login (short of the
`password` command, which asks for the current one), no rollback and no
site file may remove or replace it. Without it the next person on the line
chooses a new one at "first boot" and gets `shell`."""

import json
import subprocess

import pytest

from consolerig import PASSWORD, SITE, Chardev, ShellRecorder, session
from outpost.hosttool import main as tool
from outpost.runtime.console import check_password, hash_password
from outpost.runtime.siteconfig import SiteConfig

OTHER = "pbkdf2-sha256$1000$QUFBQUFBQUFBQUFBQUFBQQ==$QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="


@pytest.fixture(autouse=True)
def no_login_delay(monkeypatch):
    """These tests make failed logins on purpose; the delay has its own test."""
    try:
        from outpost.runtime import consolelogin
    except ImportError:
        return  # the landed code has none
    monkeypatch.setattr(consolelogin.LoginThrottle, "wait", lambda self: None)


def stored(tmp_path):
    """The hash in the committed YAML and in the JSON the console logs in with."""
    try:
        yaml_hash = str(SiteConfig(str(tmp_path)).get("console.password_hash"))
    except KeyError:
        yaml_hash = None
    with open(tmp_path / "outpost.json") as f:
        json_hash = (json.load(f).get("console") or {}).get("password_hash")
    return yaml_hash, json_hash


def first_boot(tmp_path):
    (tmp_path / "outpost.yaml").write_text(SITE)
    session(tmp_path, ["exit"], [PASSWORD] * 3)
    yaml_hash, json_hash = stored(tmp_path)
    assert check_password(PASSWORD, yaml_hash) and json_hash == yaml_hash
    return yaml_hash


def still_locked(tmp_path, before):
    assert stored(tmp_path) == (before, before)
    rc, out = session(tmp_path, ["exit"], ["anything-at-all"])
    assert "New password" not in out and "No console password" not in out and "Login incorrect." in out
    rc, out = session(tmp_path, ["exit"], [PASSWORD])
    assert rc == 0


def test_rollback_right_after_first_boot_keeps_the_console_password(tmp_path):
    before = first_boot(tmp_path)
    rc, out = session(tmp_path, ["rollback", "exit"], [PASSWORD])
    still_locked(tmp_path, before)


@pytest.mark.parametrize("edit", [
    "delete console.password_hash",
    "delete console",
    "set console \"{password_hash: '%s'}\"" % OTHER,
    "set console {}",
    "set console null",
    "set console '{idle_timeout_s: 600}'",
    "set console.password_hash '%s'" % OTHER,
    "set 'console.password_hash' ''",
    "delete console.password_hash[0]",
    "delete 'console'",
])
def test_no_edit_reaches_the_console_password(tmp_path, edit):
    before = first_boot(tmp_path)
    rc, out = session(tmp_path, [edit, "commit", "exit"], [PASSWORD])
    still_locked(tmp_path, before)


def test_refusals_name_the_password_command(tmp_path):
    first_boot(tmp_path)
    rc, out = session(tmp_path, ["delete console", "set console {}", "delete console.password_hash", "exit"], [PASSWORD])
    assert out.count("with the password command") == 3


def test_the_site_file_api_keeps_the_hash_whatever_the_candidate(tmp_path):
    """The guard is where every change passes (commit), not in the CLI words."""
    before = first_boot(tmp_path)
    site = SiteConfig(str(tmp_path))
    site.data["console"] = {}
    site.commit()
    del site.data["console"]
    site.commit()
    site.replace(SITE)  # a file from a laptop: no console section
    site.commit()
    site.replace(SITE + "console: {password_hash: '%s'}\n" % OTHER)  # someone else's
    site.commit()
    site.rollback()
    site.commit()
    site.rollback(3)
    site.commit()
    still_locked(tmp_path, before)


def test_applying_a_file_that_names_another_password_keeps_the_routers(tmp_path, monkeypatch):
    """`outpost-console get` from router A, edit, `apply` to router B: B keeps
    its own password, and a crafted file cannot set one the attacker knows."""
    monkeypatch.setattr(subprocess, "call", ShellRecorder())
    before = first_boot(tmp_path)
    theirs = tmp_path / "theirs.yaml"
    theirs.write_text(SITE + "console:\n  password_hash: '%s'\nregistrar: {default_expires: 900}\n" % hash_password("attacker-pass"))
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    dev = Chardev(tmp_path, ShellRecorder())
    try:
        assert tool(["--port", dev.url, "--password-file", str(pw), "--quiet", "apply", str(theirs)]) == 0
    finally:
        dev.close()
    assert "default_expires: 900" in (tmp_path / "outpost.yaml").read_text()
    still_locked(tmp_path, before)


def test_the_password_command_needs_the_current_password(tmp_path):
    before = first_boot(tmp_path)
    rc, out = session(tmp_path, ["password", "exit"], [PASSWORD, "wrong-current", "new-password-1", "new-password-1"])
    assert stored(tmp_path) == (before, before) and "incorrect" in out
    rc, out = session(tmp_path, ["password", "exit"], [PASSWORD, PASSWORD, "short", "new-password-1", "new-password-2",
                                                       "new-password-1", "new-password-1"])
    assert "too short" in out and "differ" in out and "Console password changed." in out
    new, same = stored(tmp_path)
    assert new == same and check_password("new-password-1", new) and not check_password(PASSWORD, new)
    assert session(tmp_path, ["exit"], [PASSWORD] * 3)[0] == 1
    assert session(tmp_path, ["exit"], ["new-password-1"])[0] == 0
