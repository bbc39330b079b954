# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Helpers of the uvirtio selftest scripts, sourced inside the test VM (bash).
# A test prints what it checks, exits 0 (pass), 1 (fail) or 4 (skip), and
# cleans up on exit through uv_defer.

UV_NAME=${0##*/}
UV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Where selftests/vm/run puts the module; elsewhere modprobe is tried.
UV_KO=${UV_KO:-/uvirtio/uvirtio.ko}
UV_USER_UID=1000
# Seconds an emulator gets to print its disk node, and to exit on SIGTERM.
UV_START_TIMEOUT=${UV_START_TIMEOUT:-30}
UV_STOP_TIMEOUT=${UV_STOP_TIMEOUT:-30}

UV_KSFT_PASS=0
UV_KSFT_FAIL=1
UV_KSFT_SKIP=4

# uv_log MSG... - say what is being checked
uv_log() {
	echo "$UV_NAME: $*"
}

# uv_fail MSG... - report a failure and exit 1 (cleanup runs on exit)
uv_fail() {
	echo "FAIL: $*"
	exit $UV_KSFT_FAIL
}

# uv_skip MSG... - report why the test cannot run and exit 4
uv_skip() {
	echo "SKIP: $*"
	exit $UV_KSFT_SKIP
}

# uv_pass [MSG...] - report success and exit 0
uv_pass() {
	echo "PASS${1:+: $*}"
	exit $UV_KSFT_PASS
}

# uv_need CMD... - every CMD must be in PATH. In the harness's VM (it has
# /etc/uvirtio-run.conf) all are part of the test image, so a missing one
# is a harness or build problem: fail. Elsewhere (run_tests, kselftest)
# the machine may just lack it: skip, naming it.
uv_need() {
	local c
	for c in "$@"; do
		command -v "$c" > /dev/null && continue
		[ -f /etc/uvirtio-run.conf ] || uv_skip "$c not found in PATH ($PATH)"
		uv_fail "$c not found in PATH ($PATH)"
	done
}

UV_DEFERRED=()
UV_EMULATORS=()
# uv_defer CMD - run the shell command CMD when the test exits, the latest
# registered first
uv_defer() {
	UV_DEFERRED=("$1" "${UV_DEFERRED[@]}")
}

# Deferred commands run first (a filesystem is unmounted while its disk
# still works), then emulators the test did not stop are stopped.
uv_run_deferred() {
	local rc=$? c pid
	set +e
	for c in "${UV_DEFERRED[@]}"; do
		eval "$c" > /dev/null 2>&1
	done
	UV_DEFERRED=()
	for pid in "${UV_EMULATORS[@]}"; do
		uv_proc_alive "$pid" || continue
		kill -TERM "$pid" 2>/dev/null
		uv_wait_exit "$pid" 5 > /dev/null || kill -KILL "$pid" 2>/dev/null
	done
	return $rc
}
trap uv_run_deferred EXIT
trap 'exit 130' INT TERM

# uv_tmpdir - create a scratch directory removed on exit, into UV_TMP; it is
# world-readable so an unprivileged emulator can reach files inside
uv_tmpdir() {
	UV_TMP=$(mktemp -d "/tmp/$UV_NAME.XXXXXX") || uv_fail "mktemp"
	chmod 0755 "$UV_TMP"
	uv_defer "rm -rf '$UV_TMP'"
}

# uv_as_user CMD [ARG]... - run CMD as uid/gid 1000 without supplementary
# groups (a function: in the background, $! is a subshell, not CMD)
uv_as_user() {
	HOME=/tmp USER=user LOGNAME=user \
		setpriv --reuid=$UV_USER_UID --regid=$UV_USER_UID --clear-groups -- "$@"
}

# uv_module_loaded - true if uvirtio is loaded
uv_module_loaded() {
	[ -d /sys/module/uvirtio ]
}

# uv_module_refcount - uvirtio's use count as lsmod shows it
uv_module_refcount() {
	lsmod | awk '$1 == "uvirtio" { print $3 }'
}

# uv_module_load [MODE] - load uvirtio with dev_mode=MODE (default 0666) and
# wait for /dev/uvirtio
uv_module_load() {
	local mode=${1:-0666}
	if [ -f "$UV_KO" ]; then
		insmod "$UV_KO" dev_mode="$mode" || return 1
	else
		modprobe uvirtio dev_mode="$mode" || return 1
	fi
	for _ in $(seq 50); do
		[ -c /dev/uvirtio ] && return 0
		sleep 0.1
	done
	echo "/dev/uvirtio did not appear"
	return 1
}

# uv_module_unload [SECS] - rmmod uvirtio, retrying for up to SECS (default
# 5) while it is still busy
uv_module_unload() {
	local end=$((SECONDS + ${1:-5}))
	until rmmod uvirtio 2> "${UV_TMP:-/tmp}/.rmmod.err"; do
		if [ $SECONDS -ge $end ]; then
			cat "${UV_TMP:-/tmp}/.rmmod.err"
			return 1
		fi
		sleep 0.2
	done
	return 0
}

# uv_proc_alive PID - true while PID runs (a zombie counts as gone)
uv_proc_alive() {
	local stat
	read -r stat 2>/dev/null < "/proc/$1/stat" || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# uv_blk_start [--user] ARG... - start uvirtio-blk ARG... in the background
# (as uid 1000 with --user) and wait until it prints its disk node.
# Sets UV_PID, UV_NODE (/dev/vdX), UV_DISK (vdX), UV_OUT and UV_ERR (its
# stdout and stderr files). Returns 1, with its stderr shown, if it exits or
# prints no node within UV_START_TIMEOUT seconds. The emulator is killed at
# exit if the test has not stopped it (after the uv_defer commands).
# UV_BLK_ARGS, if set, goes first on the command line (e.g. --notify
# eventfd, to run a test on the eventfd path). UV_BLK_PROG, if set, runs
# instead of uvirtio-blk (another program that prints a disk node).
uv_blk_start() {
	local user=0 end last
	if [ "${1:-}" = --user ]; then
		user=1
		shift
	fi
	[ -n "${UV_TMP:-}" ] || uv_tmpdir
	UV_OUT=$(mktemp "$UV_TMP/blk.out.XXXXXX")
	UV_ERR=$(mktemp "$UV_TMP/blk.err.XXXXXX")
	UV_NODE=
	UV_DISK=
	# exec all the way down, so that $! is the emulator itself
	(
		[ $user = 0 ] || exec env HOME=/tmp USER=user LOGNAME=user \
			setpriv --reuid=$UV_USER_UID --regid=$UV_USER_UID \
			--clear-groups -- ${UV_BLK_PROG:-uvirtio-blk} ${UV_BLK_ARGS:-} "$@"
		exec ${UV_BLK_PROG:-uvirtio-blk} ${UV_BLK_ARGS:-} "$@"
	) > "$UV_OUT" 2> "$UV_ERR" < /dev/null &
	UV_PID=$!
	UV_EMULATORS+=("$UV_PID")
	end=$((SECONDS + UV_START_TIMEOUT))
	while [ $SECONDS -lt $end ]; do
		last=$(tail -n 1 "$UV_OUT")
		case "$last" in
		/dev/*)
			# The emulator's contract: a printed node can be opened.
			# Allowance: the previous disk with the same number may
			# still be going away (its stale inode gives ENXIO).
			if [ -b "$last" ]; then
				UV_NODE=$last
				UV_DISK=${last#/dev/}
				for _ in $(seq 100); do
					{ : < "$last"; } 2> /dev/null && return 0
					sleep 0.1
				done
				echo "uvirtio-blk printed $last, which cannot be opened for 10 s"
				return 1
			fi
			;;
		esac
		if ! uv_proc_alive "$UV_PID"; then
			wait "$UV_PID"
			echo "uvirtio-blk $* exited with $? before printing a disk node; stderr:"
			sed 's/^/  /' "$UV_ERR"
			return 1
		fi
		sleep 0.1
	done
	echo "uvirtio-blk $* printed no disk node within $UV_START_TIMEOUT s; stdout, stderr:"
	sed 's/^/  /' "$UV_OUT" "$UV_ERR"
	return 1
}

# uv_wait_exit PID SECS - wait up to SECS for PID (a child of this shell) to
# exit; returns its exit status, or 255 if it still runs
uv_wait_exit() {
	local pid=$1 end=$((SECONDS + $2))
	while uv_proc_alive "$pid"; do
		[ $SECONDS -lt $end ] || return 255
		sleep 0.1
	done
	wait "$pid"
}

# uv_blk_stop [PID] - SIGTERM the emulator (default UV_PID) and check that
# it exits 0 within UV_STOP_TIMEOUT seconds; returns 1 with its stderr shown
# otherwise
uv_blk_stop() {
	local pid=${1:-$UV_PID} rc
	kill -TERM "$pid" 2>/dev/null
	uv_wait_exit "$pid" "$UV_STOP_TIMEOUT"
	rc=$?
	if [ $rc = 255 ]; then
		echo "uvirtio-blk (pid $pid) still runs $UV_STOP_TIMEOUT s after SIGTERM"
		kill -KILL "$pid" 2>/dev/null
		return 1
	fi
	if [ $rc != 0 ]; then
		echo "uvirtio-blk (pid $pid) exited with $rc after SIGTERM; stderr:"
		sed 's/^/  /' "$UV_ERR"
		return 1
	fi
	return 0
}

# uv_wait_gone DISK SECS - wait up to SECS for /sys/block/DISK and
# /dev/DISK to disappear
uv_wait_gone() {
	local disk=${1#/dev/} end=$((SECONDS + $2))
	while [ -e "/sys/block/$disk" ] || [ -e "/dev/$disk" ]; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
	return 0
}

# uv_fio_flowing PID OUT - wait until fio (PID, output in OUT) has done 200
# reads on UV_DISK (fio takes seconds to start on a debug kernel), then one
# second more, so that a kill lands under load; fails the test if it does
# not get there within 30 s or fio ends first
uv_fio_flowing() {
	local pid=$1 out=$2 ios=0
	for _ in $(seq 300); do
		read -r ios _ < "/sys/block/$UV_DISK/stat" || ios=0
		[ "$ios" -lt 200 ] || break
		uv_proc_alive "$pid" || break
		sleep 0.1
	done
	[ "$ios" -ge 200 ] || { cat "$out"; uv_fail "fio did no I/O within 30 s ($ios reads)"; }
	sleep 1
	uv_proc_alive "$pid" || { cat "$out"; uv_fail "fio ended before the kill"; }
}

# uv_sha256 FILE - the SHA-256 of FILE's contents
uv_sha256() {
	sha256sum "$1" | cut -d' ' -f1
}

# uv_dmesg_errors - kernel log lines since the test started that match
# selftests/vm/log-patterns (the VM's runner clears the log before each test)
uv_dmesg_errors() {
	local pats=$UV_DIR/vm/log-patterns tmp
	[ -f "$pats" ] || { echo "uv_dmesg_errors: $pats is missing"; return 0; }
	tmp=$(mktemp) || return 0
	sed -e '/^#/d' -e '/^[[:space:]]*$/d' "$pats" > "$tmp"
	dmesg | grep -E -f "$tmp"
	rm -f "$tmp"
}

# uv_mbr_image FILE - a 16 MiB FILE, readable and writable by anyone, with
# an MBR partition table: one Linux partition, sectors 2048..4095
uv_mbr_image() {
	dd if=/dev/zero of="$1" bs=1M count=16 status=none || return 1
	printf '\0\0\0\0\203\0\0\0\0\10\0\0\0\10\0\0' |
		dd of="$1" bs=1 seek=446 conv=notrunc status=none || return 1
	printf '\125\252' | dd of="$1" bs=1 seek=510 conv=notrunc status=none || return 1
	chmod 0666 "$1"
}

# uv_require_uvirtio - every test here drives /dev/uvirtio as root: skip
# (exit 4, with the reason) on a machine that cannot give it, so that any
# runner, kselftest's included, reports SKIP. As root, a module that is
# installed but not loaded is loaded first (dev_mode=0666: tests create
# devices as uid 1000 too). In the harness's VM the device is part of the
# image, so its absence there is a failure instead. Runs when this file is
# sourced.
uv_require_uvirtio() {
	local why=
	[ "$(id -u)" = 0 ] || uv_skip "needs root (module parameters, kernel log, other uids)"
	if [ ! -e /dev/uvirtio ]; then
		if [ ! -e /proc/modules ]; then
			why="no /dev/uvirtio, and this kernel cannot load modules (no /proc/modules)"
		elif ! uv_module_load 0666 > /dev/null 2>&1; then
			why="no /dev/uvirtio: uvirtio is not loaded and modprobe uvirtio failed (install it: make install, or make dkms-install)"
		fi
	fi
	if [ -z "$why" ] && [ ! -c /dev/uvirtio ]; then
		why="/dev/uvirtio is not a character device"
	fi
	[ -n "$why" ] || return 0
	[ ! -f /etc/uvirtio-run.conf ] || uv_fail "$why"
	uv_skip "$why"
}
uv_require_uvirtio
