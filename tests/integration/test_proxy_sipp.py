"""The outpost daemon against real sipp phones on loopback, UDP and TCP.

Each test starts its own daemon (a subprocess on free 127.0.0.1 ports) and
its own sipp processes, and stops them all by PID.
"""

import os
import random
import socket
import subprocess
import sys
import threading
import time

import pytest

from harness import SCENARIOS, Daemon, Sipp, free_port, register

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "core"))
from corpus import VALID  # noqa: E402


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path, algorithms=("MD5",)).start()  # sipp 3.6 answers MD5 challenges only
    yield d
    d.stop()


def call(d, tmp_path, uac, uas, transport="u1", extra=(), uac_extra=(), calls=1, contact_port=None):
    """Register bob at a UAS, then run alice's UAC scenario against him."""
    port = contact_port or free_port()
    register(d, tmp_path, "bob", port, transport=transport)
    u = Sipp(d, tmp_path, uas, "-no_target", *extra, port=port, transport=transport, calls=calls, name="uas")
    time.sleep(0.3)
    c = Sipp(d, tmp_path, uac, "-key", "user", "alice", "-s", "bob", "-au", "alice", "-ap", "alice-secret", "-d", "100",
             *uac_extra, transport=transport, calls=calls, name="uac")
    rc_c = c.wait(120)
    rc_u = u.wait(30)
    assert rc_c == 0, "uac: " + c.errors() + d.read_log()[-2000:]
    assert rc_u == 0, "uas: " + u.errors()
    assert d.alive()


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_register_with_md5_digest(daemon, tmp_path, transport):
    register(daemon, tmp_path, "alice", free_port(), transport=transport)
    assert daemon.wait_log("registered sip:alice@example.com")


def test_registering_someone_elses_aor_is_refused(daemon, tmp_path):
    s = Sipp(daemon, tmp_path, "register_403.xml", "-key", "user", "alice", "-key", "contact_port", "5999", "-au", "bob", "-ap", "bob-secret")
    assert s.wait(30) == 0, s.errors()
    assert "registered sip:alice" not in daemon.read_log()


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_call_between_registered_phones(daemon, tmp_path, transport):
    call(daemon, tmp_path, "uac_call.xml", "uas_answer.xml", transport)


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_a_call_on_uvloop_when_the_site_chooses_it(tmp_path, transport):
    d = Daemon(tmp_path, algorithms=("MD5",), daemon={"event_loop": "uvloop"}).start()
    try:
        assert d.wait_log("event loop: uvloop")
        call(d, tmp_path, "uac_call.xml", "uas_answer.xml", transport)
    finally:
        d.stop()


def test_cancel_before_answer(daemon, tmp_path):
    call(daemon, tmp_path, "uac_cancel.xml", "uas_ring.xml")


def test_busy_callee(daemon, tmp_path):
    call(daemon, tmp_path, "uac_busy.xml", "uas_busy.xml")


def test_unknown_user_gets_404(daemon, tmp_path):
    c = Sipp(daemon, tmp_path, "uac_404.xml", "-key", "user", "alice", "-s", "nobody", "-au", "alice", "-ap", "alice-secret")
    assert c.wait(30) == 0, c.errors()


def test_parallel_fork_to_two_contacts(daemon, tmp_path):
    """bob has two phones: one answers, the other gets CANCEL (and its 487 is absorbed)."""
    ring_port = free_port()
    register(daemon, tmp_path, "bob", ring_port, name="reg_bob2")
    ringer = Sipp(daemon, tmp_path, "uas_ring.xml", "-no_target", port=ring_port, name="ringer")
    try:
        call(daemon, tmp_path, "uac_call.xml", "uas_answer.xml")
        assert ringer.wait(20) == 0, ringer.errors()
    finally:
        ringer.kill()


class LossyLoopback:
    """This test process inside a network namespace of its own whose
    loopback drops 10% of UDP datagrams at random (nftables numgen): real
    loss on every hop, for the daemon and sipp alike (dropped on input: a
    sender never hears of it, as on a real network). (sipp's own -lost
    simulation leaves a call stuck on a "lost" send, where a retransmitted
    INVITE aborts it: a sipp artefact, not a phone's behaviour.)"""

    def __init__(self):
        import ctypes

        self.name = "loss%d" % (os.getpid() % 100000)
        self.libc = ctypes.CDLL(None, use_errno=True)

    def __enter__(self):
        run = lambda *c: subprocess.run(list(c), check=True, capture_output=True)  # noqa: E731
        run("ip", "netns", "add", self.name)
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open("/run/netns/" + self.name, os.O_RDONLY)
        try:
            if self.libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
                raise OSError("setns failed")
        finally:
            os.close(fd)
        run("ip", "link", "set", "lo", "up")
        subprocess.run(["nft", "-f", "-"], check=True, capture_output=True, text=True, input=(
            "table inet loss {\n chain lost {\n  type filter hook input priority 0; policy accept;\n"
            "  meta l4proto udp numgen random mod 10 0 drop\n }\n}\n"))
        return self

    def __exit__(self, *exc):
        self.libc.setns(self.home, 0x40000000)
        os.close(self.home)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a network namespace")
def test_calls_complete_under_packet_loss(tmp_path):
    """10% of all datagrams are lost, on every hop: retransmissions carry
    every call. sipp is told to retransmit as long as RFC 3261 phones do
    (until Timers B and F: 6 INVITE and 10 non-INVITE retransmissions);
    its defaults give up sooner."""
    rfc = ("-max_invite_retrans", "6", "-max_non_invite_retrans", "10")
    # The phone must still answer a retransmitted BYE after its own 200 was
    # lost; sipp does that only while the call lives, hence a TIME_WAIT.
    uas = tmp_path / "uas_answer_timewait.xml"
    with open(os.path.join(SCENARIOS, "uas_answer.xml")) as f:
        uas.write_text(f.read().replace("</scenario>", '  <timewait milliseconds="16000"/>\n</scenario>'))
    with LossyLoopback():
        d = Daemon(tmp_path, algorithms=("MD5",))
        d.start()
        try:
            call(d, tmp_path, "uac_call.xml", str(uas), extra=rfc, uac_extra=("-r", "5") + rfc, calls=10)
        finally:
            d.stop()


def test_malformed_storm_during_call_load(daemon, tmp_path):
    stop = threading.Event()
    sent = [0]

    def storm():
        rnd = random.Random(4475)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.2", 0))  # its own source, so its rate limit is its own
        while not stop.is_set():
            seed = bytearray(rnd.choice(VALID))
            for _ in range(rnd.randint(1, 8)):
                i = rnd.randrange(len(seed))
                seed[i:i + rnd.randint(0, 4)] = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 4)))
            for data in (bytes(seed), os.urandom(rnd.randint(0, 1500))):
                s.sendto(data, ("127.0.0.1", daemon.port))
                sent[0] += 1
            time.sleep(0.004)
        s.close()

    t = threading.Thread(target=storm, daemon=True)
    t.start()
    try:
        call(daemon, tmp_path, "uac_call.xml", "uas_answer.xml", uac_extra=("-r", "5"), calls=20)
    finally:
        stop.set()
        t.join()
    assert sent[0] > 500 and daemon.alive() and daemon.options() == 200


def test_registrations_survive_kill_9(tmp_path):
    d = Daemon(tmp_path, algorithms=("MD5",)).start()
    port = free_port()
    try:
        register(d, tmp_path, "bob", port)
        deadline = time.time() + 5
        while not any(b["aor"] == "sip:bob@example.com" for b in d.bindings_file()):
            assert time.time() < deadline, "bindings were not written"
            time.sleep(0.05)
        d.kill9()
        d.start()
        assert d.wait_log("1 registrations restored")
        u = Sipp(d, tmp_path, "uas_answer.xml", "-no_target", port=port, name="uas_after")
        time.sleep(0.3)
        c = Sipp(d, tmp_path, "uac_call.xml", "-key", "user", "alice", "-s", "bob", "-au", "alice", "-ap", "alice-secret", "-d", "100", name="uac_after")
        assert c.wait(30) == 0, c.errors() + d.read_log()[-2000:]
        assert u.wait(10) == 0, u.errors()
    finally:
        d.stop()


def test_register_with_sha256_digest_computed_by_sippy(tmp_path):
    """sipp 3.6 answers MD5 only, so SHA-256 (RFC 8760) is checked with
    another independent SIP stack: the PyPI package sippy parses our 401
    and computes the SHA-256 response, over a real UDP socket."""
    from sippy.SipResponse import SipResponse

    d = Daemon(tmp_path).start()  # the harness offers SHA-256 then MD5
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    try:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

        def register(cseq, auth=""):
            s.sendto(("REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKsha%d;rport\r\n"
                      "Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=s1\r\nTo: <sip:alice@example.com>\r\n"
                      "Call-ID: sha256-reg\r\nCSeq: %d REGISTER\r\nContact: <sip:alice@127.0.0.1:%d>\r\n%s"
                      "Content-Length: 0\r\n\r\n" % (port, cseq, cseq, port, auth)).encode(), ("127.0.0.1", d.port))
            return SipResponse(buf=s.recv(65535).decode())

        challenge = register(1)
        assert challenge.scode == 401
        offers = {c.algorithm: c for c in challenge.getHFBodys("www-authenticate")}
        assert list(offers) == ["SHA-256", "MD5"]
        creds = offers["SHA-256"].genAuthHF("alice", "alice-secret", "REGISTER", "sip:example.com", qop="auth")
        ok = register(2, "Authorization: %s\r\n" % creds)
        assert ok.scode == 200 and d.wait_log("registered sip:alice@example.com")
        wrong = offers["SHA-256"].genAuthHF("alice", "guess", "REGISTER", "sip:example.com", qop="auth")
        assert register(3, "Authorization: %s\r\n" % wrong).scode == 401
    finally:
        s.close()
        d.stop()


def test_sighup_reloads_users_and_a_bad_config_is_refused(tmp_path):
    import json
    import signal
    d = Daemon(tmp_path, algorithms=("MD5",)).start()
    try:
        with open(d.config_path) as f:
            cfg = json.load(f)
        # A broken edit: the running config stays, and says why.
        bad = dict(cfg, sip=dict(cfg["sip"], listen=[{"transport": "udp", "address": "127.0.0.1", "port": 70000}]))
        with open(d.config_path, "w") as f:
            json.dump(bad, f)
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert d.wait_log("reload refused") and "70000 is not a port (1-65535)" in d.read_log()
        register(d, tmp_path, "alice", free_port())  # still serving with the old config
        # A good edit removing alice: her next REGISTER is refused (404: not a user).
        del cfg["users"]["alice"]
        with open(d.config_path, "w") as f:
            json.dump(cfg, f)
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert d.wait_log("configuration reloaded")
        s = Sipp(d, tmp_path, "register.xml", "-key", "user", "alice", "-key", "contact_port", "5999", "-au", "alice", "-ap", "alice-secret", name="reg_gone")
        assert s.wait(30) != 0
        assert d.alive()
    finally:
        d.stop()


def test_invalid_config_stops_startup_with_every_error(tmp_path):
    import json
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"sip": {"domian": "x", "listen": [{"transport": "sctp", "address": "127.0.0.1", "port": 0}]}}))
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..", "firmware"))
    p = __import__("subprocess").run([sys.executable, "-m", "outpost", "run", "--config", str(path)], capture_output=True, text=True, env=env, timeout=20)
    assert p.returncode == 2
    for line in ("sip.domian: unknown key (did you mean 'domain'?)", "sip.domain: is required",
                 "sip.listen[0].transport: 'sctp' is not one of 'udp', 'tcp'", "sip.listen[0].port: 0 is not a port (1-65535)"):
        assert line in p.stderr, p.stderr


def test_console_show_status_reads_the_running_daemon(tmp_path):
    import io
    import json
    from outpost.runtime.console import Console
    d = Daemon(tmp_path, algorithms=("MD5",), state={"status_file": str(tmp_path / "run" / "status.json")}).start()
    try:
        register(d, tmp_path, "alice", free_port())
        d.options()
        with open(d.config_path) as f:
            site = json.load(f)
        site_dir = tmp_path / "site"
        site_dir.mkdir()
        (site_dir / "outpost.yaml").write_text(json.dumps(site))  # JSON is YAML too
        out = io.StringIO()
        pw = iter(["status-test-pw"] * 3)
        (tmp_path / "outpost.pid").write_text("%d\n" % d.proc.pid)  # as the supervisor writes it
        Console(str(site_dir), str(tmp_path / "state"), stdin=io.StringIO("show status\nexit\n"), stdout=out,
                ask_password=lambda p: next(pw), pidfile=str(tmp_path / "outpost.pid")).run()
        text = out.getvalue()
        assert "daemon          running, pid %d, up 00:00:" % d.proc.pid in text
        assert "SIP             " in text and " requests" in text and "upstream        none configured" in text
    finally:
        d.stop()
