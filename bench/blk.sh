#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-blk beside the kernel's own block paths, in one VM boot (run by
# `make bench` through selftests/vm/run on the 6.12 lane, as root).
#
# fio, io_uring engine, O_DIRECT, BENCH_RUNTIME seconds per run (10), on:
#   null_blk      /dev/nullb0: the kernel's null device, the limit
#   uv-null-1q    uvirtio-blk null:1G, one queue (served as uid 1000)
#   uv-null-2q    uvirtio-blk null:1G --queues 2
#   vduse         qemu-storage-daemon's vduse-blk export of a null-co node
#   uv-file       uvirtio-blk on a 512 MiB file on tmpfs
#   loop          the kernel loop device on the same file
# Tests: 4k randread QD1 (IOPS and mean latency), 4k randread QD32,
# 4k randwrite QD32, 128k sequential read QD8, each with 1 and 2 jobs.
#
# Prints a table, then one line per figure for machines:
#   bench blk TEST PATH VALUE UNIT RATIO_TO_NULL_BLK
# RATIO is VALUE divided by null_blk's VALUE for the same TEST (for the
# latency figures, lower is better, so a ratio above 1 is slower).
#
# Settings, from the environment or as NAME=VALUE arguments (selftests/vm/run
# passes arguments, not the environment): BENCH_RUNTIME (seconds per run),
# BENCH_PATHS and BENCH_TESTS (space-separated subsets, for experiments),
# BENCH_JOBS ("1 2"), BENCH_UV_ARGS (extra uvirtio-blk options).
set -u
for a in "$@"; do
	case $a in
	BENCH_*=*) export "${a?}" ;;
	*) echo "usage: $0 [BENCH_NAME=VALUE]..." >&2; exit 2 ;;
	esac
done

RUNTIME=${BENCH_RUNTIME:-10}
PATHS=${BENCH_PATHS:-"null_blk uv-null-1q uv-null-2q vduse uv-file loop"}
TESTS=${BENCH_TESTS:-"rr4k-qd1 rr4k-qd32 rw4k-qd32 sr128k-qd8"}
JOBS=${BENCH_JOBS:-"1 2"}
UV_ARGS=${BENCH_UV_ARGS:-}
DIR=$(mktemp -d /tmp/bench.XXXXXX)
chmod 0755 "$DIR"
RES=$DIR/results
: > "$RES"
EMU_PID=
QSD_PID=
LOOP=
trap cleanup EXIT

# cleanup - stop whatever is still running
cleanup() {
	[ -z "$EMU_PID" ] || { kill -TERM "$EMU_PID"; wait "$EMU_PID"; } 2>/dev/null
	[ -z "$LOOP" ] || losetup -d "$LOOP" 2>/dev/null
	stop_vduse
	rm -rf "$DIR"
}

# say MSG... - progress on stderr
say() {
	echo "bench: $*" >&2
}

# uv_start ARG... - start uvirtio-blk as uid 1000, wait for its node;
# sets EMU_PID and NODE (not to be run in a subshell: EMU_PID must stay)
uv_start() {
	local out=$DIR/uv.out n
	: > "$out"
	NODE=
	setpriv --reuid=1000 --regid=1000 --clear-groups -- \
		${BENCH_UV_BIN:-uvirtio-blk} $UV_ARGS "$@" > "$out" 2> "$DIR/uv.err" &
	EMU_PID=$!
	for _ in $(seq 300); do
		n=$(tail -n 1 "$out")
		if [ -b "$n" ]; then
			NODE=$n
			return 0
		fi
		kill -0 $EMU_PID 2>/dev/null || break
		sleep 0.1
	done
	say "uvirtio-blk $* did not start: $(cat "$DIR/uv.err")"
	return 1
}

# uv_stop - SIGTERM the emulator, wait for it, show its queue counters
uv_stop() {
	[ -n "$EMU_PID" ] || return 0
	kill -TERM "$EMU_PID"
	wait "$EMU_PID"
	EMU_PID=
	grep -h ': queue [0-9]*:' "$DIR/uv.err" | sed 's/^/bench: /' >&2
}

# start_vduse - qemu-storage-daemon null-co export, attached through vdpa;
# prints the node
start_vduse() {
	local n
	qemu-storage-daemon \
		--blockdev driver=null-co,node-name=n0,size=1073741824 \
		--export type=vduse-blk,id=e0,node-name=n0,name=vduse0,num-queues=2,writable=on \
		> "$DIR/qsd.log" 2>&1 &
	QSD_PID=$!
	for _ in $(seq 100); do
		[ -e /dev/vduse/vduse0 ] && break
		sleep 0.1
	done
	if ! vdpa dev add name vduse0 mgmtdev vduse 2> "$DIR/vdpa.err"; then
		say "vduse: vdpa dev add failed: $(cat "$DIR/vdpa.err"); qemu-storage-daemon: $(head -c 400 "$DIR/qsd.log")"
		return 1
	fi
	# virtio_vdpa binds: /sys/bus/vdpa/devices/vduse0/virtioN/block/vdX
	for _ in $(seq 100); do
		for n in /sys/bus/vdpa/devices/vduse0/virtio*/block/*; do
			n=${n##*/}
			if [ "$n" != '*' ] && [ -b "/dev/$n" ]; then
				echo "/dev/$n"
				return 0
			fi
		done
		sleep 0.1
	done
	say "vduse: no disk appeared; qemu-storage-daemon: $(head -c 400 "$DIR/qsd.log")"
	return 1
}

# stop_vduse - detach and stop the VDUSE export
stop_vduse() {
	[ -n "$QSD_PID" ] || return 0
	vdpa dev del vduse0 2>/dev/null
	kill -TERM "$QSD_PID" 2>/dev/null
	wait "$QSD_PID" 2>/dev/null
	QSD_PID=
}

# run_fio PATH NODE TEST JOBS - one fio run; appends result lines
run_fio() {
	local path=$1 node=$2 test=$3 jobs=$4 rw bs qd t iops lat bw
	case $test in
	rr4k-qd1) rw=randread bs=4k qd=1 ;;
	rr4k-qd32) rw=randread bs=4k qd=32 ;;
	rw4k-qd32) rw=randwrite bs=4k qd=32 ;;
	sr128k-qd8) rw=read bs=128k qd=8 ;;
	esac
	t=$(fio --name=b --filename="$node" --ioengine=io_uring --direct=1 \
		--rw=$rw --bs=$bs --iodepth=$qd --numjobs="$jobs" \
		--size=512M --time_based \
		--runtime="$RUNTIME" --ramp_time=1 --group_reporting \
		--output-format=terse --terse-version=3 2> "$DIR/fio.err" |
		tail -n 1)
	if [ -z "$t" ]; then
		say "$path $test j$jobs: fio failed: $(head -c 300 "$DIR/fio.err")"
		return
	fi
	# terse v3: read iops 8, read lat mean 40 (us), write iops 49,
	# write lat mean 81, read bandwidth 7 (KiB/s)
	if [ $rw = randwrite ]; then
		iops=$(echo "$t" | awk -F';' '{ printf "%d", $49 }')
	else
		iops=$(echo "$t" | awk -F';' '{ printf "%d", $8 }')
	fi
	lat=$(echo "$t" | awk -F';' '{ printf "%.1f", $40 }')
	bw=$(echo "$t" | awk -F';' '{ printf "%.1f", $7 / 1024 }')
	if [ $test = sr128k-qd8 ]; then
		echo "$test-j$jobs $path $bw MiB/s" >> "$RES"
	else
		echo "$test-j$jobs $path $iops IOPS" >> "$RES"
	fi
	[ $test != rr4k-qd1 ] || echo "$test-j$jobs-lat $path $lat us" >> "$RES"
	say "$path $test j$jobs: $(tail -n 1 "$RES")"
}

# run_path PATH NODE - every test on one path
run_path() {
	local test jobs
	for test in $TESTS; do
		for jobs in $JOBS; do
			run_fio "$1" "$2" "$test" "$jobs"
		done
	done
}

# machine_lines - "bench blk TEST PATH VALUE UNIT RATIO" for every result
machine_lines() {
	awk '
	{ test[NR] = $1; path[NR] = $2; val[NR] = $3; unit[NR] = $4
	  if ($2 == "null_blk") ref[$1] = $3 }
	END {
		for (i = 1; i <= NR; i++) {
			r = (test[i] in ref && ref[test[i]] > 0) ?
				sprintf("%.3f", val[i] / ref[test[i]]) : "-"
			printf "bench blk %s %s %s %s %s\n", test[i], path[i],
			       val[i], unit[i], r
		}
	}' "$RES"
}

# table - one row per test, one column per path
table() {
	awk -v paths="$PATHS" '
	BEGIN { np = split(paths, p, " ") }
	{ v[$1, $2] = $3; u[$1] = $4; if (!($1 in seen)) { seen[$1] = 1; order[++nt] = $1 } }
	END {
		printf "%-22s %-6s", "test", "unit"
		for (j = 1; j <= np; j++) printf " %11s", p[j]
		printf "\n"
		for (i = 1; i <= nt; i++) {
			t = order[i]
			printf "%-22s %-6s", t, u[t]
			for (j = 1; j <= np; j++) {
				if ((t, p[j]) in v) printf " %11s", v[t, p[j]]
				else printf " %11s", "-"
			}
			printf "\n"
		}
	}' "$RES"
}

say "kernel $(uname -r), $(nproc) CPUs, ${RUNTIME}s per run"
for path in $PATHS; do
	node=
	case $path in
	null_blk)
		[ -b /dev/nullb0 ] || modprobe null_blk 2>/dev/null ||
			insmod /uvirtio/modules/null_blk.ko 2>/dev/null
		node=/dev/nullb0
		;;
	uv-null-1q) uv_start null:1G; node=$NODE ;;
	uv-null-2q) uv_start --queues 2 null:1G; node=$NODE ;;
	vduse) node=$(start_vduse) ;;
	uv-file|loop)
		if [ ! -f "$DIR/file.img" ]; then
			dd if=/dev/urandom of="$DIR/file.img" bs=1M count=512 status=none
			chown 1000:1000 "$DIR/file.img"
		fi
		if [ $path = uv-file ]; then
			uv_start "$DIR/file.img"
			node=$NODE
		else
			LOOP=$(losetup -f --show "$DIR/file.img") && node=$LOOP
		fi
		;;
	esac
	if [ -z "$node" ] || [ ! -b "$node" ]; then
		say "$path: no device, skipped"
		continue
	fi
	# null_blk has no I/O scheduler by default; give every path the same
	# (virtio_blk and loop with one queue would get mq-deadline)
	echo none > "/sys/block/${node#/dev/}/queue/scheduler" 2>/dev/null
	say "$path: $node, scheduler $(cat "/sys/block/${node#/dev/}/queue/scheduler"), $(ls -d /sys/block/${node#/dev/}/mq/* | wc -l) hw queue(s)"
	[ "${path#uv-}" = "$path" ] || say "$path: $(grep -h 'io_uring\|queue' "$DIR/uv.err" | head -n 2 | tr '\n' ' ')"
	run_path "$path" "$node"
	case $path in
	uv-*)
		uv_stop ;;
	vduse)
		stop_vduse ;;
	loop)
		losetup -d "$LOOP"; LOOP= ;;
	esac
done

echo "uvirtio-blk benchmark: kernel $(uname -r), $(nproc) vCPUs, fio io_uring O_DIRECT, ${RUNTIME}s per run, scheduler none everywhere"
table
echo
machine_lines
