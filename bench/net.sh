#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench/net.sh - iperf3 TCP between two network namespaces joined by
#   veth            a veth pair (the kernel's limit)
#   uvirtio-dgram   two uvirtio-net devices cabled with the dgram backend
#   uvirtio-dgram-4q  the same with --queues 4 (4 queue pairs enabled)
#   tap-relay       two taps and a userspace relay (IFF_VNET_HDR, offloads)
# 1 stream and 4 streams, SECS (first argument, else NET_BENCH_SECS, else
# 10) seconds each, MTU 1500.
# Runs inside the test VM as root, in one boot:
#   selftests/vm/run --kernel 6.12 --timeout 1200 -- bench/net.sh
# Prints a table, then one line per figure for machines:
#   bench net TEST PATH VALUE UNIT RATIO_TO_VETH
set -u
secs=${1:-${NET_BENCH_SECS:-10}}
tmp=$(mktemp -d /tmp/net-bench.XXXXXX)
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	for n in nb1 nb2; do ip netns del $n 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

die() {
	echo "bench/net.sh: $*" >&2
	exit 1
}

for c in iperf3 ip uvirtio-net tap-relay; do
	command -v $c > /dev/null || die "$c not found in PATH"
done

# netns_pair IF1 IF2 - move IF1 into nb1 (10.88.0.1), IF2 into nb2
# (10.88.0.2), both up
netns_pair() {
	ip netns add nb1 && ip netns add nb2 || die "cannot create namespaces"
	ip link set "$1" netns nb1 && ip link set "$2" netns nb2 || die "cannot move $1/$2"
	ip -n nb1 addr add 10.88.0.1/24 dev "$1"
	ip -n nb2 addr add 10.88.0.2/24 dev "$2"
	for n in nb1 nb2; do ip -n $n link set lo up; done
	ip -n nb1 link set "$1" up
	ip -n nb2 link set "$2" up
	for _ in $(seq 100); do
		ip netns exec nb1 ping -c 1 -W 1 10.88.0.2 > /dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "no ping between the namespaces over $1/$2"
}

netns_clear() {
	ip netns del nb1 2>/dev/null
	ip netns del nb2 2>/dev/null
	sleep 0.5
}

# measure PATH - run both iperf3 tests from nb1 to nb2; sets R[PATH,TEST]
declare -A R
measure() {
	local path=$1 test p v
	ip netns exec nb2 iperf3 -s -D -I "$tmp/iperf.pid" > /dev/null 2>&1
	sleep 0.5
	for test in tcp-1stream tcp-4stream; do
		p=1
		[ $test = tcp-4stream ] && p=4
		ip netns exec nb1 iperf3 -c 10.88.0.2 -t "$secs" -P $p -f m \
			> "$tmp/$path.$test" 2>&1
		if [ $p = 1 ]; then
			v=$(awk '/receiver/ && !/SUM/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }' "$tmp/$path.$test" | tail -n 1)
		else
			v=$(awk '/SUM/ && /receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }' "$tmp/$path.$test" | tail -n 1)
		fi
		if [ -z "$v" ]; then
			echo "# $path $test: no result; iperf3 said:" >&2
			sed 's/^/#   /' "$tmp/$path.$test" >&2
			v=0
		fi
		R[$path,$test]=$v
		echo "# $path $test: $v Mbit/s" >&2
	done
	kill "$(cat "$tmp/iperf.pid")" 2>/dev/null
	sleep 0.2
}

# 1. veth
ip link add bv1 type veth peer name bv2 || die "cannot create a veth pair"
netns_pair bv1 bv2
measure veth
netns_clear

# 2. two uvirtio-net devices, dgram: one queue pair, then 4 (--queues 4,
# all enabled with ethtool -L: Linux enables only as many as it has CPUs)
# uvirtio_pair PATH QUEUES - measure two devices with QUEUES pairs each
uvirtio_pair() {
	local path=$1 q=$2 n
	uvirtio-net --mtu 1500 --queues "$q" "dgram:$tmp/u1,$tmp/u2" > "$tmp/u1.out" 2> "$tmp/u1.err" &
	pids+=($!)
	uvirtio-net --mtu 1500 --queues "$q" "dgram:$tmp/u2,$tmp/u1" > "$tmp/u2.out" 2> "$tmp/u2.err" &
	pids+=($!)
	for _ in $(seq 300); do
		[ -s "$tmp/u1.out" ] && [ -s "$tmp/u2.out" ] && break
		sleep 0.1
	done
	i1=$(tail -n 1 "$tmp/u1.out")
	i2=$(tail -n 1 "$tmp/u2.out")
	[ -n "$i1" ] && [ -n "$i2" ] || { cat "$tmp"/u*.err >&2; die "uvirtio-net did not start"; }
	if [ "$q" -gt 1 ]; then
		command -v ethtool > /dev/null || die "ethtool not found in PATH"
		ethtool -L "$i1" combined "$q" && ethtool -L "$i2" combined "$q" ||
			die "ethtool -L combined $q failed"
	fi
	netns_pair "$i1" "$i2"
	measure "$path"
	kill -USR2 "${pids[@]}"
	sleep 0.3
	n=$((q > 1 ? 2 * q + 2 : 2))
	grep stats "$tmp/u1.err" | tail -n $n | sed 's/^/# u1 /' >&2
	kill "${pids[@]}"
	wait "${pids[@]}" 2>/dev/null
	pids=()
	netns_clear
}
uvirtio_pair uvirtio-dgram 1
uvirtio_pair uvirtio-dgram-4q 4

# 3. tap pair + userspace relay
tap-relay bt1 bt2 > "$tmp/relay.out" 2> "$tmp/relay.err" &
pids+=($!)
for _ in $(seq 100); do
	[ -s "$tmp/relay.out" ] && break
	sleep 0.1
done
[ -s "$tmp/relay.out" ] || { cat "$tmp/relay.err" >&2; die "tap-relay did not start"; }
netns_pair bt1 bt2
measure tap-relay
kill "${pids[@]}"
wait "${pids[@]}" 2>/dev/null
pids=()
netns_clear

# Report
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'
}
printf '\n%-17s %-12s %12s %8s\n' PATH TEST Mbit/s x_veth
for path in veth uvirtio-dgram uvirtio-dgram-4q tap-relay; do
	for test in tcp-1stream tcp-4stream; do
		printf '%-17s %-12s %12s %8s\n' $path $test "${R[$path,$test]}" \
			"$(ratio "${R[$path,$test]}" "${R[veth,$test]}")"
	done
done
echo
for path in veth uvirtio-dgram uvirtio-dgram-4q tap-relay; do
	for test in tcp-1stream tcp-4stream; do
		echo "bench net $test $path ${R[$path,$test]} Mbit/s $(ratio "${R[$path,$test]}" "${R[veth,$test]}")"
	done
done
