#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-net beside the kernel's own and the usual userspace paths, in one
# VM boot (run by `make bench` through selftests/vm/run on the 6.12 lane,
# as root).
#
# iperf3 TCP, MTU 1500, from one network namespace to another over:
#   veth              a veth pair: the kernel's limit
#   uvirtio-dgram     two uvirtio-net devices cabled with the dgram backend;
#                     they trade shared rings (userspace/net/ring.h)
#   uvirtio-dgram-sock  the same with --no-ring: every frame through the
#                     sockets
#   uvirtio-dgram-4q  dgram with --queues 4, all 4 pairs enabled, shared
#                     rings on every pair, the default threads (one for
#                     every two CPUs)
#   tap-relay         two taps and a userspace relay (bench/tap-relay.c,
#                     IFF_VNET_HDR and offloads)
# Tests: tcp-1stream and tcp-4stream (iperf3 -P 4), receiver's Mbit/s.
# Not in the default set: udp-64, one stream of 64-byte UDP datagrams as
# fast as the sender can (iperf3 -u -b 0 -l 64), receiver's Mbit/s: a
# frame's fixed cost (system calls, wake-ups), where TCP's 64 KiB
# segments hide it.
# The goals: one stream over uvirtio-dgram at least 0.7x veth and 1.25x the
# tap relay; 4 queue pairs at least as fast as one.
#
# Every path is set up first, each in its own pair of namespaces with its
# own iperf3 server, and stays up. Each figure is BENCH_ROUNDS (3) runs of
# BENCH_NET_SECS (5) seconds, the paths taking turns run by run (each round
# starting one path later), so that the slow spells of a shared host fall
# on every path alike. About 4 minutes with the defaults, boot included.
#
# Prints a table, then one line per figure for machines:
#   bench net TEST PATH VALUE UNIT RATIO_TO_VETH
# VALUE is the median over the rounds; RATIO is the median over the rounds
# of VALUE divided by veth's VALUE in the same round. Lines
#   TEST PATH / tap-relay = RATIO
# compare the uvirtio paths with the tap relay the same way, and a line
#   TEST uvirtio-dgram-4q / uvirtio-dgram = RATIO
# 4 pairs with one. A second table
# gives what a frame costs the emulators (and the relay) of each path:
# context switches and read/write-type system calls per frame (every
# system call with BENCH_SYSCALLS=1), from /proc or the tracepoint before
# and after each run (bench/cost.sh), frames counted on the path's
# two interfaces (received + sent). The queue counters of the emulators
# (SIGUSR2) follow on stderr.
#
# Settings, from the environment or as NAME=VALUE arguments (selftests/vm/run
# passes arguments, not the environment): BENCH_NET_SECS (seconds per run;
# else bench/blk.sh's BENCH_RUNTIME, so that one `make bench BENCH_ARGS=...`
# shortens both), BENCH_ROUNDS (runs per figure, shared with bench/blk.sh),
# BENCH_NET_PATHS and BENCH_NET_TESTS (space-separated subsets, for
# experiments), BENCH_NET_UV_ARGS (extra uvirtio-net options for every
# uvirtio path).
# A path named uvx-NAME is an experiment: two uvirtio-net devices over dgram
# with the options in BENCH_NET_UVX_NAME (its --queues N is honoured), run
# by the program BENCH_NET_UVXBIN_NAME if set (any program in the guest's
# PATH, e.g. a second build copied into build/bin), e.g.
#   BENCH_NET_PATHS="veth uvirtio-dgram uvx-base" BENCH_NET_UVX_base=
#   BENCH_NET_UVXBIN_base=uvirtio-net-base
# BENCH_PRE_NAME and BENCH_POST_NAME (NAME: the path, dashes as underscores)
# are shell commands run before and after each of its runs, e.g. to set a
# module parameter for one path only.
# BENCH_PROFILE="PATH..." profiles those paths' runs (bench/profile.sh):
# the share of each command, the top functions of the guest, of iperf3,
# the emulators and the relay, and who calls memset() and clears pages in
# each (the bounce pool's zeroing runs where the driver refills its
# receive queue: its softirq, in whichever task); UV_EXTRA_PROGS=perf make
# bench ...
# Mind the guest's memory: each uvirtio-net device takes its bounce pool
# (128 MiB, 256 MiB with --queues 4), so a path costs 256 or 512 MiB: 1.5
# GiB of them ran the 2 GiB guest out of memory (the OOM killer ended an
# emulator, and its path's later runs had no result), 1.25 GiB did not.
# Mind the noise before reading an experiment: the same binary as two paths
# (uvirtio-dgram and uvx-base, 4 rounds of 3 s) gave 0.47x and 0.31x veth.
set -u
. "$(dirname "$0")/lib.sh"
bench_settings "$@"

SECS=${BENCH_NET_SECS:-${BENCH_RUNTIME:-5}}
ROUNDS=${BENCH_ROUNDS:-3}
PATHS=${BENCH_NET_PATHS:-"veth uvirtio-dgram uvirtio-dgram-sock uvirtio-dgram-4q tap-relay"}
TESTS=${BENCH_NET_TESTS:-"tcp-1stream tcp-4stream"}
UV_ARGS=${BENCH_NET_UV_ARGS:-}
DIR=$(mktemp -d /tmp/net-bench.XXXXXX)
RES=$DIR/results
COST=$DIR/cost
: > "$RES"
: > "$COST"
. "$(dirname "$0")/cost.sh"
declare -A PIDS_OF IFS_OF
PIDS=()		# emulators and relays
STATS=()	# "PATH PID" of every emulator, for its counters
NSS=()		# namespaces, in pairs
trap cleanup EXIT

# say MSG... - progress on stderr
say() {
	echo "bench: $*" >&2
}

PROFILE_COMMS="iperf3 uvirtio-net tap-relay ksoftirqd/0 ksoftirqd/1"
# the kernel's memset() and page clearing as this guest's CPU runs them
# (TCG's -cpu max: no FSRS, so memset() is memset_orig)
PROFILE_CALLERS="memset_orig clear_page_erms"
. "$(dirname "$0")/profile.sh"

# cleanup - stop the iperf3 servers, the emulators and relays, then remove
# the namespaces
cleanup() {
	local p
	for p in "$DIR"/*.iperf.pid; do
		[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for p in "${NSS[@]}"; do ip netns del "$p" 2>/dev/null; done
	rm -rf "$DIR"
}

# netns_pair PATH IF1 IF2 - namespaces PATH's two ends: IF1 into nsK-1
# (10.88.0.1), IF2 into nsK-2 (10.88.0.2), K counting the pairs; both up, an
# iperf3 server in the second. Sets NS1 and NS2.
netns_pair() {
	local path=$1 k=$((${#NSS[@]} / 2))
	NS1=ns$k-1 NS2=ns$k-2
	NSS+=("$NS1" "$NS2")
	ip netns add $NS1 && ip netns add $NS2 ||
		{ say "$path: cannot create namespaces"; return 1; }
	ip link set "$2" netns $NS1 && ip link set "$3" netns $NS2 ||
		{ say "$path: cannot move $2/$3 into the namespaces"; return 1; }
	ip -n $NS1 addr add 10.88.0.1/24 dev "$2"
	ip -n $NS2 addr add 10.88.0.2/24 dev "$3"
	ip -n $NS1 link set lo up
	ip -n $NS2 link set lo up
	ip -n $NS1 link set "$2" up
	ip -n $NS2 link set "$3" up
	for _ in $(seq 100); do
		if ip netns exec $NS1 ping -c 1 -W 1 10.88.0.2 > /dev/null 2>&1; then
			ip netns exec $NS2 iperf3 -s -D -I "$DIR/$path.iperf.pid" \
				> /dev/null 2>&1 || { say "$path: iperf3 -s failed"; return 1; }
			return 0
		fi
		sleep 0.1
	done
	say "$path: no ping between the namespaces over $2/$3"
	return 1
}

# uv_pair PATH BIN ARG... - two uvirtio-net devices BIN ARG... cabled with
# dgram sockets; with --queues N in ARG, all N pairs enabled (Linux enables
# only as many as it has CPUs). Sets IF1 and IF2.
uv_pair() {
	local path=$1 bin=$2 q=1 a prev="" i
	shift 2
	for a in "$@"; do
		[ "$prev" != --queues ] || q=$a
		prev=$a
	done
	IF1="" IF2=""
	for i in 1 2; do
		$bin --mtu 1500 "$@" "dgram:$DIR/$path.s$i,$DIR/$path.s$((3 - i))" \
			> "$DIR/$path.$i.out" 2> "$DIR/$path.$i.err" &
		PIDS+=($!)
		PIDS_OF[$path]+=" $!"
		STATS+=("$path.$i $!")
	done
	for _ in $(seq 300); do
		[ -s "$DIR/$path.1.out" ] && [ -s "$DIR/$path.2.out" ] && break
		sleep 0.1
	done
	IF1=$(tail -n 1 "$DIR/$path.1.out")
	IF2=$(tail -n 1 "$DIR/$path.2.out")
	if [ -z "$IF1" ] || [ -z "$IF2" ]; then
		say "$path: $bin did not start: $(cat "$DIR/$path".*.err | head -c 400)"
		return 1
	fi
	[ "$q" -gt 1 ] || return 0
	ethtool -L "$IF1" combined "$q" && ethtool -L "$IF2" combined "$q" ||
		{ say "$path: ethtool -L combined $q failed"; return 1; }
}

# relay_pair PATH - two taps and tap-relay between them. Sets IF1 and IF2.
relay_pair() {
	local path=$1
	IF1=bt1 IF2=bt2
	tap-relay $IF1 $IF2 > "$DIR/$path.out" 2> "$DIR/$path.err" &
	PIDS+=($!)
	PIDS_OF[$path]=$!
	for _ in $(seq 100); do
		[ -s "$DIR/$path.out" ] && return 0
		sleep 0.1
	done
	say "$path: tap-relay did not start: $(head -c 400 "$DIR/$path.err")"
	return 1
}

# frames PATH - frames received and sent on PATH's two interfaces
frames() {
	local e n=0 v
	for e in ${IFS_OF[$1]}; do
		v=$(ip netns exec "${e%:*}" cat /proc/net/dev |
			awk -v i="${e#*:}:" '$1 == i { print $3 + $11 }')
		n=$((n + ${v:-0}))
	done
	echo $n
}

# run_iperf PATH TEST ROUND - one iperf3 run from PATH's first namespace to
# its second; appends "TEST PATH ROUND VALUE Mbit/s" to the results, and
# the cost per frame of PATH's processes to the cost file
run_iperf() {
	local path=$1 test=$2 round=$3 p v out=$DIR/iperf.out c0 c1 f0 f1
	local -a opt=()
	case $test in
	tcp-1stream) p=1 ;;
	tcp-4stream) p=4 ;;
	udp-64) p=1 opt=(-u -b 0 -l 64) ;;
	esac
	if [ -n "${PIDS_OF[$path]:-}" ]; then
		f0=$(frames "$path")
		c0=$(cost_proc ${PIDS_OF[$path]})
	fi
	ip netns exec "${NS_OF[$path]}-1" iperf3 -c 10.88.0.2 -t "$SECS" -P $p \
		"${opt[@]}" -f m > "$out" 2>&1
	if [ -n "${PIDS_OF[$path]:-}" ]; then
		c1=$(cost_proc ${PIDS_OF[$path]})
		f1=$(frames "$path")
		cost_record "$COST" "$test" "$path" "$round" "$c0" "$c1" $((f1 - f0))
	fi
	# the receiver's total: the SUM line with -P > 1, else the only one
	v=$(awk -v p=$p '/receiver/ && (p == 1 || /SUM/) {
		for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") v = $(i - 1) }
		END { print v }' "$out")
	if [ -z "$v" ]; then
		say "round $round: $path $test: no result; iperf3 said: $(tail -n 3 "$out" | tr '\n' ' ')"
		return
	fi
	echo "$test $path $round $v Mbit/s" >> "$RES"
	say "round $round: $path $test: $v Mbit/s"
}

# table - one row per test, one column per path: median value (ratio)
table() {
	summary veth | awk -v paths="${LIVE[*]}" '
	BEGIN { np = split(paths, p, " ") }
	{ v[$1, $2] = $3; r[$1, $2] = $5; u[$1] = $4
	  if (!($1 in seen)) { seen[$1] = 1; order[++nt] = $1 } }
	END {
		printf "%-12s %-7s", "test", "unit"
		for (j = 1; j <= np; j++) printf " %17s", p[j]
		printf "\n"
		for (i = 1; i <= nt; i++) {
			t = order[i]
			printf "%-12s %-7s", t, u[t]
			for (j = 1; j <= np; j++) {
				if ((t, p[j]) in v)
					printf " %17s", v[t, p[j]] " (" r[t, p[j]] ")"
				else printf " %17s", "-"
			}
			printf "\n"
		}
	}'
}

for c in iperf3 ip ethtool uvirtio-net tap-relay; do
	command -v $c > /dev/null || { say "$c not found in PATH"; exit 1; }
done
say "kernel $(uname -r), $(nproc) CPUs, ${SECS}s per run, $ROUNDS round(s)"
declare -A NS_OF
LIVE=()
for path in $PATHS; do
	IF1="" IF2=""
	case $path in
	veth)
		ip link add bv1 type veth peer name bv2 && IF1=bv1 IF2=bv2 ||
			say "veth: cannot create a veth pair"
		;;
	uvirtio-dgram) uv_pair $path uvirtio-net $UV_ARGS ;;
	uvirtio-dgram-sock) uv_pair $path uvirtio-net --no-ring $UV_ARGS ;;
	uvirtio-dgram-4q) uv_pair $path uvirtio-net --queues 4 $UV_ARGS ;;
	tap-relay) relay_pair $path ;;
	uvx-*)
		# an experiment: BENCH_NET_UVX_NAME holds the uvirtio-net options
		var=BENCH_NET_UVX_${path#uvx-}
		bin=BENCH_NET_UVXBIN_${path#uvx-}
		if [ -z "${!var+set}" ] && [ -z "${!bin:-}" ]; then
			say "$path: neither $var nor $bin is set, skipped"
			continue
		fi
		uv_pair "$path" "${!bin:-uvirtio-net}" ${!var:-} $UV_ARGS
		;;
	*) say "$path: unknown path, skipped"; continue ;;
	esac
	if [ -z "$IF1" ] || ! netns_pair "$path" "$IF1" "$IF2"; then
		say "$path: skipped"
		continue
	fi
	NS_OF[$path]=${NS1%-1}
	IFS_OF[$path]="$NS1:$IF1 $NS2:$IF2"
	LIVE+=("$path")
	say "$path: $IF1 in $NS1, $IF2 in $NS2"
done
[ ${#LIVE[@]} -gt 0 ] || { say "no path could be set up"; exit 1; }

for test in $TESTS; do
	for round in $(seq "$ROUNDS"); do
		n=${#LIVE[@]}
		for i in $(seq 0 $((n - 1))); do
			path=${LIVE[$(((i + round - 1) % n))]}
			hook=BENCH_PRE_${path//-/_}
			[ -z "${!hook:-}" ] || eval "${!hook}"
			! profiled "$path" || profile_start "$SECS"
			run_iperf "$path" "$test" "$round"
			! profiled "$path" || profile_report "$path $test round $round"
			hook=BENCH_POST_${path//-/_}
			[ -z "${!hook:-}" ] || eval "${!hook}"
		done
	done
done

# the emulators' queue counters
for s in "${STATS[@]}"; do
	kill -USR2 "${s#* }" 2>/dev/null
done
sleep 0.5
for s in "${STATS[@]}"; do
	grep -h 'stats' "$DIR/${s% *}.err" | sed "s/^/bench: ${s% *}: /" >&2
done

echo "uvirtio-net benchmark: kernel $(uname -r), $(nproc) vCPUs, iperf3 TCP, MTU 1500, ${SECS}s per run, $ROUNDS interleaved round(s)"
echo "each cell: median over the rounds (median ratio to veth in the same round)"
table
# the issue's other comparison: uvirtio against the tap relay, same-round
# ratios too
case " ${LIVE[*]} " in
*" tap-relay "*)
	for path in "${LIVE[@]}"; do
		case $path in veth|tap-relay) continue ;; esac
		summary tap-relay | awk -v p="$path" '$2 == p {
			printf "%-12s %s / tap-relay = %s\n", $1, p, $5 }'
	done
	;;
esac
# and the multiqueue goal: 4 pairs against one, same-round ratios
if [[ " ${LIVE[*]} " == *" uvirtio-dgram "* &&
      " ${LIVE[*]} " == *" uvirtio-dgram-4q "* ]]; then
	summary uvirtio-dgram | awk '$2 == "uvirtio-dgram-4q" {
		printf "%-12s uvirtio-dgram-4q / uvirtio-dgram = %s\n", $1, $5 }'
fi
echo
cost_table "$COST" frame "${LIVE[@]}"
if [ -n "$COST_HIST" ]; then
	echo "system calls of each path's emulators over the whole bench, the most made first"
	cost_calls_drops
	for path in "${LIVE[@]}"; do
		[ -z "${PIDS_OF[$path]:-}" ] || cost_calls "$path" ${PIDS_OF[$path]}
	done
fi
echo
summary veth | sed 's/^/bench net /'
