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
#   uv-null-1q-poll  the same with --poll-us 500: a queue that spins up to
#                 500 us for the next request before it sleeps (trades a
#                 CPU for the wake-up of the emulator at low depth)
#   uv-null-2q    uvirtio-blk null:1G --queues 2
#   vduse         qemu-storage-daemon's vduse-blk export of a null-co node
#   uv-file       uvirtio-blk on a 512 MiB file on tmpfs (--notify uring)
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
# (csw/req) and read/write-class system calls (sys/req: eventfd reads and
# writes; io_uring_enter is not among them, so the io_uring paths' count
# of it is in the per-queue line the emulator prints at exit).
#
# Prints a table, then one line per figure for machines:
#   bench blk TEST PATH VALUE UNIT RATIO_TO_NULL_BLK
# VALUE is the median over the rounds; RATIO is the median over the rounds
# of VALUE divided by null_blk's VALUE in the same round (for the latency
# figures, lower is better, so a ratio above 1 is slower). A second table
# gives what a request costs the emulator of each uvirtio path (and
# qemu-storage-daemon for vduse): context switches and read/write-type
# system calls per request, from /proc before and after each run
# (bench/cost.sh), requests counted in the disk's /sys/block/DEV/stat.
#
# Settings, from the environment or as NAME=VALUE arguments (selftests/vm/run
# passes arguments, not the environment): BENCH_RUNTIME (seconds per run),
# BENCH_ROUNDS (runs per figure),
# BENCH_PATHS and BENCH_TESTS (space-separated subsets, for experiments),
# BENCH_JOBS ("1 2"), BENCH_UV_ARGS (extra uvirtio-blk options),
# BENCH_FIO_ARGS (extra fio options, e.g. --cpus_allowed=1, for every path).
# A path named uvx-NAME is an experiment: uvirtio-blk run with the arguments
# in BENCH_UVX_NAME, e.g. BENCH_PATHS="null_blk uv-null-1q uvx-nohold"
# BENCH_UVX_nohold="--coalesce-us 0 null:1G"; the word FILE there stands for
# the file that uv-file and loop use. BENCH_QSET_NAME="ATTR=VALUE ..."
# sets /sys/block/DEV/queue/ATTR of path NAME (dashes as underscores);
# BENCH_PRE_NAME and BENCH_POST_NAME are shell commands run before and after
# each of its runs.
set -u
for a in "$@"; do
	case $a in
	BENCH_*=*) export "${a?}" ;;
	*) echo "usage: $0 [BENCH_NAME=VALUE]..." >&2; exit 2 ;;
	esac
done

RUNTIME=${BENCH_RUNTIME:-5}
ROUNDS=${BENCH_ROUNDS:-3}
PATHS=${BENCH_PATHS:-"null_blk uv-null-1q uv-null-1q-efd uv-null-1q-poll uv-null-2q vduse uv-file uv-file-efd loop"}
TESTS=${BENCH_TESTS:-"rr4k-qd1 rr4k-qd32 rw4k-qd32 sr128k-qd8"}
JOBS=${BENCH_JOBS:-"1 2"}
UV_ARGS=${BENCH_UV_ARGS:-}
FIO_ARGS=${BENCH_FIO_ARGS:-}
DIR=$(mktemp -d /tmp/bench.XXXXXX)
chmod 0755 "$DIR"
RES=$DIR/results
COST=$DIR/cost
: > "$RES"
: > "$COST"
. "$(dirname "$0")/cost.sh"
declare -A PID_OF	# path: its emulator's pid, for the cost per request
EMU_PIDS=()
EMU_PATHS=()
QSD_PID=
LOOP=
trap cleanup EXIT

# cleanup - stop whatever is still running
cleanup() {
	uv_stop_all 2>/dev/null
	[ -z "$LOOP" ] || losetup -d "$LOOP" 2>/dev/null
	stop_vduse
	rm -rf "$DIR"
}

# say MSG... - progress on stderr
say() {
	echo "bench: $*" >&2
}

# uv_start PATH ARG... - start uvirtio-blk as uid 1000 for PATH, wait for
# its node; sets NODE and records the pid (not to be run in a subshell)
uv_start() {
	local path=$1 out=$DIR/$1.out n pid
	shift
	: > "$out"
	NODE=
	setpriv --reuid=1000 --regid=1000 --clear-groups -- \
		env ${UVX_ENV:-} ${BENCH_UV_BIN:-uvirtio-blk} $UV_ARGS "$@" > "$out" 2> "$DIR/$path.err" &
	pid=$!
	PID_OF[$path]=$pid
	EMU_PIDS+=("$pid")
	EMU_PATHS+=("$path")
	for _ in $(seq 300); do
		n=$(tail -n 1 "$out")
		if [ -b "$n" ]; then
			NODE=$n
			return 0
		fi
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	say "uvirtio-blk $* did not start: $(cat "$DIR/$path.err")"
	return 1
}

# uv_stop_all - SIGTERM every emulator, wait, show their queue counters
uv_stop_all() {
	local i
	for i in "${!EMU_PIDS[@]}"; do
		kill -TERM "${EMU_PIDS[$i]}" 2>/dev/null
		wait "${EMU_PIDS[$i]}" 2>/dev/null
		grep -h ': queue [0-9]*:' "$DIR/${EMU_PATHS[$i]}.err" |
			sed "s/^/bench: ${EMU_PATHS[$i]}: /" >&2
	done
	EMU_PIDS=()
	EMU_PATHS=()
}

# make_file - the 512 MiB file of random data that uv-file and loop share
make_file() {
	[ -f "$DIR/file.img" ] && return 0
	dd if=/dev/urandom of="$DIR/file.img" bs=1M count=512 status=none
	chown 1000:1000 "$DIR/file.img"
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

# requests NODE - requests the disk completed (reads + writes)
requests() {
	awk '{ print $1 + $5 }' "/sys/block/${1#/dev/}/stat"
}

# run_fio PATH NODE TEST JOBS ROUND - one fio run; appends result lines
# "TEST PATH ROUND VALUE UNIT", and the emulator's cost per request to the
# cost file
run_fio() {
	local path=$1 node=$2 test=$3 jobs=$4 round=$5 rw bs qd t iops lat bw
	local pid=${PID_OF[$1]:-} c0 r0
	case $test in
	rr4k-qd1) rw=randread bs=4k qd=1 ;;
	rr4k-qd32) rw=randread bs=4k qd=32 ;;
	rw4k-qd32) rw=randwrite bs=4k qd=32 ;;
	sr128k-qd8) rw=read bs=128k qd=8 ;;
	esac
	if [ -n "$pid" ]; then
		r0=$(requests "$node")
		c0=$(cost_proc $pid)
	fi
	t=$(fio --name=b --filename="$node" --ioengine=io_uring --direct=1 \
		--rw=$rw --bs=$bs --iodepth=$qd --numjobs="$jobs" \
		--size=512M --time_based \
		--runtime="$RUNTIME" --ramp_time=1 --group_reporting $FIO_ARGS \
		--output-format=terse --terse-version=3 2> "$DIR/fio.err" |
		tail -n 1)
	[ -z "$pid" ] || cost_record "$COST" "$test-j$jobs" "$path" "$round" \
		"$c0" "$(cost_proc $pid)" $(($(requests "$node") - r0))
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
		echo "$test-j$jobs $path $round $bw MiB/s" >> "$RES"
	else
		echo "$test-j$jobs $path $round $iops IOPS" >> "$RES"
	fi
	say "round $round: $path $test j$jobs: $(tail -n 1 "$RES" | cut -d' ' -f4-)"
	[ $test != rr4k-qd1 ] || echo "$test-j$jobs-lat $path $round $lat us" >> "$RES"
}

# summary [REF] - per TEST and PATH: the median VALUE over the rounds and
# the median over the rounds of VALUE / REF's VALUE in the same round (REF:
# null_blk); prints "TEST PATH VALUE UNIT RATIO" in the order of first
# appearance
summary() {
	awk -v refpath="${1:-null_blk}" '
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 2; i <= n; i++)	# insertion sort, n is small
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		if (n % 2) return a[(n + 1) / 2]
		return (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ k = $1 SUBSEP $2
	  if (!(k in vals)) { order[++nk] = k; unit[k] = $5 }
	  vals[k] = vals[k] " " $4
	  val[$1, $2, $3] = $4
	  if ($2 == refpath) ref[$1, $3] = $4
	  rounds[k] = rounds[k] " " $3 }
	END {
		for (i = 1; i <= nk; i++) {
			k = order[i]; split(k, tp, SUBSEP)
			nr = split(rounds[k], rs, " "); rat = ""
			for (j = 1; j <= nr; j++)
				if ((tp[1], rs[j]) in ref && ref[tp[1], rs[j]] > 0)
					rat = rat " " val[tp[1], tp[2], rs[j]] / ref[tp[1], rs[j]]
			m = median(vals[k])
			printf "%s %s %s %s %s\n", tp[1], tp[2],
			       (unit[k] == "IOPS") ? sprintf("%d", m) : sprintf(unit[k] ~ /\/req$/ ? "%.2f" : "%.1f", m),
			       unit[k], rat == "" ? "-" : sprintf("%.3f", median(rat))
		}
	}' "$RES"
}

# table - one row per test, one column per path: median value (ratio)
table() {
	summary | awk -v paths="$PATHS" '
	BEGIN { np = split(paths, p, " ") }
	{ v[$1, $2] = $3; r[$1, $2] = $5; u[$1] = $4
	  if (!($1 in seen)) { seen[$1] = 1; order[++nt] = $1 } }
	END {
		printf "%-18s %-6s", "test", "unit"
		for (j = 1; j <= np; j++) printf " %17s", p[j]
		printf "\n"
		for (i = 1; i <= nt; i++) {
			t = order[i]
			printf "%-18s %-6s", t, u[t]
			for (j = 1; j <= np; j++) {
				if ((t, p[j]) in v)
					printf " %17s", v[t, p[j]] " (" (p[j] == "null_blk" ? "1" : r[t, p[j]]) ")"
				else printf " %17s", "-"
			}
			printf "\n"
		}
	}'
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
	uv-null-1q-poll) uv_start $path --poll-us 500 null:1G; node=$NODE ;;
	uv-null-2q) uv_start $path --queues 2 null:1G; node=$NODE ;;
	vduse)
		node=$(start_vduse)
		PID_OF[$path]=$(pidof qemu-storage-daemon 2>/dev/null)
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
				run_fio "$path" "${NODES[$path]}" "$test" "$jobs" "$round"
				hook=BENCH_POST_${path//-/_}
				[ -z "${!hook:-}" ] || eval "${!hook}"
			done
		done
	done
done
uv_stop_all
stop_vduse
[ -z "$LOOP" ] || { losetup -d "$LOOP"; LOOP=; }

echo "uvirtio-blk benchmark: kernel $(uname -r), $(nproc) vCPUs, fio io_uring O_DIRECT, ${RUNTIME}s per run, $ROUNDS interleaved round(s), scheduler none everywhere"
echo "each cell: median over the rounds (median ratio to null_blk in the same round)"
table
# the issue's other two comparisons, same-round ratios too
for pair in "uv-null-1q vduse" "uv-file loop" "uv-null-1q uv-null-1q-efd"; do
	set -- $pair
	case " ${LIVE[*]} " in *" $1 "*) ;; *) continue ;; esac
	case " ${LIVE[*]} " in *" $2 "*) ;; *) continue ;; esac
	summary "$2" | awk -v p="$1" -v r="$2" '$2 == p {
		printf "%-18s %s / %s = %s\n", $1, p, r, $5 }'
done
echo
cost_table "$COST" request $PATHS
echo
summary | sed 's/^/bench blk /'
