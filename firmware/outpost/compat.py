"""The runtime's shim over CPython and MicroPython differences: JSON from
ujson when present (the device ships python3-ujson: faster, smaller), else
the stdlib."""

try:
    import ujson as json
except ImportError:
    import json

__all__ = ("json",)
