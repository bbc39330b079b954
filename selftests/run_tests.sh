#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Run uvirtio selftests here, outside any harness, as kselftest's runner
# would: TAP 13 on stdout, each test's output as "# " lines, then a
# "# Totals:" line. Used by `make run_tests` of this directory and of an
# installed copy. Needs root (tests load the module and switch users), the
# uvirtio module loaded or available to modprobe (else every test skips,
# saying so), the emulators in PATH.
#
# Usage: run_tests.sh TEST...
#   each TEST a script or program in this directory; the per-test time
#   limit is timeout= in ./settings (default 45 s)
# Exit: 0 if no test failed (4 if every test skipped), 1 otherwise.

cd "$(dirname "$0")" || exit 1
limit=$(sed -n 's/^timeout=\([0-9][0-9]*\)$/\1/p' settings 2>/dev/null)
: "${limit:=45}"

# The tests drive /dev/uvirtio: load the module if it is not, as the
# harness does (dev_mode=0666: some tests create devices as uid 1000
# without supplementary groups); without it every test skips.
nodev=
if [ ! -c /dev/uvirtio ]; then
	modprobe uvirtio dev_mode=0666 > /dev/null 2>&1
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -c /dev/uvirtio ] && break
		sleep 0.2
	done
	[ -c /dev/uvirtio ] ||
		nodev="no /dev/uvirtio and modprobe uvirtio failed (install the module: make install, or dkms)"
fi

echo "TAP version 13"
echo "1..$#"
n=0 pass=0 fail=0 skip=0
for t in "$@"; do
	n=$((n + 1))
	echo "# selftests: uvirtio: $t"
	if [ -n "$nodev" ]; then
		echo "ok $n selftests: uvirtio: $t # SKIP $nodev"
		skip=$((skip + 1))
		continue
	fi
	if [ ! -x "./$t" ]; then
		echo "not ok $n selftests: uvirtio: $t # missing or not executable"
		fail=$((fail + 1))
		continue
	fi
	out=$(mktemp) || exit 1
	timeout -k 5 "$limit" "./$t" < /dev/null > "$out" 2>&1
	rc=$?
	sed 's/^/# /' "$out"
	case $rc in
	0)	echo "ok $n selftests: uvirtio: $t"
		pass=$((pass + 1)) ;;
	4)	reason=$(sed '/^[[:space:]]*$/d' "$out" | tail -n 1)
		echo "ok $n selftests: uvirtio: $t # SKIP ${reason#SKIP: }"
		skip=$((skip + 1)) ;;
	124)	echo "not ok $n selftests: uvirtio: $t # TIMEOUT $limit seconds"
		fail=$((fail + 1)) ;;
	*)	echo "not ok $n selftests: uvirtio: $t # exit=$rc"
		fail=$((fail + 1)) ;;
	esac
	rm -f "$out"
done
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ $fail = 0 ] || exit 1
[ $pass = 0 ] && [ $skip -gt 0 ] && exit 4
exit 0
