"""The SIP core: sans-I/O, for CPython 3.11 and MicroPython.

Nothing here opens a socket, reads a clock or touches a file: callers feed
bytes, addresses and `now_ms` and get back bytes and decisions. Only the
modules MicroPython's unix port has may be imported (tests/host checks).
"""
