# transcript.lib.sh — what the tests of hostile programs share (sourced after lib.sh, never run by
# itself): each case runs the program $P without the shim (base) and with it (shim: environment
# MODE=(...), a stats file per process), on a fresh copy of its source file, and compares the exit
# status, the transcript (--log) and the bytes the program wrote to its stdout pipe; then the shim
# run's counters must prove the path under test ran. The caller sets P, T and LIMIT.

# D NAME VARIANT: the directory of one run (src, log, out, rc, st.PID.json, child.out)
D() { echo "$T/$1.$2"; }
rc() { cat "$(D "$1" "$2")/rc" 2>/dev/null || echo 255; }
# st NAME COUNTER: summed over the shim run's processes ("st.*": exec keeps a ".exec" file apart)
st() { stat_sum "$(D "$1" shim)/st.*" "$2"; }

# run VARIANT NAME SOURCE ITEM ARGS...: one run on a fresh copy of SOURCE (items may change it);
# "@D" in ARGS becomes the run directory. The shim run gets deferred mode and a stats file.
run() {
	local v=$1 n=$2 src=$3 d a pre=() args=()
	shift 3
	d=$(D "$n" "$v")
	rm -rf "$d" && mkdir -p "$d"
	cp "$src" "$d/src"
	for a in "$@"; do args+=("${a//@D/$d}"); done
	[ "$v" = shim ] && pre=(env "${MODE[@]}" ZCSHIM_STATS_FILE="$d/st.%p.json" LD_PRELOAD="$ZC_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}")
	# in the run directory (a core dump or stray file lands there); the status of the program, not of cat
	(
		cd "$d" || exit
		timeout -k 5 "$LIMIT" "${pre[@]}" "$P" "${args[@]}" --src "$d/src" --log "$d/log" | cat >"$d/out"
		echo "${PIPESTATUS[0]}" >"$d/rc"
	)
	return 0
}
# both NAME SOURCE ITEM ARGS...: without and with the shim
both() { local n=$1; shift; run base "$n" "$@"; run shim "$n" "$@"; }

transcript() { grep -v '^#' "$(D "$1" "$2")/log" 2>/dev/null; }
same_log() { diff <(transcript "$1" base) <(transcript "$1" shim) >/dev/null; }
first_diff() { diff <(transcript "$1" base) <(transcript "$1" shim) | grep '^[<>]' | head -2 | tr '\n' ' '; }
# same_file NAME FILE: one output file of the run, base against shim
same_file() { cmp -s "$(D "$1" base)/$2" "$(D "$1" shim)/$2"; }
cmp_msg() { cmp "$(D "$1" base)/$2" "$(D "$1" shim)/$2" 2>&1 | head -1; }

# same_behaviour NAME [WANT_RC]: status, transcript and bytes as without the shim; the base run ended well
# (WANT_RC: the base run's expected status instead of 0, e.g. 141 for a death by SIGPIPE)
same_behaviour() {
	local n=$1 rb rs want=${2:-0}
	rb=$(rc "$n" base) rs=$(rc "$n" shim)
	need "base $(status "$rb"), want $(status "$want") (the scenario itself did not run as meant)" [ "$rb" = "$want" ]
	need "base $(status "$rb"), shim $(status "$rs")" [ "$rb" = "$rs" ]
	need "transcripts differ: $(first_diff "$n")" same_log "$n"
	need "the reader got other bytes with the shim ($(cmp_msg "$n" out))" same_file "$n" out
}
# counters NAME COUNTER...: each counter > 0 in the shim run (a shim that does nothing fails here);
# a process that hung or was killed writes none: said once, instead of every counter at 0
counters() {
	local n=$1 c; shift
	case $(rc "$n" shim) in 4 | 124 | 137) need "no counters (the shim run never exited)" false; return ;; esac
	for c in "$@"; do need "$c $(st "$n" "$c"), want > 0" ge "$(st "$n" "$c")" 1; done
}
