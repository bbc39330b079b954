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
# There is no udev in the guest: the udev rule's group and mode are applied
# by hand from the installed rule and sysusers file.
#
# With --systemd-pid1 (given to /init's exec, so this runs as PID 1) it
# starts systemd as PID 1 instead, with a unit that runs this script again
# with --systemd: the same installation, then the installed
# uvirtio-blk@.service under a real systemd (started, its readiness and
# status, the disk, stopped), and then it powers off as /init would
# (the exit status and the kernel log to the status port).
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mode=${1:-}

if [ "$mode" = --systemd-pid1 ]; then
	mkdir -p /etc/systemd/system
	cat > /etc/systemd/system/uvirtio-install-test.service <<-EOF
	[Unit]
	Description=uvirtio installation test under systemd
	DefaultDependencies=no
	# if the test itself cannot run or hangs: power off at once rather
	# than wait for the host's limit
	FailureAction=poweroff-force
	[Service]
	Type=oneshot
	TimeoutStartSec=300
	ExecStart=/bin/bash /stage/install-guest.sh --systemd
	StandardOutput=file:/dev/ttyS1
	StandardError=inherit
	EOF
	# A service's default dependencies (sysinit.target, basic.target, its
	# slice): empty units, nothing else of a distribution's boot
	for u in sysinit.target basic.target system.slice; do
		printf '[Unit]\nDescription=%s of the uvirtio test boot\n' "$u" \
			> "/etc/systemd/system/$u"
	done
	# a machine id keeps systemd from complaining; /etc is writable here.
	# Users and groups from the files only; the unit's state and private
	# /tmp directories need /var.
	echo 0123456789abcdef0123456789abcdef > /etc/machine-id
	printf 'passwd: files\ngroup: files\n' > /etc/nsswitch.conf
	mkdir -p /var/lib /var/tmp
	# systemd's own lines go to the kernel log, at its default level
	exec /lib/systemd/systemd --unit=uvirtio-install-test.service \
		--log-target=kmsg --show-status=no
fi

. /selftests/vm/guest-steps.sh

rel=$(uname -r)
lane="install ($rel)"
[ "$mode" != --systemd ] || lane="systemd ($rel)"

# The installed uvirtio-blk@.service under systemd, instance sdtest. Every
# check reads systemd's own state (units, properties, timestamps), never
# its log: its debug lines do not reliably reach the kernel log.
SD_UNIT=uvirtio-blk@sdtest.service
# A probe systemd starts only once SD_UNIT's start job is done, which for a
# Type=notify unit is when READY=1 arrived: what it records is what
# existed at that moment
SD_PROBE=uvirtio-sdprobe.service
# sd_prop NAME [UNIT] - a property of UNIT (default SD_UNIT)
sd_prop() {
	systemctl show -P "$1" "${2:-$SD_UNIT}"
}
# sd_wait_inactive UNIT - wait up to 30 s for UNIT to be inactive or failed
sd_wait_inactive() {
	local i
	for i in $(seq 300); do
		case $(sd_prop ActiveState "$1") in inactive|failed) return 0 ;; esac
		sleep 0.1
	done
	echo "$1 still $(sd_prop ActiveState "$1") after 30 s"
	return 1
}
sd_start() {
	local state status node pid uid
	mkdir -p /etc/uvirtio/blk
	echo 'UVIRTIO_BLK_ARGS="ram:64M"' > /etc/uvirtio/blk/sdtest.conf
	# the emulator's stderr, which has no journal to go to here
	mkdir -p "/etc/systemd/system/$SD_UNIT.d"
	printf '[Service]\nStandardError=truncate:/run/sdtest.err\n' \
		> "/etc/systemd/system/$SD_UNIT.d/stderr.conf"
	cat > "/etc/systemd/system/$SD_PROBE" <<-EOF
	[Unit]
	Description=what exists once $SD_UNIT is ready
	DefaultDependencies=no
	Wants=$SD_UNIT
	After=$SD_UNIT
	[Service]
	Type=oneshot
	# active from here on, it keeps $SD_UNIT loaded once that is
	# inactive, with the timestamps sd_sigterm reads
	RemainAfterExit=yes
	ExecStart=/bin/sh /run/sdprobe.sh
	EOF
	# (a script: systemd would expand the variables of an inline one)
	cat > /run/sdprobe.sh <<-'EOF'
	for d in /sys/block/vd*; do
		[ -e "$d" ] && echo "/dev/${d##*/} $(cat "$d/size")"
	done > /run/sdprobe.disks
	EOF
	systemctl daemon-reload || return 1
	systemctl start "$SD_PROBE" || { systemctl status "$SD_UNIT" "$SD_PROBE"; return 1; }
	state=$(sd_prop ActiveState)
	status=$(sd_prop StatusText)
	echo "systemctl start: ActiveState=$state, StatusText='$status', Type=$(sd_prop Type)"
	cat /run/sdtest.err
	[ "$state" = active ] || { systemctl status "$SD_UNIT"; return 1; }
	[ "$(sd_prop Type)" = notify ] || { echo "the unit is not Type=notify"; return 1; }
	case "$status" in
	"serving /dev/vd"*) node=${status#serving } ;;
	*) echo "StatusText does not name the disk"; return 1 ;;
	esac
	[ -b "$node" ] || { echo "$node is not a block device"; return 1; }
	# readiness: when systemd had READY=1 the disk existed at its full size
	# (64 MiB: 131072 sectors)
	echo "when $SD_UNIT became ready: $(tr '\n' ';' < /run/sdprobe.disks)"
	grep -qx "$node 131072" /run/sdprobe.disks ||
		{ echo "READY=1 came before $node was there at 64 MiB"; return 1; }
	pid=$(sd_prop MainPID)
	uid=$(awk '$1 == "Uid:" { print $2 }' "/proc/$pid/status")
	echo "main PID $pid: $(tr '\0' ' ' < "/proc/$pid/cmdline"), uid $uid, groups $(awk '$1 == "Groups:" { $1 = ""; print }' "/proc/$pid/status")"
	[ "$uid" != 0 ] || { echo "the emulator runs as root"; return 1; }
	grep -q "^Groups:.*\b$gid\b" "/proc/$pid/status" || { echo "not in group uvirtio ($gid)"; return 1; }
	echo "$node" > /run/sdtest.node
}
sd_disk() {
	local node
	node=$(cat /run/sdtest.node) || return 1
	head -c 1048576 /dev/urandom > /tmp/sdpattern
	dd if=/tmp/sdpattern of="$node" bs=64k oflag=direct 2>/dev/null &&
		dd if="$node" of=/tmp/sdback bs=64k count=16 iflag=direct 2>/dev/null &&
		cmp /tmp/sdpattern /tmp/sdback && echo "1 MiB written and read back through $node"
}
# sd_gone NODE - the disk and every uvirtio device are gone
sd_gone() {
	[ ! -e "$1" ] && [ ! -e "/sys/block/${1#/dev/}" ] || { echo "$1 still there"; return 1; }
	[ "$(cat /sys/class/misc/uvirtio/devices)" = 0 ] || { echo "a uvirtio device is left"; return 1; }
}
# The emulator's SIGTERM, as systemctl stop sends it, but from outside:
# STOPPING=1 is what moves a running Type=notify unit out of active before
# its process ends, so the unit's ActiveExitTimestamp comes before the
# main process's exit only if STOPPING=1 arrived first (without it, systemd
# leaves active only when it reaps the process)
sd_sigterm() {
	local node pid left ended
	node=$(cat /run/sdtest.node) || return 1
	pid=$(sd_prop MainPID)
	kill -TERM "$pid" || return 1
	sd_wait_inactive "$SD_UNIT" || return 1
	left=$(sd_prop ActiveExitTimestampMonotonic)
	ended=$(sd_prop ExecMainExitTimestampMonotonic)
	cat /run/sdtest.err
	echo "SIGTERM to $pid: ActiveState=$(sd_prop ActiveState), Result=$(sd_prop Result), ExecMainStatus=$(sd_prop ExecMainStatus); left active at ${left} us, exited at ${ended} us"
	[ "$(sd_prop ActiveState)" = inactive ] && [ "$(sd_prop Result)" = success ] &&
		[ "$(sd_prop ExecMainStatus)" = 0 ] || return 1
	[ "$left" -gt 0 ] && [ "$ended" -gt "$left" ] ||
		{ echo "the unit left active only when its process ended: no STOPPING=1 before the exit"; return 1; }
	sd_gone "$node" && echo "$node gone, the emulator exited 0, STOPPING=1 $((ended - left)) us before its exit"
}
sd_stop() {
	local node
	systemctl start "$SD_UNIT" || return 1
	node=$(sd_prop StatusText)
	node=${node#serving }
	[ -b "$node" ] || { echo "restarted, but StatusText '$(sd_prop StatusText)' names no disk"; return 1; }
	systemctl stop "$SD_UNIT"
	cat /run/sdtest.err
	echo "systemctl stop: ActiveState=$(sd_prop ActiveState), Result=$(sd_prop Result), ExecMainCode=$(sd_prop ExecMainCode), ExecMainStatus=$(sd_prop ExecMainStatus)"
	[ "$(sd_prop ActiveState)" = inactive ] && [ "$(sd_prop Result)" = success ] &&
		[ "$(sd_prop ExecMainStatus)" = 0 ] || return 1
	sd_gone "$node" && echo "$node gone, the emulator exited 0"
}
# A unit whose emulator fails before READY=1 must end failed, never active
# (a unit never active has no ActiveEnterTimestamp)
sd_never_ready() {
	local u=uvirtio-blk@sdbad.service
	echo 'UVIRTIO_BLK_ARGS="/nonexistent.img"' > /etc/uvirtio/blk/sdbad.conf
	systemctl start "$u" && { echo "systemctl start succeeded"; return 1; }
	echo "systemctl start failed; ActiveState=$(sd_prop ActiveState "$u"), Result=$(sd_prop Result "$u"), ExecMainStatus=$(sd_prop ExecMainStatus "$u"), ActiveEnterTimestampMonotonic=$(sd_prop ActiveEnterTimestampMonotonic "$u")"
	[ "$(sd_prop ActiveEnterTimestampMonotonic "$u")" = 0 ] || { echo "it was active"; return 1; }
	[ "$(sd_prop ActiveState "$u")" = failed ] &&
		[ "$(sd_prop Result "$u")" = exit-code ]
}
# The installed uvirtio-net@.service: an interface in the emulator's own
# user and network namespace (--unshare: a dynamic user has no
# CAP_NET_ADMIN where it starts), ready with its name in the status,
# stopped cleanly
sd_net() {
	local u=uvirtio-net@sdnet.service status pid
	mkdir -p /etc/uvirtio/net
	echo 'UVIRTIO_NET_ARGS="--unshare dgram:/tmp/sdnet.a,/tmp/sdnet.b"' > /etc/uvirtio/net/sdnet.conf
	mkdir -p "/etc/systemd/system/$u.d"
	printf '[Service]\nStandardError=truncate:/run/sdnet.err\n' > "/etc/systemd/system/$u.d/stderr.conf"
	systemctl daemon-reload || return 1
	systemctl start "$u" || { cat /run/sdnet.err; systemctl status "$u"; return 1; }
	status=$(sd_prop StatusText "$u")
	pid=$(sd_prop MainPID "$u")
	echo "systemctl start: ActiveState=$(sd_prop ActiveState "$u"), StatusText='$status', main PID $pid"
	[ "$(sd_prop ActiveState "$u")" = active ] || return 1
	case "$status" in
	"serving "?*) ;;
	*) echo "StatusText does not name the interface"; return 1 ;;
	esac
	[ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/1/ns/net)" ] ||
		{ echo "the emulator is in the initial network namespace"; return 1; }
	nsenter -t "$pid" -n ip -o link show "${status#serving }" ||
		{ echo "no ${status#serving } in the emulator's namespace"; return 1; }
	[ ! -e "/sys/class/net/${status#serving }" ] || { echo "${status#serving } is in the initial namespace"; return 1; }
	systemctl stop "$u"
	cat /run/sdnet.err
	echo "systemctl stop: ActiveState=$(sd_prop ActiveState "$u"), Result=$(sd_prop Result "$u"), ExecMainStatus=$(sd_prop ExecMainStatus "$u")"
	[ "$(sd_prop ActiveState "$u")" = inactive ] && [ "$(sd_prop Result "$u")" = success ] &&
		[ "$(sd_prop ExecMainStatus "$u")" = 0 ] || return 1
	[ "$(cat /sys/class/misc/uvirtio/devices)" = 0 ] || { echo "a uvirtio device is left"; return 1; }
}
systemd_steps() {
	step "$lane: systemctl start $SD_UNIT (installed unit, as configured): ready (READY=1) only once the disk exists at full size, StatusText names it, runs unprivileged in group uvirtio" sd_start &&
		step "$lane: the disk of $SD_UNIT works" sd_disk
	step "$lane: SIGTERM to $SD_UNIT's emulator: STOPPING=1 before its exit, exit 0, the disk gone" sd_sigterm
	step "$lane: systemctl start, then systemctl stop $SD_UNIT: exit 0, the disk gone" sd_stop
	step "$lane: a uvirtio-blk@ unit whose emulator fails before READY=1 ends failed, never active" sd_never_ready
	step "$lane: systemctl start and stop uvirtio-net@sdnet.service (--unshare): ready, StatusText names the interface, which is only in the emulator's namespace; exit 0" sd_net
}
# sd_end RC - what /init does at the end, for systemd's boot: the exit
# status and the kernel log to the status port, then power off
sd_end() {
	sync
	{
		echo "uvirtio-run: exit $1"
		cat /tmp/.dmesg.all 2> /dev/null
		dmesg
	} > /dev/ttyS2
	sync
	poweroff -f
}

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
# bail - end after a step the rest depends on (under systemd: power off)
bail() {
	[ "$mode" != --systemd ] || sd_end 1
	exit 1
}

step "$lane: the make install tree is put in place, ldconfig" put_in_place || bail

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
step "$lane: depmod, modprobe uvirtio loads the installed module" load || bail

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

if [ "$mode" = --systemd ]; then
	systemd_steps
	sd_end $fails
fi

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

# kselftest's make run_tests in a kernel tree: the tree built on the host
# (/stage/ktree, from a kernel's tools/testing/selftests with our target),
# at the path it was built in, so make finds every program up to date;
# this guest has no compiler, so a rebuild would fail. A few tests only
# (TEST_PROGS/TEST_GEN_PROGS on the command line narrow lib.mk's list).
KTREE_PROGS="module_load.sh blk_basic.sh"
KTREE_GEN="ioctl_abi"
ktree() {
	local host out rc t
	host=$(cat /stage/ktree.path) || return 1
	! command -v cc gcc > /dev/null || { echo "this guest has a compiler"; return 1; }
	mkdir -p "${host%/*}" && ln -sfn /stage/ktree "$host" || return 1
	out=$(make -C "$host/tools/testing/selftests" TARGETS=uvirtio \
		TEST_PROGS="$KTREE_PROGS" TEST_GEN_PROGS="$KTREE_GEN" run_tests 2>&1)
	rc=$?
	echo "$out"
	[ $rc = 0 ] || return $rc
	! grep -q '^not ok' <<< "$out" || return 1
	for t in $KTREE_PROGS $KTREE_GEN; do
		grep -q "^ok [0-9]* selftests: uvirtio: $t\$" <<< "$out" ||
			{ echo "no pass of $t"; return 1; }
	done
}
if [ -f /stage/ktree.path ]; then
	step "$lane: make TARGETS=uvirtio run_tests in a kernel tree (built on the host): $KTREE_PROGS $KTREE_GEN pass" ktree
fi

[ $fails = 0 ]
