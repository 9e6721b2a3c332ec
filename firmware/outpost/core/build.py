"""Requests derived from other requests: ACK for a non-2xx final response
(RFC 3261 §17.1.1.3) and CANCEL (§9.1). Field values are copied as text
from the request they answer, so what the peer matches on is unchanged.
And the one request the router makes up: OPTIONS (the survival probe and
the console's ping-upstream, RFC 3261 §11)."""


def _common(req, method):
    lines = ["%s %s SIP/2.0" % (method, req.raw[req._uri_span[0]:req._uri_span[1]].decode())]
    lines.append("Via: " + req.vias[0].field.text)
    for r in req.fields("route"):
        lines.append("Route: " + r.text)
    lines.append("Max-Forwards: 70")
    lines.append("From: " + req.fields("from")[0].text)
    return lines


def ack_for(req, resp):
    """ACK for a 300-699 response to INVITE `req` (both parsed)."""
    lines = _common(req, "ACK")
    lines.append("To: " + resp.fields("to")[0].text)
    lines.append("Call-ID: " + req.call_id)
    lines.append("CSeq: %d ACK" % req.cseq.seq)
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def cancel_for(req):
    """CANCEL for the INVITE `req` as we sent it (same branch, same CSeq number)."""
    lines = _common(req, "CANCEL")
    lines.append("To: " + req.fields("to")[0].text)
    lines.append("Call-ID: " + req.call_id)
    lines.append("CSeq: %d CANCEL" % req.cseq.seq)
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def options(target, via, branch, sender, tag, call_id, cseq):
    """OPTIONS to target (transport, host, port), sent from via (host, port)
    with `branch`; `sender` is the From URI's user@host."""
    transport, host, port = target
    return ("OPTIONS sip:%s:%d SIP/2.0\r\nVia: SIP/2.0/%s %s:%d;branch=%s;rport\r\nMax-Forwards: 70\r\n"
            "From: <sip:%s>;tag=%s\r\nTo: <sip:%s:%d>\r\nCall-ID: %s\r\nCSeq: %d OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n" % (host, port, transport.upper(), via[0], via[1], branch, sender, tag, host, port,
                                               call_id, cseq)).encode()
