#!/usr/bin/env bash
# test_stress.sh — tests/progs/stress.c: 8 threads copy files to TCP connections (read/pread into
# buffers that are changed, shared, freed and reallocated; written in pieces) while a mutator
# process truncates and rewrites the sources, signals whose handlers write() to a self-pipe arrive
# every 50 µs, and the threads fork and exec /bin/true. A receiver process hashes what each
# connection delivered; the program compares it with what its writes reported. Runs: once without
# the shim (the baseline: the program itself must be right), then with the shim rewriting at these
# chunk sizes (8-16 KiB, so min_bytes_tcp and guard_min_bytes are lowered to 4 KiB) with leases
# off (truncation and replacement by rename only: with lease = off an in-place rewrite may reach
# the peer by design) and with leases required (in-place rewrites too: the lease must guard them).
# ZC_STRESS_CHUNKS (default 1000000) sets the chunks of the baseline and lease-off runs; the
# lease run does 3/10 of it. Each run prints the program's summary line.
. "$(dirname "$0")/lib.sh"

ST=$ZC_PROGS/stress
CHUNKS=${ZC_STRESS_CHUNKS:-1000000}
LIMIT=${ZC_STRESS_LIMIT:-120} # seconds one run may take (a 10^6-chunk run needs ~60 under the shim)
if [ ! -x "$ST" ] || [ ! -f "$ZC_LIB" ]; then fail setup "build first: $ST / $ZC_LIB missing"; exit 1; fi
COMMON=(--threads 8 --min 8K --max 16K --files 4 --file-size 2M --mutate-ms 10 --signal-us 50
	--fork-every 4000 --block-all --timeout $((LIMIT - 10)))
SHIM_ENV=(ZCSHIM_MODE=eager ZCSHIM_MIN_BYTES_TCP=4096 ZCSHIM_GUARD_MIN_BYTES=4096)

# stress NAME VARIANT(base|shim) [ENV... --] ARGS... : one run in $ZC_TMP/NAME; sets RC and OUT.
# A run that outlives LIMIT gets its threads' stacks printed (gdb) before it is killed.
stress() {
	local n=$1 v=$2 envs=() pid i
	shift 2
	if [ "$v" = shim ]; then
		while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
		shift
	fi
	local d=$ZC_TMP/$n
	mkdir -p "$d"
	if [ "$v" = shim ]; then
		# as with_shim does, but without a function around it: $! is then the program itself
		env "${envs[@]}" ZCSHIM_STATS_FILE="$d/st.%p.json" LD_PRELOAD="$ZC_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}" \
			"$ST" --dir "$d" "$@" >"$d/out" 2>&1 &
	else
		"$ST" --dir "$d" "$@" >"$d/out" 2>&1 &
	fi
	pid=$!
	for ((i = 0; i < LIMIT * 10; i++)); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	if kill -0 $pid 2>/dev/null; then
		echo "# $n: still running after $LIMIT s; thread stacks:"
		command -v gdb >/dev/null && timeout 60 gdb -q -batch -p $pid -ex 'thread apply all bt 10' 2>/dev/null |
			grep '^#\|^Thread' | head -150
		pkill -KILL -P $pid 2>/dev/null
		kill -KILL $pid 2>/dev/null
		wait $pid 2>/dev/null
		RC=timeout
	else
		wait $pid
		RC=$?
		[ $RC -gt 128 ] && RC="killed by signal $((RC - 128)) ($(kill -l $((RC - 128)) 2>/dev/null))"
	fi
	OUT=$d/out
	grep -v '^stress: threads=' "$OUT" | head -20 | sed "s/^/# $n: /"
	grep '^stress: threads=' "$OUT" | sed "s/^/# $n: /"
}
# field NAME: a number from the summary line of the last run
field() { sed -n "s/^stress: threads=.* $1=\([0-9]*\).*/\1/p" "$OUT" | head -1; }
# verdict NAME CHUNKS: exit 0, the summary line, every chunk done, nothing different
verdict() {
	local n=$1 want=$2 why=
	[ "$RC" = 0 ] || why="exit $RC"
	grep -q '^stress: threads=' "$OUT" || why="${why:+$why; }no summary line"
	[ "$(field chunks)" = "$want" ] || why="${why:+$why; }chunks $(field chunks) of $want"
	grep -q '^MISMATCH' "$OUT" && why="${why:+$why; }$(grep -c '^MISMATCH' "$OUT") connections differ"
	grep -q '^stress: sender' "$OUT" && why="${why:+$why; }$(grep '^stress: sender' "$OUT" | head -1)"
	if [ -z "$why" ]; then pass "$n"; else fail "$n" "$why"; fi
}
# rewrote NAME PERCENT: the shim did at least PERCENT of the chunks with sendfile
rewrote() {
	local sf chunks
	sf=$(stat_sum "$ZC_TMP/$1/st.*.json" rw_sendfile)
	chunks=$(field chunks)
	echo "# $1: rw_sendfile $sf for ${chunks:-0} chunks; fallbacks: $(cat "$ZC_TMP/$1"/st.*.json 2>/dev/null |
		sed -n 's/^ *"\(fb_[a-z_]*\)": \([1-9][0-9]*\).*/\1 \2/p' |
		awk '{ s[$1] += $2 } END { for (k in s) printf "%s=%d ", k, s[k] }')"
	if [ "${chunks:-0}" -gt 0 ] && [ "$sf" -ge $((chunks * $2 / 100)) ]; then pass "$1-rewrote"; else
		fail "$1-rewrote" "rw_sendfile $sf, under $2% of ${chunks:-0} chunks"
	fi
}

# baseline: the program and its checking are right without the shim
stress base base "${COMMON[@]}" --chunks "$CHUNKS" --seed 1
verdict stress-baseline "$CHUNKS"

# the shim, leases off: sources truncated and replaced by rename, never rewritten in place
stress lease-off shim "${SHIM_ENV[@]}" ZCSHIM_LEASE=off -- "${COMMON[@]}" --chunks "$CHUNKS" --seed 2
verdict stress-shim-lease-off "$CHUNKS"
rewrote lease-off 50

# the shim, leases required: the mutator also rewrites sources in place, which breaks the leases
LCH=$((CHUNKS * 3 / 10))
stress lease-on shim "${SHIM_ENV[@]}" ZCSHIM_LEASE=require -- "${COMMON[@]}" --chunks "$LCH" --inplace --seed 3
verdict stress-shim-lease-require "$LCH"
# in-place rewrites hold sources open for writing, and a break waits for the rewrites in flight
# (leases refused meanwhile): 20-60% seen here, 3.3% once in CI (23 mutations in 3.6 s: breaks
# that waited on slow receivers); this asks only that the path ran
rewrote lease-on 1
