#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The eventfd path still serves: blk_basic.sh, blk_verify_ram.sh and
# blk_kill.sh with uvirtio-blk forced to its kick and call eventfds
# (--notify eventfd), now that io_uring commands are the default.
. "$(dirname "$0")/lib.sh"

rc=0
for t in blk_basic.sh blk_verify_ram.sh blk_kill.sh; do
	uv_log "--- $t with --notify eventfd"
	UV_BLK_ARGS="--notify eventfd" "$UV_DIR/$t" 2>&1 | sed 's/^/  /'
	[ "${PIPESTATUS[0]}" = 0 ] || { rc=1; uv_log "$t failed"; }
done
[ $rc = 0 ] || uv_fail "a test failed on the eventfd path"
uv_pass
