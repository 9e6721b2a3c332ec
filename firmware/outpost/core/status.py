"""The proxy's state as plain data, for the console's "show status" and
"show calls" (sans-I/O: times are the core's monotonic milliseconds; the
runtime turns them into wall-clock seconds).

Only str, int, bool, None, lists and dicts leave here: the runtime writes
it as JSON and never needs the core's objects to read it.
"""


from .counters import plain


def status(proxy, now):
    out = {"registrations": len(proxy.location), "transactions": len(proxy.txns), "counters": dict(proxy.counters),
           "traffic": plain(proxy.traffic)}
    relay = proxy.relay
    if relay is None:
        return out
    out["upstream"] = {"wan_address": relay.config.wan_address, "state": "relaying" if proxy.relaying else "local survival"}
    sv = proxy.survival
    if sv is not None:
        out["survival"] = {"state": sv.state, "since_ms": sv.since, "failures": sv.failures,
                           "probes": [{"at_ms": t, "ok": ok, "rtt_ms": rtt, "what": what} for t, ok, rtt, what in sv.history]}
    out["calls"] = [{"call_id": relay.call_id_plain(cid), "seconds": (now - sess.created) // 1000,
                     "legs": [leg_data(leg) for leg in sess.legs.values()]} for cid, sess in relay.media.sessions.items()]
    return out


def leg_data(leg):
    return {"kind": leg.key[2], "stream": leg.key[1], "lan": "%s:%d" % leg.lan, "wan": "%s:%d" % leg.wan,
            "remote": "%s:%d" % leg.remote if leg.remote else None, "in": leg.inbound, "out": leg.outbound}
