#!/usr/bin/env bash
# test_overhead.sh — instructions the shim adds to a call it does not rewrite, counted by callgrind
# (deterministic, not a timing): dd bs=64 from /dev/zero to /dev/null, marginal cost between two
# run lengths so start-up cancels out. Budget from the issue: at most 100 per intercepted call.
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { fail overhead "valgrind missing (make test installs it)"; exit 1; }
count() { # $1 iterations, $2 preload or empty, $3 ZCSHIM_MODE or empty -> instructions of the dd process
	valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$ZC_TMP/cg.%p" env ${2:+LD_PRELOAD=$2} \
		${3:+ZCSHIM_MODE=$3} dd if=/dev/zero of=/dev/null bs=64 count="$1" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | tail -1
}
a=$(count 100000 "") b=$(count 200000 "")
# the default mode, and observe mode (which sees the same calls and only counts)
for mode in "" observe; do
	c=$(count 100000 "$ZC_LIB" "$mode") d=$(count 200000 "$ZC_LIB" "$mode")
	per_call=$(( ((d - c) - (b - a)) / (2 * 100000) )) # each iteration is one read and one write
	n=overhead${mode:+-$mode}
	echo "${mode:-auto}: instructions added per intercepted call: $per_call (plain dd: $(( (b - a) / 100000 )) per read+write)"
	check "$n-per-call-at-most-100" [ "$per_call" -le 100 ]
	check "$n-measured-something" [ "$per_call" -gt 0 ]
done
# the shim really was in the path: its counters saw every call
ZCSHIM_STATS_FILE=$ZC_TMP/st.json LD_PRELOAD=$ZC_LIB dd if=/dev/zero of=/dev/null bs=64 count=1000 2>/dev/null
check "overhead-calls-seen" [ "$(stat_get "$ZC_TMP/st.json" calls_read)" -ge 1000 ]
ZCSHIM_MODE=observe ZCSHIM_STATS_FILE=$ZC_TMP/so.json LD_PRELOAD=$ZC_LIB dd if=/dev/zero of=/dev/null bs=64 count=1000 2>/dev/null
check "overhead-observe-calls-seen" [ "$(stat_get "$ZC_TMP/so.json" calls_read)" -ge 1000 ]
check "overhead-observe-mode" grep -q '"mode": "observe"' "$ZC_TMP/so.json"
