"""`;name=value` parameters: the str.find path for unquoted text gives what
the per-character scan gives, value for value, offset for offset, error
for error."""

from outpost.core.errors import RemoteProtocolError
from outpost.core.syntax import _plain_params, _scan_params, parse_params

PIECES = (";", "=", " ", "\t", "a", "lr", "branch", "z9hG4bK-1", "rport", "5060", "received", "192.0.2.1", "x=y", "é", ";;", "=;")


def outcome(fn, s, start):
    try:
        return [(p.name, p.value, p.start, p.end, p.vstart) for p in fn(s, start, "Via")]
    except RemoteProtocolError as e:
        return (e.status, e.reason)


def strings():
    """Every string of a lead and three pieces (deterministic, and small
    enough for MicroPython, which has no hypothesis), behind header text."""
    for lead in ("", " ", ";", " ;", ";x="):
        for a in PIECES:
            for b in PIECES:
                for c in PIECES:
                    yield "SIP/2.0/UDP host" + lead + a + b + c


def test_the_fast_path_agrees_with_the_scan_on_every_unquoted_input():
    start = len("SIP/2.0/UDP host")
    checked = 0
    for s in strings():
        if s.find(";", start) < 0 and not s[start:].strip():
            continue  # parse_params answers [] before either runs
        assert outcome(_plain_params, s, start) == outcome(_scan_params, s, start), s
        checked += 1
    assert checked > 15000


def test_quoted_values_still_take_the_scan():
    got = parse_params(';a="x;y";b', 0, "Contact")
    assert [(p.name, p.value) for p in got] == [("a", '"x;y"'), ("b", None)]
