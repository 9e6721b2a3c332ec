"""The runtime: what the sans-I/O core needs from the world (sockets,
clocks, files, signals, logs), on CPython."""
