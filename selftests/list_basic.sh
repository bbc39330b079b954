#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio list: with two disks served by uid 1000, one line each with the
# right index, type blk and kernel node; owner, pid and state as the
# module reports them (the lead's sysfs attributes; "-" where this module
# has none yet, which is said in the output); lines go when the disks go.
# Bad command lines give one line on stderr and exit 2.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio uvirtio-blk setpriv
uv_tmpdir

uvirtio --help | grep -q "^Usage: uvirtio list" || uv_fail "uvirtio --help"
for args in "" "frob" "list extra" "--bogus list"; do
	# shellcheck disable=SC2086
	uvirtio $args > /dev/null 2> "$UV_TMP/err"
	rc=$?
	[ $rc = 2 ] || uv_fail "uvirtio $args exited $rc, not 2"
	[ "$(wc -l < "$UV_TMP/err")" = 1 ] || uv_fail "uvirtio $args: stderr is not one line"
done
uv_log "help and usage errors"

out=$(uvirtio list) || uv_fail "uvirtio list failed with no device"
[ "$(echo "$out" | wc -l)" = 1 ] || uv_fail "lines with no device: $out"

uv_blk_start --user ram:16M || uv_fail "first emulator"
pid1=$UV_PID disk1=$UV_DISK
uv_blk_start --user ram:16M || uv_fail "second emulator"
pid2=$UV_PID disk2=$UV_DISK
out=$(uvirtio list) || uv_fail "uvirtio list failed"
echo "$out" | sed 's/^/  /'
[ "$(echo "$out" | wc -l)" = 3 ] || uv_fail "not one line per device"
attrs=1
for n in 1 2; do
	pid=pid$n disk=disk$n
	line=$(echo "$out" | awk -v d="${!disk}" '$3 == d')
	[ -n "$line" ] || uv_fail "no line for ${!disk}"
	read -r idx type node state owner lpid queues <<< "$line"
	[ -d "/sys/class/misc/uvirtio/$idx/" ] || uv_fail "$idx is not a device"
	ls -d "/sys/class/misc/uvirtio/$idx"/virtio*/block/"${!disk}" > /dev/null 2>&1 ||
		uv_fail "${!disk} is not under $idx"
	[ "$type" = blk ] || uv_fail "type '$type' for ${!disk}"
	if [ -e "/sys/class/misc/uvirtio/$idx/pid" ]; then
		[ "$lpid" = "${!pid}" ] || uv_fail "pid $lpid for ${!disk}, emulator is ${!pid}"
		[ "$owner" = $UV_USER_UID ] || uv_fail "owner $owner for ${!disk}"
		[ "$state" = live ] || uv_fail "state $state for ${!disk}"
		[ "$queues" = 1 ] || uv_fail "queues $queues for ${!disk}"
	else
		[ "$lpid" = - ] && [ "$owner" = - ] && [ "$state" = - ] ||
			uv_fail "values shown for attributes the module lacks: $line"
		attrs=0
	fi
done
[ $attrs = 1 ] && uv_log "index, type, node, state, owner, pid and queues right for both" ||
	uv_log "index, type and node right; this module has no owner/pid/state attributes yet: shown as -"

uv_blk_stop "$pid1" || uv_fail "first emulator did not stop"
uv_wait_gone "$disk1" 5
out=$(uvirtio list)
echo "$out" | awk -v d="$disk1" '$3 == d { exit 1 }' || uv_fail "$disk1 still listed after removal"
echo "$out" | awk -v d="$disk2" '$3 == d { f = 1 } END { exit !f }' || uv_fail "$disk2 no longer listed"
uv_blk_stop "$pid2" || uv_fail "second emulator did not stop"
uv_log "removed disks leave the list"
uv_pass
