"""A small schema validator for the router's configuration.

Every error names the field path, the value and the rule, and all errors
are returned at once:

    sip.listen[0].port: 70000 is not a port (1-65535)
    sip.domian: unknown key (did you mean 'domain'?)

Schemas are plain data: Int(min, max), Str(...), Bool(), OneOf(...),
List(item), Map(value) for free-form keys, and Record({key: (schema,
default)}) for fixed keys. Validation returns the value with defaults
filled in.
"""

import re

REQUIRED = object()


class Invalid(Exception):
    def __init__(self, errors):
        super().__init__("\n".join(errors))
        self.errors = errors


class Int:
    def __init__(self, minimum=None, maximum=None, rule=None):
        self.min, self.max, self.rule = minimum, maximum, rule

    def check(self, v, path, errors):
        if isinstance(v, bool) or not isinstance(v, int):
            errors.append("%s: %r is not a whole number" % (path, v))
            return v
        if (self.min is not None and v < self.min) or (self.max is not None and v > self.max):
            errors.append("%s: %r %s" % (path, v, self.rule or "is not in %s-%s" % (self.min, self.max)))
        return v


def Port():
    return Int(1, 65535, "is not a port (1-65535)")


class Str:
    def __init__(self, pattern=None, rule=None, min_len=1, max_len=255):
        self.pattern = re.compile(pattern) if pattern else None
        self.rule, self.min_len, self.max_len = rule, min_len, max_len

    def check(self, v, path, errors):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            # YAML reads 112 as a number and 00. as the float 0.0: what was
            # written is gone, so say how to write it.
            errors.append("%s: %r is not a string (YAML read a number: put it in quotes, like '00.')" % (path, v))
        elif not isinstance(v, str):
            errors.append("%s: %r is not a string" % (path, v))
        elif not self.min_len <= len(v) <= self.max_len:
            errors.append("%s: %r must be %d to %d characters" % (path, v, self.min_len, self.max_len))
        elif self.pattern and not self.pattern.fullmatch(v):
            errors.append("%s: %r %s" % (path, v, self.rule or "does not match " + self.pattern.pattern))
        return v


class Path(Str):
    """An absolute path the daemon writes to as root: plain names only (no
    component starting with '.', so no '..'; no spaces or control
    characters: it means what it looks like) and outside the system's trees."""

    SYSTEM = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/sbin", "/sys", "/usr")

    def __init__(self):
        super().__init__(r"(/[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]*)+", "is not an absolute path of plain names (no '.', '..' or spaces)")

    def check(self, v, path, errors):
        n = len(errors)
        super().check(v, path, errors)
        if len(errors) == n and any(v == d or v.startswith(d + "/") for d in self.SYSTEM):
            errors.append("%s: %r is inside a system directory (%s)" % (path, v, ", ".join(self.SYSTEM)))
        return v


class Parsed(Str):
    """A string the standard library must parse: `parse(v)` raises
    ValueError for a value that only looks right; the error then names
    `self.rule`."""

    def check(self, v, path, errors):
        n = len(errors)
        super().check(v, path, errors)
        if len(errors) == n:
            try:
                self.parse(v)
            except ValueError:
                errors.append("%s: %r %s" % (path, v, self.rule))
        return v


class IPv4(Parsed):
    """A dotted-quad address, as the standard library parses it (no leading
    zeros, each part 0-255): 10.20.0.300 is refused where it is typed."""

    def __init__(self, prefix=False):
        super().__init__(None, "is not an IPv4 address with a prefix length 0-32 (like 192.0.2.1/24)" if prefix
                         else "is not an IPv4 address (like 192.0.2.1)", 1, 64)
        self.prefix = prefix

    def parse(self, v):
        import ipaddress

        if self.prefix:
            # One spelling only, a.b.c.d/N: ipaddress also takes netmask
            # and hostmask forms and /09, which the daemon's parser and
            # busybox ip (octal) read otherwise.
            if not _PREFIXED.match(v):
                raise ValueError
            ipaddress.IPv4Interface(v)
        else:
            ipaddress.IPv4Address(v)


_PREFIXED = re.compile(r"[0-9.]{7,15}/(?:3[0-2]|[12][0-9]|[0-9])\Z")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z")


class Host(Parsed):
    """A host name (RFC 1123 labels) or an IPv4 or [IPv6] address; anything
    made only of digits and dots must be a real IPv4 address."""

    def __init__(self):
        super().__init__(None, "is not a host name or IP address", 1, 253)

    def parse(self, v):
        import ipaddress

        if v.replace(".", "").isdigit():
            ipaddress.IPv4Address(v)
        elif ":" in v:
            ipaddress.IPv6Address(v[1:-1] if v.startswith("[") and v.endswith("]") else v)
        elif not all(_LABEL.match(label) for label in v.rstrip(".").split(".")):
            raise ValueError


class HostPort(Host):
    """`host` or `host:port`, the host a name or an IPv4 address (the
    relaying router speaks IPv4 on its WAN)."""

    def __init__(self):
        Parsed.__init__(self, None, "is not host or host:port with a port 1-65535 (like 203.0.113.50 or sip.example.net:5080)", 1, 259)

    def parse(self, v):
        host, sep, port = v.partition(":")
        if sep and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError
        if ":" in host or host.startswith("["):
            raise ValueError
        Host.parse(self, host)


def Hex(n):
    return Str(r"[0-9a-f]{%d}" % n, "is not %d lower-case hex digits" % n, n, n)


class Bool:
    def check(self, v, path, errors):
        if not isinstance(v, bool):
            errors.append("%s: %r is not true or false" % (path, v))
        return v


class OneOf:
    def __init__(self, *choices):
        self.choices = choices

    def check(self, v, path, errors):
        if v not in self.choices:
            errors.append("%s: %r is not one of %s" % (path, v, ", ".join(repr(c) for c in self.choices)))
        return v


class List:
    def __init__(self, item, min_len=0, max_len=1000):
        self.item, self.min_len, self.max_len = item, min_len, max_len

    def check(self, v, path, errors):
        if not isinstance(v, list):
            errors.append("%s: %r is not a list" % (path, v))
            return v
        if not self.min_len <= len(v) <= self.max_len:
            errors.append("%s: needs %d to %d entries, has %d" % (path, self.min_len, self.max_len, len(v)))
        return [self.item.check(x, "%s[%d]" % (path, i), errors) for i, x in enumerate(v)]


class Map:
    """Free-form keys (user names), each value checked by `value`."""

    def __init__(self, value, key=None, max_len=10000):
        self.value, self.key, self.max_len = value, key or Str(r"[A-Za-z0-9._+\-]+", "is not a valid name"), max_len

    def check(self, v, path, errors):
        if not isinstance(v, dict):
            errors.append("%s: is not a mapping" % path)
            return v
        if len(v) > self.max_len:
            errors.append("%s: has %d entries, at most %d allowed" % (path, len(v), self.max_len))
        out = {}
        for k in v:
            self.key.check(k, "%s.%s" % (path, k), errors)
            out[k] = self.value.check(v[k], "%s.%s" % (path, k), errors)
        return out


class Record:
    def __init__(self, fields):
        self.fields = fields  # key -> (schema, default or REQUIRED)

    def check(self, v, path, errors):
        if v is None:
            v = {}
        if not isinstance(v, dict):
            errors.append("%s: is not a mapping" % (path or "config"))
            return v
        out = {}
        for k in v:
            if not isinstance(k, str):
                errors.append("%s: %r is not a key name" % (path or "config", k))
            elif k not in self.fields:
                import difflib  # only for a mistake: the daemon does not carry it (0.1 MB)
                near = difflib.get_close_matches(k, list(self.fields), 1)
                hint = " (did you mean %r?)" % near[0] if near else ""
                errors.append("%s: unknown key%s" % (_join(path, k), hint))
        for k, (schema, default) in self.fields.items():
            if k in v:
                out[k] = schema.check(v[k], _join(path, k), errors)
            elif default is REQUIRED:
                errors.append("%s: is required" % _join(path, k))
            elif isinstance(schema, Record) and default is not None:
                out[k] = schema.check(default, _join(path, k), errors)
            else:
                out[k] = default
        return out


def _join(path, key):
    return "%s.%s" % (path, key) if path else key


def validate(schema, value):
    errors = []
    out = schema.check(value, "", errors)
    if errors:
        raise Invalid(errors)
    return out
