"""Secrets on the router's disk: the site files hold users' HA1s (enough to
register as them) and the console hash (offline guessing); state/secret
forges nonces and Record-Route tokens. They are 0600 from the moment they
exist. And a site file cannot make the daemon (root) write elsewhere."""

import os
import stat

import pytest

from consolerig import PASSWORD, SITE, session
from outpost.runtime import config as configmod
from outpost.runtime import store
from outpost.runtime.schema import Invalid
from outpost.runtime.siteconfig import SiteConfig

SITE_FILES = ("outpost.yaml", "outpost.json", "history/index.json", "history/00000001.yaml", "history/00000002.yaml")


def refused(site, path, value):
    """The errors for a value: where it is typed (set), else at commit."""
    try:
        site.set(path, value)
    except Invalid as e:
        return e.errors
    return site.errors()


@pytest.fixture
def open_umask():
    """The worst umask a process could inherit: only the code's mode counts."""
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_site_files_are_0600_after_first_boot_commit_and_rollback(tmp_path, open_umask):
    (tmp_path / "outpost.yaml").write_text(SITE)
    os.chmod(tmp_path / "outpost.yaml", 0o644)  # as an older release left it
    session(tmp_path, ["exit"], [PASSWORD] * 3)  # first boot commits
    assert {name: mode(tmp_path / name) for name in SITE_FILES} == dict.fromkeys(SITE_FILES, 0o600)
    session(tmp_path, ["set users.alice.password s3cret-alice", "commit", "exit"], [PASSWORD])
    assert "ha1" in (tmp_path / "outpost.yaml").read_text()
    assert {name: mode(tmp_path / name) for name in SITE_FILES} == dict.fromkeys(SITE_FILES, 0o600)
    session(tmp_path, ["rollback", "commit", "exit"], [PASSWORD])
    assert {name: mode(tmp_path / name) for name in SITE_FILES} == dict.fromkeys(SITE_FILES, 0o600)


def test_the_nonce_secret_is_0600(tmp_path, open_umask):
    key = configmod.secret(str(tmp_path))
    assert len(key) == 32 and mode(tmp_path / "secret") == 0o600
    os.chmod(tmp_path / "secret", 0o644)  # an older release's
    assert configmod.secret(str(tmp_path)) == key and mode(tmp_path / "secret") == 0o600


def test_a_secret_is_never_readable_while_it_is_written(tmp_path, open_umask, monkeypatch):
    """No window between create and rename in which the file is 0644/0666."""
    seen = []
    real_rename = os.rename

    def rename(src, dst):
        seen.append(mode(src))
        return real_rename(src, dst)
    monkeypatch.setattr(os, "rename", rename)
    (tmp_path / "outpost.yaml").write_text(SITE)
    site = SiteConfig(str(tmp_path))
    site.set("users.alice.password", "s3cret-alice")
    site.commit()
    configmod.secret(str(tmp_path / "state"))
    assert seen and set(seen) == {0o600}


def test_a_planted_temp_file_link_is_not_followed(tmp_path):
    """Someone who can write the directory plants the temp name write_atomic
    used (path.tmp.PID) as a link to a file of their choosing."""
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    target = tmp_path / "outpost.yaml"
    os.symlink(str(victim), "%s.tmp.%d" % (target, os.getpid()))
    store.write_atomic(str(target), b"sip: {}\n")
    assert victim.read_text() == "keep me\n" and target.read_text() == "sip: {}\n"


@pytest.mark.parametrize("value", ["/run/outpost/../../etc/profile", "/etc/profile", "/etc/init.d/rcS", "/run/out post.json",
                                   "/proc/sys/kernel/core_pattern", "{site}/outpost.yaml", "{site}/outpost.json"])
def test_the_status_file_cannot_be_pointed_at_a_system_or_site_file(tmp_path, value):
    """The daemon (root) rewrites state.status_file every few seconds with
    JSON holding Call-IDs from the network."""
    (tmp_path / "outpost.yaml").write_text(SITE)
    site = SiteConfig(str(tmp_path))
    assert any(e.startswith("state.status_file:") for e in refused(site, "state.status_file", "'%s'" % value.format(site=tmp_path)))
    site.revert()
    errors = refused(site, "state.dir", "'%s'" % os.path.dirname(value.format(site=tmp_path)))
    if value.startswith(("/etc", "/proc", "/run/outpost/..")):
        assert any(e.startswith("state.dir:") for e in errors)


def test_a_password_in_a_site_file_never_reaches_the_disk(tmp_path, open_umask):
    """users.NAME.password in an applied file becomes HA1s as it is loaded:
    not in the YAML, the JSON, the history, nor any file beside them."""
    (tmp_path / "outpost.yaml").write_text(SITE)
    site = SiteConfig(str(tmp_path))
    site.replace(SITE + "users:\n  alice: {password: 'alice-Plaintext-9'}\n")
    site.commit()
    for root, _, files in os.walk(tmp_path):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                assert b"alice-Plaintext-9" not in f.read(), name
    assert site.get("users.alice.ha1.MD5")


def test_a_forged_history_index_cannot_name_a_file_outside_the_history(tmp_path):
    """The history index (0600, but on a disk someone may have edited) names
    commits by number only: a path in it is ignored, never opened."""
    (tmp_path / "outpost.yaml").write_text(SITE)
    site = SiteConfig(str(tmp_path))
    site.commit()
    (tmp_path / "history" / "index.json").write_text(
        '[{"seq": "../../../etc/passwd", "at": 1}, {"seq": 1.5, "at": 2}, {"seq": 1, "at": 3, "how": "commit"}]')
    assert [e[4] for e in site.history.entries()] == [1]
    with pytest.raises(KeyError, match="rollback 1: the history holds 0-0"):
        site.rollback(1)
