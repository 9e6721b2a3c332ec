"""Outpost: SIP proxy, registrar and ALG for branch-office routers."""

__version__ = "0.1.0"
