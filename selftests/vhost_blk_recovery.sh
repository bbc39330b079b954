#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-vhost-user --recovery: a backend that dies under I/O is replaced
# and nothing is lost. qemu-storage-daemon (which offers no INFLIGHT_SHMFD)
# exports a raw image; fio writes 4-64 KiB blocks at QD16 with crc32c
# headers. qemu-storage-daemon is SIGKILLed mid-write, and started again
# on the same socket 1 s later. The front end must hold the I/O, reconnect,
# have the module re-post the requests the dead backend had not completed
# (UVIRTIO_REQUEUE) and hand the rings over at the used index: fio must
# finish, its read-back of every block must verify, and no request may
# have failed. The same twice, the second time with the backend killed
# during fio's read-back. The first time, before the new backend starts,
# a socket that accepts the front end's connect and closes it at once
# (vhost_fake reset, as the dying backend's socket can do) must not end
# the wait: the front end says so and keeps waiting. Then a clean SIGTERM.
# Last, SIGTERM while the backend is away and a write waits ends the front end at once (exit 1,
# one line) and fails the write: the removal cannot complete without it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vhost_lib.sh"

uv_need uvirtio-vhost-user qemu-storage-daemon setpriv fio
uv_tmpdir
chmod 0777 "$UV_TMP"	# uid 1000 creates the image and sockets here
fio_pid=
uv_defer '[ -z "$fio_pid" ] || kill -KILL $fio_pid'
engine=$(vh_fio_engine)

vh_raw_export --recovery
img=$VH_IMG
sock=$VH_SOCK
uv_log "$UV_NODE (front end pid $UV_PID); fio randwrite 4-64k QD16 verify=crc32c with $engine"

# ios FIELD - the disk's completed reads (1) or writes (5) so far
ios() {
	local s
	read -r -a s < "/sys/block/$UV_DISK/stat" || return 1
	echo "${s[$(($1 - 1))]}"
}

# when_busy FIELD - wait until fio has done 200 more of those (30 s at most)
when_busy() {
	local from n
	from=$(ios "$1")
	for _ in $(seq 300); do
		n=$(ios "$1")
		[ $((n - from)) -lt 200 ] || return 0
		uv_proc_alive "$fio_pid" || break
		sleep 0.1
	done
	cat "$UV_TMP/fio.out"
	uv_fail "fio did not do 200 I/Os within 30 s (or ended first)"
}

# replace - SIGKILL qemu-storage-daemon, start a new one 1 s later, and
# check that the front end took it over
replace() {
	kill -KILL "$VH_QSD_PID"
	uv_log "sent SIGKILL to qemu-storage-daemon (pid $VH_QSD_PID)"
	sleep 1
	uv_proc_alive "$UV_PID" || { cat "$UV_ERR"; uv_fail "the front end exited when its backend died"; }
	[ "$rounds" != 0 ] || not_a_backend
	vh_qsd_start "$img" raw "$sock" || uv_fail "qemu-storage-daemon did not start again"
	for _ in $(seq 50); do
		[ "$(grep -c "is back after" "$UV_ERR")" -gt "$rounds" ] && break
		sleep 0.1
	done
	rounds=$((rounds + 1))
	[ "$(grep -c "is back after" "$UV_ERR")" = "$rounds" ] ||
		{ cat "$UV_ERR"; uv_fail "the front end did not take the new backend within 5 s"; }
	uv_log "front end: $(grep -E "served again|is back after" "$UV_ERR" | tail -n 2 | tr '\n' ' ')"
}

# not_a_backend - a socket that takes one connect and closes it: the front
# end must go on waiting for the real backend
not_a_backend() {
	local fpid
	uv_as_user "$UV_DIR/vhost_fake" reset "$sock" &
	fpid=$!
	uv_wait_exit "$fpid" 10 ||
		{ kill -KILL "$fpid"; cat "$UV_ERR"; uv_fail "the front end did not try the socket within 10 s"; }
	sleep 0.5
	uv_proc_alive "$UV_PID" ||
		{ cat "$UV_ERR"; uv_fail "the front end exited on a connection reset while its backend was away"; }
	grep -q "still waiting for the backend" "$UV_ERR" ||
		{ cat "$UV_ERR"; uv_fail "the front end did not say it still waits after the reset"; }
	uv_log "a connection reset while the backend was away: $(grep "still waiting" "$UV_ERR" | tail -n 1)"
}

rounds=0
for phase in write read; do
	fio --name=r --filename="$UV_NODE" --direct=1 --rw=randwrite --bsrange=4k-64k \
	    --iodepth=16 --ioengine=$engine --size=48M --verify=crc32c --do_verify=1 \
	    --verify_fatal=1 --verify_backlog=0 > "$UV_TMP/fio.out" 2>&1 &
	fio_pid=$!
	if [ $phase = write ]; then
		when_busy 5
	else
		# the write pass is over once reads start: kill during the read-back
		when_busy 1
	fi
	replace
	uv_wait_exit $fio_pid 180
	rc=$?
	fio_pid=
	[ $rc != 255 ] || uv_fail "$phase: fio still runs 180 s after the backend came back"
	[ $rc = 0 ] || { cat "$UV_TMP/fio.out" "$UV_ERR" "$UV_TMP"/qsd.err.*; uv_fail "$phase: fio exited $rc"; }
	! grep -qiE "verify: bad|crc32c: verify failed|err= *[1-9]" "$UV_TMP/fio.out" ||
		{ cat "$UV_TMP/fio.out"; uv_fail "$phase: fio reports errors"; }
	uv_log "$phase: backend replaced during the $phase pass; fio exit 0, every block verified"
done

grep -q "served again" "$UV_ERR" ||
	uv_log "note: no request was outstanding at either kill (nothing re-posted)"
uv_blk_stop || uv_fail "front end did not stop cleanly"

# SIGTERM while the backend is away, with a write held: the removal cannot
# complete without a backend, so the front end must not wait for it: exit
# 1 within 2 s with one line, the write failed, the disk gone
kill -KILL "$VH_QSD_PID"
uv_wait_exit "$VH_QSD_PID" 5
vh_qsd_start "$img" raw "$sock" || uv_fail "qemu-storage-daemon"
vh_front_start "$sock" --recovery || uv_fail "uvirtio-vhost-user did not serve the export again"
kill -KILL "$VH_QSD_PID"
for _ in $(seq 50); do
	grep -q "holding the device's I/O" "$UV_ERR" && break
	sleep 0.1
done
grep -q "holding the device's I/O" "$UV_ERR" || { cat "$UV_ERR"; uv_fail "the front end did not see its backend go"; }
dd if=/dev/zero of="$UV_NODE" bs=4k count=1 oflag=direct status=none 2> /dev/null &
fio_pid=$!
sleep 0.5
uv_proc_alive "$fio_pid" || uv_fail "the write was not held while the backend is away"
kill -TERM "$UV_PID"
uv_wait_exit "$UV_PID" 2
rc=$?
[ $rc = 1 ] || { cat "$UV_ERR"; uv_fail "SIGTERM with the backend away: exit $rc within 2 s (255: still runs), not 1"; }
grep -q "removal asked for while the backend is away; removing the device" "$UV_ERR" ||
	{ cat "$UV_ERR"; uv_fail "SIGTERM with the backend away: no line saying so"; }
uv_wait_exit "$fio_pid" 5
rc=$?
fio_pid=
[ $rc != 255 ] && [ $rc != 0 ] || uv_fail "the held write: exit $rc 5 s after SIGTERM (255: still waits), not an error"
uv_wait_gone "$UV_DISK" 5 || uv_fail "$UV_NODE still present 5 s after SIGTERM"
uv_log "SIGTERM with the backend away and a write held: exit 1 at once, the write failed: $(tail -n 1 "$UV_ERR")"
uv_pass
