#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# SIGKILL of an emulator whose queue thread is driven by io_uring commands
# (--notify uring: it fails to start otherwise), under a verifying fio
# writer: between passes the thread sleeps with a UVIRTIO_URING_WAIT
# pending. The same checks as blk_kill.sh: fio ends within 5 s, the disk
# goes, the module unloads, the kernel log stays clean.
UV_BLK_ARGS="--notify uring" \
BLK_KILL_FIO="--rw=randwrite --verify=crc32c --verify_backlog=16" \
	exec "$(dirname "$0")/blk_kill.sh" "$@"
