"""WAN media ports: even RTP ports, never reused while live."""

from outpost.core.media import PortPool, Leg


def test_port_pool_never_reuses_a_live_port():
    pool = PortPool(40000, 40007)
    assert pool.capacity == 4
    got = [pool.allocate() for _ in range(4)]
    assert got == [40000, 40002, 40004, 40006] and pool.allocate() is None
    pool.release(40002)
    assert pool.allocate() == 40002 and len(pool) == 4


def test_port_pool_wraps_and_skips_live_ports():
    pool = PortPool(40001, 40009)  # an odd start is rounded up to an even RTP port
    assert [pool.allocate() for _ in range(4)] == [40002, 40004, 40006, 40008]
    pool.release(40004)
    assert pool.allocate() == 40004


def test_leg_repr_names_its_parts():
    leg = Leg(("c", 0, "rtp"), ("192.0.2.20", 4000), ("203.0.113.2", 40000))
    assert "192.0.2.20" in repr(leg) and leg.remote is None
