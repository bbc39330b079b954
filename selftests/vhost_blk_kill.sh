#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A vhost-user backend that dies or misbehaves costs I/O errors, never a
# hang. qemu-storage-daemon SIGKILLed under fio (randrw 4k QD16): fio must
# end with errors within 5 s, uvirtio-vhost-user must exit 1 with one line
# naming the socket, the disk must be gone within 5 s and the module must
# unload. Then backends that are not (good) vhost-user backends
# (vhost_fake: silent, a text banner, random bytes, a wrong reply size, a
# reply with an fd, a wrong reply code after the device exists) and a path
# where nothing listens: each time the front end must exit 1 within 8 s
# (replies are awaited 5 s at most), print exactly one line, and leave no
# uvirtio device behind. Last, a backend that offers 1000 segments a
# request with indirect descriptors: the driver must get at most 254, so
# that every chain fits the ring of 256 without them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vhost_lib.sh"

uv_need uvirtio-vhost-user qemu-storage-daemon setpriv fio
FAKE=$UV_DIR/vhost_fake
[ -x "$FAKE" ] || uv_fail "$FAKE is missing (make selftests)"
uv_tmpdir
chmod 0777 "$UV_TMP"	# uid 1000 creates the image and sockets here
uv_defer "uv_module_loaded || uv_module_load 0666"
fio_pid=
uv_defer '[ -z "$fio_pid" ] || kill -KILL $fio_pid'
engine=$(vh_fio_engine)

# --- the backend killed under I/O ---
vh_raw_export
img=$VH_IMG
sock=$VH_SOCK
uv_log "$UV_NODE (front end pid $UV_PID, qemu-storage-daemon pid $VH_QSD_PID); fio randrw 4k QD16 with $engine"

fio --name=k --filename="$UV_NODE" --direct=1 --rw=randrw --bs=4k --iodepth=16 \
    --ioengine=$engine --time_based --runtime=60 > "$UV_TMP/fio.out" 2>&1 &
fio_pid=$!
uv_fio_flowing $fio_pid "$UV_TMP/fio.out"

kill -KILL "$VH_QSD_PID"
killed=$SECONDS
uv_log "sent SIGKILL to qemu-storage-daemon"
uv_wait_exit $fio_pid 5
rc=$?
fio_pid=
[ $rc != 255 ] || uv_fail "fio still runs 5 s after the backend was killed"
[ $rc != 0 ] || uv_fail "fio exited 0 although its backend died under it"
uv_log "fio exited $rc after $((SECONDS - killed)) s"
uv_wait_exit "$UV_PID" 5
rc=$?
[ $rc = 1 ] || uv_fail "the front end exited $rc (255: still runs) after its backend died, not 1"
[ "$(wc -l < "$UV_ERR")" -ge 1 ] && grep -q "$sock: the backend closed the connection" "$UV_ERR" ||
	{ cat "$UV_ERR"; uv_fail "the front end did not say that the backend went away"; }
uv_log "front end: $(tail -n 1 "$UV_ERR")"
uv_wait_gone "$UV_DISK" 5 || uv_fail "$UV_NODE still present 5 s after the backend was killed"
uv_log "$UV_NODE is gone"
uv_module_unload 5 || uv_fail "rmmod uvirtio failed after the backend was killed"
uv_module_load 0666 || uv_fail "insmod uvirtio failed"
uv_log "rmmod and insmod uvirtio succeeded"

# --- backends that are not backends ---
# refused KIND EXPECT - the front end on a vhost_fake KIND (or, for "dead",
# a path nobody listens on) exits 1 within 8 s with one line matching EXPECT
refused() {
	local kind=$1 expect=$2 s=$UV_TMP/fake.$1.sock fpid= t0 rc lines
	if [ "$kind" = dead ]; then
		rm -f "$s"	# nothing there: a backend that is not running
	else
		uv_as_user "$FAKE" "$kind" "$s" &
		fpid=$!
		for _ in $(seq 50); do [ -S "$s" ] && break; sleep 0.1; done
		[ -S "$s" ] || uv_fail "vhost_fake $kind did not listen"
	fi
	t0=$SECONDS
	uv_as_user timeout 20 uvirtio-vhost-user "$s" > "$UV_TMP/out" 2> "$UV_TMP/err" < /dev/null
	rc=$?
	lines=$(wc -l < "$UV_TMP/err")
	[ -z "$fpid" ] || { kill -KILL "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null; }
	[ $rc = 1 ] || { cat "$UV_TMP/err"; uv_fail "$kind: the front end exited $rc, not 1"; }
	[ $((SECONDS - t0)) -le 8 ] || uv_fail "$kind: the front end took $((SECONDS - t0)) s to give up"
	[ "$lines" = 1 ] || { cat "$UV_TMP/err"; uv_fail "$kind: $lines lines on stderr, not one"; }
	grep -q -- "$expect" "$UV_TMP/err" ||
		{ cat "$UV_TMP/err"; uv_fail "$kind: the line does not say '$expect'"; }
	[ ! -s "$UV_TMP/out" ] || uv_fail "$kind: something was printed on stdout: $(cat "$UV_TMP/out")"
	for _ in $(seq 50); do
		ls -d /sys/devices/virtual/misc/uvirtio/uvirtio-* > /dev/null 2>&1 || break
		sleep 0.1
	done
	! ls -d /sys/devices/virtual/misc/uvirtio/uvirtio-* > /dev/null 2>&1 ||
		uv_fail "$kind: a uvirtio device is left: $(ls -d /sys/devices/virtual/misc/uvirtio/uvirtio-*)"
	uv_log "$kind: exit 1 after $((SECONDS - t0)) s: $(cat "$UV_TMP/err")"
}

refused dead "cannot connect"
refused silent "GET_FEATURES: no reply within"
refused banner "not a vhost-user reply"
refused garbage "GET_FEATURES: "
refused size "reply of 4 bytes, expected 8"
refused fds "carries file descriptors"
refused late "SET_MEM_TABLE: the reply is for request 1; removing the device"

# --- a backend offering more segments than the ring holds ---
# with indirect descriptors and 1000 segments a request: the front end
# offers the driver at most 254, so that a request's chain (and the header
# and status) fits the ring of 256 even when virtio_ring cannot allocate
# an indirect table and falls back to direct descriptors
s=$UV_TMP/fake.segs.sock
uv_as_user sh -c 'echo $$ > "$1.pid"; exec "$0" segs "$1"' "$FAKE" "$s" &
fpid=$!
for _ in $(seq 50); do [ -S "$s" ] && break; sleep 0.1; done
vh_front_start "$s" || uv_fail "segs: the front end did not serve vhost_fake's disk"
segs=$(cat "/sys/block/$UV_DISK/queue/max_segments")
kill -KILL "$(cat "$s.pid")"
wait "$fpid" 2>/dev/null
uv_wait_exit "$UV_PID" 8
rc=$?
[ $rc = 1 ] || uv_fail "segs: the front end exited $rc (255: still runs) after its backend died, not 1"
uv_wait_gone "$UV_DISK" 5 || uv_fail "segs: $UV_NODE still present 5 s after the backend was killed"
[ "$segs" -le 254 ] ||
	uv_fail "segs: a backend offering 1000 segments gave the driver $segs: chains of $((segs + 2)) descriptors, longer than the ring of 256"
uv_log "segs: a backend offering 1000 segments: the driver got $segs; the front end exited 1 when the backend was killed"

uv_module_unload 5 || uv_fail "rmmod uvirtio failed at the end"
uv_pass
