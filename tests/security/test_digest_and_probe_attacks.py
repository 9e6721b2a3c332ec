"""Findings 4 and 5 of issue #11, as the attacks themselves: a sniffed
digest credential replayed once its nonce was pushed out of the table
(or after a reload, or for another Request-URI), and survival steered by
forged answers to the upstream probes."""

from outpost.core.survival import NORMAL
from attacksite import (ALICE, DOMAIN, STRANGER, UPSTREAM, credentials, make_site, not_probes, out, register, response, run_timers)

MALLORY = ("udp", "198.51.100.66", 5070, None)


def sniffed_registration(p):
    """alice registers with the router's registrar (no upstream); the
    attacker on the path keeps her Authorization line."""
    p.receive(register(ALICE, 1, "z9hG4bKr1", "sip:alice@192.0.2.10:5062"), ALICE, 0)
    ch = [m for m, d in out(p)][0]
    assert ch.status == 401
    auth = "Authorization: " + credentials(ch, "alice", "REGISTER", "sip:hq.example.com", "www-authenticate")
    p.receive(register(ALICE, 2, "z9hG4bKr2", "sip:alice@192.0.2.10:5062", (auth,)), ALICE, 10)
    assert [m.status for m, d in out(p)] == [200]
    return auth


def hijack(p, auth, t):
    """The replay: the same credential, a new branch and CSeq, the attacker's Contact."""
    p.receive(register(MALLORY, 3, "z9hG4bKevil%d" % t, "sip:alice@198.51.100.66:5070", (auth,)), MALLORY, t)
    return [m for m, d in out(p)]


def bound_contacts(p, t):
    return [b.contact for b in p.location.lookup("sip:alice@" + DOMAIN, t)]


def test_a_credential_replayed_after_its_nonce_was_evicted_is_stale():
    p = make_site(relay=False)
    auth = sniffed_registration(p)
    p.config.authenticator.nonces.max_tracked = 8  # the bound (4,096), made short for the test
    for i in range(10):  # the attacker's own account burns nonces
        p.receive(register(MALLORY, 10 + 2 * i, "z9hG4bKb%d" % i, "sip:bob@198.51.100.66:5070", user="bob"), MALLORY, 20 + i)
        ch = [m for m, d in out(p)][0]
        cred = credentials(ch, "bob", "REGISTER", "sip:hq.example.com", "www-authenticate")
        p.receive(register(MALLORY, 11 + 2 * i, "z9hG4bKc%d" % i, "sip:bob@198.51.100.66:5070", ("Authorization: " + cred,), "bob"), MALLORY, 20 + i)
        assert [m.status for m, d in out(p)] == [200]
    answer = hijack(p, auth, 100)
    assert [m.status for m in answer] == [401] and any("stale=true" in f.text.lower() for f in answer[0].fields("www-authenticate"))
    assert bound_contacts(p, 100) == ["sip:alice@192.0.2.10:5062"]


def test_a_credential_replayed_after_a_reload_is_refused():
    p = make_site(relay=False)
    auth = sniffed_registration(p)
    fresh = make_site(relay=False).config  # the same site file, loaded again (SIGHUP)
    p.set_config(fresh)
    assert [m.status for m in hijack(p, auth, 100)] == [401]
    assert bound_contacts(p, 100) == ["sip:alice@192.0.2.10:5062"]


def test_a_credential_for_another_request_uri_is_refused():
    p = make_site(relay=False)
    p.receive(register(ALICE, 1, "z9hG4bKu1", "sip:alice@192.0.2.10:5062"), ALICE, 0)
    ch = [m for m, d in out(p)][0]
    auth = "Authorization: " + credentials(ch, "alice", "REGISTER", "sip:other.example.com", "www-authenticate")
    p.receive(register(ALICE, 2, "z9hG4bKu2", "sip:alice@192.0.2.10:5062", (auth,)), ALICE, 10)
    answer = [m for m, d in out(p)]
    assert [m.status for m in answer] == [400] and "uri" in answer[0].reason
    assert bound_contacts(p, 10) == []


def probes(sent):
    return [m for m, d in sent if m.is_request and m.method == "OPTIONS" and d == UPSTREAM]


def answer_probe(m, status):
    return response(m, status, "Answer", to_tag="u")


def test_forged_503s_from_a_stranger_do_not_force_survival():
    p = make_site()
    for t in range(0, 20001, 1000):
        for m in probes(run_timers(p, t, t)):
            for n in range(3):  # guessed branches of the old counter scheme, before the real answer
                p.receive(b"SIP/2.0 503 X\r\nVia: SIP/2.0/UDP 203.0.113.2;branch=z9hG4bKop-probe.%d\r\nFrom: <sip:a@x>;tag=1\r\n"
                          b"To: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (t // 1000 + n), STRANGER, t + 1)
            for status in (503, 500):
                p.receive(answer_probe(m, status), STRANGER, t + 2)  # even with the real branch
                p.receive(answer_probe(m, status), ("udp", "203.0.113.10", 5999, None), t + 3)  # the upstream's address, another port
            p.receive(answer_probe(m, 200), UPSTREAM, t + 5)  # the real upstream is fine
    assert p.survival.state == NORMAL and p.survival.failures == 0


def test_forged_200s_from_a_stranger_do_not_prevent_survival():
    p = make_site()
    for t in range(0, 6001, 1000):
        for m in probes(run_timers(p, t, t)):
            p.receive(answer_probe(m, 200), STRANGER, t + 5)
    assert p.survival.local


def test_probe_branches_cannot_be_predicted():
    p = make_site()
    branches = [m.top_via.branch for t in range(0, 5001, 1000) for m in probes(run_timers(p, t, t))]
    assert len(set(branches)) == len(branches) >= 5
    suffixes = [b.rsplit(".", 1)[1] for b in branches]
    assert all(len(s) >= 16 and not s.isdigit() for s in suffixes)


def test_a_stray_response_to_the_router_sends_nothing():
    p = make_site()
    for status in (200, 503, 100):
        p.receive(b"SIP/2.0 %d X\r\nVia: SIP/2.0/UDP 203.0.113.2;branch=z9hG4bKop-probe.x\r\nVia: SIP/2.0/UDP 198.51.100.99\r\n"
                  b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % status, STRANGER, 1)
    assert not_probes(out(p)) == []
