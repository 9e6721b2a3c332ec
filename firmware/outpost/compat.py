"""The runtime's shim over CPython and MicroPython differences: JSON from
ujson when present (the device ships python3-ujson: faster, smaller), else
the stdlib; asyncio under either name."""

try:
    import ujson as json
except ImportError:
    import json

try:
    import asyncio
except ImportError:  # older MicroPython
    import uasyncio as asyncio

__all__ = ("json", "asyncio")
