#!/bin/sh
# Survival benchmark (root: network namespaces): detection, first local
# call, failback and dropped calls for outpost, against Kamailio's
# dispatcher probing the same upstream in the same run. One line out.
# Needs sip-tester, kamailio, nftables and the .venv of ./build.sh test.
set -e
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/survival.py "$@"
