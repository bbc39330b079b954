#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Two uvirtio-net devices, each created by uid 1000 inside its own user+net
# namespace, cabled together with the dgram backend: ping both ways, then a
# 64 MiB TCP transfer whose SHA-256 must match on both ends. The MTU is
# NET_MTU (default 1500; net_dgram_jumbo.sh runs this at the largest MTU).
# The two trade shared rings (ring.h): both must say so, and nearly all
# frames must have gone through them. With NET_NO_RING=1 (net_dgram_sock.sh)
# both run --no-ring: every frame goes through the sockets, in batches
# (sendmmsg()), and none through a ring. With rings, A copies frames with
# memcpy() (--copy memcpy) and B with what it measured faster at start,
# and each says so; with --no-ring neither copies, measures or says.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

mtu=${NET_MTU:-1500}
size_mb=${NET_SIZE_MB:-64}
ring_opt=()
copy_a=(--copy memcpy)
[ "${NET_NO_RING:-0}" = 1 ] && ring_opt=(--no-ring)
uv_need uvirtio-net setpriv unshare nsenter ip ping busybox sha256sum
uv_tmpdir
mkdir -m 1777 "$UV_TMP/sock"
sa=$UV_TMP/sock/a
sb=$UV_TMP/sock/b

net_start userns --mtu "$mtu" "${ring_opt[@]}" "${copy_a[@]}" "dgram:$sa,$sb" || uv_fail "emulator A did not start"
pa=$NET_PID ia=$NET_IF ea=$NET_ERR
net_start userns --mtu "$mtu" "${ring_opt[@]}" "dgram:$sb,$sa" || uv_fail "emulator B did not start"
pb=$NET_PID ib=$NET_IF eb=$NET_ERR
uv_log "A: $ia in pid $pa's namespace, B: $ib in pid $pb's namespace, MTU $mtu"

for x in "$pa $ia 10.77.0.1" "$pb $ib 10.77.0.2"; do
	set -- $x
	net_in "$1" ip link set lo up
	net_in "$1" ip addr add "$3/24" dev "$2" || uv_fail "cannot address $2"
	net_in "$1" ip link set "$2" up || uv_fail "cannot set $2 up"

done
got=$(net_in "$pa" ip -o link show "$ia" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
[ "$got" = "$mtu" ] || uv_fail "$ia has MTU '$got', the device offered $mtu"
net_wait_carrier "$pa" "$ia" 1 10 || uv_fail "A's link did not come up"
net_wait_carrier "$pb" "$ib" 1 10 || uv_fail "B's link did not come up"

net_in "$pa" ping -c 3 -W 5 10.77.0.2 > "$UV_TMP/ping" 2>&1 ||
	{ cat "$UV_TMP/ping"; uv_fail "A cannot ping B"; }
net_in "$pb" ping -c 3 -W 5 10.77.0.1 > "$UV_TMP/ping" 2>&1 ||
	{ cat "$UV_TMP/ping"; uv_fail "B cannot ping A"; }
uv_log "ping A->B and B->A: ok"

# Random data, repeated: 16 MiB from /dev/urandom, sent 4 times over
# (64 MiB), each copy's offset stamped into it so that a misplaced block
# still changes the hash. Generating the data from urandom and hashing them
# costs more than the transfer under TCG.
t0=${EPOCHREALTIME/./}
dd if=/dev/urandom of="$UV_TMP/chunk" bs=1M count=16 status=none ||
	uv_fail "cannot make test data"
for i in $(seq $((size_mb / 16))); do
	printf 'copy %08d' "$i"
	cat "$UV_TMP/chunk"
done > "$UV_TMP/send"
want=$(uv_sha256 "$UV_TMP/send")
t1=${EPOCHREALTIME/./}
uv_log "test data: $(stat -c %s "$UV_TMP/send") bytes in $(( (t1 - t0) / 1000 )) ms"
net_in "$pb" busybox nc -l -p 5001 > "$UV_TMP/recv" &
srv=$!
uv_defer "kill $srv"
sleep 0.5
t0=${EPOCHREALTIME/./}
net_in "$pa" bash -c "cat '$UV_TMP/send' > /dev/tcp/10.77.0.2/5001" ||
	uv_fail "sender failed"
uv_wait_exit $srv $((30 * NET_SLOW)) || uv_fail "receiver did not finish within 30 s of the sender"
t1=${EPOCHREALTIME/./}
bytes=$(stat -c %s "$UV_TMP/recv")
uv_log "A->B in $(( (t1 - t0) / 1000 )) ms; received $bytes bytes"
got=$(uv_sha256 "$UV_TMP/recv")
[ "$got" = "$want" ] || { cmp "$UV_TMP/send" "$UV_TMP/recv" | head -3
	uv_fail "SHA-256 differs: sent $want, received $got"; }
uv_log "sha256 matches: $got"
rm -f "$UV_TMP/send" "$UV_TMP/recv"

kill -USR2 "$pa" "$pb"
sleep 0.5
tx=$(net_stat "$ea" tx packets)
rx=$(net_stat "$eb" rx packets)
drops=$(net_stat "$eb" rx drops)
uv_log "A sent $tx frames, B received $rx, B dropped $drops"
[ "${rx:-0}" -gt 0 ] && [ "${drops:-1}" = 0 ] || uv_fail "B's counters are wrong"
txr=$(net_stat "$ea" tx ring)
rxr=$(net_stat "$eb" rx ring)
uv_log "through the shared ring: $txr of A's frames, $rxr of B's"
if [ ${#ring_opt[@]} -gt 0 ]; then
	[ "${txr:-1}" = 0 ] && [ "${rxr:-1}" = 0 ] ||
		uv_fail "with --no-ring, frames went through a ring: A $txr, B $rxr"
	! grep -q "through a shared ring" "$ea" "$eb" ||
		uv_fail "with --no-ring, a shared ring was set up"
	! grep -q "bulk copies by" "$ea" "$eb" ||
		uv_fail "with --no-ring, an emulator chose a ring copy"
else
	for f in "$ea" "$eb"; do
		grep -q "frames go to the peer through a shared ring" "$f" ||
			{ cat "$f"; uv_fail "$f: no shared ring was set up"; }
	done
	grep -q "uvirtio-[0-9]*: bulk copies by memcpy() (--copy memcpy)" "$ea" ||
		{ cat "$ea"; uv_fail "A does not say it copies with memcpy()"; }
	grep -q "uvirtio-[0-9]*: bulk copies by .* (measured: memcpy() [0-9.]* us, the loop [0-9.]* us)" "$eb" ||
		{ cat "$eb"; uv_fail "B does not say which copy it measured faster"; }
	uv_log "A: $(grep -o "bulk copies by .*" "$ea"); B: $(grep -o "bulk copies by .*" "$eb")"
	# A handful of frames (ARP, the first pings) may precede the handshake.
	[ $(( ${txr:-0} + 20 )) -ge "${tx:-0}" ] && [ $(( ${rxr:-0} + 20 )) -ge "${rx:-0}" ] ||
		uv_fail "too few frames went through the ring: A $txr of $tx, B $rxr of $rx"
fi
net_stop "$pa" "$ea" || uv_fail "A did not stop cleanly"
net_stop "$pb" "$eb" || uv_fail "B did not stop cleanly"
uv_pass
