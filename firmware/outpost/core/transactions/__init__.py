"""RFC 3261 §17 transactions (with RFC 6026's Accepted state), one machine
per file as a table; `layer.TransactionLayer` matches messages to them and
keeps their timers. Timer expiry is an input like a message."""
