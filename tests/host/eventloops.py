"""Running a test's coroutine on each event loop the daemon may use
(daemon.event_loop): asyncio's own, and uvloop, which the test venv
installs at the version Debian bookworm ships."""

import asyncio

import pytest

try:
    import uvloop
except ImportError:  # the test venv installs it (requirements.txt)
    uvloop = None

LOOPS = ["asyncio", "uvloop"]


def run(loop_name, coro):
    if loop_name == "uvloop":
        if uvloop is None:
            pytest.fail("uvloop is not installed in the test venv")
        loop = uvloop.new_event_loop()  # uvloop.run came after 0.17, Debian bookworm's
        try:
            return loop.run_until_complete(coro)
        finally:
            loop.close()
    return asyncio.run(coro)
