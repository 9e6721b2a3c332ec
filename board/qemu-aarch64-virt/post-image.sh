#!/bin/sh
# Creates the data disk next to the images if there is none; an existing
# one holds config and state and is never overwritten.
set -e
DATA="${BINARIES_DIR}/data.img"
if [ ! -e "${DATA}" ]; then
	"${HOST_DIR}/sbin/mkfs.ext4" -q -L outpost-data -E root_owner=0:0 "${DATA}" 64M
fi
