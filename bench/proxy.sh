#!/usr/bin/env bash
# Outpost against Kamailio under the same sipp load, in the same run; prints
# one line (see proxy_load.py for what is measured and how).
#   bench/proxy.sh [--seconds S] [--children N]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for tool in sipp kamailio; do
    command -v "$tool" >/dev/null || { echo "bench/proxy.sh: needs $tool (apt-get install sip-tester kamailio)" >&2; exit 1; }
done
[ -x "$ROOT/.venv/bin/python" ] || { echo "bench/proxy.sh: run ./build.sh test once first (it creates .venv/)" >&2; exit 1; }
exec "$ROOT/.venv/bin/python" "$ROOT/bench/proxy_load.py" "$@"
