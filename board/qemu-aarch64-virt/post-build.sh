#!/bin/sh
# Runs after the target tree is assembled. The image keeps no compiled-in
# default for the data disk: rcS copies /etc/outpost/outpost.json to /data
# on first boot. Nothing else differs from the overlay. The build fails if
# anything but the outpost console could log someone in (THREAT-console.md).
set -e
TARGET_DIR="$1"
mkdir -p "${TARGET_DIR}/data"
if grep -Eq '^[^#]*(getty|login)' "${TARGET_DIR}/etc/inittab"; then
	echo "post-build.sh: a getty or login in /etc/inittab" >&2
	exit 1
fi
if ! grep -Eq '^root:[*!]' "${TARGET_DIR}/etc/shadow"; then
	echo "post-build.sh: root has a usable password in /etc/shadow" >&2
	exit 1
fi
