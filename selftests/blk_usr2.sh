#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# SIGUSR2 makes uvirtio-blk print each queue's counters on stderr, as
# uvirtio-net does, and it keeps serving: the request count it prints
# covers the reads done before, the disk still reads afterwards, and
# SIGTERM still removes it cleanly. (The signal used to kill it.)
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv dd
uv_tmpdir

uv_blk_start --user ram:16M || uv_fail "emulator did not start"
uv_log "disk node $UV_NODE (emulator pid $UV_PID)"
dd if="$UV_NODE" of=/dev/null bs=4k count=64 iflag=direct status=none ||
	uv_fail "dd from $UV_NODE failed"

kill -USR2 "$UV_PID"
line=
for _ in $(seq 50); do
	line=$(grep -m1 'queue 0: [0-9]* requests' "$UV_ERR")
	[ -n "$line" ] && break
	uv_proc_alive "$UV_PID" || break
	sleep 0.1
done
uv_proc_alive "$UV_PID" || { wait "$UV_PID"; uv_fail "SIGUSR2 ended the emulator (exit status $?)"; }
[ -n "$line" ] || uv_fail "no counters on stderr within 5 s of SIGUSR2: $(tr '\n' ';' < "$UV_ERR")"
uv_log "SIGUSR2: $line"
n=${line#*queue 0: }
n=${n%% requests*}
[ "$n" -ge 64 ] || uv_fail "queue 0 counted $n requests, fewer than the 64 reads done"

dd if="$UV_NODE" of=/dev/null bs=4k count=64 iflag=direct status=none ||
	uv_fail "dd from $UV_NODE failed after SIGUSR2"
uv_blk_stop || uv_fail "emulator did not stop cleanly"
uv_log "still served after SIGUSR2; SIGTERM: exit 0"
uv_pass
