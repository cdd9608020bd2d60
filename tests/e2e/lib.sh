# lib.sh — shared helpers for end-to-end scripts (sourced). Each case prints "PASS: name" or
# "FAIL: name: why"; the script exits non-zero if any case failed.
set -u
: "${ZC_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${ZC_BUILD:=$ZC_ROOT/build}"
# ZC_LIB_OVERRIDE: another build of the library (an empty one: the counter checks must fail)
ZC_LIB=${ZC_LIB_OVERRIDE:-$ZC_BUILD/libzcshim.so}
# ZC_PRELOAD: the LD_PRELOAD value of a shim run. ZC_PRELOAD_FIRST (tests/run-sanitized.sh sets it
# to libasan, which must be the first library loaded) is put before the shim.
ZC_PRELOAD=${ZC_PRELOAD_FIRST:+$ZC_PRELOAD_FIRST:}$ZC_LIB
ZC_BIN=$ZC_BUILD/zcshim
ZC_PROGS=$ZC_BUILD/progs
ZC_FAILS=0
ZC_TMP=$(mktemp -d /tmp/zce2e.XXXXXX)
trap 'rm -rf "$ZC_TMP"; exit $(( ZC_FAILS > 0 ))' EXIT

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; ZC_FAILS=$((ZC_FAILS + 1)); }
# check NAME COND-COMMAND... : PASS if the command succeeds
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "$*"; fi; }

# stat_get FILE COUNTER — value of a counter in a stats JSON file written by the shim (0 if absent)
stat_get() { local v; v=$(sed -n "s/^ *\"$2\": \([0-9]*\).*/\1/p" "$1" 2>/dev/null | head -1); echo "${v:-0}"; }
# stat_sum GLOB COUNTER — sum over several stats files (one per process)
stat_sum() { local s=0 f; for f in $1; do [ -f "$f" ] && s=$((s + $(stat_get "$f" "$2"))); done; echo $s; }

# with_shim ENV... -- CMD... : run CMD preloaded with the shim, extra ZCSHIM_* settings before --
with_shim() {
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" LD_PRELOAD="$ZC_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}" "$@"
}

# free_port — a TCP port free on loopback
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# make_file PATH SIZE — deterministic pseudo-random content
make_file() { head -c "$2" /dev/urandom > "$1"; }
# skip NAME WHY : the case cannot run here (a kernel feature or filesystem that is absent); counted
# as skipped by run-tests.sh. Never for something `make test` installs: that is a fail.
skip() { echo "SKIP: $1: $2"; }
# wait_for SECONDS CMD... : until CMD succeeds, polling every 50 ms; fails after SECONDS
wait_for() {
	local end=$(($(date +%s) + $1)); shift
	until "$@"; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.05; done
}

# ---- cases with several needs (copyloop, faults, hostile, deferred) ------------------------------
# begin NAME / need WHAT CMD... / end : one PASS or FAIL line per case, naming every unmet need
begin() { CASE=$1; WHY=; }
need() { local what=$1; shift; "$@" 2>/dev/null || WHY="${WHY:+$WHY; }$what"; }
end() { if [ -z "$WHY" ]; then pass "$CASE"; else fail "$CASE" "$WHY"; fi; }
eq() { [ "$1" -eq "$2" ]; }
ge() { [ "$1" -ge "$2" ]; }
# status RC: what a program's exit status means, for messages (LIMIT: the caller's timeout)
status() {
	case $1 in
	0) echo "exit 0" ;;
	4) echo "hang: the program's own deadline passed (exit 4)" ;;
	124 | 137) echo "hang: killed by timeout after $LIMIT s" ;;
	255) echo "never ran" ;;
	*) if [ "$1" -gt 128 ]; then echo "killed by SIG$(kill -l $(($1 - 128)))"; else echo "exit $1"; fi ;;
	esac
}

# checked_runs TAG PROG CLEAN COUNTER MIN RUNS [ENV...] -- ARGS...: a program of tests/progs that
# checks every byte itself (its last line says CLEAN when all were right), once without the shim,
# then RUNS times under it with ENV: CLEAN each time, and COUNTER summed over the run's processes at
# least MIN (=N: exactly N), so the path under test ran. Within a begin/end case; files $ZC_TMP/TAG.*
checked_runs() {
	local prog=$ZC_PROGS/$2 clean=$3 counter=$4 min=${5#=} runs=$6 run rc got t=$ZC_TMP/$1 envs=()
	local op=-ge want="at least"
	[ "$5" != "$min" ] && op=-eq want=exactly
	shift 6
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	mkdir -p "$t.base" "$t.shim"
	timeout "${LIMIT:-60}" "$prog" --dir "$t.base" "$@" >"$t.base.out" 2>&1
	rc=$?
	need "without the shim: $(status $rc) $(tail -1 "$t.base.out")" grep -q "$clean" "$t.base.out"
	for run in $(seq 1 "$runs"); do
		with_shim "${envs[@]}" ZCSHIM_STATS_FILE="$t.$run.%p.json" -- timeout "${LIMIT:-60}" "$prog" --dir "$t.shim" "$@" >"$t.shim.out" 2>&1
		rc=$?
		need "under the shim, run $run: $(status $rc) $(head -1 "$t.shim.out") $(tail -1 "$t.shim.out")" grep -q "$clean" "$t.shim.out"
		got=$(stat_sum "$t.$run.*.json" "$counter")
		need "run $run: $counter $got, want $want $min" [ "$got" "$op" "$min" ]
	done
}
