"""The runtime's shim over CPython and MicroPython differences: JSON from
ujson when present (the device ships python3-ujson: faster, smaller), else
the stdlib; asyncio under either name, imported only when asked for, so a
tool that loads the config does not pay for an event loop it never runs."""

try:
    import ujson as json
except ImportError:
    import json


def asyncio():
    try:
        import asyncio as mod
    except ImportError:  # older MicroPython
        import uasyncio as mod
    return mod


__all__ = ("json", "asyncio")
