"""Every core module imports on this runtime. Run under both CPython and
MicroPython, this is what proves the core fits the MicroPython subset."""

import os

import outpost.core


def core_modules():
    here = outpost.core.__file__.rsplit("/", 1)[0]
    return sorted(n[:-3] for n in os.listdir(here) if n.endswith(".py") and n != "__init__.py")


def test_every_core_module_imports():
    names = core_modules()
    assert "message" in names and "sdp" in names
    for name in names:
        mod = __import__("outpost.core." + name, None, None, ["x"])
        assert mod.__name__ == "outpost.core." + name
