#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# fuzz_run.sh SEEDS SEED_BASE LANE [FUZZ_EMU_OPTION]... - what `make fuzz` runs
#
# Boots LANE's VM once and runs fuzz_emu on SEEDS seeds from SEED_BASE (all
# of them, even on a KASAN kernel), printing progress and seeds/s. Exits
# non-zero on any failure and names the first failing seed with the command
# that reproduces it; if the VM died or hung mid-seed (a kernel crash), the
# seed that was running. The whole output stays in build/vm/fuzz-LANE.log.
set -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 3 ] || { echo "usage: fuzz_run.sh SEEDS SEED_BASE LANE [OPTION]..." >&2; exit 2; }
seeds=$1 base=$2 lane=$3
shift 3
case "$seeds" in ''|*[!0-9]*|0) echo "fuzz: SEEDS=$seeds: not a positive number" >&2; exit 2 ;; esac
case "$base" in ''|*[!0-9a-fA-Fx]*) echo "fuzz: SEED_BASE=$base: not a number" >&2; exit 2 ;; esac
slow=$(awk -v l="$lane" '$1 == l { for (i = 5; i <= NF; i++) if ($i ~ /^slow=/) { sub(/slow=/, "", $i); print $i } }' \
	"$top/selftests/vm/kernels.conf")
# About 0.6 s a seed on 6.12 under TCG: allow 3 s, and the boot.
timeout=$(( (120 + 3 * seeds) * ${slow:-1} ))
log=$top/build/vm/fuzz-$lane.log
mkdir -p "$top/build/vm"
extra=${*:+ FUZZ_ARGS=\"$*\"}
echo "fuzz: lane $lane, seeds $base + $seeds, VM limit $timeout s"
"$top/selftests/vm/run" --kernel "$lane" --timeout "$timeout" -- \
	./fuzz_emu -a -q -s "$base" -n "$seeds" "$@" 2>&1 | tee "$log" | grep --line-buffered -v '^# running seed'
rc=${PIPESTATUS[0]}
if [ "$rc" != 0 ]; then
	seed=$(sed -n 's/^# first failing seed: \(0x[0-9a-f]*\).*/\1/p' "$log" | head -n 1)
	how="failed"
	if [ -z "$seed" ]; then
		seed=$(sed -n 's/^# running seed \(0x[0-9a-f]*\).*/\1/p' "$log" | tail -n 1)
		how="was running when the VM failed (exit $rc; crash or hang)"
	fi
	if [ -n "$seed" ]; then
		echo "fuzz: FAILED: seed $seed $how"
		echo "fuzz: reproduce: make fuzz SEEDS=1 SEED_BASE=$seed KERNEL=$lane$extra"
	else
		echo "fuzz: FAILED (exit $rc) before any seed ran; see $log"
	fi
fi
exit "$rc"
