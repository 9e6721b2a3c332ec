"""What the proxy received, by method and by response class (as Juniper's
`show alg sip counters`), for `show status`.

Method names are the sender's: only the methods the router knows get a
counter of their own, the rest count as "other", so no sender can grow
the table.
"""

METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "UPDATE", "INFO", "MESSAGE", "REFER", "NOTIFY",
           "SUBSCRIBE", "other")
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "6xx")


def fresh():
    return {"methods": dict.fromkeys(METHODS, 0), "classes": dict.fromkeys(CLASSES, 0)}


def count(p, msg):
    """One valid message received: p.counters' totals and p.traffic."""
    if msg.is_request:
        p.counters["requests"] += 1
        methods = p.traffic["methods"]
        key = msg.method if msg.method in methods else "other"
        methods[key] += 1
    else:
        p.counters["responses"] += 1
        key = "%dxx" % (msg.status // 100)
        classes = p.traffic["classes"]
        if key in classes:
            classes[key] += 1


def plain(traffic):
    return {"methods": dict(traffic["methods"]), "classes": dict(traffic["classes"])}
