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
