#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Inside a test VM booted without uvirtio loaded (UV_LOAD_UVIRTIO=0), do
# what a user does with a `make install DESTDIR=` tree on a test machine,
# and print one TAP result per step (without a plan: selftests/vm/install-check
# numbers and counts them). /stage holds:
#   root/       the DESTDIR tree (PREFIX=/usr)
#   kselftest/  a kselftest_install of the uvirtio kselftest target
#   uvcreate    examples/uvcreate.c, built on the host against root/ with
#               pkg-config only (this guest has no compiler)
# The harness's own copies (/usr/local/bin/uvirtio*, /uvirtio/uvirtio.ko)
# are removed first, so everything used here comes from /stage.
# There is no udev or systemd in the guest: the udev rule's group and mode
# are applied by hand from the installed rule and sysusers file.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

fails=0
# step NAME CMD... - run CMD, its output as "# " lines, then ok/not ok NAME
step() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ -z "$out" ] || sed 's/^/# /' <<< "$out"
	if [ $rc = 0 ]; then
		echo "ok - $name"
	else
		echo "not ok - $name # exit $rc"
		fails=$((fails + 1))
	fi
	return $rc
}

rel=$(uname -r)
lane="install ($rel)"

put_in_place() {
	rm -f /usr/local/bin/uvirtio /usr/local/bin/uvirtio-blk \
		/usr/local/bin/uvirtio-net /uvirtio/uvirtio.ko
	[ -d /stage/root ] || { echo "no /stage/root"; return 1; }
	# as a package manager would: every file to its place, through the
	# /lib -> usr/lib link of a merged-/usr system
	( cd /stage/root && find . ! -type d ) | while read -r f; do
		mkdir -p "/$(dirname "$f")" && cp -a "/stage/root/$f" "/$f" || exit 1
	done || return 1
	ldconfig
	ls -l "/lib/modules/$rel/updates/uvirtio.ko" /usr/bin/uvirtio-blk \
		/usr/lib/libuvirtio.so.0
}
step "$lane: the make install tree is put in place, ldconfig" put_in_place || exit 1

load() {
	depmod -a "$rel" || return 1
	modinfo -n uvirtio
	modprobe uvirtio || return 1
	for _ in $(seq 50); do
		[ -c /dev/uvirtio ] && break
		sleep 0.1
	done
	[ -c /dev/uvirtio ] || { echo "no /dev/uvirtio after modprobe"; return 1; }
	[ "$(modinfo -n uvirtio)" = "/lib/modules/$rel/updates/uvirtio.ko" ] ||
		{ echo "modprobe did not take the installed module"; return 1; }
	lsmod | grep '^uvirtio '
}
step "$lane: depmod, modprobe uvirtio loads the installed module" load || exit 1

# The installed udev rule and sysusers file, applied by hand
gid=990
udev_by_hand() {
	local group mode rule=/usr/lib/udev/rules.d/60-uvirtio.rules
	group=$(awk '$1 == "g" { print $2 }' /usr/lib/sysusers.d/uvirtio.conf)
	[ "$group" = uvirtio ] || { echo "sysusers file names group '$group'"; return 1; }
	echo "uvirtio:x:$gid:user" >> /etc/group
	group=$(sed -n 's/.*GROUP="\([^"]*\)".*/\1/p' "$rule")
	mode=$(sed -n 's/.*MODE="\([^"]*\)".*/\1/p' "$rule")
	chgrp "$group" /dev/uvirtio && chmod "$mode" /dev/uvirtio || return 1
	stat -c '%A %G %n' /dev/uvirtio
	[ "$(stat -c %a /dev/uvirtio)" = 660 ]
}
step "$lane: /dev/uvirtio as the installed udev rule makes it (0660, group uvirtio)" udev_by_hand

# uid 1000, a member of the uvirtio group
as_member() {
	HOME=/tmp setpriv --reuid=1000 --regid=1000 --groups=$gid -- "$@"
}
as_outsider() {
	HOME=/tmp setpriv --reuid=1000 --regid=1000 --clear-groups -- "$@"
}

serve_disk() {
	local out=/tmp/blk.out pid node
	as_outsider /usr/bin/uvirtio-blk ram:16M > /dev/null 2>&1 &&
		{ echo "uid 1000 outside the group could create a disk"; return 1; }
	echo "outside the group: refused, as the rule says"
	# setpriv itself in the background (not a function): $! is the
	# emulator after setpriv's exec
	HOME=/tmp setpriv --reuid=1000 --regid=1000 --groups=$gid -- \
		/usr/bin/uvirtio-blk ram:64M > $out 2>/tmp/blk.err &
	pid=$!
	for _ in $(seq 300); do
		node=$(tail -n 1 $out)
		[ -n "$node" ] && break
		sleep 0.1
	done
	cat /tmp/blk.err
	[ -b "$node" ] || { echo "no disk from uvirtio-blk (got '$node')"; kill $pid; return 1; }
	echo "uid 1000 serves $node"
	/usr/bin/uvirtio list
	head -c 1048576 /dev/urandom > /tmp/pattern
	dd if=/tmp/pattern of="$node" bs=64k oflag=direct 2>/dev/null || { kill $pid; return 1; }
	dd if="$node" of=/tmp/back bs=64k count=16 iflag=direct 2>/dev/null
	cmp /tmp/pattern /tmp/back || { kill $pid; return 1; }
	echo "1 MiB written and read back through $node"
	kill -TERM $pid
	wait $pid || { echo "uvirtio-blk exited $? after SIGTERM"; return 1; }
	[ ! -e "$node" ] || { echo "$node still there"; return 1; }
	echo "SIGTERM: clean removal, exit 0"
}
step "$lane: uid 1000 in group uvirtio serves a disk with the installed uvirtio-blk" serve_disk

step "$lane: a program built out of tree with pkg-config uvirtio creates a device" \
	as_member /stage/uvcreate

# the selftests want dev_mode=0666 (some run as uid 1000 without groups)
reload() {
	rmmod uvirtio && modprobe uvirtio dev_mode=0666 || return 1
	for _ in $(seq 50); do
		[ -c /dev/uvirtio ] && return 0
		sleep 0.1
	done
	return 1
}
step "$lane: modprobe uvirtio dev_mode=0666 for the selftests" reload

# TAP of kselftest's runner, nested: one result here, its lines as comments
KSFT_TESTS="module_load.sh blk_basic.sh ioctl_abi"
kselftest() {
	local args=() t out
	for t in $KSFT_TESTS; do
		args+=(-t "uvirtio:$t")
	done
	out=$(/stage/kselftest/run_kselftest.sh "${args[@]}" 2>&1)
	echo "$out"
	# every selected test ran and passed
	for t in $KSFT_TESTS; do
		grep -q "^ok [0-9]* selftests: uvirtio: $t\$" <<< "$out" ||
			{ echo "no pass of $t"; return 1; }
	done
}
step "$lane: run_kselftest.sh -t uvirtio:{${KSFT_TESTS// /,}} of the kselftest_install" kselftest

MAKE_TESTS="list_basic.sh blk_cli.sh"
standalone() {
	local out rc
	out=$(make -C /usr/lib/uvirtio/selftests run_tests TESTS="$MAKE_TESTS" 2>&1)
	rc=$?
	echo "$out"
	[ $rc = 0 ] || return $rc
	grep -q '^TAP version 13$' <<< "$out" &&
		grep -q "^# Totals: pass:$(wc -w <<< "$MAKE_TESTS") fail:0 " <<< "$out"
}
step "$lane: make -C /usr/lib/uvirtio/selftests run_tests (the installed copy): TAP and Totals" standalone

[ $fails = 0 ]
