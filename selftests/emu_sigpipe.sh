#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# SIGPIPE does not kill an emulator. Once the reader of its stderr has gone
# (a closed log pipe), SIGTERM must still remove the device cleanly and the
# emulator exit 0: both uvirtio-blk and uvirtio-net. And uvirtio-blk
# --statfs whose unmount watchdog was killed exits 0 on SIGTERM too (its
# goodbye to the watchdog meets a pipe without a reader).
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk uvirtio-net setpriv fusermount3
uv_tmpdir

# deaf_start NODEFILE PROG ARG... - start PROG ARG... with stderr into a pipe
# whose only reader takes the first line and exits; sets DEAF_PID. Waits
# for the first line of stdout (the node or interface) into NODEFILE.
deaf_start() {
	local nodefile=$1 fifo end reader
	shift
	fifo=$(mktemp -u "$UV_TMP/fifo.XXXXXX")
	mkfifo "$fifo" || uv_fail "mkfifo"
	head -n 1 < "$fifo" > "$nodefile.firstlog" &
	reader=$!
	( exec "$@" ) > "$nodefile" 2> "$fifo" < /dev/null &
	DEAF_PID=$!
	UV_EMULATORS+=("$DEAF_PID")
	end=$((SECONDS + UV_START_TIMEOUT))
	until [ -s "$nodefile" ]; do
		uv_proc_alive "$DEAF_PID" || { wait "$DEAF_PID"; uv_fail "$1 exited $? before it was ready (first log line: $(cat "$nodefile.firstlog"))"; }
		[ $SECONDS -lt $end ] || uv_fail "$1 not ready within $UV_START_TIMEOUT s"
		sleep 0.1
	done
	# the reader is gone once it took its one line
	for _ in $(seq 50); do
		uv_proc_alive "$reader" || break
		sleep 0.1
	done
	uv_proc_alive "$reader" && uv_fail "the stderr reader still runs"
	uv_log "$1: its stderr reader took '$(cat "$nodefile.firstlog")' and exited"
}

# deaf_stop NAME - SIGTERM DEAF_PID, which must exit 0 within UV_STOP_TIMEOUT
deaf_stop() {
	local rc
	kill -TERM "$DEAF_PID"
	uv_wait_exit "$DEAF_PID" "$UV_STOP_TIMEOUT"
	rc=$?
	[ $rc = 0 ] || uv_fail "$1 with a dead stderr reader exited $rc after SIGTERM (141: SIGPIPE; 255: still runs)"
}

deaf_start "$UV_TMP/blk.node" uvirtio-blk ram:16M
node=$(tail -n 1 "$UV_TMP/blk.node")
[ -b "$node" ] || uv_fail "uvirtio-blk printed '$node', not a disk"
deaf_stop uvirtio-blk
uv_wait_gone "$node" 5 || uv_fail "$node still there after SIGTERM"
uv_log "uvirtio-blk: SIGTERM removed $node, exit 0"

deaf_start "$UV_TMP/net.if" uvirtio-net "dgram:$UV_TMP/na,$UV_TMP/nb"
ifn=$(tail -n 1 "$UV_TMP/net.if")
ip link show "$ifn" > /dev/null 2>&1 || uv_fail "uvirtio-net named '$ifn', no such interface"
deaf_stop uvirtio-net
ip link show "$ifn" > /dev/null 2>&1 && uv_fail "$ifn still there after SIGTERM"
uv_log "uvirtio-net: SIGTERM removed $ifn, exit 0"

# the statfs watchdog killed, then SIGTERM
if [ -c /dev/fuse ]; then
	. "$UV_DIR/statfs_lib.sh"
	statfs_setup
	st_start "$DISK"
	disk=$UV_DISK
	wd=$(sed -n 's/.*unmount watchdog pid \([0-9]*\).*/\1/p' "$UV_ERR")
	[ -n "$wd" ] && uv_proc_alive "$wd" || { cat "$UV_ERR"; uv_fail "no watchdog process"; }
	kill -KILL "$wd"
	for _ in $(seq 50); do uv_proc_alive "$wd" || break; sleep 0.1; done
	uv_blk_stop || uv_fail "uvirtio-blk --statfs without its watchdog did not exit 0 on SIGTERM"
	uv_wait_gone "$disk" 5 || uv_fail "/dev/$disk still there after SIGTERM"
	st_mounted && uv_fail "$ST still mounted after the emulator exited"
	uv_log "uvirtio-blk --statfs, watchdog $wd killed: SIGTERM removed /dev/$disk, exit 0"
else
	uv_log "no /dev/fuse: the statfs watchdog case is not run"
fi

errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
