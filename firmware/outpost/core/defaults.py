"""Every default an admin can change, in one place, with its reason and
what happens at the bound. The config schema (runtime/config.py) takes
its defaults from here, and so do the core's constructors, so a value is
written once. Only numbers: importing this costs nothing.

Bounds that are not settings (how many contacts one source may map, how
long a header may be) live beside their tables: core/limits.py,
core/bounded.py and the modules that own the tables.
"""

# -- SIP timers (RFC 3261 §17.1.1.1), milliseconds -------------------------------
T1 = 500  # RTT estimate: the first retransmission interval
T2 = 4000  # the longest retransmission interval for non-INVITE requests
T4 = 5000  # how long a completed transaction absorbs retransmissions
TIMER_C = 181000  # RFC 3261 §16.6 step 11: a proxied INVITE's wait for a final answer, more than three minutes

# -- tables ------------------------------------------------------------------------
# Concurrent transactions, server and client together. A branch office with
# 200 phones peaks well under 1,000; the rest is headroom for floods. At the
# bound the oldest lingering one goes; with none, a new request gets 503.
# Memory per relayed request (a server and a client transaction, its
# context, timers and bytes; CPython 3.11 -OO, tracemalloc): about 2.5 KB
# in flight and 2.6 KB answered and absorbing retransmissions, so the table
# at its bound holds about 2.5 MB whatever the offered rate (tests/security:
# ended transactions and unanswered requests keep no parsed message). PSS
# counts more than the live objects (the allocator keeps its high-water
# mark): under bench/proxy_load.py's storm, 3,600 calls/s offered for 10 s,
# the daemon peaked at 31.2 MB with 4,096 and 23.2 MB with 2,048 (same
# session; at 1,200 calls/s 22.1 and 18.5 MB); since runtime/udp.py reads
# into one buffer, 24.3 MB at 5,400 offered (uvloop 29.9 at 4,800, ~6 MB of
# it uvloop's and OpenSSL's code). It was 8,192, then 4,096;
# at 2,048 lingering transactions go after 2,048 / (4 x calls/s) seconds
# instead of 32 (5 s at 100 calls/s), which only matters to a
# retransmission arriving that late.
MAX_TRANSACTIONS = 2048
# One source address may hold at most this share of the table in server
# transactions it is still waiting on (not yet answered). A host at its
# rate limit (RATE) with requests the upstream never answers would
# otherwise fill the whole table in 32 s (Timer F) and every other host's
# requests, the upstream's INVITEs too, would get 503. Answered ones
# (lingering: the first to go at the bound) do not count, so a busy peer's
# finished calls never hold it back; a branch's upstream waits on a few
# hundred ringing calls at most.
SHARE_PER_SOURCE = 4  # a quarter
# 1,000 phones with 3 devices each, with room to spare; a branch router with
# 256 MB holds 10,000 bindings in about 3 MB. At the bound REGISTER gets 503;
# past MAX_PER_AOR contacts for one address-of-record, 403.
MAX_BINDINGS = 10000
MAX_PER_AOR = 10

# -- registrar (seconds) -------------------------------------------------------------
# RFC 3261 §10.2.1.1 suggests 3600 as a default; 60 is the usual floor (RFC
# 3261 §20.23 example, Kamailio's min_expires). Below the floor: 423 with
# Min-Expires; above the ceiling the registrar grants the ceiling.
DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 7200

# -- digest --------------------------------------------------------------------------
# A nonce is good for this long after it was issued; then stale=true.
NONCE_TTL_S = 300

# -- per-source rate (core/ratelimit.py) ------------------------------------------------
# A phone sends a handful of requests a second at most. No source is exempt,
# the upstream included: its address is the easiest to forge (README "Threat
# model": spoofing it spends its allowance, nothing more). Over the rate,
# datagrams are dropped unparsed; past MAX_SOURCES, the sources no bucket
# tracks share one.
RATE = 200  # tokens (datagrams) per second
BURST = 400
MAX_SOURCES = 1024

# -- media -----------------------------------------------------------------------------
# RFC 3550 §11: RTP on an even port, RTCP on the next one. A branch router's
# default range holds 5,000 concurrent streams; out of ports, an offer gets
# 503 and nothing leaks.
PORT_MIN = 40000
PORT_MAX = 49999
# Calls through the ALG at once (an offer past it gets 503), and how long
# one may last before its pinholes close (a forgotten call holds ports).
MAX_CALLS = 500
MAX_CALL_S = 14400
# Juniper's default media inactivity timeout: a pinhole no packet refreshed
# for this long closes by itself.
MEDIA_IDLE_S = 120

# -- survival -------------------------------------------------------------------------
PROBE_INTERVAL_S = 10  # OPTIONS to the upstream this often
FAILURE_THRESHOLD = 3  # failed probes in a row before local survival
STABILITY_S = 30  # answers for this long before failing back
SURVIVAL_EXPIRES_S = 60  # REGISTER answered locally: phones come back soon
EMERGENCY_NUMBERS = ("112", "911")  # to the fallback trunk first of all, no challenge

# -- console ----------------------------------------------------------------------------
# A session nobody types in ends, so a console server's next user meets the
# login prompt.
CONSOLE_IDLE_S = 600

# -- TCP (runtime/transport.py) -----------------------------------------------------------
# Inbound connections in all and per source, outbound apart (strangers
# holding every inbound slot never keep us from the upstream). At a bound a
# new inbound connection is closed at once.
MAX_INBOUND = 256  # phones and peers connecting to us
MAX_OUTBOUND = 64  # ours: the upstream, a trunk, other domains' proxies; never taken by strangers
PER_SOURCE = 8  # inbound per address: a phone needs one or two, a PBX a few
FIRST_MESSAGE_S = 20  # a phone sends its REGISTER within an RTT of connecting; a silent one is closed
IDLE_S = 600  # RFC 5626 flows are kept alive well within this
# Four of the largest messages we accept (core.limits.MAX_MESSAGE_BYTES): a
# peer that reads drains that within a round trip; one that does not is cut.
BUFFER_KB = 256
