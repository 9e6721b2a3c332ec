"""Attacks on the console's sessions: whoever comes to the serial line after
someone else (a console server's next user, outpost-console with a wrong
password, a passer-by at a router left logged in) must meet the password
prompt, never the previous session or its root shell."""

import io
import os
import subprocess
import threading
import time

import pytest

from consolerig import PASSWORD, SITE, Chardev, ShellRecorder, read_until, reap, session, spawn_pty
from outpost.hosttool import Link, main as tool
from outpost.runtime.console import Console


@pytest.fixture
def shell(monkeypatch):
    rec = ShellRecorder()
    monkeypatch.setattr(subprocess, "call", rec)
    return rec


@pytest.fixture
def line(tmp_path, shell):
    """A router after first boot, its console on a QEMU-like socket line."""
    (tmp_path / "outpost.yaml").write_text(SITE)
    dev = Chardev(tmp_path, shell)
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    assert tool(["--port", dev.url, "--password-file", str(pw), "--quiet", "run", "show status"]) == 0
    yield dev, tmp_path
    dev.close()


def wrong(tmp_path):
    p = tmp_path / "wrong"
    p.write_text("not-the-password\n")
    return str(p)


def leave(dev, *typed):
    """Someone logs in, types, and drops the connection without logging out."""
    link = Link(dev.url, timeout=10)
    link.login(PASSWORD)
    for text in typed:
        link.send(text)
    time.sleep(0.5)
    link.ser.close()


def test_a_session_left_open_mid_line_is_not_given_to_a_wrong_password(line, shell, capsys):
    dev, d = line
    leave(dev, "set registrar.default_expires 9")  # half a command, no Enter
    assert tool(["--port", dev.url, "--password-file", wrong(d), "--quiet", "run", "shell"]) == 2
    assert shell.shells == [] and "login incorrect" in capsys.readouterr().err
    assert "default_expires" not in (d / "outpost.yaml").read_text()  # the half line never ran either
    # The owner of the password still gets in, after the same clean-up.
    pw = d / "pw"
    assert tool(["--port", dev.url, "--password-file", str(pw), "--quiet", "show", "config", "sip.domain"]) == 0
    assert capsys.readouterr().out.strip() == '"example.com"'


def test_a_root_shell_left_open_is_not_given_to_a_wrong_password(line, shell, capsys):
    dev, d = line
    leave(dev, "shell\n")
    assert tool(["--port", dev.url, "--password-file", wrong(d), "--quiet", "run", "show status"]) == 2
    assert shell.typed == []  # nothing but `exit` reached the root shell
    assert "outpost " not in capsys.readouterr().out  # no show status output: no session


def test_a_session_left_in_the_password_command_cannot_set_a_password(line, shell, capsys):
    """Left at the new-password prompt of `password` (the current one was
    given): the next client must not become the one who chooses."""
    dev, d = line
    leave(dev, "password\n", PASSWORD + "\n")
    assert tool(["--port", dev.url, "--password-file", wrong(d), "--quiet", "run", "show status"]) == 2
    assert tool(["--port", dev.url, "--password-file", str(d / "pw"), "--quiet", "run", "show config sip.domain"]) == 0


def test_an_idle_session_is_logged_out_before_the_next_caller_types(tmp_path, shell):
    """The line never says that the admin went away; the idle timeout does.
    What a passer-by types after it is a password attempt, not a command."""
    (tmp_path / "outpost.yaml").write_text(SITE)
    session(tmp_path, ["exit"], [PASSWORD] * 3)  # first boot
    r, w = os.pipe()
    stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(r, "r")), newline=None)
    out = io.StringIO()
    answers = iter([PASSWORD])
    c = Console(str(tmp_path), str(tmp_path), stdin=stdin, stdout=out, pidfile=str(tmp_path / "none.pid"),
                ask_password=lambda prompt: next(answers))
    c.idle_timeout_s = 0.5  # console.idle_timeout_s is 30 s at least; the timer is the same

    def passer_by():
        time.sleep(2.0)
        os.write(w, b"shell\n")
        time.sleep(0.5)
        os.close(w)

    threading.Thread(target=passer_by, daemon=True).start()
    started = time.time()
    c.run()
    assert time.time() - started < 1.8, "the session outlived its idle timeout"
    assert "session ended (idle" in out.getvalue()
    # init starts the next console on the same line: "shell" is a password guess.
    nxt = Console(str(tmp_path), str(tmp_path), stdin=stdin, stdout=out, pidfile=str(tmp_path / "none.pid"))
    nxt.run()
    assert "Login incorrect." in out.getvalue().split("session ended", 1)[1]
    assert shell.shells == []


def test_the_idle_timeout_comes_from_the_site_file_and_is_validated(tmp_path):
    from outpost.runtime.schema import Invalid
    from outpost.runtime.siteconfig import SiteConfig

    (tmp_path / "outpost.yaml").write_text(SITE)
    session(tmp_path, ["set console.idle_timeout_s 5", "commit", "set console.idle_timeout_s 900", "commit", "exit"], [PASSWORD] * 3)
    site = SiteConfig(str(tmp_path))
    assert site.get("console.idle_timeout_s") == 900
    assert Console(str(tmp_path), str(tmp_path)).idle_timeout_s == 900
    with pytest.raises(Invalid) as e:
        site.set("console.idle_timeout_s", "5")  # refused where it is typed
    assert e.value.errors == ["console.idle_timeout_s: 5 is not in 30-86400"]


def test_a_hangup_ends_the_session_at_once(tmp_path):
    """A real tty that hangs up (modem control, the pty's other side gone)."""
    (tmp_path / "outpost.yaml").write_text(SITE)
    session(tmp_path, ["exit"], [PASSWORD] * 3)
    pid, fd = spawn_pty(tmp_path)
    try:
        read_until(fd, "Password: ")
        os.write(fd, (PASSWORD + "\n").encode())
        read_until(fd, "> ")
        os.write(fd, b"set registrar.default_expires 9")
    finally:
        os.close(fd)  # the line drops
    assert reap(pid, 5) is not None, "the console kept the session after a hangup"


def test_ctrl_c_at_first_boot_sets_nothing_and_shows_no_traceback(tmp_path):
    (tmp_path / "outpost.yaml").write_text(SITE)
    pid, fd = spawn_pty(tmp_path)
    try:
        read_until(fd, "New password: ")
        os.write(fd, b"half-typ\x03")
        out = read_until(fd, "New password: ")  # asked again, nothing chosen
        os.write(fd, b"\x03")
        out += read_until(fd, "New password: ")
    finally:
        os.close(fd)
    reap(pid, 5)
    assert "Traceback" not in out and "> " not in out
    assert "password_hash" not in (tmp_path / "outpost.yaml").read_text()
    assert not (tmp_path / "outpost.json").exists()


def test_empty_and_cancelled_entries_at_the_password_prompt_are_not_attempts(tmp_path, shell):
    """What outpost-console sends to find a line's state costs no attempt:
    it never locks the admin out and never types into a session."""
    (tmp_path / "outpost.yaml").write_text(SITE)
    session(tmp_path, ["exit"], [PASSWORD] * 3)
    rc, out = session(tmp_path, ["\x03", "", "\x03", "", "", PASSWORD, "show config sip.domain", "exit"])
    assert rc == 0 and '"example.com"' in out and "Login incorrect" not in out


def test_line_noise_that_is_not_utf8_neither_crashes_nor_logs_in(tmp_path):
    """A serial line picks up bytes like 0xff. At the password prompt (getpass
    decodes the tty strictly) and at the command prompt they are noise, not
    a traceback on the admin's screen or a dead session."""
    (tmp_path / "outpost.yaml").write_text(SITE)
    session(tmp_path, ["exit"], [PASSWORD] * 3)
    pid, fd = spawn_pty(tmp_path)
    try:
        out = read_until(fd, "Password: ")
        os.write(fd, b"\xff\xfe\x80noise\n")
        out += read_until(fd, "Password: ")
        os.write(fd, (PASSWORD + "\n").encode())
        out += read_until(fd, "> ")
        os.write(fd, b"\xc3\x28 \xff more noise\nshow config sip.domain\n")
        out += read_until(fd, '"example.com"')
        os.write(fd, b"exit\n")
    finally:
        os.close(fd)
    reap(pid, 5)
    assert "Traceback" not in out


def test_shell_is_not_reachable_before_login(tmp_path, shell):
    (tmp_path / "outpost.yaml").write_text(SITE)
    session(tmp_path, ["exit"], [PASSWORD] * 3)
    rc, out = session(tmp_path, ["shell", "shell\x00", "exit", "shell"])
    assert rc == 1 and shell.shells == [] and out.count("Login incorrect.") == 3

