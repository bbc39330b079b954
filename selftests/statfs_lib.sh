# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Helpers of the statfs_*.sh tests (sourced after lib.sh): an emulator of
# uid 1000 mounts its status filesystem at $ST; only that uid may read it
# (a FUSE mount without allow_other refuses everyone else, root included).

# st_mountpoint - check FUSE is usable by uid 1000, make the mount point
# $ST (in a new $UV_TMP) owned by it; a mount left there is removed at exit
st_mountpoint() {
	uv_need setpriv fusermount3
	[ -c /dev/fuse ] || uv_skip "/dev/fuse is missing: kernel without FUSE"
	# Debian's udev rule (fuse package) makes /dev/fuse 0666; the VM's
	# devtmpfs leaves it 0600, and fusermount3 opens it as the user
	chmod 0666 /dev/fuse
	uv_tmpdir
	ST=$UV_TMP/st
	mkdir "$ST" && chown $UV_USER_UID:$UV_USER_UID "$ST" || uv_fail "mkdir $ST"
	uv_defer "st_mounted && fusermount3 -u -z '$ST'"
}

# statfs_setup - check the prerequisites, make $ST and a 64 MiB disk file
# $DISK owned by uid 1000
statfs_setup() {
	uv_need uvirtio-blk
	st_mountpoint
	DISK=$UV_TMP/disk
	truncate -s 64M "$DISK" && chown $UV_USER_UID "$DISK" || uv_fail "truncate $DISK"
}

# st_start ARG... - start uvirtio-blk --statfs $ST ARG... as uid 1000 and
# check the mount is there
st_start() {
	uv_blk_start --user --statfs "$ST" "$@" || uv_fail "emulator did not start"
	st_mounted || { cat "$UV_ERR"; uv_fail "no FUSE mount at $ST"; }
}

# st_wait_armed - wait until the emulator says its faults are armed (it
# waits for the driver's probe to finish first)
st_wait_armed() {
	local end=$((SECONDS + 20))
	until grep -q 'faults armed' "$UV_ERR"; do
		[ $SECONDS -lt $end ] || { cat "$UV_ERR"; uv_fail "faults not armed within 20 s"; }
		sleep 0.1
	done
}

# st_read FILE - a file of the status filesystem, read as its owner
st_read() {
	uv_as_user cat "$ST/$1"
}

# st_mounted - true while a FUSE filesystem is mounted at $ST
st_mounted() {
	awk -v d="$ST" '$2 == d && $3 ~ /^fuse/ { f = 1 } END { exit !f }' /proc/mounts
}

# st_wait_stuck ERE SECS - wait up to SECS for the stuck file to match ERE
# (whole file, newlines as spaces); sets ST_STUCK to what it said last and
# ST_WAITED to the seconds waited (with tenths)
st_wait_stuck() {
	local ere=$1 start=$EPOCHREALTIME end=$((SECONDS + $2))
	while :; do
		ST_STUCK=$(st_read stuck | tr '\n' ' ')
		ST_STUCK=${ST_STUCK% }
		[[ "$ST_STUCK" =~ $ere ]] && break
		[ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
	ST_WAITED=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	return 0
}

# st_idx NAME - a queue 0 index file as a number
st_idx() {
	local v
	v=$(st_read "queues/0/$1") || return 1
	echo "$v"
}

# st_counter NAME - one counter of queue 0
st_counter() {
	st_read queues/0/counters | awk -v n="$1" '$1 == n { print $2 }'
}

# st_pattern BYTES BLOCK - BYTES of random data into $UV_TMP/pattern and
# onto $DISK at 4 KiB block BLOCK (a place nothing else reads); sets
# ST_WANT to the pattern's sha256
st_pattern() {
	head -c "$1" /dev/urandom > "$UV_TMP/pattern"
	dd if="$UV_TMP/pattern" of="$DISK" bs=4096 seek="$2" conv=notrunc status=none ||
		uv_fail "cannot write the pattern to $DISK"
	ST_WANT=$(uv_sha256 "$UV_TMP/pattern")
}

# st_read_held BLOCK - a one-block direct read of $UV_NODE at BLOCK into
# $UV_TMP/read, in the background (the armed fault holds it); sets ST_DD to
# its pid and ST_T0 to when it started
st_read_held() {
	ST_T0=$EPOCHREALTIME
	dd if="$UV_NODE" of="$UV_TMP/read" bs=4096 skip="$1" count=1 iflag=direct status=none &
	ST_DD=$!
	uv_defer "kill -KILL $ST_DD"
}

# st_verdict_after SECS WHY - the stuck verdict ($ST_STUCK, just seen) came
# no sooner than SECS after $ST_T0; WHY says why it must wait that long
st_verdict_after() {
	local after
	after=$(awk -v a="$ST_T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	uv_log "stuck after ${after} s: $ST_STUCK"
	awk -v t="$after" -v m="$1" 'BEGIN { exit !(t >= m) }' ||
		uv_fail "verdict after only $after s ($2)"
}

# st_lift WANT - SIGUSR1 lifts the fault: the held read ($ST_DD) completes
# within 10 s with data of sha256 WANT, and stuck says ok within 5 s
st_lift() {
	local rc
	kill -USR1 "$UV_PID"
	uv_wait_exit "$ST_DD" 10
	rc=$?
	[ $rc = 0 ] || uv_fail "the read did not complete within 10 s of SIGUSR1 (rc $rc)"
	[ "$(uv_sha256 "$UV_TMP/read")" = "$1" ] || uv_fail "the read returned wrong data"
	uv_log "SIGUSR1: the read completed with the right data"
	st_wait_stuck '^ok$' 5 || uv_fail "stuck still says '$ST_STUCK' 5 s after the fault was lifted"
	uv_log "stuck says ok again"
}
