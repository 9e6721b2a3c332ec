"""Named bounds for everything in the message layer that can grow.

Each limit says what happens at the bound. The tables' bounds that an
admin may change (transactions, bindings, sources) and the memory each
entry costs are in core/defaults.py. A peer hitting one gets the
status in the comment; nothing past the bound is ever buffered or parsed.
"""

# Largest message we accept on any transport. UDP cannot carry more than
# 65,507 bytes of payload over IPv4; TCP messages beyond that are not
# something a phone or a PBX sends (Kamailio's default BUF_SIZE is 65,535).
# At the bound: 513 Message Too Large.
MAX_MESSAGE_BYTES = 65535

# Largest body. SDP with audio+video+ICE is well under 8 KiB; multipart
# bodies with a PIDF-LO rarely pass 12 KiB. At the bound: 413.
MAX_BODY_BYTES = 32768

# Header fields (after unfolding) in one message. RFC 4475's longreq has
# about 60; real traffic has 10-30. At the bound: 513.
MAX_HEADER_FIELDS = 256

# Comma-separated values in one header field line (Via, Contact, Route).
# At the bound: 400 (a list this long is an attack, not a route set).
MAX_VALUES_PER_FIELD = 64

# Request-URI length. RFC 3261 sets none; Kamailio's default is 1,024 for
# the user part alone. At the bound: 414 Request-URI Too Long.
MAX_REQUEST_URI = 2048

# Parameters on one URI or header value. At the bound: 400.
MAX_PARAMS = 64

# Digits in a numeric field before we refuse to convert it: keeps int()
# linear and rejects RFC 4475 scalar02's 2**65 CSeq early. At the bound: 400.
MAX_DIGITS = 20

# Lines in an SDP body and m= sections in it. At the bound: 400.
MAX_SDP_LINES = 512
MAX_SDP_MEDIA = 16

# Edits recorded against one message before serialising. A proxy makes
# fewer than 20; more means a bug in our own code (LocalProtocolError).
MAX_EDITS = 256

# Distinct header-field names remembered after validating them once, so the
# common ones cost a dict lookup per line. Past the bound names are still
# accepted, just validated every time (a peer inventing names gains nothing).
MAX_NAME_CACHE = 256

# Parsed name-addr values (From, To, Contact, Route) remembered by their
# text, so a call's messages parse each once (sipmessage._addr). About 1 KB
# each, as only values up to MAX_CACHED_TEXT characters are kept (a phone's
# are under 200; a peer's 60 KB From is parsed, used and dropped); at the
# bound the cache is emptied and refills.
MAX_VALUE_CACHE = 64
MAX_CACHED_TEXT = 256
