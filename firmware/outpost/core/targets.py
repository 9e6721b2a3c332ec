"""Where to send a request: a Request-URI, a binding, a phone's contact
(RFC 3263 without DNS: the runtime resolves host names)."""

from .errors import RemoteProtocolError
from .uri import parse_uri


def binding_dest(b):
    """Send to the Contact (LAN phones are reachable as they registered);
    over TCP, on the connection the REGISTER came in on while it is open."""
    return _on_flow(uri_dest(b.uri), b.source)


def contact_dest(contact, source):
    """A phone's contact (text), on the TCP connection it came from when open."""
    return _on_flow(uri_dest(parse_uri(contact, "Contact")), source)


def _on_flow(dest, source):
    """Over TCP, the connection the phone registered on, if that phone is
    the contact's host: a flow is never lent to another host's contact."""
    if dest[0] != "udp" and source is not None and source[0] == dest[0] and source[1] == dest[1]:
        return dest[:3] + (source[3],)
    return dest


def uri_dest(uri):
    """Where to send a request for `uri` (RFC 3263 without DNS: the runtime
    resolves a host name)."""
    if not uri.is_sip:
        raise RemoteProtocolError(416, "Unsupported URI Scheme")
    transport = uri.transport or ("tls" if uri.scheme == "sips" else "udp")
    host = uri.param("maddr") or uri.host
    if host.startswith("["):
        host = host[1:-1]
    port = uri.port or (5061 if transport == "tls" else 5060)
    return (transport, host, port, None)
