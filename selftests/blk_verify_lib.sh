# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# fio verify runs shared by blk_verify_*.sh (sourced after lib.sh).

# bv_fio WHAT NODE SIZE ARG... - one fio run; fails the test on any fio
# error or verify failure (fio exits non-zero for both; the summary's
# err= field is checked too)
bv_fio() {
	local what=$1 node=$2 size=$3 out
	shift 3
	out=$UV_TMP/fio.out
	if ! fio --name=v --filename="$node" --ioengine=io_uring --direct=1 \
		--size="$size" --verify=crc32c --verify_fatal=1 \
		--randrepeat=0 "$@" > "$out" 2>&1; then
		tail -n 20 "$out"
		uv_fail "$what: fio $* failed"
	fi
	grep -q 'err= 0' "$out" || { cat "$out"; uv_fail "$what: fio reports errors"; }
	grep -qi 'verify.*fail\|bad magic\|crc32c.*mismatch' "$out" &&
		{ cat "$out"; uv_fail "$what: verify failures"; }
	uv_log "$what: $* ok"
}

# bv_verify_set WHAT NODE SIZE - the set of runs the issue asks for
bv_verify_set() {
	local what=$1 node=$2 size=$3
	bv_fio "$what" "$node" "$size" --rw=randwrite --bsrange=512-1M --iodepth=1
	bv_fio "$what" "$node" "$size" --rw=randwrite --bsrange=512-1M --iodepth=64
	bv_fio "$what" "$node" "$size" --rw=randwrite --bs=4k --iodepth=64 --numjobs=2 \
		--offset_increment="$size" --size="$size" --group_reporting
	bv_fio "$what" "$node" "$size" --rw=randrw --bsrange=512-1M --iodepth=64 \
		--verify_backlog=16
}

# bv_check_copy WHAT PATTERN - the emulator's log names its bulk copy
bv_check_copy() {
	grep -q "uvirtio-[0-9]*: bulk copies by $2" "$UV_ERR" ||
		{ cat "$UV_ERR"; uv_fail "$1: no 'bulk copies by $2' line"; }
}

# what the log says of a copy chosen by measuring (--copy auto); used by
# the scripts that source this
# shellcheck disable=SC2034
BV_COPY_MEASURED=".* (measured: memcpy() [0-9.]* us, the loop [0-9.]* us)"

# bv_check_dmesg - fail on kernel log errors since the test started
bv_check_dmesg() {
	local errors
	errors=$(uv_dmesg_errors)
	[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
	uv_log "kernel log has no warnings"
}

# bv_check_queues N - the driver took min(N, CPUs) queues (virtio_blk never
# uses more queues than CPUs); sets BV_NQ
bv_check_queues() {
	local want=$1 cpus
	cpus=$(nproc)
	[ "$want" -le "$cpus" ] || want=$cpus
	BV_NQ=$(ls -d /sys/block/$UV_DISK/mq/* | wc -l)
	[ "$BV_NQ" = "$want" ] ||
		uv_fail "/sys/block/$UV_DISK/mq has $BV_NQ queues, expected $want"
}
