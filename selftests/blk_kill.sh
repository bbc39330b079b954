#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# SIGKILL of an emulator under load: fio with 16 requests in flight must end
# (with I/O errors) within 5 s, the disk must disappear within 5 s, the
# module must then unload, and the kernel log must stay free of warnings.
# BLK_KILL_FIO replaces fio's --rw=randrw (blk_uring_kill.sh: a verifying
# writer); UV_BLK_ARGS (lib.sh) chooses the emulator's notification path.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv fio
uv_tmpdir
uv_defer "uv_module_loaded || uv_module_load 0666"
fio_pid=
uv_defer '[ -z "$fio_pid" ] || kill -KILL $fio_pid'

# io_uring if this kernel lets fio use it, else libaio
engine=libaio
if fio --name=probe --filename="$UV_TMP/probe" --size=64k --bs=4k --rw=read \
       --ioengine=io_uring --output=/dev/null > /dev/null 2>&1; then
	engine=io_uring
fi

uv_blk_start --user ram:256M || uv_fail "emulator did not start"
uv_log "disk $UV_NODE (emulator pid $UV_PID); fio ${BLK_KILL_FIO:---rw=randrw} 4k QD16 with $engine"

fio --name=k --filename="$UV_NODE" --direct=1 ${BLK_KILL_FIO:---rw=randrw} --bs=4k --iodepth=16 \
    --ioengine=$engine --time_based --runtime=60 > "$UV_TMP/fio.out" 2>&1 &
fio_pid=$!
# Kill under load
uv_fio_flowing $fio_pid "$UV_TMP/fio.out"
uv_proc_alive $UV_PID || { cat "$UV_ERR"; uv_fail "emulator ended before the kill"; }

kill -KILL $UV_PID
killed=$SECONDS
uv_log "sent SIGKILL to the emulator"

uv_wait_exit $fio_pid 5
rc=$?
if [ $rc = 255 ]; then
	[ -e "/sys/block/$UV_DISK" ] && state="still exists" || state="is gone"
	echo "fio still runs 5 s after the kill; /sys/block/$UV_DISK $state; fio threads:"
	for t in /proc/$fio_pid/task/* /proc/[0-9]*/task/*; do
		read -r comm 2>/dev/null < "$t/comm" || continue
		[ "$comm" = fio ] || continue
		echo "  ${t#/proc/}: $(cut -d' ' -f3 "$t/stat") wchan=$(cat "$t/wchan" 2>/dev/null)"
		sed 's/^/      /' "$t/stack" 2>/dev/null
	done | awk '!seen[$0]++'
	tail -n 5 "$UV_TMP/fio.out" | sed 's/^/  fio: /'
	# Tell a slow exit from a hang before failing.
	uv_wait_exit $fio_pid 20 > /dev/null
	rc=$?
	[ $rc = 255 ] && msg="still runs 25 s" || msg="exited $rc only after $((SECONDS - killed)) s"
	fio_pid=
	uv_fail "fio $msg after the emulator was killed (limit 5 s)"
fi
fio_pid=
tail -n 5 "$UV_TMP/fio.out" | sed 's/^/  fio: /'
[ $rc != 0 ] || uv_fail "fio exited 0 although its disk died under it"
uv_log "fio exited $rc after $((SECONDS - killed)) s"

uv_wait_exit $UV_PID 5 > /dev/null
uv_wait_gone "$UV_DISK" 5 || uv_fail "$UV_NODE still present 5 s after the kill"
uv_log "$UV_NODE is gone"

uv_module_unload 5 || uv_fail "rmmod uvirtio failed after the emulator was killed"
uv_log "rmmod uvirtio succeeded"
uv_module_load 0666 || uv_fail "insmod uvirtio failed"
uv_log "module loaded again"

errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_log "kernel log has no warnings"

uv_pass
