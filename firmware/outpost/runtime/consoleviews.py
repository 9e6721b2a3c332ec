"""What the console's `show` commands print, as lists of lines.

Rules of this file:
- Every string shown here came from the network or a site file (Call-IDs,
  contacts, addresses, what the daemon wrote into status.json and
  bindings.json): it passes through `field()` before it is formatted, so an
  ESC, BEL, CR, C1 control or bidi override is shown as `\\x1b`, never sent
  to the administrator's terminal. The console's `say()` escapes every line
  once more with `text()`.
- Views are pure: (data, now) -> lines. Reading the files is the console's.
"""

import json
import re
import time

# C0 controls, DEL, C1 controls (a UTF-8 terminal takes U+009B as CSI), and
# the characters that reorder or break what the eye reads (bidi overrides,
# the Unicode line and paragraph separators).
_UNSAFE = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_FIELD = re.compile("[%s]" % _UNSAFE)
_TEXT = re.compile("[%s]" % _UNSAFE.replace("\x00-\x1f", "\x00-\x08\x0b-\x1f"))  # keeps \t and \n


class ErrorLine(str):
    """A refusal the console made (Console.fail): the only kind of line that
    may start with `error: ` (outpost-console's exit status reads those)."""


def _hex(m):
    o = ord(m.group(0))
    return "\\x%02x" % o if o < 0x100 else "\\u%04x" % o


def field(value, width=None):
    """One value for a column: any type, control characters escaped, cut to width."""
    text = _FIELD.sub(_hex, value if isinstance(value, str) else str(value))
    return text[:width] if width else text


def text(value):
    """Lines for the terminal: tabs and newlines kept, every other control escaped."""
    return _TEXT.sub(_hex, value)


def _duration(seconds):
    return "%dh %02dm %02ds" % (seconds // 3600, seconds % 3600 // 60, seconds % 60)


def registrations(data, now_ms):
    items = data.get("bindings", []) if isinstance(data, dict) else []
    live = [b for b in items if isinstance(b, dict) and _number(b.get("expires_at")) > now_ms]
    if not live:
        return ["no registrations"]
    lines = ["%-32s %-34s %7s" % ("ADDRESS-OF-RECORD", "CONTACT", "EXPIRES")]
    for b in sorted(live, key=lambda b: field(b.get("aor", ""))):
        lines.append("%-32s %-34s %6ds" % (field(b.get("aor", "-"), 32), field(b.get("contact", "-"), 34),
                                           (_number(b["expires_at"]) - now_ms) / 1000))
    return lines


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def calls(st, path):
    if st is None:
        return ["calls: daemon not running (no %s)" % field(path)]
    items = st.get("calls")
    if items is None:
        return ["calls: not relaying (set upstream.host to relay calls through this router)"]
    if not items:
        return ["no calls"]
    lines = ["%-16s %5s %-21s %-5s %-21s %s" % ("CALL", "AGE", "PHONE", "WAN", "REMOTE", "MEDIA")]
    for c in items:
        legs = [leg for leg in c.get("legs", []) if leg.get("kind") == "rtp"] or [{}]
        for leg in legs:
            media = "both" if leg.get("in") and leg.get("out") else "out" if leg.get("out") else "in" if leg.get("in") else "-"
            wan = str(leg.get("wan") or ":-").rsplit(":", 1)[-1]
            lines.append("%-16s %4ds %-21s %-5s %-21s %s" % (
                field(c.get("call_id", "-"), 16), _number(c.get("seconds", 0)), field(leg.get("lan") or "-", 21),
                field(wan, 5), field(leg.get("remote") or "-", 21), media))
    return lines


SURVIVAL_MEANING = {"NORMAL": "relaying to upstream", "SURVIVAL": "upstream lost: routing locally",
                    "RECOVERING": "upstream answers again: routing locally until it is stable"}


def survival(st, path, now):
    if st is None:
        return ["survival: daemon not running (no %s)" % field(path)]
    sv = st.get("survival")
    if sv is None:
        return ["survival: not relaying (set upstream.host to watch an upstream server)"]
    ago = int(now - _number(sv.get("since", now)))
    state = sv.get("state")
    lines = ["state           %s (%s), for %s" % (field(state), SURVIVAL_MEANING.get(state, ""), _duration(ago)),
             "failures        %s in a row" % field(sv.get("failures")),
             "phones known    %s" % field(st.get("registrations")),
             "calls           %d in progress" % len(st.get("calls") or [])]
    probes = sv.get("probes") or []
    if probes:
        lines.append("last probes     %s" % "  ".join(_probe(p) for p in probes[-5:]))
    return lines


def _probe(p):
    what = field(p.get("what"), 24)
    if not p.get("ok"):
        return "FAIL(%s)" % what
    return "%s %dms" % (what, _number(p["rtt_ms"])) if p.get("rtt_ms") is not None else what


def status(version, hostname, config_state, process_lines, st, cfg, cleared=None):
    """`show status`. The process (running or not, last exits, interfaces)
    comes from the console, read from the system; `st` is the status file
    of a daemon that runs, else None."""
    lines = ["outpost %s on %s" % (version, field(hostname)), "configuration   %s" % config_state] + list(process_lines)
    if st is not None:
        lines.append("registrations   %s" % field(st.get("registrations")))
        lines.append("transactions    %s, TCP connections %s" % (field(st.get("transactions")), field(st.get("tcp_connections"))))
        for err in (st.get("listen_errors") or [])[:8]:
            lines.append("listen error    %s (tried again every 10 s)" % field(err, 100))
        lines += counter_lines(st, cleared)
        c = st.get("counters") if isinstance(st.get("counters"), dict) else {}
        if c.get("internal_errors"):
            lines.append("internal errors %s (see log: each lost one message, nothing more)" % field(c["internal_errors"]))
    up = cfg.get("upstream") or {}
    lines.append("upstream        %s" % ("%s:%s (ping-upstream to probe it)" % (field(up["host"]), field(up.get("port", 5060)))
                                        if up.get("host") else "none configured"))
    relay = (st or {}).get("upstream")
    if relay:
        sv = st.get("survival") or {}
        lines.append("survival        %s: %s (show survival for the probes)" % (field(sv.get("state", "-")), field(relay.get("state"))))
        lines.append("calls           %d through the router, WAN address %s" % (len(st.get("calls") or []), field(relay.get("wan_address"))))
    return lines


def _since(now, base):
    """`now` less `base`, key by key, for the numbers both have."""
    base = base if isinstance(base, dict) else {}
    out = {}
    for k, v in (now if isinstance(now, dict) else {}).items():
        b = base.get(k)
        out[k] = v - b if isinstance(v, int) and isinstance(b, int) and 0 <= b <= v else v
    return out


def counter_lines(st, cleared):
    """The SIP counters, since `clear counters` when that snapshot is of
    this same daemon (pid and start time), else since it started."""
    same = isinstance(cleared, dict) and cleared.get("pid") == st.get("pid") and cleared.get("started") == st.get("started")
    cleared = cleared if same else {}
    c = _since(st.get("counters"), cleared.get("counters"))
    t = st.get("traffic") if isinstance(st.get("traffic"), dict) else {}
    base = cleared.get("traffic") if isinstance(cleared.get("traffic"), dict) else {}
    methods, classes = _since(t.get("methods"), base.get("methods")), _since(t.get("classes"), base.get("classes"))
    when = "since clear counters, %s ago" % _duration(max(0, int(time.time()) - _number(cleared["at"]))) if same else "since the daemon started"
    return ["SIP             %s requests, %s responses, %s malformed, %s rate-limited, %s refused (overload); %s" % (
                tuple(field(c.get(k)) for k in ("requests", "responses", "malformed", "rate_limited", "overload")) + (when,)),
            "requests in     %s" % ("  ".join("%s %s" % (field(k), field(v)) for k, v in methods.items() if v) or "none"),
            "responses in    %s" % ("  ".join("%s %s" % (field(k), field(v)) for k, v in classes.items() if v) or "none")]


def pinholes(nft_json):
    """`nft -j list map inet outpost media_dnat` output -> lines; None when unreadable."""
    try:
        items = [i["map"] for i in json.loads(nft_json)["nftables"] if "map" in i][0].get("elem", [])
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
    if not items:
        return ["no pinholes"]
    lines = ["%-10s %-24s %s" % ("WAN PORT", "TO PHONE", "EXPIRES")]
    for key, value in items:
        port = key["elem"]["val"] if isinstance(key, dict) else key
        phone = ":".join(str(x) for x in value["concat"]) if isinstance(value, dict) else str(value)
        expires = key.get("elem", {}).get("expires", "") if isinstance(key, dict) else ""
        lines.append("%-10s %-24s %ss" % (field(port), field(phone), field(expires)))
    return lines
