#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# The fuzzer's data checks can fail: with -z, a clean seed's emulator
# corrupts one read in 8, and each of three clean seeds (one per load:
# O_DIRECT read-back, fio --verify=crc32c, ext4 file compare) must then be
# reported as failed by fuzz_emu.
here=$(dirname "$0")
echo "TAP version 13"
echo "1..3"
n=0
failed=0
# The seeds come from the fuzzer's own plans (-p touches no device): the
# first clean seed with nothing else planned, per load. Fixed numbers went
# stale whenever the plan grew a new choice.
for load in raw fio ext4; do
	n=$((n + 1))
	seed=$("$here/fuzz_emu" -p -s 1 -n 400 |
		awk -v l="$load" '$0 ~ (", clean, load " l "$") { print $1; exit }')
	if [ -z "$seed" ]; then
		echo "not ok $n - no plain clean seed with load $load in seeds 1..400"
		failed=$((failed + 1))
		continue
	fi
	out=$("$here/fuzz_emu" -z -s "$seed" -n 1 2>&1)
	rc=$?
	if [ $rc = 4 ]; then
		# fuzz_emu cannot run on this machine: neither can this test
		why=$(echo "$out" | sed -n 's/.*# SKIP //p' | tail -n 1)
		for i in $(seq "$n" 3); do
			echo "ok $i - corrupted reads fail a clean seed # SKIP $why"
		done
		echo "SKIP: $why"
		exit 4
	fi
	if [ $rc = 1 ] && echo "$out" | grep -q "^not ok 1 - seed $seed (.*clean, load $load"; then
		echo "ok $n - corrupted reads fail clean seed $seed ($load load)"
	else
		echo "$out" | sed 's/^/# /'
		echo "not ok $n - corrupted reads fail clean seed $seed ($load load) (exit $rc)"
		failed=$((failed + 1))
	fi
done
[ $failed = 0 ]
