# SPDX-License-Identifier: GPL-2.0-only
#
# profile.sh - a whole-guest profile of some paths' runs, for bench/blk.sh
# and bench/net.sh (sourced after lib.sh, not run).
#
# BENCH_PROFILE="PATH...": `perf record -a -g` over the middle of each run
# of each PATH named (cpu-clock, the only event a TCG guest has), then the
# share of each command, the top functions of the whole guest and of each
# command in PROFILE_COMMS, and in each of those commands who calls the
# symbols in PROFILE_CALLERS (the sourcing bench sets both). perf must be
# in the guest: UV_EXTRA_PROGS=perf make bench ...; a profile costs the
# run some speed, so compare its figures only with each other. Uses DIR
# (the bench's scratch directory) and say().

PROFILE=${BENCH_PROFILE:-}
PERF_PID=
if [ -n "$PROFILE" ] && ! command -v perf > /dev/null; then
	say "BENCH_PROFILE: no perf in the guest (UV_EXTRA_PROGS=perf make bench ...)"
	exit 2
fi

# profiled PATH - whether BENCH_PROFILE names PATH
profiled() {
	[[ " $PROFILE " == *" $1 "* ]]
}

# profile_start SECS - record a profile of the whole guest over the middle
# of the SECS-second run about to start, in the background (sets PERF_PID)
profile_start() {
	local secs=$(($1 > 4 ? $1 - 3 : 1))
	(sleep 2; exec perf record -a -g -q -o "$DIR/perf.data" -- sleep $secs) \
		> "$DIR/perf.log" 2>&1 &
	PERF_PID=$!
}

# profile_report WHAT - wait for the recording and print what it found
profile_report() {
	local c s r=(perf report -i "$DIR/perf.data" --no-children --stdio)
	wait "$PERF_PID"
	echo "profile of $1 (perf cpu-clock, all vCPUs; % of all samples):"
	if [ ! -s "$DIR/perf.data" ]; then
		echo "  no profile: $(tail -n 3 "$DIR/perf.log")"
		return
	fi
	"${r[@]}" --sort comm -g none --percent-limit 1 2>/dev/null |
		grep -v '^#' | grep . | sed 's/^/  /' | tee "$DIR/perf.comms"
	echo "  top functions of the whole guest:"
	"${r[@]}" --sort sym -g none --percent-limit 1 2>/dev/null |
		grep -v '^#' | grep . | head -n 20 | sed 's/^/  /'
	for c in $PROFILE_COMMS; do
		grep -q " $c *\$" "$DIR/perf.comms" || continue
		echo "  top of $c:"
		"${r[@]}" --comm "$c" --sort dso,sym -g none --percent-limit 0.5 \
			2>/dev/null | grep -v '^#' | grep . | head -n 15 | sed 's/^/  /'
		for s in $PROFILE_CALLERS; do
			echo "  callers of $s in $c:"
			"${r[@]}" --comm "$c" -S "$s" \
				-g graph,0.5,callee,function,percent --max-stack 4 \
				2>/dev/null | grep -v '^#' | grep . | head -n 30 |
				sed 's/^/  /'
		done
	done
}
