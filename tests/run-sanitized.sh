#!/usr/bin/env bash
# run-sanitized.sh — the shim and the tests built with AddressSanitizer + UndefinedBehaviorSanitizer
# (make san: build/san), run: the Criterion unit tests, and the end-to-end scripts that exercise
# the copy paths hardest (SAN_E2E) against the sanitized library, which is preloaded after libasan
# (ASan must be the first library loaded: lib.sh puts ZC_PRELOAD_FIRST before the shim in
# ZC_PRELOAD). Every ASan report is written to a log file (log_path) and fails the run, even when
# the test around it did not notice: a process whose error exit is ignored still leaves its report
# behind. UBSan stops the process at the first finding (-fno-sanitize-recover, halt_on_error=1)
# with SIGABRT (abort_on_error=1) so that no test can take it for a normal exit; its report goes
# to the process's stderr (GCC 12's combined runtime ignores log_path for UBSan).
#
# usage: tests/run-sanitized.sh [--after-suite CMD...]
#   --after-suite CMD...  run CMD first (make test: tests/run-tests.sh), show its output, and add
#                         the counts of its last "N passed, N failed[, N skipped]" line to ours
# The last line is "test: N passed, N failed[, N skipped]" (with --after-suite) or
# "san: N passed, N failed[, N skipped]"; the exit status is 0 only when nothing failed.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
SAN_E2E=${SAN_E2E:-"copyloop faults hostile leases stress deferred"}
pass=0 fail=0 skip=0 failed=()
label=san

# count LOGFILE RC WHAT: add the last summary line of LOGFILE (and a non-zero RC without failures)
count() {
	local line p=0 f=0 s=0
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
	if [ -n "$line" ]; then
		p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
		f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
		s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
	fi
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL: $3: exited $2 without a failed case"; fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	[ "$f" -gt 0 ] && failed+=("$3")
}

if [ "${1:-}" = --after-suite ]; then
	shift
	label=test
	log=$(mktemp)
	"$@" 2>&1 | tee "$log"
	count "$log" "${PIPESTATUS[0]}" "suite"
	rm -f "$log"
fi

# ---- build ------------------------------------------------------------------------------------
echo "== sanitized build (make san: ASan + UBSan in build/san)"
if ! make --no-print-directory -s san; then
	echo "FAIL: san-build: make san failed"
	fail=$((fail + 1)) failed+=(san-build)
else
	export ZC_BUILD=$root/build/san
	# ASan owns SIGSEGV: item 7 of test_hostile (the program's own SIGSEGV dispositions, which touch
	# a trap page on purpose) runs in the normal suite only. Set here, after it: exported before,
	# it had kept item 7 and the non-blocking cases (nb) out of the normal suite too.
	export HOSTILE_ITEMS=${HOSTILE_ITEMS:-"1 2 3 4 5 6 8 9 nb"}
	export ZC_PRELOAD_FIRST
	ZC_PRELOAD_FIRST=$(${CC:-cc} -print-file-name=libasan.so)
	reports=$(mktemp -d /tmp/zcsan.XXXXXX)
	export ASAN_OPTIONS="detect_leaks=0:exitcode=86:log_path=$reports/asan:strip_path_prefix=$root/"
	export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:strip_path_prefix=$root/"
	# the stress test at a tenth of its size: ASan makes each chunk several times slower
	export ZC_STRESS_CHUNKS=${ZC_STRESS_CHUNKS:-100000} ZC_STRESS_LIMIT=${ZC_STRESS_LIMIT:-60}
	# reports STEP: every sanitizer report left since the last call fails STEP (shown, then moved)
	reports() {
		local r
		r=$(ls "$reports"/asan.* 2>/dev/null)
		[ -z "$r" ] && return 0
		echo "FAIL: $1: sanitizer reports from $(wc -l <<<"$r") processes:"
		for f in $r; do echo "--- $(basename "$f")"; head -40 "$f"; done
		mkdir -p "$reports/seen" && mv $r "$reports/seen/"
		fail=$((fail + 1)) failed+=("$1:sanitizer")
	}

	# ---- unit tests: one case per Criterion test ------------------------------------------------
	for t in "$ZC_BUILD"/unit/test_*; do
		[ -x "$t" ] || continue
		n=san-unit-$(basename "$t")
		echo "== $n"
		log=$(mktemp)
		"$t" --jobs 1 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		syn=$(grep 'Synthesis:' "$log" | tail -1)
		p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$syn")
		f=$(($(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$syn") + $(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$syn")))
		[ -z "$p" ] && p=0
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1 && echo "FAIL: $n: exited $rc"
		pass=$((pass + p)) fail=$((fail + f))
		[ "$f" -gt 0 ] && failed+=("$n")
		rm -f "$log"
		reports "$n"
	done

	# ---- end-to-end scripts against the sanitized library ---------------------------------------
	for s in $SAN_E2E; do
		n=san-e2e-$s
		f=tests/e2e/test_$s.sh
		if [ ! -f "$f" ]; then echo "FAIL: $n: $f missing"; fail=$((fail + 1)) failed+=("$n"); continue; fi
		# a script that builds LD_PRELOAD itself without ZC_PRELOAD would put the shim before libasan
		if ! grep -q 'ZC_PRELOAD\|with_shim' "$f" $(sed -n 's/^\. .*\/\([a-z_]*\.lib\.sh\)".*/tests\/e2e\/\1/p' "$f"); then
			echo "SKIP: $n: its LD_PRELOAD does not take ZC_PRELOAD (libasan must come first)"
			skip=$((skip + 1))
			continue
		fi
		log=$(mktemp)
		tests/run-tests.sh e2e "test_$s" 2>&1 | tee "$log"
		count "$log" "${PIPESTATUS[0]}" "$n"
		rm -f "$log"
		reports "$n"
	done
	rm -rf "$reports"
fi

[ ${#failed[@]} -gt 0 ] && echo "failing: ${failed[*]}"
echo "$label: $pass passed, $fail failed${skip:+$([ "$skip" -gt 0 ] && echo ", $skip skipped")}"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
