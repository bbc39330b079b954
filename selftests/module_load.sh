#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio.ko unloads and loads again; dev_mode sets the mode of /dev/uvirtio;
# the module is not held while no device exists.
. "$(dirname "$0")/lib.sh"

uv_tmpdir
uv_need lsmod rmmod stat
# Whatever happens here, leave the module loaded for the next tests.
uv_defer "uv_module_loaded || uv_module_load 0666"

check_node() {
	local want=$1 mode
	[ -c /dev/uvirtio ] || uv_fail "/dev/uvirtio is not a character device"
	mode=$(stat -c %a /dev/uvirtio)
	[ "$mode" = "$want" ] || uv_fail "/dev/uvirtio has mode $mode, expected $want"
	[ -d /sys/devices/virtual/misc/uvirtio ] ||
		uv_fail "/sys/devices/virtual/misc/uvirtio is missing"
	uv_log "/dev/uvirtio is a character device with mode $mode"
}

uv_module_loaded || uv_fail "uvirtio is not loaded at test start"
check_node 666

refs=$(uv_module_refcount)
[ "$refs" = 0 ] || uv_fail "lsmod shows refcount '$refs' for idle uvirtio, expected 0"
uv_log "idle module has refcount 0"

uv_module_unload 5 || uv_fail "rmmod uvirtio failed while idle"
uv_module_loaded && uv_fail "uvirtio still in /sys/module after rmmod"
for _ in $(seq 50); do
	[ -e /dev/uvirtio ] || break
	sleep 0.1
done
[ -e /dev/uvirtio ] && uv_fail "/dev/uvirtio still exists after rmmod"
uv_log "rmmod removed the module and /dev/uvirtio"

uv_module_load 0600 || uv_fail "insmod dev_mode=0600 failed"
check_node 600
uv_module_unload 5 || uv_fail "rmmod after insmod dev_mode=0600 failed"

uv_module_load 0666 || uv_fail "insmod dev_mode=0666 failed"
check_node 666
refs=$(uv_module_refcount)
[ "$refs" = 0 ] || uv_fail "refcount '$refs' after reload, expected 0"
uv_log "reloaded with dev_mode=0666, refcount 0"

uv_pass
