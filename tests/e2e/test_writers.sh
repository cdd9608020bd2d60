#!/usr/bin/env bash
# test_writers.sh — several threads write one TCP socket, each call a header and a piece of a file
# in one writev (tests/progs/writers.c): the reader parses the stream unit by unit and checks every
# word, so another thread's bytes between a header and its data are found. The shim sends such a
# call as two (the header, then sendfile) only when no other write to the socket is in flight, and
# other threads' writes wait meanwhile (shim/wgate.c). Cases: threads taking turns (Apache's event
# MPM hands a connection from thread to thread: it must be rewritten, the old "two writers ever"
# rule passed it all through), threads writing at once (the old rule let the first meeting
# interleave: 5 of 8 runs cut a unit), reads by pread, and signals
# every 20 us whose handlers write to a pipe (the kernel's sendfile stops at a signal where the
# socket has room and write would not: the shim returned a partial count, and another thread's
# unit then came between; now the transfer goes on).
# Each run without the shim must print the same line; every shim run must show its rewrites.
# Not here: a blocking socket at once (writers --blocking). Its split is not gated (making the
# others wait could make them wait for the peer), so until a second writer is seen the first
# meeting can cut a unit: a known limit, in the README.
#
# ZC_LIB=/path/libzcshim.so tests another build of the library (an empty one must fail the counters).
want_lib=${ZC_LIB:-}
. "$(dirname "$0")/lib.sh"
if [ -n "$want_lib" ]; then
	ZC_LIB=$want_lib
	ZC_PRELOAD=${ZC_PRELOAD_FIRST:+$ZC_PRELOAD_FIRST:}$ZC_LIB
fi
P=$ZC_PROGS/writers
T=$ZC_TMP
LIMIT=60
if [ ! -x "$P" ] || [ ! -f "$ZC_LIB" ]; then fail setup "build first: $P / $ZC_LIB missing"; exit 1; fi
SHIM_ENV=(ZCSHIM_MIN_BYTES_TCP=4096) # 64 KiB pieces are rewritten to TCP (the default asks more)

# run NAME RUNS ARGS...: RUNS runs without the shim, then RUNS with it; each must print the line
# "units U partial 0 mismatches 0 bytes B" for all units; sets ST (the shim runs' stats files)
run() {
	local n=$1 runs=$2 i rc v line want why
	shift 2
	want="writers: units $(($(arg --threads 4 "$@") * $(arg --units 2000 "$@"))) partial 0 mismatches 0"
	for ((i = 0; i < runs; i++)); do
		for v in base shim; do
			mkdir -p "$T/$n.$v.$i"
			if [ $v = base ]; then
				timeout $LIMIT "$P" --dir "$T/$n.$v.$i" "$@" >"$T/$n.$v.$i/out" 2>&1
			else
				with_shim "${SHIM_ENV[@]}" ZCSHIM_STATS_FILE="$T/$n.st.$i.%p.json" -- \
					timeout $LIMIT "$P" --dir "$T/$n.$v.$i" "$@" >"$T/$n.$v.$i/out" 2>&1
			fi
			rc=$?
			line=$(grep '^writers: units' "$T/$n.$v.$i/out")
			why=$(status $rc)
			[ $rc = 3 ] && why="$why: a call was partial, the run cannot judge"
			need "$v run $i: $why: ${line:-no summary}; $(grep -v '^writers: units' "$T/$n.$v.$i/out" | head -2 | tr '\n' ' ')" \
				eval '[ $rc = 0 ] && [[ $line == "$want"* ]]'
		done
	done
	ST="$T/$n.st.*.json"
}
# arg NAME DEFAULT ARGS...: the value given to NAME in ARGS, else DEFAULT
arg() {
	local name=$1 v=$2
	shift 2
	while [ $# -gt 0 ]; do [ "$1" = "$name" ] && v=$2; shift; done
	echo "$v"
}

# four threads take turns on a non-blocking socket: never two writes in flight, every unit rewritten
begin writers_map_turns
run turns 1 --src map --turns
need "rw_mapped $(stat_sum "$ST" rw_mapped) of 8000 units, want 7200 (90%)" ge "$(stat_sum "$ST" rw_mapped)" 7200
end

begin writers_pread_turns
run pturns 1 --src pread --turns
need "rw_sendfile $(stat_sum "$ST" rw_sendfile) of 8000 units, want 7200 (90%)" ge "$(stat_sum "$ST" rw_sendfile)" 7200
end

# four threads at once, five runs: each unit whole; some are split (alone in flight: 311-729 of
# 8000 seen here), the others pass through as fb_multi_writer
begin writers_map_at_once
run once 5 --src map
need "rw_mapped $(stat_sum "$ST" rw_mapped), want 40 at least (the split path ran)" ge "$(stat_sum "$ST" rw_mapped)" 40
need "fb_multi_writer $(stat_sum "$ST" fb_multi_writer), want 1 at least" ge "$(stat_sum "$ST" fb_multi_writer)" 1
end

# signals every 20 us (SIGUSR1, no SA_RESTART, the handler writes to a pipe): no call comes back
# partial, as none does without the shim (before: 152-302 partial counts of 8000 with turns)
begin writers_map_turns_signals
run tsig 1 --src map --turns --signal-us 20
need "rw_mapped $(stat_sum "$ST" rw_mapped) of 8000 units, want 7200 (90%)" ge "$(stat_sum "$ST" rw_mapped)" 7200
need "no signal handled under the shim" grep -q 'signals handled [1-9]' "$T/tsig.shim.0/out"
end

begin writers_map_at_once_signals
run osig 3 --src map --signal-us 20
need "rw_mapped $(stat_sum "$ST" rw_mapped), want 40 at least (the split path ran)" ge "$(stat_sum "$ST" rw_mapped)" 40
need "no signal handled under the shim" grep -q 'signals handled [1-9]' "$T/osig.shim.0/out"
end

# a write that must not wait for another thread's transfer (tests/progs/gatehang.c): thread A
# sends 16 MiB from a mapping to a blocking socket whose peer does not read; the main thread's
# one-byte write (or send MSG_DONTWAIT) returns at once as without the shim; A taken out of its
# write by siglongjmp; a vfork child that _exits while two threads are inside their writes. The
# first in-flight rule hung in all four (a blocking transfer held the socket; a vfork child reset
# its parent's table). strace shows A's write went out by sendfile (the socket cases).
for c in lone dontwait longjmp vfork; do
	begin "writers_no_wait_$c"
	mkdir -p "$T/gh.$c"
	timeout $LIMIT "$ZC_PROGS/gatehang" --dir "$T/gh.$c" $c >"$T/gh.$c/base" 2>&1
	rc=$?
	need "without the shim: $(status $rc) $(tr '\n' ' ' <"$T/gh.$c/base")" eq $rc 0
	with_shim -- timeout $LIMIT strace -f -qq -e trace=sendfile -o "$T/gh.$c/strace" \
		"$ZC_PROGS/gatehang" --dir "$T/gh.$c" $c >"$T/gh.$c/shim" 2>&1
	rc=$?
	need "under the shim: $(status $rc) $(tr '\n' ' ' <"$T/gh.$c/shim")" eq $rc 0
	need "output differs: $(cat "$T/gh.$c/shim")" cmp -s "$T/gh.$c/base" "$T/gh.$c/shim"
	[ $c = vfork ] || need "no sendfile in strace: A's write was not rewritten" grep -q 'sendfile(' "$T/gh.$c/strace"
	end
done
