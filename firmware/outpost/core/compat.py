"""What the core needs that differs between CPython and MicroPython."""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# Hashes without OpenSSL: CPython's hashlib loads libcrypto (about 2 MB of
# a router's memory) while its built-in _md5/_sha256 do the same work;
# MicroPython's hashlib is native already.
try:
    from _md5 import md5
    from _sha256 import sha256
except ImportError:
    from hashlib import md5, sha256
