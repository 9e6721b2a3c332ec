#!/usr/bin/env bash
# Outpost's one entry point.
#
#   ./build.sh [build]   build the firmware image into output/images/
#   ./build.sh --locked  the same, refusing a pin the archive no longer has
#   ./build.sh qemu      build if needed, boot it with the serial console here
#   ./build.sh test      install what the tests need, then run every test
#   ./build.sh pin       re-resolve the Debian packages into board/debian/packages.lock
#   ./build.sh --backend buildroot BUILDROOT_DIR   build with upstream Buildroot instead
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
#   qemu-system-arm, e2fsprogs: the image the system tests build and boot
#   nftables, iproute2: the pinhole tests' router namespace
#   kamailio: the upstream server (registrar and proxy) of the ALG tests
#   tshark: what crossed wan0 in those tests, read back from a capture
#   baresip-core, linphone-cli: real softphones (two independent SIP stacks) for the interop tests
TEST_APT_PACKAGES=(python3 python3-venv sip-tester qemu-system-arm e2fsprogs nftables iproute2 kamailio tshark baresip-core linphone-cli)

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
    if [ -z "${OUTPOST_DL:-}" ]; then
        # The image once from an empty download cache (about 30 MB, seconds):
        # a package the archive lost or an install step missing fails here,
        # not on a user's first build. The tests then use that cache.
        OUTPOST_DL=$(mktemp -d)
        export OUTPOST_DL
        trap 'rm -rf "$OUTPOST_DL"' EXIT
    fi
    say "the image, downloads in $OUTPOST_DL"
    cmd_build || rc=1
    say "core tests under MicroPython"
    "$VENV/bin/micropython" "$ROOT/tests/mpy_run.py" || rc=1
    say "all tests under CPython"
    (cd "$ROOT" && "$PY" -m pytest -q -ra tests "$@") || rc=1
    return $rc
}

# Host tools the Debian backend and QEMU need (dpkg-deb and apt-get are Debian's own).
IMAGE_APT_PACKAGES=(qemu-system-arm e2fsprogs)

cmd_build() {
    ensure_apt "${IMAGE_APT_PACKAGES[@]}"
    python3 "$ROOT/board/debian/assemble.py" "$@"
}

image_built() {
    [ -f "$ROOT/output/images/Image" ] && [ -f "$ROOT/output/images/rootfs.cpio.gz" ] && [ -f "$ROOT/output/images/data.img" ]
}

cmd_qemu() {
    image_built || cmd_build
    exec python3 "$ROOT/qemu/boot.py" "$@"
}

cmd_buildroot() {
    local br="${1:-}"
    [ -n "$br" ] && [ -f "$br/Makefile" ] || die "usage: ./build.sh --backend buildroot BUILDROOT_DIR"
    make -C "$br" O="$ROOT/output/buildroot" BR2_EXTERNAL="$ROOT" outpost_qemu_aarch64_virt_defconfig
    make -C "$br" O="$ROOT/output/buildroot"
    mkdir -p "$ROOT/output/images"
    cp "$ROOT/output/buildroot/images/Image" "$ROOT/output/buildroot/images/rootfs.cpio.gz" "$ROOT/output/images/"
    [ -e "$ROOT/output/images/data.img" ] || cp "$ROOT/output/buildroot/images/data.img" "$ROOT/output/images/"
}

case "${1:-build}" in
    test) shift; cmd_test "$@" ;;
    build) shift || true; cmd_build "$@" ;;
    --locked) cmd_build "$@" ;;
    pin) shift; cmd_build --pin "$@" ;;
    qemu) shift; cmd_qemu "$@" ;;
    --backend)
        case "${2:-}" in
            debian) shift 2; cmd_build "$@" ;;
            buildroot) shift 2; cmd_buildroot "$@" ;;
            *) die "backends: debian (default), buildroot" ;;
        esac ;;
    -h|--help|help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$1' (try ./build.sh --help)" ;;
esac
