#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-blk's command line: each bad one fails with exactly one line on
# stderr; --help lists every option; --readonly and --serial show up in
# the disk's sysfs.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv
uv_tmpdir
failures=0

# bad DESCRIPTION ARG... - uvirtio-blk ARG... as uid 1000 must exit non-zero
# with one line on stderr (a disk it creates by mistake is removed by the
# timeout's SIGTERM)
bad() {
	local what=$1 rc lines
	shift
	timeout 10 setpriv --reuid=$UV_USER_UID --regid=$UV_USER_UID --clear-groups -- \
		uvirtio-blk "$@" > "$UV_TMP/out" 2> "$UV_TMP/err" < /dev/null
	rc=$?
	lines=$(wc -l < "$UV_TMP/err")
	if [ $rc = 0 ] || [ $rc = 124 ] || [ "$lines" != 1 ]; then
		echo "not ok: $what: 'uvirtio-blk $*' exited $rc with $lines stderr lines:"
		sed 's/^/    /' "$UV_TMP/err"
		failures=$((failures + 1))
	else
		echo "ok: $what: exit $rc: $(cat "$UV_TMP/err")"
	fi
}

printf '%1000s' '' > "$UV_TMP/odd.img"
truncate -s 16M "$UV_TMP/ro.img"
truncate -s 6K "$UV_TMP/odd4k.img"
truncate -s 16M "$UV_TMP/noread.img"
chown $UV_USER_UID:$UV_USER_UID "$UV_TMP/odd.img" "$UV_TMP/ro.img" "$UV_TMP/odd4k.img"
chmod 0444 "$UV_TMP/ro.img"
chmod 0600 "$UV_TMP/noread.img"

bad "unknown option" --no-such-option ram:64M
bad "missing file" "$UV_TMP/does-not-exist.img"
bad "size not a multiple of 512" "$UV_TMP/odd.img"
bad "empty RAM disk" ram:0
bad "bad RAM size" ram:abc
bad "read-only file without --readonly" "$UV_TMP/ro.img"
bad "queue size not a power of two" --queue-size 3 ram:64M
bad "unreadable file" "$UV_TMP/noread.img"
bad "zero queues" --queues 0 ram:64M
bad "too many queues" --queues 65 ram:64M
bad "block size neither 512 nor 4096" --block-size 1024 ram:64M
bad "size not a multiple of 4096" --block-size 4096 "$UV_TMP/odd4k.img"
bad "bad null size" null:12Q
bad "fault on a queue that does not exist" --queues 2 --fault-ignore-kicks=2 null:1M
bad "no BACKING" --queues 2
bad "coalescing hold above 1000 us" --coalesce-us 1001 null:1M
bad "coalescing hold not a number" --coalesce-us x null:1M
bad "unknown --io mode" --io mmap ram:64M
bad "--io map with --direct" --io map --direct ram:64M
if uvirtio-blk --help > "$UV_TMP/help" 2>&1; then
	missing=""
	for opt in --queue-size --queues --block-size --direct --no-poll --poll-us \
		   --coalesce-us --pin --no-pin --io --notify --bounce-size \
		   --indirect --no-indirect --zero-buffers --dev --recovery --attach \
		   --statfs --version \
		   --serial --readonly --help ram: null: --fault-ignore-kicks \
		   --fault-withhold-irq --fault-delay-ms 'Test features'; do
		grep -qe "$opt" "$UV_TMP/help" || missing="$missing $opt"
	done
	if [ -n "$missing" ]; then
		echo "not ok: --help does not mention:$missing"
		failures=$((failures + 1))
	else
		echo "ok: --help exits 0 and mentions every option"
	fi
else
	echo "not ok: --help exited non-zero"
	failures=$((failures + 1))
fi

if uv_blk_start --user --readonly --serial uvtest-serial-1 "$UV_TMP/ro.img"; then
	ro=$(cat "/sys/block/$UV_DISK/ro")
	serial=$(cat "/sys/block/$UV_DISK/serial" 2>/dev/null)
	if [ "$ro" = 1 ]; then
		echo "ok: --readonly: /sys/block/$UV_DISK/ro is 1"
	else
		echo "not ok: --readonly: /sys/block/$UV_DISK/ro is '$ro'"
		failures=$((failures + 1))
	fi
	if [ "$serial" = uvtest-serial-1 ]; then
		echo "ok: --serial: /sys/block/$UV_DISK/serial is $serial"
	else
		echo "not ok: --serial: /sys/block/$UV_DISK/serial is '$serial'"
		failures=$((failures + 1))
	fi
	# --io map takes only a file on tmpfs or ramfs: not this block device
	# (root may open it; every file system a guest has may be tmpfs)
	timeout 10 uvirtio-blk --io map --readonly "$UV_NODE" > /dev/null 2> "$UV_TMP/err" < /dev/null
	rc=$?
	if [ $rc = 1 ] && [ "$(cat "$UV_TMP/err")" = "uvirtio-blk: --io map: $UV_NODE is not a file on tmpfs or ramfs" ]; then
		echo "ok: --io map on a block device: exit 1: $(cat "$UV_TMP/err")"
	else
		echo "not ok: --io map on block device $UV_NODE exited $rc: $(cat "$UV_TMP/err")"
		failures=$((failures + 1))
	fi
	if dd if=/dev/zero of="$UV_NODE" bs=4k count=1 oflag=direct status=none 2>/dev/null; then
		echo "not ok: writing to the read-only disk succeeded"
		failures=$((failures + 1))
	else
		echo "ok: writing to the read-only disk fails"
	fi
	if uv_blk_stop; then
		echo "ok: read-only disk stopped cleanly"
	else
		failures=$((failures + 1))
	fi
else
	echo "not ok: --readonly on a 0444 file did not start"
	failures=$((failures + 1))
fi

[ $failures = 0 ] || uv_fail "$failures command line checks failed"
uv_pass
