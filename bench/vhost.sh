#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-vhost-user beside the kernel's other ways to a userspace block
# backend, in one VM boot (run by `make bench BENCH=vhost` through
# selftests/vm/run on the 6.12 lane, as root; nbd.ko is loaded for it).
#
# One qemu-storage-daemon (as root: VDUSE needs it) holds every backend:
#   uv-null    its null-co node, exported as vhost-user-blk, served to the
#              kernel by uvirtio-vhost-user --type blk (as uid 1000)
#   vduse      the same null-co node, exported as vduse-blk and attached
#              through vdpa (virtio_vdpa)
#   uv-qcow2   a 256 MiB qcow2 image of random data, exported as
#              vhost-user-blk, through uvirtio-vhost-user
#   nbd        a copy of that image (QEMU locks an image against a second
#              writer) through qemu-nbd --connect: the kernel nbd client
# Exports have BENCH_VHOST_QUEUES (1) queues each. fio, io_uring engine,
# O_DIRECT, one job: 4k randread QD1 (IOPS and mean latency), 4k randread
# QD32, 4k randwrite QD32, over the first 256 MiB of each disk. Each figure
# is BENCH_ROUNDS (3) runs of BENCH_RUNTIME (5) seconds, the paths taking
# turns run by run (as in bench/blk.sh, whose functions these are:
# bench/fio_lib.sh). About 6 minutes with the defaults.
#
# Prints a table (each cell: median value, and the median ratio to vduse in
# the same round), the ratios the issue asks about (uv-null / vduse and
# uv-qcow2 / nbd, same-round medians), and rows TEST-cpu: the milliseconds
# of CPU the front end used during each run (uv paths; the data path does
# not pass through it, so this should stay near 0), qemu-storage-daemon's
# (vduse) and qemu-nbd's (nbd); rows TEST-srvcpu: the backend's
# (qemu-storage-daemon for the uv paths and vduse, qemu-nbd for nbd). Then what a request costs those processes
# (context switches and read/write system calls, bench/cost.sh), and one
# line per figure for machines:
#   bench vhost TEST PATH VALUE UNIT RATIO_TO_VDUSE
# The goal: uv-null at least vduse's IOPS at QD1 and QD32, uv-qcow2 ahead
# of nbd at every depth.
#
# Settings, as NAME=VALUE arguments: BENCH_RUNTIME, BENCH_ROUNDS,
# BENCH_VHOST_PATHS and BENCH_VHOST_TESTS (space-separated subsets),
# BENCH_VHOST_QUEUES, BENCH_FIO_ARGS (extra fio options for every path).
# Without uvirtio-vhost-user in the guest the uv paths are skipped (said
# on stderr) and the rest still runs.
set -u
. "$(dirname "$0")/lib.sh"
bench_settings "$@"

RUNTIME=${BENCH_RUNTIME:-5}
ROUNDS=${BENCH_ROUNDS:-3}
PATHS=${BENCH_VHOST_PATHS:-"uv-null vduse uv-qcow2 nbd"}
TESTS=${BENCH_VHOST_TESTS:-"rr4k-qd1 rr4k-qd32 rw4k-qd32"}
Q=${BENCH_VHOST_QUEUES:-1}
FIO_ARGS=${BENCH_FIO_ARGS:-}
FIO_SIZE=256M
CPU_ROWS=1
BENCH_UV_BIN=uvirtio-vhost-user
UV_ARGS="--type blk --queues $Q"
DIR=$(mktemp -d /tmp/vhost-bench.XXXXXX)
chmod 0755 "$DIR"
RES=$DIR/results
COST=$DIR/cost
: > "$RES"
: > "$COST"
. "$(dirname "$0")/cost.sh"
. "$(dirname "$0")/fio_lib.sh"
declare -A PID_OF	# path: the process whose cost and CPU time are measured
EMU_PIDS=()
EMU_PATHS=()
QSD_PID=
NBD=
VDUSE=
trap cleanup EXIT

# cleanup - stop whatever is still running
cleanup() {
	uv_stop_all 2>/dev/null
	[ -z "$NBD" ] || qemu-nbd --disconnect "$NBD" > /dev/null 2>&1
	[ -z "$VDUSE" ] || vdpa dev del "$VDUSE" 2>/dev/null
	if [ -n "$QSD_PID" ]; then
		kill -TERM "$QSD_PID" 2>/dev/null
		wait "$QSD_PID" 2>/dev/null
	fi
	rm -rf "$DIR"
}

# make_images - the qcow2 image of 256 MiB of random data, and its copy
make_images() {
	dd if=/dev/urandom of="$DIR/data.raw" bs=1M count=256 status=none &&
		qemu-img convert -f raw -O qcow2 "$DIR/data.raw" "$DIR/uv.qcow2" &&
		cp "$DIR/uv.qcow2" "$DIR/nbd.qcow2" || return 1
	rm -f "$DIR/data.raw"
}

# start_qsd - the one qemu-storage-daemon with every export; waits for the
# two vhost-user sockets and opens them to uid 1000
start_qsd() {
	local s
	qemu-storage-daemon \
		--blockdev driver=null-co,node-name=n0,size=1073741824 \
		--blockdev driver=file,node-name=f0,filename="$DIR/uv.qcow2" \
		--blockdev driver=qcow2,node-name=q0,file=f0 \
		--export type=vduse-blk,id=e0,node-name=n0,name=vduse-vh,num-queues="$Q",writable=on \
		--export type=vhost-user-blk,id=e1,node-name=n0,addr.type=unix,addr.path="$DIR/null.sock",num-queues="$Q",writable=on \
		--export type=vhost-user-blk,id=e2,node-name=q0,addr.type=unix,addr.path="$DIR/qcow2.sock",num-queues="$Q",writable=on \
		> "$DIR/qsd.log" 2>&1 &
	QSD_PID=$!
	for s in null qcow2; do
		for _ in $(seq 100); do
			[ -S "$DIR/$s.sock" ] && break
			sleep 0.1
		done
		chmod 0666 "$DIR/$s.sock" 2>/dev/null ||
			{ say "qemu-storage-daemon made no $s.sock: $(head -c 400 "$DIR/qsd.log")"; return 1; }
	done
}

# start_nbd - qemu-nbd serving the image copy to /dev/nbd0; prints the node
start_nbd() {
	[ -b /dev/nbd0 ] || { say "nbd: no /dev/nbd0 (nbd.ko not loaded)"; return 1; }
	# qemu-nbd --connect keeps a socket there
	mkdir -p /var/lock
	qemu-nbd --connect=/dev/nbd0 --format=qcow2 "$DIR/nbd.qcow2" 2> "$DIR/nbd.err" ||
		{ say "nbd: qemu-nbd failed: $(head -c 300 "$DIR/nbd.err")"; return 1; }
	for _ in $(seq 100); do
		[ "$(cat /sys/block/nbd0/size 2>/dev/null)" -gt 0 ] 2>/dev/null && { echo /dev/nbd0; return 0; }
		sleep 0.1
	done
	say "nbd: /dev/nbd0 has no size after qemu-nbd --connect"
	return 1
}

say "kernel $(uname -r), $(nproc) CPUs, ${RUNTIME}s per run, $ROUNDS round(s), $Q queue(s) per export"
make_images || { say "cannot make the qcow2 image"; exit 1; }
start_qsd || exit 1
have_fe=1
command -v "$BENCH_UV_BIN" > /dev/null ||
	{ have_fe=0; say "$BENCH_UV_BIN is not in the guest: uv-null and uv-qcow2 skipped"; }
declare -A NODES
LIVE=()
for path in $PATHS; do
	node=
	case $path in
	uv-null|uv-qcow2)
		[ $have_fe = 1 ] || continue
		uv_start "$path" "$DIR/${path#uv-}.sock" && node=$NODE
		SERVER_OF[$path]=$QSD_PID
		;;
	vduse)
		node=$(vduse_attach vduse-vh) && VDUSE=vduse-vh
		PID_OF[$path]=$QSD_PID
		SERVER_OF[$path]=$QSD_PID
		;;
	nbd)
		node=$(start_nbd) && NBD=$node
		PID_OF[$path]=$(pidof qemu-nbd 2>/dev/null)
		SERVER_OF[$path]=${PID_OF[$path]}
		;;
	*) say "$path: unknown path, skipped"; continue ;;
	esac
	if [ -z "$node" ] || [ ! -b "$node" ]; then
		say "$path: no device, skipped"
		continue
	fi
	echo none > "/sys/block/${node#/dev/}/queue/scheduler" 2>/dev/null
	say "$path: $node, scheduler $(cat "/sys/block/${node#/dev/}/queue/scheduler"), $(ls -d /sys/block/${node#/dev/}/mq/* | wc -l) hw queue(s)"
	NODES[$path]=$node
	LIVE+=("$path")
done

for test in $TESTS; do
	for round in $(seq "$ROUNDS"); do
		n=${#LIVE[@]}
		for i in $(seq 0 $((n - 1))); do
			path=${LIVE[$(((i + round - 1) % n))]}
			run_fio "$path" "${NODES[$path]}" "$test" 1 "$round"
		done
	done
done
uv_stop_all

echo "vhost-user front end benchmark: kernel $(uname -r), $(nproc) vCPUs, fio io_uring O_DIRECT, 1 job, ${RUNTIME}s per run, $ROUNDS interleaved round(s), scheduler none everywhere, $Q queue(s) per export"
echo "each cell: median over the rounds (median ratio to vduse in the same round); TEST-cpu: CPU ms in a run of the front end (uv-*), qemu-storage-daemon (vduse), qemu-nbd (nbd); TEST-srvcpu: of the backend (qemu-storage-daemon, qemu-nbd)"
table vduse
pair_ratios "uv-null vduse" "uv-qcow2 nbd"
echo
cost_table "$COST" request $PATHS
echo
summary vduse | sed 's/^/bench vhost /'
