#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-blk where io_uring is forbidden, as under the default seccomp
# profiles of Docker, containerd and Podman (nouring refuses
# io_uring_setup with EPERM): the default --io auto maps the tmpfs file and
# does its discards and flushes in the queue threads, the default --notify
# auto falls back to the kick and call eventfds, it says so in one line
# each, and serves the disk (data written through /dev/vdX reads back and
# lands in the file); with --direct (where tmpfs has O_DIRECT) the file is
# not mapped and --io auto falls back to synchronous file I/O, said in one
# line, and serves the disk; --io uring refuses to start with one clear
# line instead.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv dd cmp
nouring=$UV_DIR/nouring
[ -x "$nouring" ] || uv_fail "$nouring is missing"
uv_tmpdir
chmod 0755 "$UV_TMP"
real=$(command -v uvirtio-blk)
mkdir "$UV_TMP/bin"
printf '#!/bin/sh\nexec %s %s "$@"\n' "$nouring" "$real" > "$UV_TMP/bin/uvirtio-blk"
chmod 0755 "$UV_TMP/bin" "$UV_TMP/bin/uvirtio-blk"
disk=$UV_TMP/disk
truncate -s 32M "$disk" && chown $UV_USER_UID "$disk" || uv_fail "cannot make $disk"

PATH=$UV_TMP/bin:$PATH uv_blk_start --user "$disk" || uv_fail "uvirtio-blk --io auto did not start without io_uring"
line=$(grep -c "io_uring is not available here (Operation not permitted): discards and flushes in the queue threads" "$UV_ERR")
[ "$line" = 1 ] || { cat "$UV_ERR"; uv_fail "no (or more than one) fallback line"; }
grep -q "reads and writes copied through a mapping of the file" "$UV_ERR" ||
	{ cat "$UV_ERR"; uv_fail "the tmpfs file is not mapped"; }
grep -q "io_uring per queue" "$UV_ERR" && uv_fail "says it uses io_uring"
grep -q "io_uring commands are not available here (Operation not permitted): kick and call eventfds" "$UV_ERR" ||
	{ cat "$UV_ERR"; uv_fail "no line saying the queues fall back to the eventfds"; }
grep -q "driven by io_uring commands" "$UV_ERR" && uv_fail "says its queues are driven by io_uring commands"
uv_log "--io auto: $(grep 'not available' "$UV_ERR")"

dd if=/dev/urandom of="$UV_TMP/data" bs=1M count=16 status=none || uv_fail "random data"
dd if="$UV_TMP/data" of="$UV_NODE" bs=64k oflag=direct status=none || uv_fail "dd to $UV_NODE failed"
dd if="$UV_NODE" of="$UV_TMP/back" bs=64k count=256 iflag=direct status=none || uv_fail "dd from $UV_NODE failed"
cmp "$UV_TMP/data" "$UV_TMP/back" || uv_fail "read back differs from what was written"
uv_blk_stop || uv_fail "emulator did not stop cleanly"
cmp -n $((16 << 20)) "$UV_TMP/data" "$disk" || uv_fail "the backing file does not hold what was written"
uv_log "16 MiB written and read back through $UV_NODE, and found in the backing file"

if dd if=/dev/zero of="$UV_TMP/probe" bs=4k count=1 oflag=direct status=none 2>/dev/null; then
	PATH=$UV_TMP/bin:$PATH uv_blk_start --user --direct "$disk" ||
		uv_fail "uvirtio-blk --io auto --direct did not start without io_uring"
	line=$(grep -c "io_uring is not available here (Operation not permitted): synchronous file I/O" "$UV_ERR")
	[ "$line" = 1 ] || { cat "$UV_ERR"; uv_fail "--direct: no (or more than one) fallback line"; }
	grep -q "io_uring per queue\|through a mapping" "$UV_ERR" &&
		uv_fail "--direct: says it uses io_uring or a mapping"
	dd if="$UV_NODE" of="$UV_TMP/back" bs=64k count=256 iflag=direct status=none ||
		uv_fail "--direct: dd from $UV_NODE failed"
	cmp "$UV_TMP/data" "$UV_TMP/back" || uv_fail "--direct: read back differs from what was written"
	uv_blk_stop || uv_fail "--direct: emulator did not stop cleanly"
	uv_log "--io auto --direct: $(grep 'synchronous file I/O' "$UV_ERR"); 16 MiB read back"
else
	uv_log "tmpfs has no O_DIRECT on $(uname -r): the synchronous fallback of a file that is not mapped is not run here"
fi

uv_as_user "$nouring" "$real" --io uring "$disk" > "$UV_TMP/out2" 2> "$UV_TMP/err2" &
pid=$!
uv_wait_exit $pid 20
rc=$?
[ $rc = 255 ] && { kill -KILL $pid; uv_fail "--io uring without io_uring still runs"; }
[ $rc = 1 ] || { cat "$UV_TMP/err2"; uv_fail "--io uring without io_uring exited $rc, expected 1"; }
grep -q -- "--io uring: io_uring is not available here: Operation not permitted" "$UV_TMP/err2" ||
	{ cat "$UV_TMP/err2"; uv_fail "--io uring: no clear line"; }
uv_log "--io uring: exit 1, $(grep -- '--io uring' "$UV_TMP/err2")"

errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
