"""Attacks through `load` and `apply`: a crafted site file must not end the
load early (what followed ran as console commands: `apply evil.yaml` gave
`shell`), must not make the console quadratic, exhaust memory with YAML
aliases, or crash it with values ruamel cannot build."""

import base64
import hashlib
import resource
import subprocess
import time

import pytest

from consolerig import PASSWORD, SITE, Chardev, ShellRecorder, console_process, session

EVIL = SITE + """\
# a block scalar may hold any line, "." and the end markers included
notes: |
  .
  end
  END-00000000
  shell
.
shell
end
END-00000000
shell
"""


@pytest.fixture
def shell(monkeypatch):
    rec = ShellRecorder()
    monkeypatch.setattr(subprocess, "call", rec)
    return rec


def first_boot(tmp_path):
    (tmp_path / "outpost.yaml").write_text(SITE)
    session(tmp_path, ["exit"], [PASSWORD] * 3)


def test_apply_of_a_site_file_runs_nothing_written_in_it(tmp_path, shell):
    from outpost.hosttool import main as tool

    first_boot(tmp_path)
    evil = tmp_path / "evil.yaml"
    evil.write_text(EVIL)
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    dev = Chardev(tmp_path, shell)
    try:
        assert tool(["--port", dev.url, "--password-file", str(pw), "--quiet", "apply", str(evil)]) == 1  # not YAML: refused whole
    finally:
        dev.close()
    assert shell.shells == []
    assert "notes" not in (tmp_path / "outpost.yaml").read_text()


def test_a_pasted_site_file_cannot_end_the_paste(tmp_path):
    """A person pasting (a raw serial link, no tty): the end marker is one
    the file's author cannot know, so the lines after a "." are YAML too."""
    first_boot(tmp_path)
    p = console_process(tmp_path)
    lines = [PASSWORD, "load"] + EVIL.splitlines() + ["echo PWNED-$((6*7))", "exit"]
    try:
        out, _ = p.communicate(("\n".join(lines) + "\n").encode(), timeout=30)
    finally:
        p.kill()
    out = out.decode(errors="replace")
    assert "PWNED-42" not in out and "outpost#" not in out
    assert "unknown command" not in out  # none of the file's lines ran as a command ("end", "echo")


def block(data, size=None, digest=None):
    b64 = base64.b64encode(data).decode()
    return (["load base64 %d %s" % (len(data) if size is None else size, digest or hashlib.sha256(data).hexdigest())]
            + [b64[i:i + 76] for i in range(0, len(b64), 76)])


def test_a_broken_block_runs_nothing_inside_it(tmp_path, shell):
    first_boot(tmp_path)
    lines = block(SITE.encode())
    lines[2:2] = [".", "shell", "!! line noise !!"]
    rc, out = session(tmp_path, lines + ["end", ".", "show config sip.domain", "exit"], [PASSWORD])
    assert shell.shells == [] and "not base64" in out and '"example.com"' in out


def test_a_block_with_the_wrong_length_or_checksum_is_refused(tmp_path):
    first_boot(tmp_path)
    other = SITE.replace("example.com", "evil.example")
    rc, out = session(tmp_path, block(other.encode(), size=10) + ["end"] + block(other.encode(), digest="0" * 64) + ["end", ".",
                                "show config sip.domain", "exit"], [PASSWORD])
    assert out.count("checksum differs") == 2 and '"example.com"' in out


def test_an_oversized_load_runs_nothing_after_the_bound(tmp_path, shell):
    first_boot(tmp_path)
    # (the "." ends the landed code's load, so that it reaches the lines after)
    lines = ["load base64 2000000 %s" % ("0" * 64)] + ["QUFB" * 19] * 15000 + ["shell", "end", ".", "exit"]
    rc, out = session(tmp_path, lines, [PASSWORD])
    assert shell.shells == [] and "larger than 1 MiB" in out
    assert "unknown command 'qufb" not in out.lower()  # no line of the block ran as a command


def test_load_is_linear_in_the_number_of_lines(tmp_path):
    """100,000 four-character lines (400 KB): a per-line sum over every line
    so far takes minutes; a running count takes well under a second."""
    first_boot(tmp_path)
    data = b"# " + b"x" * 299997 + b"\n"
    b64 = base64.b64encode(data).decode()
    lines = ["load base64 %d %s" % (len(data), hashlib.sha256(data).hexdigest())] + [b64[i:i + 4] for i in range(0, len(b64), 4)]
    p = console_process(tmp_path)
    started = time.time()
    try:
        out, _ = p.communicate(("\n".join([PASSWORD] + lines + ["end", ".", "exit"]) + "\n").encode(), timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("load took more than 30 s for 100,000 lines")
    finally:
        p.kill()
    assert time.time() - started < 30 and b"Traceback" not in out and b"-  domain: example.com" in out


def limited():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


LAUGHS = "[" + ", ".join(["&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"] + ["&a%d [%s]" % (i, ", ".join(["*a%d" % (i - 1)] * 9)) for i in range(1, 10)]) + "]"


def test_yaml_aliases_cannot_exhaust_the_console(tmp_path):
    """Billion laughs: 9^10 values from one line; compiled to JSON at commit."""
    first_boot(tmp_path)
    p = console_process(tmp_path, preexec_fn=limited)
    laughs_file = "sip:\n  domain: example.com\n  listen: [{transport: udp, address: 192.0.2.1}]\n  aliases: %s\n" % LAUGHS
    lines = [PASSWORD, "set sip.listen %s" % LAUGHS, "commit"] + block(laughs_file.encode()) + ["end", ".", "commit",
                                                                                                 "show config sip.domain", "exit"]
    try:
        out, _ = p.communicate(("\n".join(lines) + "\n").encode(), timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("the console spent 30 s on a few hundred bytes of YAML")
    out = out.decode(errors="replace")
    assert "Traceback" not in out and "MemoryError" not in out
    assert out.count("anchors, aliases and merge keys") == 2 and '"example.com"' in out


def test_values_ruamel_cannot_build_are_one_line_errors(tmp_path):
    first_boot(tmp_path)
    rc, out = session(tmp_path, ["set sip.listen '[unclosed'", "set sip.listen %s" % ("[" * 1500 + "]" * 1500),
                                 "set registrar.default_expires %s" % ("9" * 3000), "set sip.timers {a: b: c}",
                                 "set sip.domain '[unclosed'", "show config sip.domain", "exit"], [PASSWORD])
    assert rc == 0 and out.count("not a YAML value") >= 2 and '"example.com"' in out
    assert "error: registrar.default_expires: '%s' is not a whole number" % ("9" * 3000) in out
