#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Who waits for a spin lock, where, and for how long, while fio drives
# uvirtio-blk (run by `make bench BENCH=lockwait` through selftests/vm/run
# on the 6.12 lane, as root). A measurement for issue 18's 4k QD32 goal:
# virtio_blk takes its virtqueue lock both to submit (fio's vCPU) and to
# complete (the queue thread's vCPU, through UVIRTIO_URING_COMMIT), and
# this says how much of fio's vCPU goes to waiting for it.
#
# uvirtio-blk null:1G (--notify uring, one queue, as uid 1000), fio
# io_uring O_DIRECT 4k random reads at QD32, one job. One untraced run for
# the rate, then one traced run: a kprobe on the queued spin lock's slow
# path (entered only when the lock is held) and a kretprobe on its return,
# joined per thread by a synthetic event, give each thread's count of
# waits and the time spent in them, and a histogram of the slow path's
# callers. The probes slow the traced run (both the waits and the holds
# grow), so its figures are an upper estimate; the untraced rate is
# printed beside it. ftrace patches kernel text to place the probes; that
# happens while the guest is idle (see ENV.md on TCG and code patching).
#
# Prints, for the traced window: reads completed, then per thread its
# waits, the time in them, waits and microseconds per read, and the share
# of the window; then the callers (stacks) of the slow path, most first.
#
# Settings, as NAME=VALUE arguments: BENCH_RUNTIME (seconds traced, 6),
# BENCH_UV_ARGS (uvirtio-blk options, "--notify uring"), BENCH_FIO_ARGS
# (extra fio options, e.g. --rw=randwrite or --iodepth=1).
set -u
. "$(dirname "$0")/lib.sh"
bench_settings "$@"

RUNTIME=${BENCH_RUNTIME:-6}
UV_ARGS=${BENCH_UV_ARGS:---notify uring}
FIO_ARGS=${BENCH_FIO_ARGS:-}
T=/sys/kernel/tracing
DIR=$(mktemp -d /tmp/lockwait.XXXXXX)
chmod 0755 "$DIR"
. "$(dirname "$0")/fio_lib.sh"
declare -A PID_OF
EMU_PIDS=()
EMU_PATHS=()
trap cleanup EXIT

# The hist triggers, as "EVENT TRIGGER" lines: set up in this order, and
# removed in the reverse order (the last one depends on the ones before)
TRIGGERS='kprobes/uvw_in hist:keys=common_pid:uvw_t0=common_timestamp.usecs
kprobes/uvw_in hist:keys=common_pid.execname,stacktrace:vals=hitcount:sort=hitcount.descending
kprobes/uvw_out hist:keys=common_pid:w=common_timestamp.usecs-$uvw_t0:onmatch(kprobes.uvw_in).uvw_wait($w,common_pid)
synthetic/uvw_wait hist:keys=pid:vals=hitcount,usecs'

# triggers_set [!] - add every trigger (with !: remove them all)
triggers_set() {
	local ev tr
	if [ "${1:-}" = '!' ]; then
		echo "$TRIGGERS" | tac
	else
		echo "$TRIGGERS"
	fi | while read -r ev tr; do
		echo "${1:-}$tr" >> "$T/events/$ev/trigger" || return 1
	done
}

# cleanup - remove the probes, stop the emulator
cleanup() {
	echo 0 > "$T/events/kprobes/enable" 2>/dev/null
	triggers_set '!' 2>/dev/null
	echo '!uvw_wait' >> "$T/synthetic_events" 2>/dev/null
	echo '-:uvw_in' >> "$T/kprobe_events" 2>/dev/null
	echo '-:uvw_out' >> "$T/kprobe_events" 2>/dev/null
	uv_stop_all 2>/dev/null
	rm -rf "$DIR"
}

# fio_read SECS - one fio run on $NODE; prints its read IOPS
fio_read() {
	fio --name=w --filename="$NODE" --ioengine=io_uring --direct=1 \
		--rw=randread --bs=4k --iodepth=32 --size=512M --time_based \
		--runtime="$1" $FIO_ARGS --output-format=terse --terse-version=3 \
		2> "$DIR/fio.err" | tail -n 1 |
		awk -F';' '{ printf "%d\n", $8 + $49 }'
}

[ -e "$T/kprobe_events" ] || mount -t tracefs nodev "$T" 2>/dev/null
SLOW=$(grep -oE ' (native_queued_spin_lock_slowpath|__pv_queued_spin_lock_slowpath)$' \
	/proc/kallsyms | head -n 1 | tr -d ' ')
if [ ! -w "$T/kprobe_events" ] || [ -z "$SLOW" ]; then
	say "no kprobe events or no queued spin lock slow path in this kernel"
	exit 2
fi
uv_start uv $UV_ARGS null:1G || exit 1
echo none > "/sys/block/${NODE#/dev/}/queue/scheduler"
say "uvirtio-blk $UV_ARGS null:1G on $NODE; probing $SLOW"

untraced=$(fio_read 4)

# the probes, placed while nothing runs
{ echo "p:uvw_in $SLOW" && echo "r:uvw_out $SLOW"; } >> "$T/kprobe_events" &&
echo 'uvw_wait u64 usecs; int pid' >> "$T/synthetic_events" &&
triggers_set || {
	say "could not set up the probes: $(tail -n 4 "$T/error_log")"
	exit 1
}
sleep 1

fio_read $((RUNTIME + 4)) > "$DIR/traced" &
fio_pid=$!
sleep 2
r0=$(requests "$NODE")
t0=$(cut -d' ' -f1 /proc/uptime)
echo 1 > "$T/events/synthetic/uvw_wait/enable"
echo 1 > "$T/events/kprobes/uvw_out/enable"
echo 1 > "$T/events/kprobes/uvw_in/enable"
sleep "$RUNTIME"
echo 0 > "$T/events/kprobes/uvw_in/enable"
echo 0 > "$T/events/kprobes/uvw_out/enable"
t1=$(cut -d' ' -f1 /proc/uptime)
r1=$(requests "$NODE")
# name every thread now, while fio still runs
for t in /proc/[0-9]*/task/[0-9]*; do
	echo "${t##*/} $(cat "$t/comm" 2>/dev/null)"
done > "$DIR/threads"
wait $fio_pid

echo "uvirtio-blk lock waits: kernel $(uname -r), $(nproc) vCPUs, fio 4k random reads QD32 $FIO_ARGS"
echo "IOPS untraced $untraced, traced $(cat "$DIR/traced")"
echo "traced window $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s, $((r1 - r0)) requests completed in it"
echo
echo "spin-lock waits per thread (slow path entered; time until it returned):"
printf '%-8s %-16s %9s %11s %10s %10s %8s\n' tid comm waits "wait us" "waits/req" "us/req" "% window"
sed -n 's/^{ pid: *\([0-9]*\) } hitcount: *\([0-9]*\) *usecs: *\([0-9]*\).*/\1 \2 \3/p' \
	"$T/events/synthetic/uvw_wait/hist" | sort -k3,3nr | head -n 8 |
	while read -r tid n us; do
		awk -v tid="$tid" -v n="$n" -v us="$us" -v reqs=$((r1 - r0)) \
			-v a="$t0" -v b="$t1" -v comm="$(awk -v t="$tid" '$1 == t { print $2 }' "$DIR/threads")" \
			'BEGIN { printf "%-8s %-16s %9d %11d %10.3f %10.2f %8.1f\n",
				 tid, comm == "" ? "?" : comm, n, us, n / reqs, us / reqs,
				 100 * us / ((b - a) * 1e6) }'
	done
echo
echo "callers of the slow path (most first):"
awk '/^[{] common_pid:/ { s = $0; n = 0; next }
     s != "" && /^ +[a-z_]/ && !/aggr_pre_handler|kprobe_ftrace_handler|_slowpath/ {
	f = $1; sub(/\+.*/, "", f); if (n++ < 5) s = s " <- " f; next }
     /[}] hitcount:/ && s != "" { print $NF, s; s = "" }' \
	"$T/events/kprobes/uvw_in/hist" |
	sed 's/{ common_pid: *//; s/\[ *\([0-9]*\)\], [a-z_]*stacktrace:/[\1]/' | tr -s ' ' |
	sort -k1,1nr | head -n 8
