#!/usr/bin/env bash
# Outpost's one entry point.
#
#   ./build.sh [build]   build the firmware image into output/images/
#   ./build.sh qemu      build if needed, boot it with the serial console here
#   ./build.sh test      install what the tests need, then run every test
#
# Everything it installs goes into .venv/ (Python) or comes from apt-get
# (system packages, only those missing); a second run installs nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

# System packages the tests need. Only missing ones are installed.
#   sip-tester: sipp, the phones and upstreams of the integration tests
TEST_APT_PACKAGES=(python3 python3-venv sip-tester)

apt_missing() {
    local p missing=()
    for p in "$@"; do
        dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
    done
    printf '%s\n' "${missing[@]}"
}

ensure_apt() {
    local missing
    mapfile -t missing < <(apt_missing "$@" | sed '/^$/d')
    [ "${#missing[@]}" -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing system packages: ${missing[*]} (run as root, or install them)"
    say "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

host_python() {
    # Any CPython 3.11+ with venv will do; Debian's if there is no other.
    local p
    for p in python3.11 python3; do
        if command -v "$p" >/dev/null && "$p" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$p"; return 0
        fi
    done
    return 1
}

ensure_venv() {
    local req="$ROOT/tests/requirements.txt" stamp="$VENV/.outpost-stamp" want python
    python=$(host_python) || { ensure_apt "${TEST_APT_PACKAGES[@]}"; python=$(host_python) || die "no Python 3.11+ with venv"; }
    want="$(sha256sum "$req" | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version.split()[0])')"
    if [ -x "$PY" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    say "creating $VENV with $python"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
    "$PY" -m pip install -q --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
}

cmd_test() {
    ensure_apt "${TEST_APT_PACKAGES[@]}"
    ensure_venv
    local rc=0
    say "core tests under MicroPython"
    "$VENV/bin/micropython" "$ROOT/tests/mpy_run.py" || rc=1
    say "all tests under CPython"
    (cd "$ROOT" && "$PY" -m pytest -q -ra tests "$@") || rc=1
    return $rc
}

cmd_build() {
    die "the firmware image is not built yet: the [image] issue adds the build (see README.md)"
}

cmd_qemu() {
    die "not built yet: there is no firmware image to boot until the [image] issue lands (see README.md)"
}

case "${1:-build}" in
    test) shift; cmd_test "$@" ;;
    build) cmd_build ;;
    qemu) shift; cmd_qemu "$@" ;;
    -h|--help|help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$1' (try ./build.sh --help)" ;;
esac
