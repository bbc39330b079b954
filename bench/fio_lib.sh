# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# fio_lib.sh - what the block benchmarks share (bench/blk.sh, bench/vhost.sh;
# sourced, not run): starting emulators as uid 1000, attaching a VDUSE
# device, one fio run per path and test, and the table and ratios
# of the results (their medians: lib.sh).
#
# The sourcing script sets: DIR (scratch directory), RES and COST (result
# and cost files), RUNTIME (seconds per run), FIO_ARGS (extra fio options),
# UV_ARGS (options before an emulator's own), PATHS (the table's columns),
# PID_OF (associative array: path -> pid whose cost per request is
# measured), EMU_PIDS and EMU_PATHS (arrays, empty), and sources cost.sh.
# Optional: FIO_SIZE (the region fio uses, 512M), CPU_ROWS=1 (also record
# the CPU milliseconds PID_OF's process used in each run, as test
# TEST-cpu, unit ms, and those of the process SERVER_OF[path] names, the
# backend behind the path, as TEST-srvcpu).

# path -> pid of the backend behind it, for CPU_ROWS (declared here so that
# a script without backends of its own can leave it empty under set -u)
declare -A SERVER_OF=()

# say MSG... - progress on stderr
say() {
	echo "bench: $*" >&2
}

# uv_start PATH ARG... - start uvirtio-blk as uid 1000 for PATH, wait for
# its node; sets NODE and records the pid (not to be run in a subshell)
uv_start() {
	local path=$1 out=$DIR/$1.out n pid warn
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
			# a pool some queues could not register (the pins of
			# every emulator of uid 1000 count against one
			# RLIMIT_MEMLOCK): that path's figures are not
			# comparable with the others'
			warn=$(grep -m 1 "registered as fixed buffer by" "$DIR/$path.err")
			[ -z "$warn" ] || say "warning: $path: ${warn#*: }"
			return 0
		fi
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	say "${BENCH_UV_BIN:-uvirtio-blk} $* did not start: $(cat "$DIR/$path.err")"
	return 1
}

# uv_stop_all - SIGTERM every emulator, wait, show their queue counters
uv_stop_all() {
	local i
	for i in "${!EMU_PIDS[@]}"; do
		kill -TERM "${EMU_PIDS[$i]}" 2>/dev/null
		wait "${EMU_PIDS[$i]}" 2>/dev/null
		# the last line of each queue: the exit's (SIGUSR2 printed more)
		grep -h ': queue [0-9]*:' "$DIR/${EMU_PATHS[$i]}.err" |
			awk '{ match($0, /: queue [0-9]+:/); k = substr($0, RSTART, RLENGTH)
			       if (!(k in last)) order[++n] = k; last[k] = $0 }
			     END { for (i = 1; i <= n; i++) print last[order[i]] }' |
			sed "s/^/bench: ${EMU_PATHS[$i]}: /" >&2
	done
	EMU_PIDS=()
	EMU_PATHS=()
}

# vduse_attach NAME - attach the VDUSE device NAME (made by
# qemu-storage-daemon, whose log is $DIR/qsd.log) through vdpa and wait for
# virtio_vdpa's disk; prints its node
vduse_attach() {
	local name=$1 n
	for _ in $(seq 100); do
		[ -e "/dev/vduse/$name" ] && break
		sleep 0.1
	done
	if ! vdpa dev add name "$name" mgmtdev vduse 2> "$DIR/vdpa.err"; then
		say "vduse: vdpa dev add failed: $(cat "$DIR/vdpa.err"); qemu-storage-daemon: $(head -c 400 "$DIR/qsd.log")"
		return 1
	fi
	# virtio_vdpa binds: /sys/bus/vdpa/devices/NAME/virtioN/block/vdX
	for _ in $(seq 100); do
		for n in /sys/bus/vdpa/devices/"$name"/virtio*/block/*; do
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

# cpu_ms PID - milliseconds of CPU time (user + system) PID has used
cpu_ms() {
	local stat
	read -r stat 2>/dev/null < "/proc/$1/stat" || { echo 0; return; }
	set -- ${stat##*) }
	echo $(( (${12} + ${13}) * 1000 / $(getconf CLK_TCK 2>/dev/null || echo 100) ))
}

# guest_ticks - "BUSY ALL" clock ticks of all vCPUs so far, from /proc/stat
# (busy: all but idle and iowait; guest time is inside user time already)
guest_ticks() {
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i
			   print t - $5 - $6, t; exit }' /proc/stat
}

# sectors NODE - 512-byte sectors the disk read and wrote
sectors() {
	awk '{ print $3 + $7 }' "/sys/block/${1#/dev/}/stat"
}

# requests NODE - requests the disk completed (reads + writes)
requests() {
	awk '{ print $1 + $5 }' "/sys/block/${1#/dev/}/stat"
}

# uring_enters PATH - io_uring_enter() calls PATH's uvirtio-blk made so far,
# summed over its queues (its own count: SIGUSR2 makes it print each
# queue's counters on stderr, $DIR/PATH.err); nothing for other programs
# (SIGUSR2 would end them) or an emulator that does not answer in 2 s
uring_enters() {
	local pid=${PID_OF[$1]:-} err=$DIR/$1.err n0 n last=-1 comm
	[ -n "$pid" ] && [ -f "$err" ] || return 0
	read -r comm 2>/dev/null < "/proc/$pid/comm" || return 0
	[ "$comm" = uvirtio-blk ] || return 0
	n0=$(grep -c ': queue [0-9]*:' "$err")
	kill -USR2 "$pid" 2>/dev/null || return 0
	# every queue's line: the count grew and held for 50 ms
	for _ in $(seq 40); do
		sleep 0.05
		n=$(grep -c ': queue [0-9]*:' "$err")
		[ "$n" -gt "$n0" ] && [ "$n" -eq "$last" ] && break
		last=$n
	done
	[ "$n" -gt "$n0" ] || return 0
	grep ': queue [0-9]*:' "$err" | tail -n $((n - n0)) |
		sed -n 's/.* \([0-9][0-9]*\) io_uring_enter\(, .*\)\{0,1\}$/\1/p' |
		awk '{ s += $1 } END { print s + 0 }'
}

# run_fio PATH NODE TEST JOBS ROUND - one fio run; appends result lines
# "TEST PATH ROUND VALUE UNIT", and the emulator's cost per request to the
# cost file
run_fio() {
	local path=$1 node=$2 test=$3 jobs=$4 round=$5 rw bs qd t iops lat bw kb
	local pid=${PID_OF[$1]:-} spid=${SERVER_OF[$1]:-} c0 r0 cpu0 scpu0 g0 g1 gr0
	case $test in
	rr4k-qd1) rw=randread bs=4k qd=1 ;;
	rr4k-qd32) rw=randread bs=4k qd=32 ;;
	rw4k-qd32) rw=randwrite bs=4k qd=32 ;;
	sr128k-qd8) rw=read bs=128k qd=8 ;;
	# large requests, for experiments (BENCH_TESTS)
	rr128k-qd8) rw=randread bs=128k qd=8 ;;
	rw128k-qd8) rw=randwrite bs=128k qd=8 ;;
	sr1m-qd8) rw=read bs=1024k qd=8 ;;
	sw1m-qd8) rw=write bs=1024k qd=8 ;;
	*) say "unknown test $test"; return ;;
	esac
	kb=${bs%k}
	if [ -n "$pid" ]; then
		r0=$(requests "$node")
		c0="$(cost_proc $pid) $(uring_enters "$path")"
		cpu0=$(cpu_ms $pid)
	fi
	[ -z "$spid" ] || scpu0=$(cpu_ms $spid)
	gr0=$(sectors "$node")
	g0=$(guest_ticks)
	t=$(fio --name=b --filename="$node" --ioengine=io_uring --direct=1 \
		--rw=$rw --bs=$bs --iodepth=$qd --numjobs="$jobs" \
		--size="${FIO_SIZE:-512M}" --time_based \
		--runtime="$RUNTIME" --ramp_time=1 --group_reporting $FIO_ARGS \
		--output-format=terse --terse-version=3 2> "$DIR/fio.err" |
		tail -n 1)
	g1=$(guest_ticks)
	# per I/O of the test's size: the block layer may split one (null_blk
	# takes at most 255 sectors a request, so 128k is two there)
	guest_record "$test-j$jobs" "$path" "$round" "$g0" "$g1" \
		$((($(sectors "$node") - gr0) / (kb * 2)))
	[ -z "$pid" ] || cost_record "$COST" "$test-j$jobs" "$path" "$round" \
		"$c0" "$(cost_proc $pid) $(uring_enters "$path")" \
		$(($(requests "$node") - r0))
	[ -z "$pid" ] || cpu0=$(($(cpu_ms $pid) - cpu0))
	[ -z "$spid" ] || scpu0=$(($(cpu_ms $spid) - scpu0))
	if [ -z "$t" ]; then
		say "$path $test j$jobs: fio failed: $(head -c 300 "$DIR/fio.err")"
		return
	fi
	# terse v3: read iops 8, read lat mean 40 (us), write iops 49,
	# write lat mean 81, read bandwidth 7 and write bandwidth 48 (KiB/s)
	if [ ${rw%write} != $rw ]; then
		iops=$(echo "$t" | awk -F';' '{ printf "%d", $49 }')
	else
		iops=$(echo "$t" | awk -F';' '{ printf "%d", $8 }')
	fi
	lat=$(echo "$t" | awk -F';' '{ printf "%.1f", $40 }')
	bw=$(echo "$t" | awk -F';' '{ printf "%.1f", ($7 + $48) / 1024 }')
	if [ "$kb" -ge 64 ]; then
		echo "$test-j$jobs $path $round $bw MiB/s" >> "$RES"
	else
		echo "$test-j$jobs $path $round $iops IOPS" >> "$RES"
	fi
	say "round $round: $path $test j$jobs: $(tail -n 1 "$RES" | cut -d' ' -f4-)"
	[ $test != rr4k-qd1 ] || echo "$test-j$jobs-lat $path $round $lat us" >> "$RES"
	[ -z "$pid" ] || [ "${CPU_ROWS:-0}" != 1 ] ||
		echo "$test-j$jobs-cpu $path $round $cpu0 ms" >> "$RES"
	[ -z "$spid" ] || [ "${CPU_ROWS:-0}" != 1 ] ||
		echo "$test-j$jobs-srvcpu $path $round $scpu0 ms" >> "$RES"
}

# guest_record TEST PATH ROUND "BUSY ALL" "BUSY ALL" IOS - append to $GCPU
# (if the bench set one) what the run cost the whole guest: busy vCPU time
# per I/O of the test's size in microseconds (fio, the kernel, the
# emulator, its polling: everything), and the share of the vCPUs' time
# that was busy
guest_record() {
	local -a b a
	[ -n "${GCPU:-}" ] || return 0
	read -r -a b <<< "$4"
	read -r -a a <<< "$5"
	[ "${6:-0}" -gt 0 ] 2>/dev/null && [ "${a[1]}" -gt "${b[1]}" ] || return 0
	awk -v t="$1" -v p="$2" -v r="$3" -v n="$6" \
		-v busy=$((a[0] - b[0])) -v all=$((a[1] - b[1])) \
		-v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" \
		'BEGIN { printf "%s %s %s %.2f %.1f\n", t, p, r,
			 busy * 1e6 / hz / n, 100 * busy / all }' >> "$GCPU"
}

# guest_table REF - per test and path, the medians of guest_record's
# figures, and REF's CPU time per I/O over the path's: the speed the
# path would reach against REF were both held up by the vCPUs alone (when
# both keep every vCPU busy, the measured ratio cannot be higher)
guest_table() {
	[ -s "${GCPU:-}" ] || return 0
	awk -v paths="$PATHS" -v ref="$1" "$BENCH_AWK_MEDIAN"'
	BEGIN { np = split(paths, p, " ") }
	{ k = $1 SUBSEP $2
	  if (!($1 in seen)) { seen[$1] = 1; order[++nt] = $1 }
	  has[$2] = 1; us[k] = us[k] " " $4; pc[k] = pc[k] " " $5 }
	END {
		printf "whole guest per I/O (all vCPUs, /proc/stat), median over the rounds: busy CPU us per I/O, %% of vCPU time busy, %s us/I/O over the path'"'"'s\n", ref
		printf "%-18s", "test"
		for (j = 1; j <= np; j++) if (p[j] in has) printf " %22s", p[j]
		printf "\n"
		for (i = 1; i <= nt; i++) {
			t = order[i]
			printf "%-18s", t
			r = (t SUBSEP ref) in us ? median(us[t SUBSEP ref]) : 0
			for (j = 1; j <= np; j++) {
				if (!(p[j] in has)) continue
				k = t SUBSEP p[j]
				if (!(k in us)) { printf " %22s", "-"; continue }
				m = median(us[k])
				printf " %22s", sprintf("%.1f %3.0f%% %s", m, median(pc[k]),
					r > 0 && m > 0 ? sprintf("%.3f", r / m) : "-")
			}
			printf "\n"
		}
		printf "\n"
	}' "$GCPU"
}

# table [REF] - one row per test, one column per path: median value (ratio
# to REF, default null_blk)
table() {
	summary "${1:-null_blk}" | awk -v paths="$PATHS" -v ref="${1:-null_blk}" '
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
					printf " %17s", v[t, p[j]] " (" (p[j] == ref ? "1" : r[t, p[j]]) ")"
				else printf " %17s", "-"
			}
			printf "\n"
		}
	}'
}

# pair_ratios "A B"... - per test, path A's value over path B's in the same
# round, median over the rounds, for every pair whose two paths are live
# (in LIVE); not for the CPU rows, whose processes differ between paths
pair_ratios() {
	local pair
	for pair in "$@"; do
		set -- $pair
		case " ${LIVE[*]} " in *" $1 "*) ;; *) continue ;; esac
		case " ${LIVE[*]} " in *" $2 "*) ;; *) continue ;; esac
		summary "$2" | awk -v p="$1" -v r="$2" '$2 == p && $1 !~ /cpu$/ {
			printf "%-18s %s / %s = %s\n", $1, p, r, $5 }'
	done
}
