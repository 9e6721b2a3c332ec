"""A bug of ours in the core loses one message, never the router: the
daemon logs it, counts it, and keeps sending and timing."""

import asyncio
import json
import logging

from outpost.runtime import config as configmod
from outpost.runtime.daemon import Daemon


def test_an_internal_error_is_contained(tmp_path, caplog):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"sip": {"domain": "example.com", "listen": [{"transport": "udp", "address": "127.0.0.1", "port": 5099}]},
                                "state": {"dir": str(tmp_path / "state"), "status_file": str(tmp_path / "status.json")}}))

    async def run():
        d = Daemon(configmod.load(str(path)), str(path))
        sent = []
        d.net.send = lambda data, dest: sent.append(data)

        def boom(*a):
            raise ZeroDivisionError("a bug")
        real = d.proxy.receive
        d.proxy.receive = boom
        d.receive(b"OPTIONS sip:x SIP/2.0\r\n\r\n", ("udp", "127.0.0.1", 5000, None))
        d.proxy.handle_timer = boom
        d._on_timer()
        assert d._timer is not None  # re-armed after the failure
        d.proxy.receive = real
        d.receive(b"\xff garbage", ("udp", "127.0.0.1", 5000, None))  # still serving
        d._timer.cancel()
        return d.counters()

    with caplog.at_level(logging.ERROR, logger="outpost"):
        counters = asyncio.run(run())
    assert counters["internal_errors"] == 2 and counters["malformed"] == 1
    assert "internal error on a message from 127.0.0.1:5000 (dropped)" in caplog.text
