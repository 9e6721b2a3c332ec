"""Terminal escapes from the network: a Call-ID, contact, user agent, SDP
address or SIP answer holding ESC, BEL, CR or C1 controls reaches the
admin's terminal only escaped (`\\x1b`). Raw, it can retitle the window,
clear the screen, hide lines, rewrite what `show calls` seems to say, or on
some terminals answer back into the console as typed input."""

import json
import os
import pty
import re
import socket
import threading
import time

from consolerig import PASSWORD, SITE, session
from outpost.runtime.console import Console

# Set title + BEL, clear screen, CR, cursor up, C1 CSI, DEL, bidi override.
NASTY = "\x1b]0;pwned\x07\x1b[2J\r\x1b[1A\x9b31m\x7f\u202e"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")


def raw_controls(out):
    return sorted(set(RAW.findall(out)))


def write_state(tmp_path):
    status = tmp_path / "run" / "status.json"  # never in the site directory (the commit refuses that)
    status.parent.mkdir()
    now = int(time.time())
    status.write_text(json.dumps({
        "pid": 1, "started": now - 100, "registrations": "2" + NASTY, "transactions": NASTY, "tcp_connections": 0,
        "counters": {"requests": NASTY, "internal_errors": NASTY}, "addresses": ["192.0.2.1" + NASTY],
        "calls": [{"call_id": "a" + NASTY + "@192.0.2.10", "seconds": 3, "legs": [
            {"kind": "rtp", "lan": "192.0.2.10:" + NASTY, "wan": "203.0.113.2:4" + NASTY, "remote": NASTY + "203.0.113.9:8000",
             "in": True, "out": True}]}],
        "upstream": {"host": "203.0.113.10", "wan_address": NASTY, "state": NASTY},
        "survival": {"state": NASTY, "since": now - 5, "failures": NASTY, "probes": [
            {"ok": True, "rtt_ms": 3, "what": NASTY}, {"ok": False, "what": NASTY}]}}))
    (tmp_path / "bindings.json").write_text(json.dumps({"bindings": [
        {"aor": "sip:" + NASTY + "@example.com", "contact": "sip:x@192.0.2.20;" + NASTY, "expires_at": (time.time() + 600) * 1000}]}))
    (tmp_path / "outpost.yaml").write_text(SITE + "state: {status_file: %s}\n" % status)


def test_show_views_escape_control_characters_from_the_network(tmp_path):
    write_state(tmp_path)
    rc, out = session(tmp_path, ["show calls", "show registrations", "show survival", "show status", "exit"], [PASSWORD] * 3)
    assert raw_controls(out) == []
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x0d" in out or "\\x1b]0;pwned" in out
    assert "sip:\\x1b" in out and "\\x9b" in out  # registrations and C1


def test_log_and_ping_upstream_show_what_the_network_sent_escaped(tmp_path, monkeypatch):
    """The daemon logs what the network sent; an upstream answers what it likes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "logread").write_text("#!/bin/sh\nprintf 'daemon: bad SDP from 203.0.113.9: \\033]0;pwned\\007\\033[2J\\n'\n")
    os.chmod(bin_dir / "logread", 0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))

    def answer():
        data, addr = peer.recvfrom(65535)
        peer.sendto(("SIP/2.0 200 OK" + NASTY + "\r\nContent-Length: 0\r\n\r\n").encode(), addr)
    threading.Thread(target=answer, daemon=True).start()
    (tmp_path / "outpost.yaml").write_text(SITE + "upstream: {host: 127.0.0.1, port: %d}\n" % peer.getsockname()[1] +
                                           "interfaces: {lan0: {mac: '52:54:00:4f:50:01', address: 192.0.2.1/24}}\n")
    rc, out = session(tmp_path, ["log 5", "ping-upstream", "exit"], [PASSWORD] * 3)
    peer.close()
    assert "bad SDP from 203.0.113.9" in out and "answered SIP/2.0 200 OK" in out
    assert raw_controls(out) == []


def test_show_config_and_diff_escape_what_a_site_file_holds(tmp_path):
    (tmp_path / "outpost.yaml").write_text(SITE)
    session(tmp_path, ["exit"], [PASSWORD] * 3)
    with open(tmp_path / "outpost.yaml", "a") as f:  # committed by hand, or arrived in a candidate
        f.write('users:\n  "alice\\e]0;x\\a":\n    ha1: {MD5: "00112233445566778899aabbccddeeff"}\n'
                'survival: {fallback_patterns: ["1\\u202e2"]}\n')
    rc, out = session(tmp_path, ["show config", "show config users", "set registrar.default_expires 900", "diff", "exit"], [PASSWORD])
    assert "alice" in out and "default_expires: 900" in out
    assert raw_controls(out) == []


def test_tab_completion_never_echoes_control_characters(tmp_path):
    """User names are completed from the site file: one holding ESC must not
    reach the terminal (or the line) through TAB."""
    (tmp_path / "outpost.yaml").write_text(SITE)
    session(tmp_path, ["exit"], [PASSWORD] * 3)
    with open(tmp_path / "outpost.yaml", "a") as f:
        f.write('users:\n  "bob\\e[2Jx":\n    ha1: {MD5: "00112233445566778899aabbccddeeff"}\n'
                '  carol:\n    ha1: {MD5: "00112233445566778899aabbccddeeff"}\n')
    master, slave = pty.openpty()
    stdin = os.fdopen(slave, "r")
    echoed = []

    def typist():
        time.sleep(0.3)
        os.write(master, b"set users.\t\t")
        time.sleep(0.5)
        os.write(master, b"b\t\t")
        time.sleep(0.5)
        os.write(master, b"\x15exit\n")

    def reader():
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            echoed.append(chunk.decode(errors="replace"))

    threading.Thread(target=typist, daemon=True).start()
    threading.Thread(target=reader, daemon=True).start()
    c = Console(str(tmp_path), str(tmp_path), stdin=stdin, stdout=os.fdopen(os.dup(slave), "w"), pidfile=str(tmp_path / "none.pid"),
                ask_password=lambda prompt: PASSWORD)
    assert c.run() == 0
    time.sleep(0.2)
    os.close(master)
    text = "".join(echoed)
    assert "carol" in text  # completion works
    assert "\x1b[2J" not in text
