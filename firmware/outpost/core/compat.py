"""What the core needs that differs between CPython and MicroPython."""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x
