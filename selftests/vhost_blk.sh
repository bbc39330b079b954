#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-vhost-user serves qemu-storage-daemon's vhost-user-blk export
# (num-queues=2) to the host kernel, both programs as uid 1000, for a raw
# file and for a qcow2 image: mkfs.ext4, mount, write, remount, the file
# reads back the same, e2fsck finds the filesystem clean; fio writes and
# verifies (crc32c) with 4k and 64k blocks at depth 1 and 16, two jobs on
# the two hardware queues. The daemon maps the device's memory through a
# UVIRTIO_DOMAIN_FD file, never the device fd. While fio runs, the front
# end must use less CPU than 2% of the wall time (the data path does not
# pass through it) while the daemon does the work. SIGTERM then removes
# the disk and the front end exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vhost_lib.sh"

uv_need uvirtio-vhost-user qemu-storage-daemon qemu-img setpriv fio mkfs.ext4 e2fsck
uv_tmpdir
chmod 0777 "$UV_TMP"	# uid 1000 creates the images and sockets here
engine=$(vh_fio_engine)

# one_image FORMAT - the whole check on a 64 MiB image of FORMAT
one_image() {
	local fmt=$1 img=$UV_TMP/disk.$1 sock=$UV_TMP/vu.$1.sock mnt=$UV_TMP/mnt
	local sum1 sum2 bs size qd t0 t1 f0 f1 q0 q1 wall front qsd

	uv_as_user qemu-img create -q -f "$fmt" "$img" 64M || uv_fail "qemu-img create $fmt"
	vh_qsd_start "$img" "$fmt" "$sock" || uv_fail "qemu-storage-daemon ($fmt)"
	vh_front_start "$sock" || uv_fail "uvirtio-vhost-user did not serve the $fmt export"
	uv_log "$fmt: $UV_NODE from qemu-storage-daemon (pid $VH_QSD_PID) through uvirtio-vhost-user (pid $UV_PID)"
	[ "$(ls "/sys/block/$UV_DISK/mq" | wc -l)" = 2 ] ||
		uv_fail "$fmt: $UV_NODE has $(ls "/sys/block/$UV_DISK/mq" | wc -l) hardware queues, the export has 2"
	[ "$(cat "/sys/block/$UV_DISK/size")" = 131072 ] ||
		uv_fail "$fmt: $UV_NODE has $(cat "/sys/block/$UV_DISK/size") sectors, the image 131072"
	# the daemon got the domain file, which maps memory and nothing else,
	# not the device fd (whose ioctls control the device)
	grep -q 'uvirtio-domain' "/proc/$VH_QSD_PID/maps" ||
		uv_fail "$fmt: qemu-storage-daemon has no mapping of a uvirtio domain file"
	! grep -q '/dev/uvirtio' "/proc/$VH_QSD_PID/maps" &&
		! ls -l "/proc/$VH_QSD_PID/fd" | grep -q '/dev/uvirtio' ||
		uv_fail "$fmt: qemu-storage-daemon holds /dev/uvirtio itself"

	mkfs.ext4 -q -F "$UV_NODE" || uv_fail "$fmt: mkfs.ext4"
	mkdir -p "$mnt"
	mount -t ext4 "$UV_NODE" "$mnt" || uv_fail "$fmt: mount"
	dd if=/dev/urandom of="$mnt/data" bs=1M count=8 status=none conv=fsync ||
		uv_fail "$fmt: write to the filesystem"
	sum1=$(uv_sha256 "$mnt/data")
	umount "$mnt" || uv_fail "$fmt: umount"
	mount -t ext4 "$UV_NODE" "$mnt" || uv_fail "$fmt: mount again"
	sum2=$(uv_sha256 "$mnt/data")
	umount "$mnt" || uv_fail "$fmt: umount"
	[ "$sum1" = "$sum2" ] || uv_fail "$fmt: the file reads back different after a remount"
	e2fsck -fn "$UV_NODE" > "$UV_TMP/fsck.out" 2>&1 ||
		{ cat "$UV_TMP/fsck.out"; uv_fail "$fmt: e2fsck found errors"; }
	uv_log "$fmt: ext4 written, remounted, same sha256, e2fsck clean"

	for bs in 4k 64k; do
		# each job writes and verifies its own region: 512 blocks of 4k, 128 of 64k
		[ $bs = 4k ] && size=2M || size=8M
		for qd in 1 16; do
			t0=$(vh_uptime_ms)
			f0=$(vh_cpu_ms "$UV_PID")
			q0=$(vh_cpu_ms "$VH_QSD_PID")
			fio --name=v --filename="$UV_NODE" --direct=1 --ioengine="$engine" \
			    --rw=randwrite --bs=$bs --iodepth=$qd --numjobs=2 \
			    --cpus_allowed=0-1 --cpus_allowed_policy=split \
			    --size=$size --offset_increment=16M --verify=crc32c \
			    --verify_fatal=1 --do_verify=1 > "$UV_TMP/fio.out" 2>&1 ||
				{ tail -n 20 "$UV_TMP/fio.out"; uv_fail "$fmt: fio verify bs=$bs QD$qd failed"; }
			f1=$(vh_cpu_ms "$UV_PID")
			q1=$(vh_cpu_ms "$VH_QSD_PID")
			t1=$(vh_uptime_ms)
			[ -n "$f0" ] && [ -n "$f1" ] && [ -n "$q0" ] && [ -n "$q1" ] ||
				uv_fail "$fmt: cannot read the CPU times of the front end or the daemon (did one exit?)"
			wall=$((t1 - t0))
			front=$((f1 - f0))
			qsd=$((q1 - q0))
			uv_log "$fmt: fio verify bs=$bs QD$qd x2 jobs ok; CPU over $wall ms: front end $front ms, qemu-storage-daemon $qsd ms"
			[ $((front * 50)) -le "$wall" ] ||
				uv_fail "$fmt: the front end used $front of $wall ms (over 2%) while fio ran"
			[ "$qsd" -gt $((front * 10)) ] ||
				uv_fail "$fmt: qemu-storage-daemon used $qsd ms, the front end $front ms: who served the I/O?"
		done
	done

	uv_blk_stop || uv_fail "$fmt: the front end did not exit 0 on SIGTERM"
	uv_wait_gone "$UV_DISK" 5 || uv_fail "$fmt: $UV_NODE still there after the front end exited"
	kill -TERM "$VH_QSD_PID"
	uv_wait_exit "$VH_QSD_PID" 10 > /dev/null
	uv_log "$fmt: SIGTERM removed $UV_NODE, front end exited 0"
}

one_image raw
one_image qcow2
uv_pass
