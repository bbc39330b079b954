# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# lib.sh - what every benchmark shares (bench/blk.sh, net.sh, vhost.sh;
# sourced first, not run): its BENCH_NAME=VALUE arguments, and the medians
# and same-round ratios of its result lines.

# bench_settings ARG... - export each BENCH_NAME=VALUE argument; anything
# else is a usage error (exit 2)
bench_settings() {
	local a
	for a in "$@"; do
		case $a in
		BENCH_*=*) export "${a?}" ;;
		*) echo "usage: $0 [BENCH_NAME=VALUE]..." >&2; exit 2 ;;
		esac
	done
}

# An awk function: median(s), the median of the numbers in the
# space-separated string s (insertion sort: there are a few rounds).
BENCH_AWK_MEDIAN='
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	if (n % 2) return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}'

# summary REF - per TEST and PATH of the results file $RES (lines "TEST
# PATH ROUND VALUE UNIT"): the median VALUE over the rounds, and the median
# over the rounds of VALUE / REF's VALUE in the same round; prints "TEST
# PATH VALUE UNIT RATIO" in the order of first appearance. IOPS print as
# integers, costs per request or frame with two decimals, the rest with one.
summary() {
	awk -v refpath="$1" "$BENCH_AWK_MEDIAN"'
	{ k = $1 SUBSEP $2
	  if (!(k in vals)) { order[++nk] = k; unit[k] = $5 }
	  vals[k] = vals[k] " " $4
	  val[$1, $2, $3] = $4
	  if ($2 == refpath) ref[$1, $3] = $4
	  rounds[k] = rounds[k] " " $3 }
	END {
		for (i = 1; i <= nk; i++) {
			k = order[i]; split(k, tp, SUBSEP)
			nr = split(rounds[k], rs, " "); rat = ""
			for (j = 1; j <= nr; j++)
				if ((tp[1], rs[j]) in ref && ref[tp[1], rs[j]] > 0)
					rat = rat " " val[tp[1], tp[2], rs[j]] / ref[tp[1], rs[j]]
			m = median(vals[k])
			if (unit[k] == "IOPS") f = sprintf("%d", m)
			else if (unit[k] ~ /\/(req|frame)$/) f = sprintf("%.2f", m)
			else f = sprintf("%.1f", m)
			printf "%s %s %s %s %s\n", tp[1], tp[2], f, unit[k],
			       rat == "" ? "-" : sprintf("%.3f", median(rat))
		}
	}' "$RES"
}
