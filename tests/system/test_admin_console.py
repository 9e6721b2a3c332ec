"""#13 as a network admin meets it: the booted image's serial console and
outpost-console, each finding written as the admin's action and the answer
the router must give. One boot (and one reboot) for all of them: the
console keeps state between them as a real router does."""

import os
import re
import time

from vm import ROOT, VM, free_port
from harness import Sipp

from outpost.hosttool import QUESTION, SHELL, Link, main as console_tool

PASSWORD = "admin-console-pw"


def readme_site_file():
    """The README's example site file, as an admin would copy it."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    block = text.split("<!-- site-example -->", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    return block


class Admin:
    """One console session over the VM's serial line."""

    def __init__(self, vm):
        self.link = Link("socket://127.0.0.1:%d" % vm.port, timeout=60)
        self.link.login(PASSWORD)

    def __call__(self, line, timeout=60):
        return self.link.command(line, timeout)

    def shell(self, command):
        self.link.send("shell\n")
        self.link.expect([SHELL])
        self.link.send(command + "\n")
        _, out = self.link.expect([SHELL], 60)
        self.link.send("exit\n")
        self.link.expect([r"> $"])
        return out

    def answer(self, line, reply):
        """A command that asks yes/no first."""
        self.link.send(line + "\n")
        self.link.expect([QUESTION])
        self.link.send(reply + "\n")

    def close(self):
        self.link.send("exit\n")
        self.link.ser.close()


def tool(vm, tmp_path, *args):
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    return console_tool(["--port", "socket://127.0.0.1:%d" % vm.port, "--password-file", str(pw), "--quiet"] + list(args))


def test_an_admin_on_the_booted_console(tmp_path, capsys):
    sip_port = free_port()
    vm = VM(tmp_path, hostfwd=["udp:127.0.0.1:%d-:5060" % sip_port]).boot(login=False)
    try:
        admin = Admin(vm)
        _values_are_checked_where_they_are_typed(admin)
        _commits_as_junos_does_them(admin)
        started = time.time()
        _commit_confirmed_is_armed(admin)
        _the_daemon_is_supervised(admin)  # no commits: the confirmed one stays pending
        _conventions(admin)
        time.sleep(max(0, started + 66 - time.time()))
        _commit_confirmed_rolled_back_by_itself(admin)
        _commit_says_what_needs_a_restart_or_reboot(admin)
        admin.close()
        _outpost_console_exit_codes_are_honest(vm, tmp_path, capsys)
        _passwords_in_site_files(vm, tmp_path, capsys)
        _readme_example_round_trips_a_reboot(vm, tmp_path, capsys, sip_port)
    finally:
        vm.kill()


def _values_are_checked_where_they_are_typed(admin):
    """Findings 4 and 9: set took anything until commit (10.20.0.300/24
    committed, then the network did not come up); lists lost their text."""
    assert "error: interfaces.lan0.address: '10.20.0.300/24' is not an IPv4 address with a prefix length 0-32" in \
        admin("set interfaces.lan0.address 10.20.0.300/24")
    assert "is not an IPv4 address with a prefix length 0-32" in admin("set interfaces.lan0.address 192.0.2.1/33")
    assert "error: sip.domian: unknown key (did you mean 'domain'?)" in admin("set sip.domian example.com")
    assert "error: sip.listen[0].port: 70000 is not a port (1-65535)" in admin("set sip.listen[0].port 70000")
    assert "error: upstream.transport: 'sctp' is not one of 'udp', 'tcp'" in admin("set upstream.transport sctp")
    assert admin("diff") == "no changes"  # nothing refused was kept
    assert admin("set survival.fallback_patterns [0X., 00.]") == ""
    assert admin("set survival.emergency_numbers [112,999]") == ""
    assert admin("set survival.emergency_numbers add 000") == ""
    assert admin("show config survival.fallback_patterns") == '["0X.", "00."]'
    assert admin("show config survival.emergency_numbers") == '["112", "999", "000"]'
    # Every error at once, the cross-field ones too.
    admin("set media.lan_gateways [198.51.100.7]")
    admin("set media.port_min 40001")
    out = admin("commit")
    assert "error: media.lan_gateways[0]: 198.51.100.7 is not in lan0's network 192.0.2.0/24" in out
    assert "error: media.port_min: 40001 must be even" in out
    admin("delete media")
    assert "commit complete" in admin("commit comment 'dial plan lists'")


def _commits_as_junos_does_them(admin):
    """Findings 1, 2 and 10: commit check committed; a no-op commit
    overwrote the previous file; rollback had one level."""
    before = admin("show system commit")
    admin("set registrar.default_expires 900")
    assert admin("commit check") == "configuration check succeeds"
    after = admin("show system commit")
    assert after == before, (repr(before), repr(after))  # nothing written
    assert "commit complete" in admin("commit comment 'shorter registrations'")
    assert admin("commit") == "commit: no changes; nothing written, nothing reloaded"
    history = admin("show system commit")
    assert re.search(r"^0 .*commit +shorter registrations$", history, re.M), history
    assert re.search(r"^1 .*commit +dial plan lists$", history, re.M), history
    assert "+  default_expires: 900" in admin("show config | compare rollback 1")
    assert "rollback 2 loaded as the candidate" in admin("rollback 2")
    assert "-    emergency_numbers" in admin("diff") or "-  emergency_numbers" in admin("diff")
    admin("revert")
    assert admin("diff") == "no changes"
    assert "set sip.domain branch.example.com" in admin("show config sip | display set")
    assert admin("sh conf registrar.max_expires") == "7200  (default)"
    assert "error: log: N must be a whole number" in admin("log abc")
    assert admin("help commit").startswith("commit [check | confirmed [MIN] | comment TEXT]")


def _commit_confirmed_is_armed(admin):
    admin("set registrar.default_expires 1200")
    out = admin("commit confirmed 1")
    assert "commit complete" in out and "rolls back by itself in 1 minute(s)" in out
    assert "[commit confirmed: rolls back in 00:0" in admin("show system commit")


def _the_daemon_is_supervised(admin):
    """Finding 5: after kill -9 the daemon stayed dead; show status printed
    the dead pid from a stale file; the console could not start it."""
    first = re.search(r"daemon +running, pid (\d+)", admin("show status")).group(1)
    admin.shell("kill -9 %s" % first)
    deadline = time.time() + 20
    while True:
        status = admin("show status")
        m = re.search(r"daemon +running, pid (\d+)", status)
        if (m and m.group(1) != first) or time.time() > deadline:
            break
        time.sleep(1)
    assert m and m.group(1) != first, status
    assert re.search(r"last exit +killed by signal 9, 00:00:\d\d ago; 1 exit\(s\) in the last 10 minutes", status), status
    assert "daemon killed by signal 9" in admin("log 50")
    out = admin("restart")
    assert re.match(r"restart: daemon running again \(pid \d+\)$", out), out
    assert "restarted from the console" in admin("log 50")


def _conventions(admin):
    """Finding 10: abbreviations, any case, | match, | count, ?."""
    assert admin("SH CONF sip | match port").count('"port": 5060') == 2
    assert admin("sh conf | count").startswith("Count: ")
    assert "error: 's' is ambiguous: set, shell, show" in admin("s")
    assert "registrations" in admin("show ?") and "confirmed" in admin("commit ?")


def _commit_confirmed_rolled_back_by_itself(admin):
    """Finding 1: `commit confirmed 1` committed for good (70 s later nothing
    had rolled back)."""
    shown = admin("show running registrar.default_expires")
    # The session's clean candidate follows the rolled-back file, and says so.
    assert shown.startswith("note: the committed configuration changed outside this session") and shown.endswith("\n900")
    history = admin("show system commit")
    assert re.search(r"^0 .*auto-rollback +automatic rollback: the commit confirmed at \d\d:\d\d:\d\d UTC was not confirmed$", history, re.M), history
    assert "was not confirmed in time: rolled back" in admin("log 100")


def _commit_says_what_needs_a_restart_or_reboot(admin):
    """Finding 6: commit said "daemon reloaded" for changes that need a
    reboot; show survival said "not relaying" for 10 s after a commit."""
    admin("set log.level debug")
    admin("set interfaces.wan0.method none")
    out = admin("commit")
    assert "commit complete: daemon reloaded" in out
    assert "needs restart (drops calls in progress): log.level" in out
    assert "needs reboot: interfaces.wan0.method" in out
    admin("rollback 1")
    admin("commit")
    admin("set upstream.host 203.0.113.10")
    assert "commit complete" in admin("commit")
    assert "not relaying" not in admin("show survival")  # at once, not after the next status write
    admin("rollback 1")
    admin("commit")


def _outpost_console_exit_codes_are_honest(vm, tmp_path, capsys):
    """Finding 3: a YAML syntax error printed the wrong line and exit 0;
    `run 'bogus'` exited 0."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("sip:\n  domain: example.com\n  listen: [{transport: udp\n  advertise: x\n")
    assert tool(vm, tmp_path, "apply", str(broken)) == 1
    err = capsys.readouterr().err
    assert re.search(r"error: load: not YAML: line \d+, column \d+: ", err), err
    assert tool(vm, tmp_path, "run", "bogus") == 1
    assert "error: unknown command 'bogus'" in capsys.readouterr().out
    assert tool(vm, tmp_path, "run", "show config sip.domain") == 0
    assert capsys.readouterr().out.strip() == '"branch.example.com"'


def _passwords_in_site_files(vm, tmp_path, capsys):
    """Finding 7: a site file could not carry users.NAME.password; a realm
    change silently broke every HA1; `bob` was a password."""
    short = tmp_path / "short.yaml"
    short.write_text(readme_site_file().replace("alice-branch-17", "bob"))
    assert tool(vm, tmp_path, "apply", str(short)) == 1
    assert "users.alice.password: not a string of at least 8 characters" in capsys.readouterr().err
    site = tmp_path / "site.yaml"
    site.write_text(readme_site_file())
    assert tool(vm, tmp_path, "apply", str(site)) == 0
    out = capsys.readouterr().out
    assert "passwords of alice, bob stored as HA1s only" in out and "alice-branch-17" not in out
    assert tool(vm, tmp_path, "run", "show config users.alice") == 0
    shown = capsys.readouterr().out
    assert '"MD5"' in shown and "password" not in shown
    admin = Admin(vm)
    admin("set sip.domain other.example.com")
    assert "error: sip.domain: the digest realm changes (branch17.example.com -> other.example.com)" in admin("commit")
    admin("revert")
    admin.close()


def _readme_example_round_trips_a_reboot(vm, tmp_path, capsys, sip_port):
    """Finding 8: a site file from the README kept registrations in RAM."""
    with open(os.path.join(ROOT, "tests", "integration", "scenarios", "register.xml")) as f:
        scenario = tmp_path / "register_branch17.xml"
        scenario.write_text(f.read().replace("example.com", "branch17.example.com"))
    reg = Sipp(sip_port, tmp_path, str(scenario), "-key", "user", "alice", "-key", "contact_port", "5999",
               "-au", "alice", "-ap", "alice-branch-17", "-auth_uri", "branch17.example.com", name="reg_alice")
    assert reg.wait(60) == 0, reg.errors()
    time.sleep(2)  # state.write_delay_ms
    admin = Admin(vm)
    assert "sip:alice@branch17.example.com" in admin("show registrations")
    admin.answer("reboot", "yes")
    admin.link.ser.close()
    vm.con = None
    admin = _after_reboot(vm)
    assert "sip:alice@branch17.example.com" in admin("show registrations")
    assert "/data/state" in admin("show config state.dir")
    # Finding 8: the DHCP lease's DNS server reaches /etc/resolv.conf, and
    # show interfaces names each interface with its address and link.
    assert "nameserver 10.0.2.3" in admin.shell("cat /etc/resolv.conf")
    assert re.search(r"^interfaces +lan0 192\.0\.2\.1/24 \(\S+\); wan0 10\.0\.2\.15/24 \(up\)$", admin("show status"), re.M)
    shown = admin("show interfaces")
    assert re.search(r"^lan0 +52:54:00:4f:50:01 +\S+ +192\.0\.2\.1/24$", shown, re.M), shown
    assert re.search(r"^wan0 +52:54:00:4f:50:02 +up +10\.0\.2\.15/24$", shown, re.M), shown
    admin.close()


def _after_reboot(vm, timeout=120):
    deadline = time.time() + timeout
    while True:
        try:
            return Admin(vm)
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(2)
