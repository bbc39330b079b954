#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A driver reset restarts the backend's rings. virtio_blk is unbound from
# the device (it resets it: uvirtio-vhost-user must stop every backend
# ring with GET_VRING_BASE) and bound again (DRIVER_OK with new queue
# epochs: the rings must be handed to qemu-storage-daemon anew, from used
# index 0), twice. Each time the data written before must read back the
# same, and fio must write and verify (crc32c, 4k QD16, 2 jobs) within 60 s:
# a ring left stale hangs the I/O or loses its completions.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vhost_lib.sh"

uv_need uvirtio-vhost-user qemu-storage-daemon setpriv fio timeout
uv_tmpdir
chmod 0777 "$UV_TMP"	# uid 1000 creates the image and socket here
engine=$(vh_fio_engine)
drv=/sys/bus/virtio/drivers/virtio_blk

img=$UV_TMP/disk.raw
sock=$UV_TMP/vu.sock
uv_as_user truncate -s 64M "$img" || uv_fail "truncate"
vh_qsd_start "$img" raw "$sock" || uv_fail "qemu-storage-daemon"
vh_front_start "$sock" || uv_fail "uvirtio-vhost-user did not serve the export"
vdev=$(basename "$(readlink -f "/sys/block/$UV_DISK/device")")
case "$vdev" in virtio*) ;; *) uv_fail "$UV_NODE is not on a virtio device ($vdev)" ;; esac
uv_log "$UV_NODE on $vdev (front end pid $UV_PID)"

dd if=/dev/urandom of="$UV_TMP/data" bs=1M count=4 status=none
want=$(uv_sha256 "$UV_TMP/data")
timeout 30 dd if="$UV_TMP/data" of="$UV_NODE" bs=1M oflag=direct status=none ||
	uv_fail "writing 4 MiB to $UV_NODE"

for round in 1 2; do
	echo "$vdev" > "$drv/unbind" || uv_fail "round $round: unbind $vdev"
	uv_wait_gone "$UV_DISK" 10 || uv_fail "round $round: $UV_NODE still there after unbind"
	echo "$vdev" > "$drv/bind" || uv_fail "round $round: bind $vdev"
	disk=
	for _ in $(seq 100); do
		disk=$(ls "/sys/bus/virtio/devices/$vdev/block" 2>/dev/null | head -n 1)
		[ -n "$disk" ] && [ -b "/dev/$disk" ] && [ "$(cat "/sys/block/$disk/size")" != 0 ] && break
		disk=
		sleep 0.1
	done
	[ -n "$disk" ] || uv_fail "round $round: no disk 10 s after binding $vdev again"
	UV_DISK=$disk
	UV_NODE=/dev/$disk
	uv_proc_alive "$UV_PID" || { cat "$UV_ERR"; uv_fail "round $round: the front end exited"; }
	got=$(timeout 30 dd if="$UV_NODE" bs=1M count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || uv_fail "round $round: the first 4 MiB read back different (or timed out) after the reset"
	timeout 60 fio --name=v --filename="$UV_NODE" --direct=1 --ioengine="$engine" \
	    --rw=randwrite --bs=4k --iodepth=16 --numjobs=2 --size=2M \
	    --offset=8M --offset_increment=16M --verify=crc32c --verify_fatal=1 \
	    > "$UV_TMP/fio.out" 2>&1 ||
		{ tail -n 20 "$UV_TMP/fio.out"; uv_fail "round $round: fio verify failed or hung after the reset"; }
	uv_log "round $round: reset and bound again as $UV_NODE; data intact, fio verify ok"
done

uv_blk_stop || uv_fail "the front end did not exit 0 on SIGTERM"
grep -q "the backend" "$UV_ERR" && { cat "$UV_ERR"; uv_fail "the front end reported a backend failure"; }
uv_pass
