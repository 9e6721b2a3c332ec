"""The outpost daemon against real sipp phones on loopback, UDP and TCP.

Each test starts its own daemon (a subprocess on free 127.0.0.1 ports) and
its own sipp processes, and stops them all by PID.
"""

import os
import random
import socket
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
    assert "registered sip:alice@example.com" in daemon.read_log()


def test_registering_someone_elses_aor_is_refused(daemon, tmp_path):
    s = Sipp(daemon, tmp_path, "register_403.xml", "-key", "user", "alice", "-key", "contact_port", "5999", "-au", "bob", "-ap", "bob-secret")
    assert s.wait(30) == 0, s.errors()
    assert "registered sip:alice" not in daemon.read_log()


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_call_between_registered_phones(daemon, tmp_path, transport):
    call(daemon, tmp_path, "uac_call.xml", "uas_answer.xml", transport)


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


def test_calls_complete_under_packet_loss(daemon, tmp_path):
    """sipp drops 10% of what it sends and receives: retransmissions carry
    every call. sipp is told to retransmit as long as RFC 3261 phones do
    (until Timers B and F: 6 INVITE and 10 non-INVITE retransmissions);
    its defaults give up sooner."""
    rfc = ("-max_invite_retrans", "6", "-max_non_invite_retrans", "10")
    # The phone must still answer a retransmitted BYE after its own 200 was
    # lost; sipp does that only while the call lives, hence a TIME_WAIT.
    uas = tmp_path / "uas_answer_timewait.xml"
    with open(os.path.join(SCENARIOS, "uas_answer.xml")) as f:
        uas.write_text(f.read().replace("</scenario>", '  <timewait milliseconds="16000"/>\n</scenario>'))
    call(daemon, tmp_path, "uac_call.xml", str(uas), extra=("-lost", "10") + rfc, uac_extra=("-lost", "10", "-r", "5") + rfc, calls=10)


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
        assert "1 registrations restored" in d.read_log()
        u = Sipp(d, tmp_path, "uas_answer.xml", "-no_target", port=port, name="uas_after")
        time.sleep(0.3)
        c = Sipp(d, tmp_path, "uac_call.xml", "-key", "user", "alice", "-s", "bob", "-au", "alice", "-ap", "alice-secret", "-d", "100", name="uac_after")
        assert c.wait(30) == 0, c.errors() + d.read_log()[-2000:]
        assert u.wait(10) == 0, u.errors()
    finally:
        d.stop()
