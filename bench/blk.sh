#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-blk beside the kernel's own block paths, in one VM boot (run by
# `make bench` through selftests/vm/run on the 6.12 lane, as root).
#
# fio, io_uring engine, O_DIRECT, on:
#   null_blk      /dev/nullb0: the kernel's null device, the limit
#   uv-null-1q    uvirtio-blk null:1G, one queue (served as uid 1000),
#                 its queue driven by io_uring commands (--notify uring)
#   uv-null-1q-efd  the same on the kick and call eventfds (--notify eventfd)
#   uv-null-1q-p20  the same with --poll-us 20 (the default before it
#                 became 500 us): a queue that sleeps soon after it runs
#                 dry, one more wake-up per request at low depth
#   uv-null-2q    uvirtio-blk null:1G --queues 2
#   vduse         qemu-storage-daemon's vduse-blk export of a null-co node
#   uv-file       uvirtio-blk on a 512 MiB file on tmpfs (--notify uring;
#                 --io auto maps the file)
#   uv-file-efd   the same on the eventfds
#   loop          the kernel loop device on the same file
# Tests: 4k randread QD1 (IOPS and mean latency), 4k randread QD32,
# 4k randwrite QD32, 128k sequential read QD8, each with 1 and 2 jobs.
#
# All paths are set up first. Each figure is BENCH_ROUNDS (3) runs of
# BENCH_RUNTIME (5) seconds, the paths taking turns run by run, so that the
# slow spells of a shared host (measured: the same run varies 2-4x from one
# minute to the next on these machines) fall on every path alike. About 22
# minutes with the defaults.
#
# Cost per request of each uvirtio path, beside its speed (they do not
# depend on how busy the host is): the emulator's context switches
# (csw/req), read/write-class system calls (sys/req: eventfd reads and
# writes; every system call with BENCH_SYSCALLS=1, see bench/cost.sh) and
# io_uring_enter calls (uvirtio-blk's own count, read with SIGUSR2 before
# and after each run; /proc counts no such call).
#
# Prints a table, then one line per figure for machines:
#   bench blk TEST PATH VALUE UNIT RATIO_TO_NULL_BLK
# VALUE is the median over the rounds; RATIO is the median over the rounds
# of VALUE divided by null_blk's VALUE in the same round (for the latency
# figures, lower is better, so a ratio above 1 is slower). A second table
# gives what a request costs the emulator of each uvirtio path (and
# qemu-storage-daemon for vduse): context switches and read/write-type
# system calls per request, from /proc before and after each run
# (bench/cost.sh), and for uvirtio-blk its io_uring_enter calls per
# request; requests counted in the disk's /sys/block/DEV/stat.
# What an I/O cost the whole guest, for every path: busy vCPU time per
# I/O (fio, kernel and emulator alike, polling included) and the share
# of the vCPUs that was busy, from /proc/stat; where both a path and
# null_blk keep every vCPU busy, null_blk's CPU time per I/O over the
# path's is the highest ratio the path can show.
# With both job counts, a third table sets each path's two-job median
# against its one-job median and the range of its one-job rounds (issue
# 18: two jobs may not fall below one by more than the host's noise).
#
# Settings, from the environment or as NAME=VALUE arguments (selftests/vm/run
# passes arguments, not the environment): BENCH_RUNTIME (seconds per run),
# BENCH_ROUNDS (runs per figure),
# BENCH_PATHS and BENCH_TESTS (space-separated subsets, for experiments;
# BENCH_TESTS may also name rr128k-qd8, rw128k-qd8, sr1m-qd8, sw1m-qd8,
# random or sequential 128k and 1M reads and writes, in MiB/s),
# BENCH_JOBS ("1 2"), BENCH_UV_ARGS (extra uvirtio-blk options),
# BENCH_FIO_ARGS (extra fio options, e.g. --cpus_allowed=1, for every path).
# A path named uvx-NAME is an experiment: uvirtio-blk run with the arguments
# in BENCH_UVX_NAME, e.g. BENCH_PATHS="null_blk uv-null-1q uvx-nohold"
# BENCH_UVX_nohold="--coalesce-us 0 null:1G"; the word FILE there stands for
# the file that uv-file and loop use. BENCH_QSET_NAME="ATTR=VALUE ..."
# sets /sys/block/DEV/queue/ATTR of path NAME (dashes as underscores);
# BENCH_PRE_NAME and BENCH_POST_NAME are shell commands run before and after
# each of its runs.
# BENCH_PROFILE="PATH..." profiles those paths' runs (bench/profile.sh):
# `perf record -a -g` over the middle of each run (cpu-clock, the only
# event a TCG guest has), then the share of each command, the top
# functions of each, and who holds interrupts off (with cpu-clock the time
# a CPU spends with interrupts off shows at the function that turns them
# on again, mostly _raw_spin_unlock_irqrestore: its callers name the
# locks). perf must be in the guest: UV_EXTRA_PROGS=perf make bench ...; a
# profile costs the run some speed, so compare its figures only with each
# other.
set -u
. "$(dirname "$0")/lib.sh"
bench_settings "$@"

RUNTIME=${BENCH_RUNTIME:-5}
ROUNDS=${BENCH_ROUNDS:-3}
PATHS=${BENCH_PATHS:-"null_blk uv-null-1q uv-null-1q-efd uv-null-1q-p20 uv-null-2q vduse uv-file uv-file-efd loop"}
TESTS=${BENCH_TESTS:-"rr4k-qd1 rr4k-qd32 rw4k-qd32 sr128k-qd8"}
JOBS=${BENCH_JOBS:-"1 2"}
UV_ARGS=${BENCH_UV_ARGS:-}
FIO_ARGS=${BENCH_FIO_ARGS:-}
DIR=$(mktemp -d /tmp/bench.XXXXXX)
chmod 0755 "$DIR"
RES=$DIR/results
COST=$DIR/cost
GCPU=$DIR/gcpu
: > "$RES"
: > "$COST"
: > "$GCPU"
. "$(dirname "$0")/cost.sh"
. "$(dirname "$0")/fio_lib.sh"
declare -A PID_OF	# path: its emulator's pid, for the cost per request
EMU_PIDS=()
EMU_PATHS=()
QSD_PID=
LOOP=
# with cpu-clock, time spent with interrupts off shows at the function
# that turns them on again: its callers name the locks
PROFILE_COMMS="fio uvirtio-blk qemu-storage-da"
PROFILE_CALLERS=_raw_spin_unlock_irqrestore
. "$(dirname "$0")/profile.sh"
trap cleanup EXIT

# cleanup - stop whatever is still running
cleanup() {
	uv_stop_all 2>/dev/null
	[ -z "$LOOP" ] || losetup -d "$LOOP" 2>/dev/null
	stop_vduse
	rm -rf "$DIR"
}

# make_file - the 512 MiB file of random data that uv-file and loop share
make_file() {
	[ -f "$DIR/file.img" ] && return 0
	dd if=/dev/urandom of="$DIR/file.img" bs=1M count=512 status=none
	chown 1000:1000 "$DIR/file.img"
}

# start_vduse - qemu-storage-daemon null-co export, attached through vdpa;
# sets NODE (empty if it failed) and QSD_PID (not to be run in a subshell,
# or stop_vduse cannot find what to stop)
start_vduse() {
	qemu-storage-daemon \
		--blockdev driver=null-co,node-name=n0,size=1073741824 \
		--export type=vduse-blk,id=e0,node-name=n0,name=vduse0,num-queues=2,writable=on \
		> "$DIR/qsd.log" 2>&1 &
	QSD_PID=$!
	NODE=$(vduse_attach vduse0)
}

# stop_vduse - detach and stop the VDUSE export
stop_vduse() {
	[ -n "$QSD_PID" ] || return 0
	vdpa dev del vduse0 2>/dev/null
	kill -TERM "$QSD_PID" 2>/dev/null
	wait "$QSD_PID" 2>/dev/null
	QSD_PID=
}

say "kernel $(uname -r), $(nproc) CPUs, ${RUNTIME}s per run, $ROUNDS round(s)"
# Every path is set up first and stays: the runs of one test then alternate
# between the paths, round after round (each round starting one path later),
# so that a slow spell of a shared host hits every path alike.
declare -A NODES
LIVE=()
for path in $PATHS; do
	node=
	case $path in
	null_blk)
		[ -b /dev/nullb0 ] || modprobe null_blk 2>/dev/null ||
			insmod /uvirtio/modules/null_blk.ko 2>/dev/null
		node=/dev/nullb0
		;;
	uv-null-1q) uv_start $path --notify uring null:1G; node=$NODE ;;
	uv-null-1q-efd) uv_start $path --notify eventfd null:1G; node=$NODE ;;
	uv-null-1q-p20) uv_start $path --poll-us 20 null:1G; node=$NODE ;;
	uv-null-2q) uv_start $path --queues 2 null:1G; node=$NODE ;;
	vduse)
		start_vduse
		node=$NODE
		PID_OF[$path]=$QSD_PID
		;;
	uvx-*)
		# an experiment: BENCH_UVX_NAME holds the uvirtio-blk arguments
		var=BENCH_UVX_${path#uvx-}
		if [ -z "${!var:-}" ]; then
			say "$path: $var is not set, skipped"
			continue
		fi
		args=()
		for a in ${!var}; do
			if [ "$a" = FILE ]; then
				make_file
				a=$DIR/file.img
			fi
			args+=("$a")
		done
		envvar=BENCH_UVXENV_${path#uvx-}
		UVX_ENV=${!envvar:-} uv_start "$path" "${args[@]}"
		node=$NODE
		;;
	uv-file|uv-file-efd|loop)
		make_file
		if [ $path = uv-file ]; then
			uv_start $path --notify uring "$DIR/file.img"
			node=$NODE
		elif [ $path = uv-file-efd ]; then
			uv_start $path --notify eventfd "$DIR/file.img"
			node=$NODE
		else
			LOOP=$(losetup -f --show "$DIR/file.img") && node=$LOOP
		fi
		;;
	*) say "$path: unknown path, skipped"; continue ;;
	esac
	if [ -z "$node" ] || [ ! -b "$node" ]; then
		say "$path: no device, skipped"
		continue
	fi
	# null_blk has no I/O scheduler by default; give every path the same
	# (virtio_blk and loop with one queue would get mq-deadline)
	echo none > "/sys/block/${node#/dev/}/queue/scheduler" 2>/dev/null
	# an experiment's queue settings: BENCH_QSET_NAME="ATTR=VALUE ..."
	var=BENCH_QSET_${path//-/_}
	for kv in ${!var:-}; do
		echo "${kv#*=}" > "/sys/block/${node#/dev/}/queue/${kv%%=*}" ||
			say "$path: cannot set queue/${kv%%=*}"
	done
	say "$path: $node, scheduler $(cat "/sys/block/${node#/dev/}/queue/scheduler"), $(ls -d /sys/block/${node#/dev/}/mq/* | wc -l) hw queue(s)"
	[ "${path#uv-}" = "$path" ] || say "$path: $(grep -h 'io_uring\|queue' "$DIR/$path.err" | head -n 2 | tr '\n' ' ')"
	NODES[$path]=$node
	LIVE+=("$path")
done

for test in $TESTS; do
	for jobs in $JOBS; do
		for round in $(seq "$ROUNDS"); do
			n=${#LIVE[@]}
			for i in $(seq 0 $((n - 1))); do
				path=${LIVE[$(((i + round - 1) % n))]}
				hook=BENCH_PRE_${path//-/_}
				[ -z "${!hook:-}" ] || eval "${!hook}"
				! profiled "$path" || profile_start "$RUNTIME"
				run_fio "$path" "${NODES[$path]}" "$test" "$jobs" "$round"
				! profiled "$path" || profile_report "$path $test j$jobs round $round"
				hook=BENCH_POST_${path//-/_}
				[ -z "${!hook:-}" ] || eval "${!hook}"
			done
		done
	done
done
uv_stop_all
stop_vduse
[ -z "$LOOP" ] || { losetup -d "$LOOP"; LOOP=; }

# jobs_table - issue 18's two-job goal: per test and path, the median with
# two fio jobs over the median with one, and the range of the one-job
# rounds (the host's noise for that path and test, in this boot); "within"
# when the two-job median is not below that range. Nothing without both
# job counts.
jobs_table() {
	awk "$BENCH_AWK_MEDIAN"'
	$5 == "IOPS" || $5 == "MiB/s" {
		if ($1 ~ /-j1$/) j = 1; else if ($1 ~ /-j2$/) j = 2; else next
		t = $1; sub(/-j[12]$/, "", t); k = t SUBSEP $2
		if (!(k in seen)) { seen[k] = 1; order[++n] = k }
		v[k, j] = v[k, j] " " $4
		if (j == 2) next
		if (!(k in lo) || $4 + 0 < lo[k] + 0) lo[k] = $4
		if (!(k in hi) || $4 + 0 > hi[k] + 0) hi[k] = $4
	}
	END {
		for (i = 1; i <= n; i++) {
			k = order[i]
			if (!((k, 1) in v) || !((k, 2) in v)) continue
			if (!head++)
				printf "two fio jobs against one (medians; one-job rounds from-to):\n%-12s %-16s %10s %10s %7s  %s\n", "test", "path", "1 job", "2 jobs", "2/1", "1-job rounds"
			split(k, tp, SUBSEP)
			m1 = median(v[k, 1]); m2 = median(v[k, 2])
			printf "%-12s %-16s %10.1f %10.1f %7.3f  %s-%s %s\n", tp[1], tp[2],
			       m1, m2, (m1 > 0 ? m2 / m1 : 0), lo[k], hi[k],
			       (m2 + 0 >= lo[k] + 0 ? "within" : "below")
		}
		if (head) printf "\n"
	}' "$RES"
}

echo "uvirtio-blk benchmark: kernel $(uname -r), $(nproc) vCPUs, fio io_uring O_DIRECT, ${RUNTIME}s per run, $ROUNDS interleaved round(s), scheduler none everywhere"
echo "each cell: median over the rounds (median ratio to null_blk in the same round)"
table
# the issue's other two comparisons, same-round ratios too
pair_ratios "uv-null-1q vduse" "uv-file loop" "uv-null-1q uv-null-1q-efd"
echo
jobs_table
guest_table null_blk
cost_table "$COST" request $PATHS
if [ -n "$COST_HIST" ]; then
	echo "system calls of each path's emulator over the whole bench, the most made first"
	cost_calls_drops
	for path in $PATHS; do
		[ -z "${PID_OF[$path]:-}" ] || cost_calls "$path" ${PID_OF[$path]}
	done
fi
echo
summary null_blk | sed 's/^/bench blk /'
