"""Server INVITE transaction, RFC 3261 §17.2.1 with RFC 6026 §7.1.

Proceeding -> Completed -> Confirmed -> Terminated for 300-699; Proceeding
-> Accepted -> Terminated for 2xx, so INVITE retransmissions that arrive
after a 2xx are absorbed instead of looking like new requests.
"""

from .base import ServerTransaction, TERMINATED

TABLE = {
    ("Proceeding", "request"): ("resend", "Proceeding"),
    ("Proceeding", "send_1xx"): ("send_response", "Proceeding"),
    ("Proceeding", "send_2xx"): ("accepted", "Accepted"),
    ("Proceeding", "send_final"): ("completed", "Completed"),
    ("Proceeding", "send_final_once"): ("send_response", TERMINATED),
    ("Proceeding", "transport_error"): ("failed", TERMINATED),
    ("Completed", "request"): ("resend", "Completed"),
    ("Completed", "timer_G"): ("retransmit_final", "Completed"),
    ("Completed", "timer_H"): ("no_ack", TERMINATED),
    ("Completed", "ack"): ("confirmed", "Confirmed"),
    ("Completed", "transport_error"): ("failed", TERMINATED),
    ("Confirmed", "request"): (None, "Confirmed"),
    ("Confirmed", "ack"): (None, "Confirmed"),
    ("Confirmed", "timer_G"): (None, "Confirmed"),
    ("Confirmed", "timer_I"): (None, TERMINATED),
    ("Accepted", "request"): (None, "Accepted"),
    ("Accepted", "ack"): ("pass_ack", "Accepted"),
    ("Accepted", "send_2xx"): ("pass_2xx", "Accepted"),
    ("Accepted", "timer_L"): (None, TERMINATED),
}


class ServerInvite(ServerTransaction):
    TABLE = TABLE
    kind = "ServerInvite"
    __slots__ = ("interval",)

    def start(self, now):
        self.state = "Proceeding"

    def accepted(self, now, data):
        # Accepted never resends on its own (the callee retransmits its 2xx,
        # RFC 6026 §7.1), so the 2xx is sent, not kept: thousands of these
        # linger 32 s under load, and a 2xx with SDP is most of each.
        self.send(data)
        self.last_response = None  # the 100 Trying, if any: Accepted never resends it
        self.start_timer("L", now, 64 * self.t1)

    def pass_2xx(self, now, data):
        self.send(data)

    def completed(self, now, data):
        self.send_response(now, data)
        self.interval = self.t1
        if not self.reliable:
            self.start_timer("G", now, self.interval)
        self.start_timer("H", now, 64 * self.t1)

    def retransmit_final(self, now, _msg):
        self.send(self.last_response)
        self.interval = min(2 * self.interval, self.layer.t2)
        self.start_timer("G", now, self.interval)

    def confirmed(self, now, _msg):
        self.stop_timer("G")
        self.stop_timer("H")
        self.start_timer("I", now, 0 if self.reliable else self.layer.t4)

    def pass_ack(self, now, msg):
        # RFC 6026 §7.1: an ACK for the 2xx that reuses the INVITE's branch
        # (many phones do) matches here and still belongs to the TU.
        self.tell("on_ack", msg, now)

    def no_ack(self, now, _msg):
        self.tell("on_timeout")

    def failed(self, now, _msg):
        self.tell("on_timeout")
