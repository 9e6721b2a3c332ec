"""Typed network addresses: what crosses from a packet into a decision.

Rules of this file:
- An address from SIP or SDP becomes an `IPv4` here or nowhere: a dotted
  quad of four decimal numbers 0-255, nothing else (no host names, no
  leading '+', no spaces, no tabs, no brackets, no IPv6). Anything else
  parses to None, and the caller refuses what named it (488 for SDP).
- Ports are ints 1-65535 (`port()`); 0 means "declined" only where SDP says
  so, and the caller checks that before asking for a port.
- What leaves the core for the kernel (pinhole legs, conntrack tuples)
  carries these objects, never text: the runtime can check the type at its
  door, and a string from the network cannot reach a ruleset.
"""


class IPv4:
    __slots__ = ("n",)

    def __init__(self, n):
        if not isinstance(n, int) or n < 0 or n > 0xFFFFFFFF:
            raise TypeError("IPv4 takes an int 0..2**32-1")
        self.n = n

    def __str__(self):
        n = self.n
        return "%d.%d.%d.%d" % (n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255)

    def __repr__(self):
        return "IPv4(%s)" % self

    def __eq__(self, other):
        return isinstance(other, IPv4) and other.n == self.n

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return self.n

    def packed(self):
        n = self.n
        return bytes(((n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255))

    def within(self, networks):
        """In any of [(network, mask)]?"""
        n = self.n
        for net, mask in networks:
            if n & mask == net:
                return True
        return False

    @property
    def unspecified(self):
        return self.n == 0


def ipv4(text):
    """'192.0.2.1' -> IPv4, or None for anything that is not exactly that."""
    if not isinstance(text, str) or len(text) > 15:
        return None
    parts = text.split(".")
    if len(parts) != 4:
        return None
    n = 0
    for p in parts:
        # isdigit() alone admits non-ASCII digits on CPython: check bytes.
        # No leading zeros: "010" is 8 to some parsers and 10 to others.
        if not p or len(p) > 3 or not _ascii_digits(p) or (len(p) > 1 and p[0] == "0"):
            return None
        v = int(p)
        if v > 255:
            return None
        n = n * 256 + v
    return IPv4(n)


def port(value):
    """An int port 1-65535 from an int, or None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    return None


def _ascii_digits(s):
    for ch in s:
        if ch < "0" or ch > "9":
            return False
    return True


# Where media may never be sent or accepted from, whatever an SDP says:
# "this network" 0/8, loopback 127/8, link-local 169.254/16, multicast
# 224/4 and the reserved 240/4 (with the broadcast address).
_NOT_UNICAST = ((0x00000000, 0xFF000000), (0x7F000000, 0xFF000000), (0xA9FE0000, 0xFFFF0000), (0xE0000000, 0xE0000000))


def is_unicast(ip):
    """A host one may exchange media with (not loopback, multicast, ...)."""
    return not ip.within(_NOT_UNICAST)


def digit_runs(text):
    """(start, end) of every run of digits and dots in `text`."""
    out = []
    n = len(text)
    i = 0
    while i < n:
        if "0" <= text[i] <= "9":
            j = i
            while j < n and ("0" <= text[j] <= "9" or text[j] == "."):
                j += 1
            out.append((i, j))
            i = j
        else:
            i += 1
    return out


def runs_naming(text, networks):
    """[(start, end)] of the runs of digits and dots in `text` that hold an
    address inside `networks`, with a ":port" after one: what must not
    leave the LAN (a Call-ID "x@192.0.2.10:5060")."""
    out = []
    n = len(text)
    for i, j in digit_runs(text):
        if any(a.within(networks) for a in lenient_quads(text[i:j])):
            k = j + 1
            while k < n and "0" <= text[k] <= "9":
                k += 1
            out.append((i, k if j < n and text[j] == ":" and k > j + 1 else j))
    return out


def lenient_quads(text):
    """Every address a dotted quad in `text` could be read as: decimal, and
    for parts with leading zeros octal too (inet_aton reads "010" as 8).
    For finding what a text names, never for accepting an address."""
    out = []
    for i, j in digit_runs(text):
        parts = text[i:j].split(".")
        for k in range(len(parts) - 3):
            out += _readings(parts[k:k + 4])
    return out


def _readings(parts):
    dec = oct_ = 0
    octal_ok = True
    for p in parts:
        if not p or len(p) > 4:
            return []
        v = int(p)
        if v > 255:
            return []
        dec = dec * 256 + v
        o = int(p, 8) if p[0] == "0" and len(p) > 1 and "8" not in p and "9" not in p else v
        octal_ok = octal_ok and o <= 255
        oct_ = oct_ * 256 + o
    return [IPv4(dec)] + ([IPv4(oct_)] if octal_ok and oct_ != dec else [])
