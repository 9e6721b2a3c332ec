"""The console CLI: first-boot password, login, set/diff/commit/rollback,
errors as one line, and a session that survives garbage, Ctrl-C and EOF;
in process and through a real pty."""

import contextlib
import io
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time

from outpost.runtime.console import Console, check_password, hash_password
from consolerig import read_until  # tests/security: the console's test rig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = "# Branch 17\nsip:\n  domain: example.com\n  listen:\n    - transport: udp\n      address: 192.0.2.1\n"


def session(tmp_path, lines, passwords):
    (tmp_path / "outpost.yaml").write_text(SITE) if not (tmp_path / "outpost.yaml").exists() else None
    out = io.StringIO()
    answers = iter(passwords)
    c = Console(str(tmp_path), str(tmp_path), stdin=io.StringIO("".join(l + "\n" for l in lines)), stdout=out,
                pidfile=str(tmp_path / "none.pid"), ask_password=lambda prompt: next(answers))
    rc = c.run()
    return rc, out.getvalue()


@contextlib.contextmanager
def console_on_a_pty(tmp_path):
    """A console process on a real terminal: (its pid, our end of the pty);
    killed by that pid and the pty closed, however the test ends."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["PYTHONPATH"] = os.path.join(ROOT, "firmware")
        os.execv(sys.executable, [sys.executable, "-m", "outpost", "console", "--site", str(tmp_path), "--state", str(tmp_path),
                                  "--pidfile", str(tmp_path / "none.pid")])
    try:
        yield pid, fd
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        os.close(fd)


def test_password_hashes():
    h = hash_password("correct horse")
    assert h.startswith("pbkdf2-sha256$") and check_password("correct horse", h) and not check_password("wrong", h)
    assert not check_password("x", "garbage")


def test_first_boot_then_login_then_edit_and_commit(tmp_path):
    rc, out = session(tmp_path, ["set registrar.default_expires 900", "diff", "commit", "show config registrar.default_expires", "exit"],
                      ["short", "branch-17-secret", "branch-17-secret", "branch-17-secret"])
    assert "console.password: too short (at least 8 characters)" in out and "Console password set." in out
    assert "*> " in out and "+  default_expires: 900" in out and "commit complete (daemon not running)" in out and "> 900\n" in out
    assert rc == 0 and "branch-17-secret" not in (tmp_path / "outpost.yaml").read_text()
    assert "# Branch 17" in (tmp_path / "outpost.yaml").read_text()
    # The next session asks for that password, and only three times.
    rc, out = session(tmp_path, ["show status"], ["nope", "nope", "nope"])
    assert rc == 1 and out.count("Login incorrect.") == 3


def test_errors_are_one_line_and_nothing_bad_is_committed(tmp_path):
    rc, out = session(tmp_path, ["set sip.listen[0].port 70000", "commit", "frobnicate now", "set onlyonearg", "show", 'set a "unterminated',
                                 "\x1b[A\x07\x7f", "x" * 5000, "set console.password_hash x", "exit"],
                      ["branch-17-secret"] * 3)
    assert "sip.listen[0].port: 70000 is not a port (1-65535)" in out
    assert "unknown command 'frobnicate' (try help)" in out and "usage: set PATH VALUE" in out
    assert "error: No closing quotation" in out and "error: line too long or not text (line noise?)" in out
    assert "console.password_hash: set the console password at first boot" in out
    assert "70000" not in (tmp_path / "outpost.yaml").read_text() and rc == 0


def test_rollback_and_registrations(tmp_path):
    session(tmp_path, ["set registrar.default_expires 900", "commit", "exit"], ["branch-17-secret"] * 3)
    (tmp_path / "bindings.json").write_text('{"bindings": [{"aor": "sip:alice@example.com", "contact": "sip:alice@192.0.2.20:5060", '
                                            '"expires_at": %d}]}' % ((time.time() + 600) * 1000))
    rc, out = session(tmp_path, ["rollback", "commit", "show config registrar", "show registrations", "exit"], ["branch-17-secret"])
    assert "rollback 1 loaded as the candidate" in out and "commit complete" in out
    assert "900" not in out.split("commit complete", 1)[1]
    assert "sip:alice@example.com" in out and "sip:alice@192.0.2.20:5060" in out


def test_through_a_pty_with_ctrl_c_and_line_noise(tmp_path):
    (tmp_path / "outpost.yaml").write_text(SITE)
    with console_on_a_pty(tmp_path) as (pid, fd):
        read_until(fd, "New password: ")
        os.write(fd, b"branch-17-secret\n")
        read_until(fd, "Again: ")
        os.write(fd, b"branch-17-secret\n")
        read_until(fd, "Password: ")
        os.write(fd, b"branch-17-secret\n")
        read_until(fd, "> ")
        os.write(fd, b"set registrar.default_expires 9")
        os.write(fd, b"\x03")  # Ctrl-C mid-command: the line is dropped
        read_until(fd, "> ")
        os.write(fd, b"\x1b[2J\x1b[A garbage \x07\n")
        assert "unknown command" in read_until(fd, "> ")
        os.write(fd, b"set registrar.default_expires 1200\n")
        assert "*> " in read_until(fd, "*> ")
        os.write(fd, b"commit\n")
        assert "commit complete" in read_until(fd, "> ")
        # Tab completion: commands, show's subjects, config paths; twice lists.
        os.write(fd, b"sho\t")
        assert read_until(fd, "show ").endswith("show ")
        os.write(fd, b"su\t")
        assert read_until(fd, "survival ").endswith("survival ")
        os.write(fd, b"\x15set sip.ti\t")  # Ctrl-U: a fresh line
        assert read_until(fd, "timers.").endswith("timers.")
        os.write(fd, b"t\t")
        os.write(fd, b"\t")
        listed = read_until(fd, "t4_ms")
        assert "t1_ms" in listed and "t2_ms" in listed
        os.write(fd, b"1\t500\n")
        read_until(fd, "*> ")
        os.write(fd, b"show config sip.timers.t1_ms\n")
        assert "500" in read_until(fd, "*> ").split("t1_ms", 1)[1]
        os.write(fd, b"revert\n")
        read_until(fd, "> ")
        os.write(fd, b"exit\n")
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
    text = (tmp_path / "outpost.yaml").read_text()
    assert "default_expires: 1200" in text and "# Branch 17" in text


def test_load_replaces_the_candidate_and_refuses_broken_yaml(tmp_path):
    from outpost.runtime.consoleload import encode_block
    new = SITE.replace("address: 192.0.2.1", "address: 192.0.2.254")
    rc, out = session(tmp_path, encode_block(new) + ["commit"] + encode_block("sip: [unclosed\n") + ["show config sip.listen[0].address", "exit"],
                      ["branch-17-secret"] * 3)
    assert "+      address: 192.0.2.254" in out and "commit complete" in out
    assert "load: not YAML" in out and "192.0.2.254" in out.rsplit("load: not YAML", 1)[1]


def test_ping_upstream_against_a_real_sip_peer(tmp_path):
    """The probe a network admin runs first when phones cannot call out."""
    import socket as sk
    peer = sk.socket(sk.AF_INET, sk.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    port = peer.getsockname()[1]

    def answer():
        data, addr = peer.recvfrom(65535)
        lines = data.decode().split("\r\n")
        via = [l for l in lines if l.startswith("Via:")][0]
        peer.sendto(("SIP/2.0 200 OK\r\n%s\r\nContent-Length: 0\r\n\r\n" % via).encode(), addr)
    threading.Thread(target=answer, daemon=True).start()
    (tmp_path / "outpost.yaml").write_text(SITE + "upstream: {host: 127.0.0.1, port: %d}\n" % port +
                                           "interfaces: {lan0: {mac: '52:54:00:4f:50:01', address: 192.0.2.1/24}}\n")
    rc, out = session(tmp_path, ["ping-upstream", "log 5", "show pinholes", "exit"], ["branch-17-secret"] * 3)
    peer.close()
    assert "127.0.0.1:%d answered SIP/2.0 200 OK in" % port in out
    # On a host without the router's logread and ruleset both say so in one
    # line; tests/system checks them on the booted image.
    assert "log: logread is not available" in out or "logread" not in out
    assert "pinholes: cannot read the firewall (is the base ruleset loaded?)" in out


def test_driven_through_pyserial_loop_ports(tmp_path):
    """The console over pyserial port objects: one loop:// carries what the
    operator types (garbage and a raw Ctrl-C character included), another
    what the console answers."""
    import serial

    (tmp_path / "outpost.yaml").write_text(SITE)
    keys = serial.serial_for_url("loop://", timeout=0.5)
    screen = serial.serial_for_url("loop://", timeout=0.5)
    for line in ("branch-17-secret", "branch-17-secret", "branch-17-secret", "set registrar.default_expires 9\x03", "diff",
                 "\x1b[A\x07 noise", "set registrar.default_expires 900", "diff", "commit", "rollback", "commit", "show config registrar", "exit"):
        keys.write((line + "\r\n").encode())
    c = Console(str(tmp_path), str(tmp_path), stdin=io.TextIOWrapper(io.BufferedReader(keys), newline=None),
                stdout=io.TextIOWrapper(io.BufferedWriter(screen), write_through=True), pidfile=str(tmp_path / "none.pid"))
    assert c.run() == 0
    out = screen.read(65536).decode()
    assert "Console password set." in out and "unknown command" in out
    assert "+  default_expires: 900" in out and "commit complete" in out and "rollback 1 loaded" in out
    assert "^C" in out and "no changes" in out  # the Ctrl-C'd line never became a value
    assert '"default_expires": 3600' in out.rsplit("rollback 1 loaded", 1)[1]  # rollback took registrar away again
    assert "}  (default)" in out.rsplit("rollback 1 loaded", 1)[1]


def test_show_calls_lists_each_call_in_80_columns(tmp_path):
    import json as _json
    status = tmp_path / "run" / "status.json"  # never in the site directory (the commit refuses that)
    status.parent.mkdir()
    (tmp_path / "outpost.yaml").write_text(SITE + "state: {status_file: %s}\n" % status)
    rc, out = session(tmp_path, ["show calls", "exit"], ["branch-17-secret"] * 3)
    assert "calls: daemon not running" in out
    status.write_text(_json.dumps({"pid": 1, "started": 0, "calls": [
        {"call_id": "1-21659@192.0.2.10", "seconds": 12, "legs": [
            {"kind": "rtp", "stream": 0, "lan": "192.0.2.10:7078", "wan": "203.0.113.2:40000", "remote": "203.0.113.20:8078", "in": False, "out": True},
            {"kind": "rtcp", "stream": 0, "lan": "192.0.2.10:7079", "wan": "203.0.113.2:40001", "remote": "203.0.113.20:8079", "in": True, "out": True}]}]}))
    rc, out = session(tmp_path, ["show calls", "exit"], ["branch-17-secret"] * 3)
    lines = [l for l in out.splitlines() if "40000" in l or "CALL" in l]
    assert lines[0].split()[-6:] == ["CALL", "AGE", "PHONE", "WAN", "REMOTE", "MEDIA"]
    assert lines[1].split()[1:] == ["12s", "192.0.2.10:7078", "40000", "203.0.113.20:8078", "out"]  # held by the phone
    assert all(len(l.replace("vm> ", "")) <= 80 for l in lines), [len(l) for l in out.splitlines()]


def test_show_survival_and_status_name_the_upstream_state(tmp_path):
    import json as _json
    status = tmp_path / "run" / "status.json"  # never in the site directory (the commit refuses that)
    status.parent.mkdir()
    (tmp_path / "outpost.yaml").write_text(SITE + "state: {status_file: %s}\n" % status)
    now = int(time.time())
    status.write_text(_json.dumps({"pid": 1, "started": now - 100, "registrations": 2, "counters": {}, "calls": [],
                                   "upstream": {"host": "203.0.113.10", "wan_address": "203.0.113.2", "state": "local survival"},
                                   "survival": {"state": "SURVIVAL", "since": now - 65, "failures": 4, "probes": [
                                       {"at": now - 70, "ok": True, "rtt_ms": 12, "what": "200"},
                                       {"at": now - 68, "ok": False, "rtt_ms": None, "what": "timeout"}]}}))
    # A process that looks like the daemon (liveness is read from /proc).
    daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "outpost", "run"])
    try:
        (tmp_path / "none.pid").write_text("%d\n" % daemon.pid)
        status.write_text(status.read_text().replace('"pid": 1,', '"pid": %d,' % daemon.pid))
        rc, out = session(tmp_path, ["show survival", "show status", "exit"], ["branch-17-secret"] * 3)
    finally:
        daemon.kill()
        daemon.wait()
    # Up 100 s when the status was written; the session's first-boot
    # password hashing takes a second or more on a loaded machine.
    assert re.search(r"daemon          running, pid %d, up 00:01:4[0-9]" % daemon.pid, out), out
    assert "SURVIVAL (upstream lost: routing locally), for 0h 01m 0" in out
    assert "failures        4 in a row" in out and "phones known    2" in out and "200 12ms  FAIL(timeout)" in out
    assert "survival        SURVIVAL: local survival" in out and "WAN address 203.0.113.2" in out


def test_words_a_command_does_not_take_are_errors_never_ignored(tmp_path):
    """#13 finding 1: `commit check` committed for real, `rollback 3` rolled
    back one level, `log abc` showed 20 lines, `help CMD` ignored CMD. Every
    word a command does not take is now an error naming the command and its
    rule, and nothing is done."""
    session(tmp_path, ["commit", "exit"], ["branch-17-secret"] * 3)
    before = (tmp_path / "outpost.yaml").read_text()
    rc, out = session(tmp_path, ["set registrar.default_expires 901", "commit chek", "commit confirmed 0", "rollback x",
                                 "show status now", "log abc", "log -3", "log 0", "help commit", "help frobnicate", "diff",
                                 "revert", "diff", "load foo", "exit"], ["branch-17-secret"])
    assert "error: unknown commit word 'chek' (try help)" in out
    assert "error: commit confirmed: MIN must be 1-60 minutes (got 0)" in out
    assert "error: rollback: N must be a whole number" in out
    assert "error: show status: takes no more words (got 'now')" in out
    assert out.count("error: log: N must be a whole number 1-10000") == 3
    assert "commit [check | confirmed [MIN] | comment TEXT] validate, save and apply" in out
    assert "show registrations       phones registered" not in out  # that one line, not the whole help
    assert "error: help: no command 'frobnicate' (help lists them)" in out
    assert "error: load: takes no arguments" in out
    assert "+  default_expires: 901" in out  # still only a candidate: nothing committed, nothing rolled back
    assert (tmp_path / "outpost.yaml").read_text() == before and "commit complete" not in out and "rollback 1" not in out


def test_commit_check_confirmed_comment_history_and_compare(tmp_path):
    """#13 findings 1, 2 and 10 as Junos does them: commit check writes
    nothing; a no-op commit writes nothing and says so; commit comment and
    show system commit; rollback N is a candidate; compare rollback N;
    commit confirmed rolls back by itself unless confirmed."""
    from outpost.runtime.siteconfig import SiteConfig
    from outpost.runtime.supervision import confirm_timer

    session(tmp_path, ["commit", "exit"], ["branch-17-secret"] * 3)
    timers = []
    Console.start_timer = lambda self: timers.append(self.site_dir)
    try:
        rc, out = session(tmp_path, [
            "set registrar.default_expires 901", "commit check", "commit comment 'expires 901'", "commit",
            "set registrar.default_expires 902", "commit comment second", "show system commit",
            "compare rollback 2", "show config | compare rollback 1", "rollback 2", "diff", "revert",
            "set registrar.default_expires 903", "commit confirmed 1", "show system commit", "exit"], ["branch-17-secret"])
    finally:
        del Console.start_timer
    assert "configuration check succeeds" in out
    assert out.count("commit complete") == 3 and "commit: no changes; nothing written, nothing reloaded" in out
    assert "expires 901" in out and "second" in out
    assert "-  default_expires: 901\n+  default_expires: 902" in out  # compare rollback 1 (901) with the candidate (902)
    assert "+registrar:\n+  default_expires: 902" in out  # compare rollback 2 (no registrar)
    assert "rollback 2 loaded as the candidate" in out
    assert "commit confirmed: rolls back by itself in 1 minute(s) unless you commit again" in out
    assert "[commit confirmed: rolls back in 00:00:" in out or "[commit confirmed: rolls back in 00:01:00" in out
    assert timers == [str(tmp_path)]
    # Nobody confirms: the timer's deadline passes (a fake clock), it rolls back.
    site = SiteConfig(str(tmp_path))
    deadline = site.history.pending()["deadline"]
    message = confirm_timer(str(tmp_path), str(tmp_path / "none.pid"), sleep=lambda s: None, now=lambda: deadline + 1)
    assert "was not confirmed in time: rolled back" in message
    site = SiteConfig(str(tmp_path))
    assert site.get("registrar.default_expires") == 902 and site.history.pending() is None
    assert site.history.entries()[0][2] == "auto-rollback"
    # Confirmed in time (a plain commit, even with no changes): nothing rolls back.
    Console.start_timer = lambda self: None
    try:
        rc, out = session(tmp_path, ["set registrar.default_expires 904", "commit confirmed 5", "commit", "exit"], ["branch-17-secret"])
    finally:
        del Console.start_timer
    assert "commit complete: commit confirmed; the automatic rollback is cancelled" in out
    assert confirm_timer(str(tmp_path), str(tmp_path / "none.pid"), sleep=lambda s: None, now=lambda: 2e9) is None
    assert SiteConfig(str(tmp_path)).get("registrar.default_expires") == 904


def test_abbreviations_pipes_defaults_and_set_form(tmp_path):
    """#13 finding 10: unique prefixes in any case, `| match`, `| count`,
    `| display set` (uci show's form), `?`, and effective defaults."""
    rc, out = session(tmp_path, ["SH CONF sip | match port", "sh conf registrar.default_expires", "sh conf | display set",
                                 "sh conf | count", "s", "show ?", "commit ?", "set survival.fallback_patterns [0X., 00.]",
                                 "show config survival.fallback_patterns", "exit", "yes"], ["branch-17-secret"] * 3)
    assert "error: 's' is ambiguous: set, shell, show" in out
    assert "3600  (default)" in out
    assert "set sip.domain example.com" in out and "set sip.listen [{" in out
    assert "Count: " in out and "  registrations                phones registered with this router" in out
    assert "  confirmed" in out and '["0X.", "00."]' in out
    assert "password_hash" not in out.split("sh conf | display set", 1)[-1].split("Count:")[0]  # set refuses it: not shown
    rc, out = session(tmp_path, ["set sip.listen[0].port ?", "set media.lan_gateways ?", "show configuration", "exit"], ["branch-17-secret"])
    assert "VALUE                        a whole number 1-65535" in out
    assert "a list [a, b] (0-32 entries) of: an IPv4 address (like 192.0.2.1)" in out
    assert "error:" not in out and "domain: example.com" in out


def test_history_question_mark_and_pager_on_a_terminal(tmp_path):
    """#13 finding 10 through a pty: the up arrow brings back the last
    command, `?` lists what may come next without running anything, long
    output stops at --More-- (q ends it), `| no-more` does not, and exit
    with uncommitted changes asks first."""
    (tmp_path / "outpost.yaml").write_text(SITE)
    with console_on_a_pty(tmp_path) as (pid, fd):
        for prompt in ("New password: ", "Again: ", "Password: "):
            read_until(fd, prompt)
            os.write(fd, b"branch-17-secret\n")
        read_until(fd, "> ")
        os.write(fd, b"set registrar.default_expires 1300\n")
        read_until(fd, "*> ")
        os.write(fd, b"\x1b[A")  # up: the last line again, to edit
        assert read_until(fd, "1300").endswith("set registrar.default_expires 1300")
        os.write(fd, b"\x7f1\n")  # backspace, 1: ...1301
        read_until(fd, "*> ")
        os.write(fd, b"show config registrar.default_expires\n")
        assert "1301" in read_until(fd, "*> ").split("default_expires", 1)[1]
        os.write(fd, b"commit ?\n")
        listed = read_until(fd, "*> ")
        assert "  check" in listed and "  confirmed" in listed and "commit complete" not in listed
        os.write(fd, b"help\n")
        page = read_until(fd, "--More--")
        assert "show config [PATH]" in page and "log out" not in page  # the last lines wait for space
        os.write(fd, b"q")
        read_until(fd, "*> ")
        os.write(fd, b"help | no-more\n")
        whole = read_until(fd, "*> ")  # one read: the prompt may come in the same chunk as the last line
        assert "unique prefix" in whole and "--More--" not in whole
        os.write(fd, b"exit\n")
        read_until(fd, "[yes,no] (no) ")
        os.write(fd, b"no\n")
        read_until(fd, "*> ")  # still logged in, still changed
        os.write(fd, b"exit\n")
        read_until(fd, "[yes,no] (no) ")
        os.write(fd, b"yes\n")
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
    assert "1301" not in (tmp_path / "outpost.yaml").read_text()


def test_the_readme_command_reference_is_the_grammar():
    """One source: the README's table is what `outpost console --reference` prints."""
    from outpost.runtime.consolegrammar import reference_markdown

    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    table = readme.split("<!-- commands: begin -->\n", 1)[1].split("<!-- commands: end -->", 1)[0]
    assert table == reference_markdown()


def test_check_config_reads_a_site_file_offline(tmp_path, capsys):
    """#13 finding 3: `outpost check-config site.yaml` said "not valid JSON"."""
    from outpost.cli import main as outpost

    good = tmp_path / "site.yaml"
    good.write_text(SITE + "users:\n  alice: {password: alice-branch-17}\n")
    assert outpost(["check-config", str(good)]) == 0
    assert capsys.readouterr().out.strip() == "%s: valid" % good
    bad = tmp_path / "bad.yaml"
    bad.write_text(SITE.replace("address: 192.0.2.1", "address: 192.0.2.300\n      port: 70000") +
                   "registrar: {default_expires: 30}\nusers:\n  bob: {password: bob}\n")
    assert outpost(["check-config", str(bad)]) == 1
    assert capsys.readouterr().out.splitlines() == ["%s: users.bob.password: not a string of at least 8 characters" % bad]
    bad.write_text(SITE.replace("address: 192.0.2.1", "address: 192.0.2.300\n      port: 70000") + "registrar: {default_expires: 30}\n")
    assert outpost(["check-config", str(bad)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "%s: sip.listen[0].address: '192.0.2.300' is not a host name or IP address" % bad,
        "%s: sip.listen[0].port: 70000 is not a port (1-65535)" % bad,
        "%s: registrar.default_expires: 30 is not in 60-86400" % bad]
    broken = tmp_path / "broken.yaml"
    broken.write_text("sip:\n  domain: example.com\n  listen: [{transport: udp\n  advertise: x\n")
    assert outpost(["check-config", str(broken)]) == 1
    assert capsys.readouterr().out.startswith("%s: not YAML: line 4, column " % broken)


DIAL_SITE = SITE + """\
interfaces: {lan0: {mac: '52:54:00:4f:50:01', address: 192.0.2.1/24}}
upstream: {host: 198.51.100.10}
survival: {fallback_trunk: 203.0.113.50, emergency_numbers: ['112']}
users:
  alice: {ha1: {MD5: "00112233445566778899aabbccddeeff"}}
dialplan:
  - {match: '0900.', target: refuse, reason: No premium numbers}
  - {match: '0.', state: survival, strip: 1, prepend: '+4930', target: trunk}
  - {regex: '^00(\\d+)$', replace: '+${1}', callers: [alice], target: upstream}
"""


def test_show_dialplan_and_test_dial_say_which_rule_and_what_goes_out(tmp_path):
    (tmp_path / "outpost.yaml").write_text(DIAL_SITE)
    rc, out = session(tmp_path, ["show dialplan", "test-dial 09001234", "test-dial 0301234 --state survival", "test-dial 0301234",
                                 "test-dial 0044123", "test-dial 0044123 --as alice", "test-dial 112 --state survival",
                                 "test-dial 0301;x", "test-dial 0301%zz", "test-dial 0900%31234", "test-dial 1 --as mallory", "test-dial 1 --state away", "test-dial", "exit"],
                      ["branch-17-secret"] * 3)
    assert "emergency  112: first, never rewritten (normal: upstream; survival: the fallback trunk 203.0.113.50)" in out
    assert " 0  match 0900.  -> refuse 403 No premium numbers" in out
    assert " 1  match 0.  in survival  strip 1  prepend +4930  -> trunk" in out
    assert " 2  regex ^00(\\d+)$  callers alice  replace +${1}  -> upstream" in out
    assert "09001234 in normal: rule 0  match 0900.  -> refuse 403 No premium numbers: answered 403 No premium numbers" in out
    assert "0301234 in survival: rule 1  match 0.  in survival  strip 1  prepend +4930  -> trunk; sent as +4930301234 to the fallback trunk" in out
    assert "0301234 in normal: no rule: to the upstream as dialled" in out
    assert "0044123 in normal: a rule naming callers would match: the router asks the caller to prove who they are (407)" in out
    assert "0044123 as alice in normal: rule 2" in out and "sent as +44123 to upstream" in out
    assert "112 in survival: emergency number -> the fallback trunk, as dialled" in out
    assert "0301;x in normal (the number 0301): no rule: to the upstream as dialled" in out
    assert "0301%zz in normal: not a number the dial plan reads (digits, letters, * + . _ -, at most 64, before any ';'): answered 484" in out
    assert "0900%31234 in normal (the number 09001234): rule 0" in out
    assert "error: test-dial: --as mallory: not one of users" in out
    assert "error: test-dial: --state away: is not normal or survival" in out
    assert "error: test-dial: wrong number of arguments; usage: test-dial NUMBER [--as USER] [--state normal|survival]" in out
    assert rc == 0


def test_show_status_counts_by_method_and_class_and_clear_counters_restarts_them(tmp_path):
    import json as _json
    status = tmp_path / "run" / "status.json"
    status.parent.mkdir()
    (tmp_path / "outpost.yaml").write_text(SITE + "state: {status_file: %s}\n" % status)
    daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "outpost", "run"])
    started = int(time.time()) - 100

    def write(invites, ok):
        status.write_text(_json.dumps({"pid": daemon.pid, "started": started, "registrations": 0, "calls": [],
                                       "counters": {"requests": invites + 3, "responses": ok, "malformed": 1, "rate_limited": 0,
                                                    "overload": 0},
                                       "traffic": {"methods": {"INVITE": invites, "REGISTER": 3, "other": 0},
                                                   "classes": {"1xx": 0, "2xx": ok, "4xx": 0}}}))
    try:
        (tmp_path / "none.pid").write_text("%d\n" % daemon.pid)
        write(10, 7)
        rc, out = session(tmp_path, ["show status", "clear counters", "show status", "exit"], ["branch-17-secret"] * 3)
        assert "SIP             13 requests, 7 responses, 1 malformed, 0 rate-limited, 0 refused (overload); since the daemon started" in out
        assert "requests in     INVITE 10  REGISTER 3" in out and "responses in    2xx 7" in out
        assert "counters cleared" in out
        assert "SIP             0 requests, 0 responses, 0 malformed" in out and "requests in     none" in out
        write(12, 9)
        rc, out = session(tmp_path, ["show status", "exit"], ["branch-17-secret"] * 3)
        assert "SIP             2 requests, 2 responses, 0 malformed, 0 rate-limited, 0 refused (overload); since clear counters" in out
        assert "requests in     INVITE 2" in out and "responses in    2xx 2" in out
    finally:
        daemon.kill()
        daemon.wait()
    rc, out = session(tmp_path, ["clear counters", "exit"], ["branch-17-secret"] * 3)
    assert "error: clear counters: the daemon is not running" in out


def test_question_mark_says_how_to_set_a_users_password_and_the_trunks_port(tmp_path):
    """A newcomer on the booted image looked for the password under
    `set users.bob ?` and found only ha1, networks, algorithms."""
    rc, out = session(tmp_path, ["set users.bob ?", "set survival.fallback_trunk ?", "exit"], ["branch-17-secret"] * 3)
    assert "set users.NAME.password PASSWORD makes the ha1 (only it is stored)" in out
    assert "a host name or IPv4 address, :port optional (like 203.0.113.50:5080)" in out
