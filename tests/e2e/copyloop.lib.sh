# copyloop.lib.sh — what test_copyloop.sh and test_faults.sh share (sourced, never run by itself):
# lib.sh, the copy program, and the helpers that run one case without and with the shim and
# compare what the peer got, what the program saw (its transcript) and what the shim counted.
# Both scripts exercise the rewrite mechanism at 64 KiB chunks, below the default TCP threshold
# (min_bytes_tcp, a policy measured by `zcshim bench`), so the shim runs here with it at 16 KiB.
export ZCSHIM_MIN_BYTES_TCP=${ZCSHIM_MIN_BYTES_TCP:-16384}
. "$(dirname "$0")/lib.sh"

CL=$ZC_PROGS/copyloop
T=$ZC_TMP
LIMIT=60 # seconds any one program may run

if [ ! -x "$CL" ] || [ ! -f "$ZC_LIB" ]; then fail setup "build first: $CL / $ZC_LIB missing"; exit 1; fi

same() { cmp -s "$1" "$2"; }

# D NAME VARIANT: the directory of one run (log, exp, out, rc, st.PID.json, strace)
D() { echo "$T/run.$1.$2"; }
# rc NAME VARIANT: the program's exit status (255 when it never ran)
rc() { cat "$(D "$1" "$2")/rc" 2>/dev/null || echo 255; }
# st NAME COUNTER: a shim counter summed over every process of the shim run
st() { stat_sum "$(D "$1" shim)/st.*.json" "$2"; }

# Settings a case may set around a run: RECV_OPTS (receiver options, word-split), PIPE_READER
# (command at the read end of a pipe destination), ACT (a function run beside the program with
# the run directory and variant: it drives handshakes), STRACE (trace these calls of the shim run
# under strace instead of reading counters), NO_EXPECT (no --expect file).
RECV_OPTS= PIPE_READER=(cat) ACT= STRACE= NO_EXPECT=
# a pipe reader that takes 16 KiB per millisecond (for EAGAIN and EINTR on pipe destinations)
SLOW_READER=(python3 -c 'import os, sys, time
while True:
    b = os.read(0, 16384)
    if not b: break
    sys.stdout.buffer.write(b)
    time.sleep(0.001)')

# run VARIANT NAME DST [ENV... --] ARGS...: one `copyloop send`, VARIANT base (no shim) or shim
# (with ENV). DST: tcp (a `copyloop recv` receiver), pipe (PIPE_READER), file:PATH or append:PATH.
# "@V" in ARGS becomes the variant, so each run can have its own copy of a file.
run() {
	local v=$1 n=$2 dst=$3 d a e i rpid= apid= envs=() args=() pre=() opts=()
	shift 3
	for a in "$@"; do [ "$a" = -- ] && { while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift; break; }; done
	for a in "$@"; do args+=("${a//@V/$v}"); done
	d=$(D "$n" "$v")
	rm -rf "$d" && mkdir -p "$d"
	if [ "$v" = shim ]; then
		local shim_env=("${envs[@]}" ZCSHIM_STATS_FILE="$d/st.%p.json" LD_PRELOAD="$ZC_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}")
		if [ -n "$STRACE" ]; then
			pre=(strace -f -q -e trace="$STRACE" -o "$d/strace")
			for e in "${shim_env[@]}"; do pre+=(-E "$e"); done
		else
			pre=(env "${shim_env[@]}")
		fi
	fi
	opts=(--log "$d/log" --ctl "$d/ctl")
	[ -z "$NO_EXPECT" ] && opts+=(--expect "$d/exp")
	[ -n "$ACT" ] && { "$ACT" "$d" "$v" & apid=$!; }
	case $dst in
	tcp)
		# shellcheck disable=SC2086 # RECV_OPTS is a list of options
		"$CL" recv --port-file "$d/port" --out "$d/out" --timeout $LIMIT $RECV_OPTS &
		rpid=$!
		for i in $(seq 500); do [ -s "$d/port" ] && break; sleep 0.01; done
		timeout $LIMIT "${pre[@]}" "$CL" send --dst "tcp:$(cat "$d/port")" "${opts[@]}" "${args[@]}" >/dev/null
		echo $? >"$d/rc"
		# the receiver ends at EOF; one that was never connected to is stopped after a grace time
		for i in $(seq 1000); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.01; done
		kill "$rpid" 2>/dev/null
		wait "$rpid" 2>/dev/null
		;;
	pipe)
		timeout $LIMIT "${pre[@]}" "$CL" send --dst stdout "${opts[@]}" "${args[@]}" | "${PIPE_READER[@]}" >"$d/out"
		echo "${PIPESTATUS[0]}" >"$d/rc"
		;;
	*)
		timeout $LIMIT "${pre[@]}" "$CL" send --dst "$dst" "${opts[@]}" "${args[@]}" >/dev/null
		echo $? >"$d/rc"
		;;
	esac
	[ -n "$apid" ] && wait "$apid"
	return 0
}

# both NAME DST [ENV... --] ARGS...: the same case without and with the shim
both() { local n=$1; shift; run base "$n" "$@"; run shim "$n" "$@"; }

# Transcript readers (format in tests/progs/copyloop.c); a "t0 "/"t1 " thread prefix is dropped.
calls() { sed 's/^t[01] //' "$1" | grep -v '^#'; }
# writes LOG: the write-side calls (not poll): "w CALL ASKED RETURNED ERRNO"
writes() { calls "$1" | awk '$1 == "w" && $2 != "poll"'; }
# errs LOG: the distinct errnos writes failed with, "EAGAIN EINTR " (empty: none)
errs() { writes "$1" | awk '$5 != "-" { print $5 }' | sort -u | tr '\n' ' '; }
# partials LOG: writes that returned a partial count
partials() { writes "$1" | awk '$4 > 0 && $4 < $3 { n++ } END { print n + 0 }'; }
# wsum LOG: bytes the writes reported
wsum() { writes "$1" | awk '$4 > 0 { s += $4 } END { print s + 0 }'; }
# same_log NAME: the program saw the same calls and results, line for line
same_log() { diff <(grep -v '^\(t[01] \)\?#' "$(D "$1" base)/log") <(grep -v '^\(t[01] \)\?#' "$(D "$1" shim)/log") >/dev/null; }
# same_calls NAME: the same read-side calls and chunk summaries (write calls are timing dependent)
same_calls() { diff <(grep -v '^\(t[01] \)\?\(#\|w \)' "$(D "$1" base)/log") <(grep -v '^\(t[01] \)\?\(#\|w \)' "$(D "$1" shim)/log") >/dev/null; }
# accounted NAME: every byte the program's writes reported is counted once by the shim
accounted() {
	local k=0 c
	for c in rw_sendfile_bytes rw_splice_bytes rw_copy_file_range_bytes bytes_passthrough bytes_from_buffer; do
		k=$((k + $(st "$1" $c)))
	done
	[ "$(wsum "$(D "$1" shim)/log")" -eq "$k" ]
}

# basics NAME EXPECTED: both runs succeeded, delivered EXPECTED and reported exactly it, saw the
# same calls, and the shim accounted for every byte
basics() {
	local n=$1 exp=$2 v
	for v in base shim; do
		need "$v exit $(rc "$n" $v)" eq "$(rc "$n" $v)" 0
		need "$v output differs from expected" same "$(D "$n" $v)/out" "$exp"
		need "$v expect-file differs from expected" same "$(D "$n" $v)/exp" "$exp"
	done
	need "transcripts differ" same_log "$n"
	need "byte accounting" accounted "$n"
}

# mode_check: after all cases, the mode the script ran in (ZCSHIM_MODE, auto when unset) did what it
# says over every shim run: auto and deferred left read copies out (deferred_reads > 0), eager never
# did. Run last by the scripts, so a [deferred] pass that deferred nothing cannot pass unseen.
mode_check() {
	local m=${ZCSHIM_MODE:-auto} n
	n=$(stat_sum "$T/run.*.shim/st.*.json" deferred_reads)
	case $m in
	auto | deferred) if [ "$n" -gt 0 ]; then pass "mode-$m-reads-deferred ($n)"; else fail "mode-$m-reads-deferred" "deferred_reads 0 over every run"; fi ;;
	eager) if [ "$n" -eq 0 ]; then pass "mode-eager-nothing-deferred"; else fail "mode-eager-nothing-deferred" "deferred_reads $n"; fi ;;
	esac
}
