#!/usr/bin/env bash
# run-tests.sh — runs the unit tests (Criterion) and the end-to-end scripts; the last line is
# "e2e: N passed, N failed" so a run that tested nothing is visible.
# usage: tests/run-tests.sh [unit|e2e|all] [e2e-name-filter]
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
export ZC_ROOT=$root ZC_BUILD=${ZC_BUILD:-$root/build}
what=${1:-all} filter=${2:-}
unit_fail=0
if [ "$what" = unit ] || [ "$what" = all ]; then
	for t in "$ZC_BUILD"/unit/test_*; do
		[ -x "$t" ] || continue
		echo "== unit: $(basename "$t")"
		"$t" --jobs 1 || unit_fail=$((unit_fail + 1))
	done
fi
[ "$what" = unit ] && { [ $unit_fail -eq 0 ]; exit; }
pass=0 fail=0 failed=()
for s in "$root"/tests/e2e/test_*.sh; do
	name=$(basename "$s" .sh)
	[ -n "$filter" ] && [[ $name != *$filter* ]] && continue
	echo "== e2e: $name"
	log=$(mktemp)
	timeout 900 bash "$s" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(grep -c '^PASS: ' "$log") f=$(grep -c '^FAIL: ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL: $name: exited $rc"; fi
	pass=$((pass + p)) fail=$((fail + f))
	[ "$f" -gt 0 ] && failed+=("$name")
	rm -f "$log"
done
[ ${#failed[@]} -gt 0 ] && echo "failing scripts: ${failed[*]}"
[ $unit_fail -gt 0 ] && echo "failing unit binaries: $unit_fail"
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$unit_fail" -eq 0 ] && [ "$pass" -gt 0 ]
