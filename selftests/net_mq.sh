#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Multiqueue: two uvirtio-net devices with --queues 4, each made by uid 1000
# in its own user+net namespace, dgram-cabled (pair i over LOCAL.i /
# REMOTE.i), A with the default threads serving its pairs (one thread for
# all four on 2 CPUs), B with --threads 2 (two pairs each). ethtool sees 4
# combined channels; with all 4 enabled and both XPS maps cleared, 16
# parallel TCP transfers (SHA-256 checked) move frames on more than one
# transmit queue of both devices (without a map the driver picks a flow's
# queue by its random hash: all 16 on one of 4 pairs has a chance of
# 4^-15; with the map each CPU has two of the pairs, and 8 flows from one
# CPU once all took one of them) and arrive on one receive queue for each
# thread, its first pair's (A: one on 2 CPUs, B: two; the others carry
# nothing), and every pair trades shared rings with its peer: at
# least 90% of the frames of each busy queue went through a ring (the rings
# of pairs 1-3 are traded while the driver still uses pair 0 only, so pair
# 0's thread reads their backends and hands what concerns their own rings to
# their threads). A TCP transfer whose sender hops CPUs (so that the driver
# moves it between transmit queues; up to three tries until it does) reaches
# B on one receive queue: A keeps a flow on one backend. Then A enables 1
# pair (ethtool -L, the driver's VQ_PAIRS_SET) while B keeps 4: transfers
# still arrive intact and only A's pair 0 moves (B's frames on its pairs 1-3
# are steered onto A's receive queue 0, and still come through rings).
# SIGKILL to A: its interface goes within 5 s, the module unloads. Bad
# --queues and --threads values and --queues with a one-connection backend
# fail with one line and exit status 2.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

Q=4
NT=16
uv_need uvirtio-net setpriv unshare nsenter ip busybox sha256sum ethtool taskset
uv_tmpdir
uv_defer "uv_module_loaded || uv_module_load 0666"
mkdir -m 1777 "$UV_TMP/sock"

for args in "--queues 0 dgram:x,y" "--queues 9 dgram:x,y" "--queues x dgram:x,y" \
	    "--queues 2 passt" "--queues 2 stream:/nonexistent" \
	    "--queues 2 --fault-withhold-irq=4 dgram:x,y" \
	    "--queues 2 --threads 3 dgram:x,y" "--threads 0 dgram:x,y"; do
	rc=0
	uvirtio-net $args > /dev/null 2> "$UV_TMP/err" || rc=$?
	[ $rc = 2 ] && [ "$(wc -l < "$UV_TMP/err")" = 1 ] ||
		{ cat "$UV_TMP/err"; uv_fail "uvirtio-net $args: exit $rc, $(wc -l < "$UV_TMP/err") lines (want 2, one line)"; }
	uv_log "$args: $(cat "$UV_TMP/err")"
done
sa=$UV_TMP/sock/a
sb=$UV_TMP/sock/b

net_start userns --queues $Q "dgram:$sa,$sb" || uv_fail "emulator A did not start"
pa=$NET_PID ia=$NET_IF ea=$NET_ERR
net_start userns --queues $Q --threads 2 "dgram:$sb,$sa" || uv_fail "emulator B did not start"
pb=$NET_PID ib=$NET_IF eb=$NET_ERR
# A's pairs have one thread for every two CPUs (at least one, at most one
# a pair), B's two
ta=$(ls /proc/$pa/task | wc -l) tb=$(ls /proc/$pb/task | wc -l)
want=$(( $(nproc) / 2 ))
want=$(( want < 1 ? 1 : want > Q ? Q : want ))
[ $((tb - ta)) = $((2 - want)) ] ||
	uv_fail "A runs $ta threads, B (--threads 2) $tb: want A to run $want pair thread(s) on $(nproc) CPUs"
uv_log "pair threads: A $want (of $ta threads), B 2 (of $tb)"
threads_a=$want
for i in 1 2 3; do
	[ -S "$sa.$i" ] && [ -S "$sb.$i" ] || uv_fail "no socket $sa.$i or $sb.$i for queue pair $i"
done

for x in "$pa $ia 10.78.0.1" "$pb $ib 10.78.0.2"; do
	set -- $x
	net_all_channels "$1" "$2" $Q
	net_in "$1" ip link set lo up
	net_in "$1" ip addr add "$3/24" dev "$2" || uv_fail "cannot address $2"
	net_in "$1" ip link set "$2" up || uv_fail "cannot set $2 up"
done
grep -q "$Q of $Q queue pairs enabled" "$ea" || { cat "$ea"; uv_fail "A did not log VQ_PAIRS_SET $Q"; }
uv_log "ethtool: $Q combined channels on $ia and $ib, all enabled"
net_wait_carrier "$pa" "$ia" 1 10 || uv_fail "A's link did not come up"
net_wait_carrier "$pb" "$ib" 1 10 || uv_fail "B's link did not come up"
net_in "$pa" ping -c 2 -W 5 10.78.0.2 > "$UV_TMP/ping" 2>&1 ||
	{ cat "$UV_TMP/ping"; uv_fail "A cannot ping B"; }

# 4 MiB per stream; 1 under KASAN, where 64 MiB in all took 200 s and 16
# MiB still puts hundreds of frames through every queue.
dd if=/dev/urandom of="$UV_TMP/send" bs=1M count=${NET_MQ_MB:-$((NET_SLOW > 1 ? 1 : 4))} status=none ||
	uv_fail "cannot make test data"
want=$(uv_sha256 "$UV_TMP/send")

# transfers TAG - NT parallel TCP transfers A -> B, each checked
transfers() {
	local i srv=() t0 t1
	for i in $(seq 0 $((NT - 1))); do
		net_in "$pb" busybox nc -l -p $((5100 + i)) > "$UV_TMP/recv.$i" &
		srv+=($!)
	done
	sleep 0.5
	t0=${EPOCHREALTIME/./}
	for i in $(seq 0 $((NT - 1))); do
		net_in "$pa" bash -c "cat '$UV_TMP/send' > /dev/tcp/10.78.0.2/$((5100 + i))" &
	done
	wait -n 2>/dev/null
	for i in $(seq 0 $((NT - 1))); do
		uv_wait_exit "${srv[$i]}" $((60 * NET_SLOW)) ||
			uv_fail "$1: receiver $i did not finish within 60 s"
	done
	t1=${EPOCHREALTIME/./}
	for i in $(seq 0 $((NT - 1))); do
		got=$(uv_sha256 "$UV_TMP/recv.$i")
		[ "$got" = "$want" ] || uv_fail "$1: transfer $i: SHA-256 differs ($(stat -c %s "$UV_TMP/recv.$i") bytes received)"
	done
	uv_log "$1: $NT x $(stat -c %s "$UV_TMP/send") bytes in $(( (t1 - t0) / 1000 )) ms, SHA-256 matches"
}

# snap NAME - record every per-queue packet counter of A and B
declare -A C
snap() {
	local who f q
	kill -USR2 "$pa" "$pb"
	sleep 0.5
	for who in A B; do
		f=$ea
		[ $who = B ] && f=$eb
		for q in $(seq 0 $((Q - 1))); do
			C[$1,$who,rx$q]=$(net_stat "$f" rx$q packets)
			C[$1,$who,tx$q]=$(net_stat "$f" tx$q packets)
			C[$1,$who,ringrx$q]=$(net_stat "$f" rx$q ring)
			C[$1,$who,ringtx$q]=$(net_stat "$f" tx$q ring)
		done
	done
}

# ring_log - what A and B said about their shared rings
ring_log() {
	grep -H -i "shared ring" "$ea" "$eb" | sed "s/^/  /"
}

# delta FROM TO WHO QUEUE - packets on a queue between two snapshots
delta() {
	echo $(( ${C[$2,$3,$4]:-0} - ${C[$1,$3,$4]:-0} ))
}

xa=$(net_xps "$pa" "$ia") && xb=$(net_xps "$pb" "$ib") ||
	uv_fail "cannot read the XPS maps of $ia and $ib"
net_xps "$pa" "$ia" 0 && net_xps "$pb" "$ib" 0 ||
	uv_fail "cannot clear the XPS maps of $ia and $ib"
snap s0
transfers "4 pairs"
snap s1
# the flow below must move with its sender's CPU: the maps come back
net_xps "$pa" "$ia" $xa && net_xps "$pb" "$ib" $xb ||
	uv_fail "cannot restore the XPS maps of $ia and $ib ($xa; $xb)"
uv_log "XPS maps cleared for the transfers, then restored: $(echo $xa)"
line=
for who in A B; do
	# a thread receives on one queue, its first pair's
	readers=$threads_a
	[ $who = B ] && readers=2
	for d in tx rx; do
		busy=0
		for q in $(seq 0 $((Q - 1))); do
			n=$(delta s0 s1 $who $d$q)
			r=$(delta s0 s1 $who ring$d$q)
			line+=" $who.$d$q=$n(ring $r)"
			if [ $d = rx ] && [ $q -ge $readers ]; then
				[ "$n" = 0 ] || { uv_log "per-queue frames:$line"; uv_fail "$who: receive queue $q carried $n frames, with $readers thread(s) receiving on queues 0-$((readers - 1))"; }
				continue
			fi
			[ "$n" -ge 100 ] || continue
			busy=$((busy + 1))
			[ $((r * 10)) -ge $((n * 9)) ] || { uv_log "per-queue frames:$line"; ring_log; uv_fail "$who: only $r of the $n frames of $d queue $q went through a shared ring"; }
		done
		need=2
		[ $d = rx ] && need=$readers
		[ $busy -ge $need ] || { uv_log "per-queue frames:$line"; uv_fail "$who: only $busy $d queue(s) carried 100 frames or more, want $need"; }
	done
done
uv_log "per-queue frames:$line"

# One flow, one receive queue: the driver moves a flow to another transmit
# queue when the sender's CPU changes (XPS), so the sender hops CPUs every
# 20 ms; A must still hand every frame of it to one backend, so that it
# reaches B on one receive queue (two would reorder it). The driver moves
# a flow only when none of its frames is in flight, so up to 3 transfers
# are made until one of them moved; the log says whether any did.
# one_flow TRY - one transfer, checked; sets MOVED when A sent it on more
# than one transmit queue
one_flow() {
	local srv snd cpu=0 q n r line= txq=0 rxq=0 total=0
	snap f0
	net_in "$pb" busybox nc -l -p $((5200 + $1)) > "$UV_TMP/recv.flow" &
	srv=$!
	sleep 0.5
	nsenter -t "$pa" -n bash -c "exec cat '$UV_TMP/send' > /dev/tcp/10.78.0.2/$((5200 + $1))" &
	snd=$!
	while uv_proc_alive $snd; do
		taskset -a -p -c $cpu $snd > /dev/null 2>&1
		cpu=$(( (cpu + 1) % $(nproc) ))
		sleep 0.02
	done
	wait $snd
	uv_wait_exit $srv $((60 * NET_SLOW)) || uv_fail "one flow: the receiver did not finish within 60 s"
	[ "$(uv_sha256 "$UV_TMP/recv.flow")" = "$want" ] || uv_fail "one flow: SHA-256 differs"
	snap f1
	for q in $(seq 0 $((Q - 1))); do
		n=$(delta f0 f1 A tx$q) r=$(delta f0 f1 B rx$q)
		line+=" A.tx$q=$n B.rx$q=$r"
		[ "$n" -ge 10 ] && txq=$((txq + 1))
		[ "$r" -ge 10 ] && rxq=$((rxq + 1))
		total=$((total + r))
	done
	[ $rxq = 1 ] || uv_fail "one flow reached B on $rxq receive queues:$line"
	uv_log "one flow, try $1: on $txq of A's transmit queues, on 1 of B's receive queues ($total frames):$line"
	[ $txq -ge 2 ] && MOVED=1
}
MOVED=0
for try in 1 2 3; do
	one_flow $try
	[ $MOVED = 1 ] && break
done
[ $MOVED = 1 ] || uv_log "one flow: the driver kept the flow on one transmit queue in all 3 tries (the check did not bite)"

net_in "$pa" ethtool -L "$ia" combined 1 || uv_fail "ethtool -L $ia combined 1 failed"
got=$(channels "$pa" "$ia" cur)
[ "$got" = 1 ] || uv_fail "$ia uses '$got' combined channels after ethtool -L 1"
for _ in $(seq 50); do
	grep -q "1 of $Q queue pairs enabled" "$ea" && break
	sleep 0.1
done
grep -q "1 of $Q queue pairs enabled" "$ea" || { cat "$ea"; uv_fail "A did not log VQ_PAIRS_SET 1"; }
snap s2
transfers "A on 1 pair, B on $Q"
snap s3
line=
for d in tx rx; do
	for q in $(seq 0 $((Q - 1))); do
		n=$(delta s2 s3 A $d$q)
		line+=" A.$d$q=$n"
		if [ $q = 0 ]; then
			[ "$n" -ge 100 ] || { uv_log "A's frames:$line"; uv_fail "A's $d queue 0 carried only $n frames"; }
			r=$(delta s2 s3 A ring$d$q)
			line+="(ring $r)"
			[ $((r * 10)) -ge $((n * 9)) ] || { uv_log "A's frames:$line"; ring_log; uv_fail "A: only $r of the $n frames of $d queue 0 went through a shared ring"; }
		else
			[ "$n" = 0 ] || { uv_log "A's frames:$line"; uv_fail "A's disabled $d queue $q carried $n frames"; }
		fi
	done
done
busy=0
for q in 1 2 3; do
	[ "$(delta s2 s3 B tx$q)" -gt 0 ] && busy=$((busy + 1))
done
uv_log "A's frames:$line; B still sent on $busy of its pairs 1-3"
for d in rx tx; do
	dr=$(net_stat "$ea" $d drops)
	[ "${dr:-1}" = 0 ] || uv_fail "A dropped $dr $d frames"
done
rm -f "$UV_TMP"/send "$UV_TMP"/recv.*

idx=$(sed -n 's/^uvirtio-net: uvirtio-\([0-9]*\): started.*/\1/p' "$ea")
kill -KILL "$pa"
wait "$pa" 2> /dev/null
t0=${EPOCHREALTIME/./}
gone=0
while [ $(( ${EPOCHREALTIME/./} - t0 )) -lt 5000000 ]; do
	if [ ! -e "/sys/devices/virtual/misc/uvirtio/uvirtio-$idx" ]; then
		gone=1
		break
	fi
	sleep 0.1
done
[ $gone = 1 ] || uv_fail "uvirtio-$idx still exists 5 s after SIGKILL"
uv_log "A's device gone $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms after SIGKILL"
net_stop "$pb" "$eb" || uv_fail "B did not stop cleanly"
uv_module_unload 5 || uv_fail "uvirtio does not unload"
uv_module_load 0666 || uv_fail "cannot load uvirtio again"
uv_pass
