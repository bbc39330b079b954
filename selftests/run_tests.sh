#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Run uvirtio selftests here, outside any harness, as kselftest's runner
# would: TAP 13 on stdout, each test's output as "# " lines, then a
# "# Totals:" line. Used by `make run_tests` of this directory and of an
# installed copy. Needs root (tests load the module and switch users), the
# uvirtio module loaded or available to modprobe, the emulators in PATH:
# each test checks what it needs itself and skips, saying why, without it
# (so kselftest's own runner reports the same).
#
# Usage: run_tests.sh TEST...
#   each TEST a script or program in this directory; the per-test time
#   limit is timeout= in ./settings (default 45 s)
# Exit: 0 if no test failed (4 if every test skipped), 1 otherwise.

cd "$(dirname "$0")" || exit 1
limit=$(sed -n 's/^timeout=\([0-9][0-9]*\)$/\1/p' settings 2>/dev/null)
: "${limit:=45}"

echo "TAP version 13"
echo "1..$#"
n=0 pass=0 fail=0 skip=0
for t in "$@"; do
	n=$((n + 1))
	echo "# selftests: uvirtio: $t"
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
		reason=${reason#SKIP: }
		echo "ok $n selftests: uvirtio: $t # SKIP ${reason##*# SKIP }"
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
