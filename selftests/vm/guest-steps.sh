# SPDX-License-Identifier: GPL-2.0-only
#
# guest-steps.sh - sourced by the guest scripts that report steps to a
# host checker (install-guest.sh, readme-guest.sh): "ok - NAME" and
# "not ok - NAME # exit RC" lines, each after its output as "# " lines.
# The host side reads them with tap_guest_steps (lib.sh). In the guest
# this file is /selftests/vm/guest-steps.sh.

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
