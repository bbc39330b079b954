#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-net --unshare with the dgram backend, as an ordinary user: two
# emulators, run as uid 1000 in the initial namespaces, each create their
# own user and network namespace (--unshare) after binding their sockets,
# and their interfaces there carry pings to each other. The dgram backend
# has a thread of its own (the closer of descriptors peers send); started
# before the unshare, unshare(CLONE_NEWUSER) refused the process with
# EINVAL, so --unshare worked only with passt. Each interface must be in
# its emulator's namespace and not in the initial one.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

uv_need uvirtio-net setpriv nsenter ip ping
uv_tmpdir
NET_PAIR_MODE=user net_pair --unshare
for p in "$pa" "$pb"; do
	[ "$(readlink "/proc/$p/ns/net")" != "$(readlink /proc/self/ns/net)" ] ||
		uv_fail "emulator $p is in the initial network namespace"
	[ "$(readlink "/proc/$p/ns/user")" != "$(readlink /proc/self/ns/user)" ] ||
		uv_fail "emulator $p is in the initial user namespace"
done
for i in "$ia" "$ib"; do
	[ ! -e "/sys/class/net/$i" ] || uv_fail "$i is in the initial namespace"
done
net_in "$pb" ping -c 5 -i 0.2 -W $((5 * NET_SLOW)) -q 10.78.0.1 > "$UV_TMP/ping" 2>&1 ||
	{ cat "$UV_TMP/ping"; uv_fail "B cannot ping A"; }
uv_log "$ia and $ib, each in its emulator's own namespaces, ping each other"
net_stop "$pa" "$ea" || uv_fail "A did not stop cleanly"
net_stop "$pb" "$eb" || uv_fail "B did not stop cleanly"
uv_pass
