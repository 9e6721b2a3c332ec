"""Client non-INVITE transaction, RFC 3261 §17.1.2."""

from .base import Transaction, TERMINATED

TABLE = {
    ("Trying", "timer_E"): ("retransmit", "Trying"),
    ("Trying", "timer_F"): ("timed_out", TERMINATED),
    ("Trying", "1xx"): ("provisional", "Proceeding"),
    ("Trying", "2xx"): ("completed", "Completed"),
    ("Trying", "final"): ("completed", "Completed"),
    ("Trying", "transport_error"): ("timed_out", TERMINATED),
    ("Proceeding", "timer_E"): ("retransmit_t2", "Proceeding"),
    ("Proceeding", "timer_F"): ("timed_out", TERMINATED),
    ("Proceeding", "1xx"): ("provisional", "Proceeding"),
    ("Proceeding", "2xx"): ("completed", "Completed"),
    ("Proceeding", "final"): ("completed", "Completed"),
    ("Proceeding", "transport_error"): ("timed_out", TERMINATED),
    ("Completed", "1xx"): (None, "Completed"),
    ("Completed", "2xx"): (None, "Completed"),
    ("Completed", "final"): (None, "Completed"),
    ("Completed", "timer_K"): (None, TERMINATED),
}


class ClientNonInvite(Transaction):
    TABLE = TABLE
    kind = "ClientNonInvite"
    __slots__ = ("interval",)

    def start(self, now):
        self.state = "Trying"
        self.interval = self.t1
        self.send(self.request)
        if not self.reliable:
            self.start_timer("E", now, self.interval)
        self.start_timer("F", now, 64 * self.t1)

    def retransmit(self, now, _msg):
        self.send(self.request)
        self.interval = min(2 * self.interval, self.layer.t2)
        self.start_timer("E", now, self.interval)

    def retransmit_t2(self, now, _msg):
        self.send(self.request)
        self.start_timer("E", now, self.layer.t2)

    def timed_out(self, now, _msg):
        self.tell("on_timeout")

    def provisional(self, now, msg):
        self.tell("on_response", msg, now)

    def completed(self, now, msg):
        self.stop_timer("E")
        self.stop_timer("F")
        self.start_timer("K", now, 0 if self.reliable else self.layer.t4)
        self.tell("on_response", msg, now)
