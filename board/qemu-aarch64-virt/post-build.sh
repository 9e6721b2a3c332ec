#!/bin/sh
# Runs after the target tree is assembled. The image keeps no compiled-in
# default for the data disk: rcS copies /etc/outpost/outpost.json to /data
# on first boot. Nothing else differs from the overlay.
set -e
TARGET_DIR="$1"
mkdir -p "${TARGET_DIR}/data"
