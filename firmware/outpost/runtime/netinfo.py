"""The router's own addresses, for a daemon listening on 0.0.0.0: requests
to any of them are for the router (not to be forwarded to itself)."""


def local_ipv4(path="/proc/net/fib_trie"):
    """Every local IPv4 address (the kernel's LOCAL routes), lo excepted."""
    out = []
    last = None
    try:
        with open(path) as f:
            for line in f:
                s = line.strip()
                if s.startswith("|--"):
                    last = s[3:].strip()
                elif s.startswith("/32 host LOCAL") and last and last not in out and not last.startswith("127."):
                    out.append(last)
    except OSError:
        pass
    return out


def source_address(host, port=5060):
    """The address the kernel would send from to reach host (an IP): our
    WAN address as DHCP gave it. No packet leaves (a UDP connect)."""
    import socket

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((host, port))
        return s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
