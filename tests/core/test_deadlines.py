"""The transactions' deadline heap: earliest first while it is being
cleaned, bounded work per push, stale entries never due."""

from outpost.core.transactions.base import TERMINATED
from outpost.core.transactions.deadlines import Deadlines, MIGRATE, SLACK


class Txn:
    def __init__(self, name):
        self.name = name
        self.state = "Proceeding"
        self.timers = {}

    def start(self, d, timer, at):
        self.timers[timer] = at
        d.push(at, self)


def drain(d, until):
    out = []
    while True:
        at = d.next_deadline()
        if at is None or at > until:
            return out
        txn = d.pop_due(at)
        for name in [n for n in txn.timers if txn.timers[n] <= at]:
            del txn.timers[name]
            out.append((at, txn.name))


def test_a_clean_up_in_progress_still_gives_every_deadline_earliest_first():
    d = Deadlines()
    txns = [Txn("t%d" % i) for i in range(SLACK + 10)]
    for i, t in enumerate(txns):
        t.start(d, "K", 10000 + (i * 7919) % 5000)  # pushed out of order
        if i % 2:
            t.state = TERMINATED  # half end early: their entries go stale
    assert d._old, "the heap passed its threshold: a clean-up is under way"
    got = drain(d, 20000)
    live = sorted((10000 + (i * 7919) % 5000, "t%d" % i) for i in range(0, SLACK + 10, 2))
    assert [at for at, _ in got] == [at for at, _ in live]
    assert sorted(got) == live
    assert len(d) == 0


def test_stopped_timers_never_pile_up_and_each_push_does_bounded_work():
    """A transaction restarting its timer over and over (Timer G doubling,
    a flood of forged requests) leaves a stale entry each time."""
    d = Deadlines()
    live = [Txn("t%d" % i) for i in range(100)]
    m, s = MIGRATE, SLACK
    bound = (1 + 1 / m) * (2 * (100 + s / m) / (1 - 2 / m) + s) + 1  # the module's formula, 100 live entries
    pushes = 0
    for n in range(50000):
        t = live[n % 100]
        t.timers.clear()  # the old deadline is stopped: its entry is stale
        t.start(d, "G", 1000 + n)
        pushes += 1
        assert len(d) <= bound
    assert d.scanned <= MIGRATE * pushes
    # What is left due is each transaction's last deadline, once.
    assert drain(d, 10 ** 9) == [(1000 + n, "t%d" % (n % 100)) for n in range(50000 - 100, 50000)]


def test_a_stale_entry_is_never_due():
    d = Deadlines()
    a, b = Txn("a"), Txn("b")
    a.start(d, "E", 500)
    b.start(d, "F", 600)
    a.timers.clear()  # stopped
    assert d.next_deadline() == 600
    b.state = TERMINATED
    assert d.next_deadline() is None and len(d) == 0
