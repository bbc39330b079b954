#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The test features (--fault-*) of uvirtio-net do what they say and SIGUSR1
# lifts them: with B's receive interrupts withheld, pings from A get no
# answer while B counts suppressed interrupts; after SIGUSR1, pings work.
# The same with B's transmit kicks ignored.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

uv_need uvirtio-net setpriv unshare nsenter ip ping
uv_tmpdir
mkdir -m 1777 "$UV_TMP/sock"
sa=$UV_TMP/sock/a
sb=$UV_TMP/sock/b

# fault_case FLAG COUNTER_QUEUE COUNTER - one fault on B, checked and lifted
fault_case() {
	local flag=$1 q=$2 counter=$3 before after
	net_start userns "dgram:$sb,$sa" "$flag" || uv_fail "emulator B ($flag) did not start"
	pb=$NET_PID ib=$NET_IF eb=$NET_ERR
	net_in "$pb" ip addr add 10.81.0.2/24 dev "$ib"
	net_in "$pb" ip link set "$ib" up
	net_wait_carrier "$pb" "$ib" 1 10 || uv_fail "B's link did not come up"
	net_wait_carrier "$pa" "$ia" 1 10 || uv_fail "A's link did not come up"
	if net_in "$pa" ping -c 3 -W 1 10.81.0.2 > /dev/null 2>&1; then
		uv_fail "$flag: ping gets through with the fault on"
	fi
	kill -USR2 "$pb"
	sleep 0.3
	before=$(net_stat "$eb" "$q" "$counter")
	[ "${before:-0}" -gt 0 ] || uv_fail "$flag: B's $q $counter is '${before}', not > 0"
	kill -USR1 "$pb"
	# each B has a new random MAC: A must not use the last one's
	net_in "$pa" ip neigh flush dev "$ia"
	net_in "$pa" ping -c 3 -W 5 10.81.0.2 > "$UV_TMP/ping" 2>&1 ||
		{ cat "$UV_TMP/ping"; uv_fail "$flag: ping fails after SIGUSR1"; }
	grep -q "faults lifted" "$eb" || uv_fail "$flag: B did not log the lifting"
	uv_log "$flag: ping blocked ($q $counter=$before), works after SIGUSR1"
	net_stop "$pb" "$eb" || uv_fail "B did not stop cleanly"
}

net_start userns "dgram:$sa,$sb" || uv_fail "emulator A did not start"
pa=$NET_PID ia=$NET_IF ea=$NET_ERR
net_in "$pa" ip addr add 10.81.0.1/24 dev "$ia"
net_in "$pa" ip link set "$ia" up

fault_case --fault-withhold-irq=0 rx irqs_suppressed
fault_case --fault-ignore-kicks=1 tx kicks
net_stop "$pa" "$ea" || uv_fail "A did not stop cleanly"
uv_pass
