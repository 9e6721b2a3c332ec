"""runtime/ uses the core only through its door (surface_guard.py), and
the guard itself catches each way of going round it."""

import os

from surface_guard import runtime_violations, violations_in_source

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_runtime_uses_only_the_core_surface():
    assert runtime_violations(ROOT) == []


def test_guard_flags_reaching_into_the_core():
    for src in ("self.proxy.relay.media.actions = []",
                "x = self.proxy.location.max_bindings",
                "p = self.proxy\np.txns.t1 = 5",
                "p = Proxy(pc, 0)\np.counters['x'] = 1",
                "proxy.probe_port = 5",
                "for leg in relay.media.sessions.values(): pass",
                "from ..core.location import LocationTable",
                "from ..core.alg import MediaAlg",
                "from ..core import transactions",
                "from outpost.core.proxy import SiteRouting",
                "import outpost.core.relay",
                "from .core.survival import Survival"):
        assert violations_in_source(src), src


def test_guard_allows_the_door_and_config():
    for src in ("self.proxy.receive(data, source, now)",
                "for data, dest in self.proxy.datagrams_to_send(): pass",
                "e = self.proxy.next_event()",
                "self.proxy.transport_failed(dest, now, data)",
                "st = self.proxy.status(now)['counters']",
                "from ..core.proxy import Proxy, ProxyConfig, PROBE",
                "from ..core import events as ev",
                "from ..core.events import PinholeOpened",
                "from ..core.relay import RelayConfig",
                "pc.relay = RelayConfig(1, 2, 3, 4)\npc.relay.peers.update(x)"):
        assert violations_in_source(src) == [], src
