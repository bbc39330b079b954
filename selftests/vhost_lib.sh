# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Helpers of the vhost-user front end's tests (sourced after lib.sh):
# qemu-storage-daemon as uid 1000 exporting an image as vhost-user-blk,
# and uvirtio-vhost-user started through lib.sh's uv_blk_start.

# vh_qsd_start IMAGE FORMAT SOCKET - export IMAGE (raw or qcow2) with
# num-queues=2 on SOCKET as uid 1000; sets VH_QSD_PID (the daemon itself)
# and VH_QSD_ERR; returns 1, with its output, if the socket does not
# appear within 10 s
vh_qsd_start() {
	local img=$1 fmt=$2 sock=$3
	VH_QSD_ERR=$(mktemp "$UV_TMP/qsd.err.XXXXXX")
	chmod 0666 "$VH_QSD_ERR"
	rm -f "$sock"
	(
		exec env HOME=/tmp setpriv --reuid=$UV_USER_UID --regid=$UV_USER_UID \
			--clear-groups -- qemu-storage-daemon \
			--blockdev driver=file,node-name=file0,filename="$img" \
			--blockdev driver="$fmt",node-name=fmt0,file=file0 \
			--export type=vhost-user-blk,id=exp0,node-name=fmt0,writable=on,num-queues=2,addr.type=unix,addr.path="$sock"
	) > "$VH_QSD_ERR" 2>&1 < /dev/null &
	VH_QSD_PID=$!
	UV_EMULATORS+=("$VH_QSD_PID")
	for _ in $(seq 100); do
		[ -S "$sock" ] && return 0
		uv_proc_alive "$VH_QSD_PID" || break
		sleep 0.1
	done
	echo "qemu-storage-daemon did not listen on $sock:"
	sed 's/^/  /' "$VH_QSD_ERR"
	return 1
}

# vh_front_start SOCKET [ARG]... - uvirtio-vhost-user as uid 1000 on SOCKET;
# the variables and return value of uv_blk_start
vh_front_start() {
	local sock=$1
	shift
	UV_BLK_PROG=uvirtio-vhost-user uv_blk_start --user "$@" "$sock"
}

# vh_raw_export [ARG]... - a 64 MiB raw image of uid 1000 (VH_IMG) exported
# by vh_qsd_start on VH_SOCK and served by vh_front_start with ARGs; fails
# the test if a step does. After uv_tmpdir, with $UV_TMP writable by uid 1000.
vh_raw_export() {
	VH_IMG=$UV_TMP/disk.raw
	VH_SOCK=$UV_TMP/vu.sock
	uv_as_user truncate -s 64M "$VH_IMG" || uv_fail "truncate"
	vh_qsd_start "$VH_IMG" raw "$VH_SOCK" || uv_fail "qemu-storage-daemon"
	vh_front_start "$VH_SOCK" "$@" ||
		uv_fail "uvirtio-vhost-user did not serve the export"
}

# vh_uptime_ms - milliseconds since boot (10 ms resolution)
vh_uptime_ms() {
	local up
	read -r up _ < /proc/uptime
	echo $((10#${up/./} * 10))
}

# vh_cpu_ms PID - CPU time of PID's live threads so far, in ms, from the
# scheduler's exact run time (/proc/PID/task/*/schedstat): the tick-sampled
# utime and stime of /proc/PID/stat read 0 for a qemu-storage-daemon that
# had run 15 s of 21 (6.12 under TCG). Without schedstat (a kernel without
# CONFIG_SCHED_INFO), those are all there is.
vh_cpu_ms() {
	local ns=0 t run stat
	if [ ! -e "/proc/$1/schedstat" ]; then
		read -r stat < "/proc/$1/stat" || return 1
		# past "(comm)": field 3 is the state; utime and stime are 14, 15
		set -- ${stat##*) }
		echo $((($12 + $13) * 10))
		return 0
	fi
	for t in /proc/$1/task/*/schedstat; do
		read -r run _ < "$t" 2>/dev/null || continue
		ns=$((ns + run))
	done
	echo $((ns / 1000000))
}

# vh_fio_engine - io_uring if fio may use it here, else libaio
vh_fio_engine() {
	if fio --name=probe --filename="$UV_TMP/probe" --size=64k --bs=4k --rw=read \
	       --ioengine=io_uring --output=/dev/null > /dev/null 2>&1; then
		echo io_uring
	else
		echo libaio
	fi
}
