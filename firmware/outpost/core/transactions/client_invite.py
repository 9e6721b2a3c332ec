"""Client INVITE transaction, RFC 3261 §17.1.1 with RFC 6026 §7.2.

Calling -> Proceeding -> Completed -> Terminated, and Accepted after a 2xx
so that retransmitted 2xx responses still reach the TU (a proxy must pass
every 2xx upstream). The ACK for a 300-699 response is built and sent here;
the ACK for a 2xx is the TU's business (it is a request of its own).

Timer C (RFC 3261 §16.6 step 11) lives here too when the TU sets
`timer_c_ms`: restarted by every provisional, it asks the TU to CANCEL
(`on_timer_c`), and Timer X (64*T1) then gives up on a callee that never
answers the CANCEL.
"""

from .base import Transaction, TERMINATED
from ..build import ack_for
from ..message import parse_message

TABLE = {
    ("Calling", "timer_A"): ("retransmit", "Calling"),
    ("Calling", "timer_B"): ("timed_out", TERMINATED),
    ("Calling", "1xx"): ("provisional", "Proceeding"),
    ("Calling", "2xx"): ("accepted", "Accepted"),
    ("Calling", "final"): ("completed", "Completed"),
    ("Calling", "transport_error"): ("failed", TERMINATED),
    ("Proceeding", "1xx"): ("provisional", "Proceeding"),
    ("Proceeding", "2xx"): ("accepted", "Accepted"),
    ("Proceeding", "final"): ("completed", "Completed"),
    ("Proceeding", "timer_C"): ("c_fired", "Proceeding"),
    ("Proceeding", "timer_X"): ("timed_out", TERMINATED),
    # The TU cancels (RFC 3261 §9.1): only once a provisional came; before,
    # the callee may not have the INVITE yet, and the TU waits for one.
    ("Proceeding", "cancel"): (None, "Proceeding"),
    ("Completed", "final"): ("resend_ack", "Completed"),
    ("Completed", "1xx"): (None, "Completed"),
    ("Completed", "timer_D"): (None, TERMINATED),
    ("Accepted", "2xx"): ("pass_2xx", "Accepted"),
    ("Accepted", "1xx"): (None, "Accepted"),
    ("Accepted", "final"): (None, "Accepted"),
    ("Accepted", "timer_M"): (None, TERMINATED),
}


class ClientInvite(Transaction):
    TABLE = TABLE
    kind = "ClientInvite"
    __slots__ = ("ack", "interval", "timer_c_ms")

    def start(self, now):
        self.state = "Calling"
        self.timer_c_ms = 0  # 0: no Timer C (a UA's own INVITE); the proxy sets it after
        self.ack = None
        self.interval = self.t1
        self.send(self.request)
        if not self.reliable:
            self.start_timer("A", now, self.interval)
        self.start_timer("B", now, 64 * self.t1)

    def retransmit(self, now, _msg):
        self.send(self.request)
        self.interval *= 2
        self.start_timer("A", now, self.interval)

    def timed_out(self, now, _msg):
        self.tell("on_timeout")

    def failed(self, now, _msg):
        self.tell("on_timeout")

    def provisional(self, now, msg):
        self.stop_timer("A")
        self.stop_timer("B")
        if self.timer_c_ms and "X" not in self.timers:
            self.start_timer("C", now, self.timer_c_ms)
        self.tell("on_response", msg, now)

    def c_fired(self, now, _msg):
        self.start_timer("X", now, 64 * self.t1)
        self.tell("on_timer_c")

    def accepted(self, now, msg):
        self.timers.clear()
        self.start_timer("M", now, 64 * self.t1)
        self.tell("on_response", msg, now)

    def pass_2xx(self, now, msg):
        self.tell("on_response", msg, now)

    def completed(self, now, msg):
        self.timers.clear()
        self.ack = ack_for(parse_message(self.request), msg)
        self.send(self.ack)
        self.start_timer("D", now, 0 if self.reliable else 32000)
        self.tell("on_response", msg, now)

    def resend_ack(self, now, _msg):
        self.send(self.ack)
