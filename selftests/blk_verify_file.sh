#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# fio --verify=crc32c against an unprivileged uvirtio-blk on a file, served
# through io_uring (--io uring: tmpfs alone would be mapped):
# buffered (page cache) with 1 queue, O_DIRECT (--direct)
# with 4 queues; afterwards the backing file holds what the disk showed.
# Then the default (--io auto) on the tmpfs file, which maps it: the same
# verification, the exit counters show reads and writes through the
# mapping and others (reads of holes) not, and reading the whole disk
# back did not grow the file. With --direct (where tmpfs has O_DIRECT,
# 6.6 on), and on every kernel for a sparse tmpfs file too large to map
# (over 1 TiB), the file is not mapped and requests under 64 KiB are
# served in the queue's thread, larger ones through io_uring: the
# counters show both.
# Then the default pool under an 8 MiB RLIMIT_MEMLOCK: sized to 4 MiB and
# registered as the io_uring's fixed buffer where the kernel allows it
# (6.5 on; before, the default 32 MiB stays): the same verification, and
# the exit counters show READ_FIXED / WRITE_FIXED were used, some of them
# one per piece; under 4 MiB the default 32 MiB pool stays, unpinned.
# The O_DIRECT case runs 4 queues under 8 MiB: from 6.12 they share one pin
# of a 4 MiB pool, and queue 1 (whose pin is queue 0's) uses it.
# O_DIRECT needs a filesystem that has it: tmpfs has it from 6.6 on, so on
# older kernels the file lives on ext4 on a loop device (itself on tmpfs).
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv fio losetup mkfs.ext4 truncate cmp taskset
uv_tmpdir
. "$UV_DIR/blk_verify_lib.sh"

img=$UV_TMP/disk.img

# stop_and_compare WHAT [FILE] - read the disk's first 64 MiB (all of
# $img) back, stop the emulator, and check that the backing file (default
# $img) holds exactly what the disk returned
stop_and_compare() {
	dd if="$UV_NODE" of="$UV_TMP/seen" bs=1M count=64 iflag=direct status=none ||
		uv_fail "$1: reading $UV_NODE back failed"
	uv_blk_stop || uv_fail "$1: emulator did not stop cleanly"
	cmp -s -n $((64 << 20)) "$UV_TMP/seen" "${2:-$img}" ||
		uv_fail "$1: the backing file differs from what the disk returned"
	uv_log "$1: backing file identical to the disk's contents"
}

# check_mixed WHAT - after the emulator stopped: its exit counters show
# some requests but not all through io_uring (the others, under 64 KiB,
# served in the queue's thread)
check_mixed() {
	local stats nreq nuring
	stats=$(grep -o "[0-9]* requests, .* [0-9]* through io_uring" "$UV_ERR")
	nreq=${stats%% requests*}
	nuring=${stats##*, }
	nuring=${nuring%% through*}
	[ -n "$nreq" ] && [ -n "$nuring" ] || uv_fail "no queue counters at exit: $(tail -n 3 "$UV_ERR")"
	[ "$nuring" -gt 0 ] && [ "$nuring" -lt "$nreq" ] ||
		uv_fail "$1: $nuring of $nreq requests through io_uring, expected some but not all"
	uv_log "$1: $nuring of $nreq requests through io_uring, the rest in the queue's thread"
}
truncate -s 64M "$img" || uv_fail "cannot create $img"
chown $UV_USER_UID:$UV_USER_UID "$img"

uv_blk_start --user --io uring "$img" || uv_fail "buffered emulator did not start"
bv_check_queues 1
! grep -q "bulk copies by" "$UV_ERR" ||
	uv_fail "--io uring copies nothing in userspace, but chose a copy: $(cat "$UV_ERR")"
uv_log "buffered file, 1 queue: $UV_NODE"
bv_verify_set "file buffered q1" "$UV_NODE" 8M
stop_and_compare "buffered"

# --io auto on tmpfs maps the file: reads and writes are copies in the
# queue's thread, but reads of holes go by preadv and allocate nothing
uv_blk_start --user "$img" || uv_fail "emulator (--io auto) did not start"
grep -q "reads and writes copied through a mapping of the file in the queue threads" "$UV_ERR" ||
	uv_fail "--io auto on tmpfs did not map the file: $(cat "$UV_ERR")"
bv_check_copy "the mapped file" "$BV_COPY_MEASURED"
uv_log "tmpfs file, --io auto (mapped): $UV_NODE, $(grep -o "bulk copies by .*" "$UV_ERR")"
bv_verify_set "file auto (tmpfs, mapped)" "$UV_NODE" 8M
blocks=$(stat -c %b "$img")
stop_and_compare "--io auto (mapped)"
[ "$(stat -c %b "$img")" = "$blocks" ] ||
	uv_fail "--io auto (mapped): reading the whole disk grew the file from $blocks to $(stat -c %b "$img") blocks"
stats=$(grep -o "[0-9]* requests, .* [0-9]* through the file's mapping" "$UV_ERR")
nreq=${stats%% requests*}
nmap=${stats##*io_uring_enter, }
nmap=${nmap%% through*}
[ -n "$nreq" ] && [ -n "$nmap" ] || uv_fail "no queue counters at exit: $(tail -n 3 "$UV_ERR")"
[ "$nmap" -gt 0 ] && [ "$nmap" -lt "$nreq" ] ||
	uv_fail "--io auto (mapped): $nmap of $nreq requests through the mapping, expected some (the data) but not all (the holes)"
uv_log "--io auto (mapped): $nmap of $nreq requests through the mapping, the rest (holes, flushes) by system calls; the file's $blocks blocks did not grow"

# A tmpfs file too large to map (over 1 TiB, sparse): --io auto says it
# goes by system calls, and takes the same mixed path as --direct does
big=$UV_TMP/big.img
truncate -s 1025G "$big" && chown $UV_USER_UID:$UV_USER_UID "$big" ||
	uv_fail "cannot create a sparse 1025 GiB file on tmpfs"
uv_blk_start --user "$big" || uv_fail "emulator (--io auto, 1025 GiB file) did not start"
grep -q "$big: cannot map the file (File too large): reads and writes by system calls" "$UV_ERR" ||
	uv_fail "--io auto on a 1025 GiB tmpfs file should say it cannot map it: $(cat "$UV_ERR")"
grep -q "tmpfs: reads and writes under 64 KiB in the queue threads" "$UV_ERR" ||
	uv_fail "--io auto on an unmapped tmpfs file did not choose the mixed path: $(cat "$UV_ERR")"
bv_verify_set "file auto (tmpfs over 1 TiB, mixed)" "$UV_NODE" 8M
stop_and_compare "--io auto (unmapped)" "$big"
check_mixed "--io auto on a tmpfs file too large to map"
rm -f "$big"

# The bounce pool as the io_uring's fixed buffer. Without --bounce-size,
# an ordinary user's file disk gets the largest pool whose pins take at
# most half of RLIMIT_MEMLOCK: 4 MiB for one queue under 8 MiB. Linux 6.5
# and later must pin it (the pool is mapped on its own, with no write
# notification); 6.1's io_uring takes no memory of a device file, so there
# the pool keeps its default size (a smaller one would only cost: 1M
# writes at QD8 ran at half the speed in a 4 MiB pool).
kver=$(uname -r)
# kernel_from MAJOR MINOR - is the running kernel that version or later
kernel_from() {
	local maj=${kver%%.*} min=${kver#*.}
	min=${min%%[!0-9]*}
	[ "$maj" -gt "$1" ] || { [ "$maj" -eq "$1" ] && [ "$min" -ge "$2" ]; }
}
memlock=$(ulimit -S -l)
ulimit -S -l 8192 || uv_fail "cannot set RLIMIT_MEMLOCK to 8 MiB"
uv_blk_start --user --io uring "$img" ||
	uv_fail "emulator (default pool, 8 MiB RLIMIT_MEMLOCK) did not start"
if grep -q "bounce pool 4 MiB registered as fixed buffer (the default pool sized to half of RLIMIT_MEMLOCK, 8192 KiB" "$UV_ERR"; then
	uv_log "default pool sized to 4 MiB and registered as fixed buffer: $UV_NODE"
	# READV_FIXED where the kernel has it (6.15 on), one per piece before
	if kernel_from 6 15; then
		vec="as one READV_FIXED/WRITEV_FIXED"
	else
		vec="as one operation per piece"
	fi
	grep -q "fixed buffer (.*), a transfer in pieces $vec$" "$UV_ERR" ||
		uv_fail "$kver: pieces should go $vec: $(grep -h 'fixed buffer' "$UV_ERR")"
	bv_verify_set "file fixed buffer" "$UV_NODE" 8M
	stop_and_compare "fixed buffer"
	counts=$(grep -o "through io_uring ([0-9]* on the pool as fixed buffer, [0-9]* of them in several pieces)" "$UV_ERR" |
		awk '{ gsub(/[(]/, ""); f += $3; s += $10 } END { print f + 0, s + 0 }')
	nfixed=${counts% *}
	nsplit=${counts#* }
	[ "$nfixed" -gt 0 ] ||
		uv_fail "pool registered, but no read or write used it: $(tail -n 2 "$UV_ERR")"
	# fio's random sizes put many requests in a few pieces of the pool
	[ "$nsplit" -gt 0 ] ||
		uv_fail "no read or write in several pieces went on the fixed buffer: $(tail -n 2 "$UV_ERR")"
	uv_log "fixed buffer: $nfixed reads and writes went on it, $nsplit of them in several pieces, $vec"
elif kernel_from 6 5; then
	uv_fail "$kver should size the default pool to 4 MiB and pin it: $(grep -h 'fixed buffer' "$UV_ERR")"
elif grep -q "bounce pool 32 MiB registered as fixed buffer by 0 of 1 queues (the others readv/writev): Operation not supported (io_uring before Linux 6.5 takes no device memory" "$UV_ERR"; then
	uv_log "$kver: no pin possible, so the default 32 MiB pool stays: $(grep -h 'fixed buffer' "$UV_ERR")"
	uv_blk_stop || uv_fail "emulator did not stop cleanly"
else
	uv_fail "$kver: cannot pin the pool, so the default 32 MiB should stay, and the reason be given: $(grep -h 'fixed buffer' "$UV_ERR")"
fi
# Half of 4 MiB holds no 4 MiB pool: the default (32 MiB) stays, unpinned.
ulimit -S -l 4096 || uv_fail "cannot set RLIMIT_MEMLOCK to 4 MiB"
uv_blk_start --user --io uring "$img" ||
	uv_fail "emulator (default pool, 4 MiB RLIMIT_MEMLOCK) did not start"
grep -q "bounce pool 32 MiB registered as fixed buffer by 0 of 1 queues" "$UV_ERR" ||
	uv_fail "RLIMIT_MEMLOCK 4 MiB: the default pool should stay 32 MiB, unpinned: $(grep -h 'fixed buffer' "$UV_ERR")"
uv_log "RLIMIT_MEMLOCK 4 MiB: $(grep -h 'fixed buffer' "$UV_ERR")"
uv_blk_stop || uv_fail "emulator did not stop cleanly"
ulimit -S -l "$memlock" || uv_fail "cannot restore RLIMIT_MEMLOCK"

# a directory where O_DIRECT works
ddir=$UV_TMP
if dd if=/dev/zero of="$UV_TMP/probe" bs=4k count=1 oflag=direct status=none 2>/dev/null; then
	# --direct: tmpfs is not mapped, --io auto takes the mixed path
	uv_blk_start --user --direct "$img" || uv_fail "emulator (--io auto --direct) did not start"
	grep -q "tmpfs: reads and writes under 64 KiB in the queue threads" "$UV_ERR" ||
		uv_fail "--io auto --direct on tmpfs did not choose the mixed path: $(cat "$UV_ERR")"
	bv_verify_set "file auto --direct (tmpfs, mixed)" "$UV_NODE" 8M
	stop_and_compare "--io auto --direct"
	check_mixed "--io auto --direct on tmpfs"
else
	truncate -s 160M "$UV_TMP/ext4.img"
	mkfs.ext4 -q -F "$UV_TMP/ext4.img" || uv_fail "mkfs.ext4 on a file failed"
	mkdir -p "$UV_TMP/ext4"
	loopdev=$(losetup -f --show "$UV_TMP/ext4.img") || uv_fail "losetup failed"
	uv_defer "losetup -d $loopdev"
	mount -t ext4 "$loopdev" "$UV_TMP/ext4" || uv_fail "mount of the loop ext4 failed"
	uv_defer "umount '$UV_TMP/ext4'"
	ddir=$UV_TMP/ext4
	chmod 0777 "$ddir"
	uv_log "tmpfs has no O_DIRECT on $(uname -r): file on ext4 on $loopdev"
fi
dimg=$ddir/direct.img
truncate -s 64M "$dimg" && chown $UV_USER_UID:$UV_USER_UID "$dimg" || uv_fail "cannot create $dimg"
# Under 8 MiB again: from 6.12 the queues' rings share one pin of the pool
# (IORING_REGISTER_CLONE_BUFFERS), so 4 queues get the 4 MiB pool too
# (four pins of it would be 16 MiB, over the limit), and a queue whose
# ring took its pin from queue 0's does reads and writes on it. Before
# 6.12 the pool stays at its default, not pinned by any queue.
ulimit -S -l 8192 || uv_fail "cannot set RLIMIT_MEMLOCK to 8 MiB"
uv_blk_start --user --direct --io uring --queues 4 "$dimg" || uv_fail "--direct emulator did not start"
ulimit -S -l "$memlock" || uv_fail "cannot restore RLIMIT_MEMLOCK"
bv_check_queues 4
uv_log "O_DIRECT file, 4 queues: $UV_NODE ($BV_NQ used): $(grep -h 'fixed buffer' "$UV_ERR")"
if kernel_from 6 12; then
	grep -q "bounce pool 4 MiB registered as fixed buffer (the default pool sized to half of RLIMIT_MEMLOCK, 8192 KiB; --bounce-size sets it), pinned once for the 4 queues, a transfer" "$UV_ERR" ||
		uv_fail "$kver: 4 queues should share one pin of a 4 MiB pool"
else
	grep -q "registered as fixed buffer by 0 of 4 queues" "$UV_ERR" ||
		uv_fail "$kver: no queue should have pinned the pool"
fi
bv_verify_set "file direct q4" "$UV_NODE" 8M
# reads from CPU 1, which blk-mq maps to queue 1
taskset -c 1 fio --name=q1 --filename="$UV_NODE" --ioengine=io_uring --direct=1 \
	--rw=read --bs=128k --size=4M --iodepth=4 > "$UV_TMP/fio.q1" 2>&1 ||
	{ cat "$UV_TMP/fio.q1"; uv_fail "reads from CPU 1 failed"; }
uv_blk_stop || uv_fail "emulator did not stop cleanly"
if kernel_from 6 12; then
	# queue 1's ring holds a clone of queue 0's registration
	n1=$(grep -o "queue 1: [0-9]* requests, .* through io_uring ([0-9]* on the pool as fixed buffer" "$UV_ERR" |
		sed 's/.*(\([0-9]*\) on the pool.*/\1/')
	[ -n "$n1" ] && [ "$n1" -gt 0 ] ||
		uv_fail "queue 1 did no read or write on the shared fixed buffer: $(grep -h 'queue 1:' "$UV_ERR")"
	uv_log "4 queues, one pin: queue 1 did $n1 reads and writes on the pool as fixed buffer"
fi

bv_check_dmesg
uv_pass
