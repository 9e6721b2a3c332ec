"""Guessing the console password: every failed login makes the next one
wait longer (1, 2, 4 ... s, at most 30), hanging up and calling again does
not reset it, and a failure says nothing but "Login incorrect." (there is
one password and no user name)."""

import os
import stat
import time

import pytest

from consolerig import PASSWORD, SITE, session


class Clock:
    def __init__(self, monkeypatch):
        self.now = 1767225600.0
        self.slept = []
        monkeypatch.setattr(time, "time", lambda: self.now)
        monkeypatch.setattr(time, "sleep", self.sleep)

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def router(tmp_path):
    (tmp_path / "outpost.yaml").write_text(SITE)
    session(tmp_path, ["exit"], [PASSWORD] * 3)
    return tmp_path


def test_failed_logins_wait_longer_each_time_even_across_reconnects(router, monkeypatch):
    clock = Clock(monkeypatch)
    rc, out = session(router, [], ["guess-1", "guess-2", "guess-3"])
    assert rc == 1 and clock.slept == [1, 2]
    assert [line for line in out.splitlines() if line.strip()] == ["Login incorrect."] * 3
    # Hang up, dial in again at once: the wait goes on growing, from the
    # first prompt on, up to its cap.
    clock.slept.clear()
    session(router, [], ["guess-4", "guess-5", "guess-6"])
    assert clock.slept == [4, 8, 16]
    clock.slept.clear()
    session(router, [], ["guess-7", "guess-8"])
    assert clock.slept == [30, 30, 30]
    # Time already waited counts: a caller an hour later waits no more.
    clock.now += 3600
    clock.slept.clear()
    rc, out = session(router, ["exit"], [PASSWORD])
    assert rc == 0 and clock.slept == []
    # Success clears the count: the next mistake waits 1 s again.
    session(router, [], ["guess-9"])
    assert clock.slept == [1]


def test_the_failure_count_is_a_private_file(router, monkeypatch):
    Clock(monkeypatch)
    os.umask(0)
    try:
        session(router, [], ["guess-1"])
    finally:
        os.umask(0o022)
    counts = [f for f in os.listdir(router) if "login" in f]
    assert counts, "no failed-login count kept beyond the session"
    for name in counts:
        assert stat.S_IMODE(os.stat(router / name).st_mode) == 0o600
