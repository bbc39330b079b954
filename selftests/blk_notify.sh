#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-blk speaks the service manager's notify protocol (systemd's
# Type=notify units): with NOTIFY_SOCKET set, an unprivileged emulator
# sends READY=1 with STATUS=serving /dev/vdX once that node exists, and
# STOPPING=1 when it exits after SIGTERM; nothing else.

. "$(dirname "$0")/lib.sh"

sink_prog=$(dirname "$0")/notify_sink
[ -x "$sink_prog" ] || uv_fail "$sink_prog is missing"
uv_need uvirtio-blk
uv_tmpdir
sock=$UV_TMP/notify
"$sink_prog" "$sock" 40 > "$UV_TMP/msgs" 2>&1 &
sink=$!
uv_defer "kill $sink"
for _ in $(seq 50); do
	[ -S "$sock" ] && break
	sleep 0.1
done
[ -S "$sock" ] || uv_fail "notify_sink did not bind $sock"

export NOTIFY_SOCKET=$sock
uv_blk_start --user ram:64M || uv_fail "uvirtio-blk did not start"
unset NOTIFY_SOCKET
uv_log "uid 1000 serves $UV_NODE with NOTIFY_SOCKET=$sock"

want="READY=1|STATUS=serving $UV_NODE [$UV_NODE exists]"
for _ in $(seq 100); do
	grep -qxF "$want" "$UV_TMP/msgs" && break
	sleep 0.1
done
grep -qxF "$want" "$UV_TMP/msgs" ||
	uv_fail "no '$want' within 10 s; got: $(tr '\n' ';' < "$UV_TMP/msgs")"
uv_log "got: $want"

uv_blk_stop || uv_fail "uvirtio-blk did not stop cleanly"
uv_wait_exit "$sink" 10 || uv_fail "no STOPPING=1 after SIGTERM; got: $(tr '\n' ';' < "$UV_TMP/msgs")"
got=$(tr '\n' ';' < "$UV_TMP/msgs")
[ "$got" = "$want;STOPPING=1;" ] || uv_fail "messages: '$got', expected '$want;STOPPING=1;'"
uv_log "got: STOPPING=1 after SIGTERM, and nothing else"
uv_pass
