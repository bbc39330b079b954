#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Indices and counters under fio (4k randrw, QD8, 3 s): used_idx moves while
# fio runs; afterwards the request and byte counters grew by exactly what
# fio says it issued, used_idx moved by the same count, no errors, kicks and
# interrupts counted, and on the idle queue avail_idx, last_avail_idx,
# shadow_idx and used_idx are equal and stuck says ok.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/statfs_lib.sh"

statfs_setup
uv_need fio
engine=libaio
if fio --name=probe --filename="$UV_TMP/probe" --size=64k --bs=4k --rw=read \
       --ioengine=io_uring --output=/dev/null > /dev/null 2>&1; then
	engine=io_uring
fi

st_start "$DISK"
uv_log "disk $UV_NODE; fio randrw 4k QD8 3 s with $engine"
req0=$(st_counter requests) bytes0=$(st_counter bytes) used0=$(st_idx used_idx)
kicks0=$(st_counter kicks) irq0=$(st_counter interrupts)

fio --name=s --filename="$UV_NODE" --direct=1 --rw=randrw --bs=4k --iodepth=8 \
    --ioengine=$engine --time_based --runtime=3 --size=32M > "$UV_TMP/fio.out" 2>&1 &
fio_pid=$!
uv_defer "kill -KILL $fio_pid"
# used_idx moves while fio runs
moved=0 prev=$used0
for _ in $(seq 30); do
	sleep 0.5
	uv_proc_alive $fio_pid || break
	cur=$(st_idx used_idx)
	[ "$cur" != "$prev" ] && moved=$((moved + 1))
	prev=$cur
done
uv_wait_exit $fio_pid 30
rc=$?
[ $rc = 0 ] || { cat "$UV_TMP/fio.out"; uv_fail "fio exited $rc"; }
[ $moved -ge 2 ] || uv_fail "used_idx moved in only $moved samples while fio ran"
uv_log "used_idx moved in $moved samples taken every 0.5 s during fio"

issued=$(sed -n 's/.*issued rwts: total=\([0-9]*\),\([0-9]*\),.*/\1 \2/p' "$UV_TMP/fio.out")
read -r fr fw <<< "$issued"
[ -n "$fr" ] || { cat "$UV_TMP/fio.out"; uv_fail "no 'issued rwts' line in fio's output"; }
fios=$((fr + fw))
req=$(( $(st_counter requests) - req0 ))
bytes=$(( $(st_counter bytes) - bytes0 ))
used=$(( ($(st_idx used_idx) - used0) & 0xffff ))
kicks=$(( $(st_counter kicks) - kicks0 ))
irq=$(( $(st_counter interrupts) - irq0 ))
uv_log "fio issued $fr reads + $fw writes = $fios; requests +$req, bytes +$bytes, used_idx +$used, kicks +$kicks, interrupts +$irq"
[ $fios -gt 100 ] || uv_fail "fio issued only $fios requests"
[ $req = $fios ] || uv_fail "requests counter moved by $req, fio issued $fios"
[ $bytes = $((fios * 4096)) ] || uv_fail "bytes counter moved by $bytes, fio moved $((fios * 4096))"
[ $used = $((fios & 0xffff)) ] || uv_fail "used_idx moved by $used, expected $((fios & 0xffff))"
[ "$(st_counter errors)" = 0 ] || uv_fail "errors counted: $(st_counter errors)"
[ $kicks -ge 1 ] && [ $kicks -le $fios ] || uv_fail "kicks moved by $kicks for $fios requests"
[ $irq -ge 1 ] && [ $irq -le $fios ] || uv_fail "interrupts moved by $irq for $fios requests"

avail=$(st_idx avail_idx) last=$(st_idx last_avail_idx)
shadow=$(st_idx shadow_idx) used=$(st_idx used_idx)
uv_log "idle: avail_idx $avail last_avail_idx $last shadow_idx $shadow used_idx $used"
[ "$avail" = "$last" ] && [ "$last" = "$shadow" ] && [ "$shadow" = "$used" ] ||
	uv_fail "indices of the idle queue differ"
[ -z "$(st_read queues/0/inflight)" ] || uv_fail "inflight not empty when idle"
[ "$(st_read stuck)" = ok ] || uv_fail "stuck says '$(st_read stuck)' on an idle queue"

uv_blk_stop || uv_fail "emulator did not stop cleanly"
uv_pass
