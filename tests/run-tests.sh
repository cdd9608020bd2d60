#!/usr/bin/env bash
# run-tests.sh — runs the unit tests (Criterion) and the end-to-end scripts; the last line is
# "e2e: N passed, N failed, N skipped" so a run that tested nothing, or skipped, is visible.
# A "SKIP: name: why" line of a script counts as skipped (only for what cannot run here, e.g. a
# kernel feature that is absent); a script that exits non-zero without a FAIL line counts one failure.
# usage: tests/run-tests.sh [unit|e2e|all] [e2e-name-filter]
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
export ZC_ROOT=$root ZC_BUILD=${ZC_BUILD:-$root/build}
what=${1:-all} filter=${2:-}
unit_fail=0 unit_ran=0
if [ "$what" = unit ] || [ "$what" = all ]; then
	for t in "$ZC_BUILD"/unit/test_*; do
		[ -x "$t" ] || continue
		echo "== unit: $(basename "$t")"
		unit_ran=$((unit_ran + 1))
		"$t" --jobs 1 || unit_fail=$((unit_fail + 1))
	done
	# no unit binary is a failure, not a pass: they were not built
	if [ $unit_ran -eq 0 ]; then
		echo "FAIL: unit: no unit test binaries in $ZC_BUILD/unit (make $ZC_BUILD/unit/test_...)"
		unit_fail=1
	fi
fi
if [ "$what" = unit ]; then
	echo "unit: $unit_ran binaries run, $unit_fail failed"
	[ $unit_fail -eq 0 ]
	exit
fi
pass=0 fail=0 skip=0 failed=() skipped=()
# script PATH [MODE]: one e2e script, counted; with MODE it runs under ZCSHIM_MODE=MODE and its case
# names carry "[MODE]" (the default mode, auto, is the plain run)
script() {
	local s=$1 mode=${2:-} name log rc p f k
	name=$(basename "$s" .sh)${mode:+ [$mode]}
	echo "== e2e: $name"
	log=$(mktemp)
	if [ -n "$mode" ]; then
		ZCSHIM_MODE=$mode timeout 900 bash "$s" 2>&1 | sed -u "s/^\(PASS\|FAIL\|SKIP\): /\1: [$mode] /" | tee "$log"
	else
		timeout 900 bash "$s" 2>&1 | tee "$log"
	fi
	rc=${PIPESTATUS[0]}
	p=$(grep -c '^PASS: ' "$log") f=$(grep -c '^FAIL: ' "$log") k=$(grep -c '^SKIP: ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL: $name: exited $rc"; fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + k))
	[ "$f" -gt 0 ] && failed+=("$name")
	[ "$k" -gt 0 ] && skipped+=("$name")
	rm -f "$log"
}
for s in "$root"/tests/e2e/test_*.sh; do
	name=$(basename "$s" .sh)
	[ -n "$filter" ] && [[ $name != *$filter* ]] && continue
	script "$s"
done
# the copy-loop and fault scripts once more in each explicit mode: eager (every read copied) and
# deferred (never stepped down); the plain run above is auto, the default
for name in ${ZC_MODE_E2E-test_copyloop test_faults test_hostile}; do
	[ -n "$filter" ] && [[ $name != *$filter* ]] && continue
	for mode in eager deferred; do script "$root/tests/e2e/$name.sh" "$mode"; done
done
[ ${#skipped[@]} -gt 0 ] && echo "scripts with skipped cases: ${skipped[*]}"
[ ${#failed[@]} -gt 0 ] && echo "failing scripts: ${failed[*]}"
[ $unit_fail -gt 0 ] && echo "failing unit binaries: $unit_fail"
echo "e2e: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$unit_fail" -eq 0 ] && [ "$pass" -gt 0 ]
