"""The core imports only the MicroPython subset, and the guard itself works."""

import os
import shutil

from import_guard import core_violations, violations_in_source

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORE = os.path.join(ROOT, "firmware", "outpost", "core")


def test_core_imports_only_the_micropython_subset():
    assert core_violations(CORE) == []


def test_guard_flags_every_kind_of_forbidden_import():
    for src in ("import socket", "import os.path", "from time import sleep", "import asyncio as aio", "import select",
                "import subprocess", "from dataclasses import dataclass", "import typing", "import json",
                "__import__('select')", "importlib.import_module('subprocess')", "open('/etc/passwd')",
                "from .. import runtime", "def f():\n    import logging"):
        assert violations_in_source(src), src


def test_guard_allows_the_core_own_imports():
    for src in ("from .uri import parse_uri", "import hashlib", "import binascii", "from micropython import const",
                "from outpost.core.errors import bad", "import re"):
        assert violations_in_source(src) == [], src


def test_relative_imports_are_resolved_against_the_file_package():
    assert violations_in_source("from ..errors import bad", "x.py", "outpost.core.transactions") == []
    assert violations_in_source("from ... import runtime", "x.py", "outpost.core.transactions")
    assert violations_in_source("from .. import runtime", "x.py", "outpost.core")


def test_guard_catches_a_forbidden_import_added_to_the_core(tmp_path):
    copy = tmp_path / "core"
    shutil.copytree(CORE, copy)
    assert core_violations(str(copy)) == []
    (copy / "clock.py").write_text("import time\n\ndef now_ms():\n    return int(time.time() * 1000)\n")
    found = core_violations(str(copy))
    assert [(os.path.basename(f), line, what) for f, line, what in found] == [("clock.py", 1, "time")]
