"""Server non-INVITE transaction, RFC 3261 §17.2.2."""

from .base import ServerTransaction, TERMINATED

TABLE = {
    ("Trying", "request"): (None, "Trying"),
    ("Trying", "send_1xx"): ("send_response", "Proceeding"),
    ("Trying", "send_2xx"): ("completed", "Completed"),
    ("Trying", "send_final"): ("completed", "Completed"),
    ("Trying", "send_final_once"): ("send_response", TERMINATED),
    ("Proceeding", "request"): ("resend", "Proceeding"),
    ("Proceeding", "send_1xx"): ("send_response", "Proceeding"),
    ("Proceeding", "send_2xx"): ("completed", "Completed"),
    ("Proceeding", "send_final"): ("completed", "Completed"),
    ("Proceeding", "send_final_once"): ("send_response", TERMINATED),
    ("Proceeding", "transport_error"): (None, TERMINATED),
    ("Completed", "request"): ("resend", "Completed"),
    ("Completed", "timer_J"): (None, TERMINATED),
    ("Completed", "transport_error"): (None, TERMINATED),
}


class ServerNonInvite(ServerTransaction):
    TABLE = TABLE
    kind = "ServerNonInvite"
    __slots__ = ()

    def start(self, now):
        self.state = "Trying"

    def completed(self, now, data):
        self.send_response(now, data)
        self.start_timer("J", now, 0 if self.reliable else 64 * self.t1)
