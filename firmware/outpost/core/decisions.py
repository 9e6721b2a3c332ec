"""What a routing rule decides (routing.py, siterules.py, userrules.py);
`Proxy._carry_out` is the one place a decision is carried out."""


class Reply:
    __slots__ = ("status", "reason", "headers")

    def __init__(self, status, reason, headers=()):
        self.status, self.reason, self.headers = status, reason, headers

    def __repr__(self):
        return "Reply(%d %s)" % (self.status, self.reason)


class Forward:
    """Fork to every (Request-URI or None, dest) of `targets`; `note`: an
    event to tell the runtime when it goes (a call on the fallback trunk)."""
    __slots__ = ("targets", "note")

    def __init__(self, targets, note=None):
        self.targets, self.note = targets, note

    def __repr__(self):
        return "Forward(%r)" % (self.targets,)


class Drop:
    """Nothing is sent (an ACK gets no answer); `counter` names the counter
    that says why, or None."""
    __slots__ = ("counter",)

    def __init__(self, counter=None):
        self.counter = counter


class Register:
    """The registrar answers (registrar.register on the location table)."""
    __slots__ = ()


REGISTER = Register()
