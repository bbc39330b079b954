# SPDX-License-Identifier: GPL-2.0-only
#
# cost.sh - what a request or a frame costs an emulator, for bench/blk.sh
# bench/net.sh and bench/vhost.sh (sourced after lib.sh, not run).
#
# Before and after each run the benches read, for the emulator processes of
# a path, the context switches of every thread (/proc/PID/task/*/status:
# voluntary + nonvoluntary) and the read- and write-type system calls
# (/proc/PID/io syscr + syscw), and divide the differences by the requests
# or frames the run moved. These counts do not depend on how busy the host
# is, so they compare well across runs and boots where throughput does not.
# syscr/syscw count read(), write(), readv(), writev() and the like (kick
# and call eventfds, tap I/O, synchronous file I/O), not io_uring_enter(),
# epoll_wait(), sendmsg() or recvmsg(): the kernel keeps no count of every
# system call a process makes.
#
# BENCH_SYSCALLS=1 counts every system call instead: a hist trigger on the
# raw_syscalls:sys_enter tracepoint, keyed by thread and call, for
# processes named uvirtio*, tap-relay* or qemu-storage*, set up while the
# guest is idle (as this file is sourced: TCG's code-patching race, see
# ENV.md). It puts every system call of every process on the traced path,
# so it is off by default and its figures compare only with each other.
#
# uvirtio-blk keeps a count of its io_uring_enter() calls and prints it on
# SIGUSR2 (bench/fio_lib.sh's uring_enters): where it is given, a third
# figure, io_uring_enter per request.
#
# Lines appended to the cost file: "TEST PATH ROUND CTXT_PER SYSC_PER
# [ENTER_PER]".

COST_HIST=
COST_SYSC_WHAT="read+write system calls (syscr+syscw)"
if [ "${BENCH_SYSCALLS:-0}" = 1 ]; then
	COST_HIST=/sys/kernel/tracing/events/raw_syscalls/sys_enter
	[ -d "$COST_HIST" ] || mount -t tracefs nodev /sys/kernel/tracing
	# only the emulators' and the relay's calls: every process the bench
	# starts (fio, iperf3, awk...) would fill the table, and a full table
	# drops new keys
	echo 'hist:keys=common_pid,id.syscall:size=16384 if comm ~ "uvirtio*" || comm ~ "tap-relay*" || comm ~ "qemu-storage*"' \
		> "$COST_HIST/trigger" ||
		{ echo "BENCH_SYSCALLS=1: no hist trigger on raw_syscalls:sys_enter" >&2
		  exit 2; }
	COST_SYSC_WHAT="system calls (all, raw_syscalls hist)"
	COST_TIDS=$(mktemp -d /tmp/cost-tids.XXXXXX)
fi

# The hist's lines for the threads of PID...: "CALL COUNT" (BENCH_SYSCALLS=1)
COST_HIST_AWK='
	function num(l, key) {
		if (!match(l, key ": *[0-9]+")) return ""
		l = substr(l, RSTART, RLENGTH); sub(/.*: */, "", l); return l
	}
	{ t[$1] = 1 }
	END { while ((getline l < h) > 0) {
		if (!((pid = num(l, "common_pid")) in t)) continue
		if (match(l, /sys_[a-z0-9_]+/))
			call = substr(l, RSTART + 4, RLENGTH - 4)
		else if (match(l, /\[ *[0-9]+\]/))
			call = "#" substr(l, RSTART + 1, RLENGTH - 2)
		else
			call = "?"
		sub(/# */, "#", call)
		print call, num(l, "hitcount") } }'

# cost_calls_of PID... - "CALL COUNT" for every call the processes' threads
# made so far, one line per thread and call: its threads now, and those
# cost_syscalls() saw (the process may be gone by the end of the bench)
cost_calls_of() {
	local pid
	for pid in "$@"; do
		ls /proc/"$pid"/task 2>/dev/null
		cat "$COST_TIDS/$pid" 2>/dev/null
	done | sort -u | awk -v h="$COST_HIST/hist" "$COST_HIST_AWK"
}

# cost_syscalls PID - every system call of the process's threads so far
cost_syscalls() {
	ls /proc/"$1"/task >> "$COST_TIDS/$1" 2>/dev/null
	cost_calls_of "$1" | awk '{ n += $2 } END { print n + 0 }'
}

# cost_calls_drops - with BENCH_SYSCALLS=1, a line if the hist's table was
# full (new keys are dropped: the counts are too low)
cost_calls_drops() {
	[ -n "$COST_HIST" ] || return 0
	awk '/Drops:/ && $2 > 0 {
		print "the hist table was full: " $2 " events dropped, the system call counts are too low" }' \
		"$COST_HIST/hist"
}

# cost_calls PATH PID... - with BENCH_SYSCALLS=1, one line: which system
# calls the emulators of PATH made over the whole bench, the most first,
# with their shares
cost_calls() {
	local path=$1
	shift
	[ -n "$COST_HIST" ] || return 0
	cost_calls_of "$@" | awk -v p="$path" '
		{ n[$1] += $2; all += $2 }
		END { if (!all) exit
		      printf "%-20s", p
		      for (k = 0; k < 6; k++) {
			best = ""
			for (c in n) if (best == "" || n[c] > n[best]) best = c
			if (best == "") break
			printf " %s %.0f%%", best, 100 * n[best] / all
			delete n[best] }
		      printf "\n" }'
}

# cost_proc PID... - print "CTXT SYSC" summed over the processes (every
# thread's context switches; the process's syscr + syscw, or every system
# call with BENCH_SYSCALLS=1)
cost_proc() {
	local pid c=0 s=0 v
	for pid in "$@"; do
		v=$(cat /proc/"$pid"/task/*/status 2>/dev/null |
			awk '/ctxt_switches:/ { n += $2 } END { print n + 0 }')
		c=$((c + v))
		if [ -n "$COST_HIST" ]; then
			v=$(cost_syscalls "$pid")
		else
			v=$(awk '/^sysc[rw]:/ { n += $2 } END { print n + 0 }' \
				/proc/"$pid"/io 2>/dev/null)
		fi
		s=$((s + ${v:-0}))
	done
	echo "$c $s"
}

# cost_record FILE TEST PATH ROUND "CTXT SYSC [ENTERS]" "CTXT SYSC [ENTERS]"
# UNITS - append the per-unit cost of one run (before, after, units moved)
# to FILE; io_uring_enter calls only if both counts have them
cost_record() {
	local file=$1 test=$2 path=$3 round=$4 units=$7 e=
	local -a b a
	read -r -a b <<< "$5"
	read -r -a a <<< "$6"
	[ "${units:-0}" -gt 0 ] 2>/dev/null || return 0
	[ -z "${b[2]:-}" ] || [ -z "${a[2]:-}" ] || e=$((a[2] - b[2]))
	awk -v c=$((a[0] - b[0])) -v s=$((a[1] - b[1])) -v e="$e" -v u="$units" \
		-v t="$test" -v p="$path" -v r="$round" \
		'BEGIN { printf "%s %s %s %.4f %.4f", t, p, r, c / u, s / u
			 if (e != "") printf " %.4f", e / u
			 printf "\n" }' >> "$file"
}

# cost_table FILE WHAT PATH... - one row per test, one column per path that
# has costs: "CTXT / SYSC" per WHAT (request, frame), medians over the rounds
cost_table() {
	local file=$1 what=$2
	shift 2
	[ -s "$file" ] || return 0
	awk -v paths="$*" -v what="$what" -v sysc="$COST_SYSC_WHAT" "$BENCH_AWK_MEDIAN"'
	BEGIN { np = split(paths, p, " ") }
	{ k = $1 SUBSEP $2
	  if (!($1 in seen)) { seen[$1] = 1; order[++nt] = $1 }
	  has[$2] = 1; c[k] = c[k] " " $4; s[k] = s[k] " " $5
	  if (NF > 5) { e[k] = e[k] " " $6; ne++ } }
	END {
		printf "cost per %s of the emulator(s), median over the rounds: context switches / %s%s\n",
			what, sysc, ne ? " / io_uring_enter calls (uvirtio-blk'"'"'s own count, where it gives one)" : ""
		printf "%-18s", "test"
		for (j = 1; j <= np; j++) if (p[j] in has) printf " %20s", p[j]
		printf "\n"
		for (i = 1; i <= nt; i++) {
			printf "%-18s", order[i]
			for (j = 1; j <= np; j++) {
				if (!(p[j] in has)) continue
				k = order[i] SUBSEP p[j]
				if (k in e)
					printf " %20s", sprintf("%.2f / %.2f / %.2f",
						median(c[k]), median(s[k]), median(e[k]))
				else if (k in c)
					printf " %20s", sprintf("%.2f / %.2f",
						median(c[k]), median(s[k]))
				else printf " %20s", "-"
			}
			printf "\n"
		}
	}' "$file"
}
