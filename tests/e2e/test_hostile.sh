#!/usr/bin/env bash
# test_hostile.sh — the contract breaches of issue 7 ("Contract breaches", items 1-9), one case
# each, run with tests/progs/hostile.c: programs that do legal but hostile things around their copy
# loop. Every case runs the program without the shim (base) and with it (shim) and asks for the same
# exit status or killing signal, the same transcript (every read/write return value and errno, and
# what the program saw) and the same bytes at the receiver. Where some chunks go out untouched, a
# rw_* counter must show the shim really rewrote them (a shim that does nothing would pass otherwise).
# The checks are about behaviour, never about how the shim guards its buffers.
. "$(dirname "$0")/lib.sh"

H=$ZC_PROGS/hostile
T=$ZC_TMP
LIMIT=${HOSTILE_LIMIT:-60} # seconds any one program may run (the programs give up after 30 s)
# the rewrite mechanism at 64 KiB chunks, below the default TCP threshold (a policy, see README)
LOW=(ZCSHIM_MIN_BYTES_TCP=4096 ZCSHIM_MIN_BYTES_PIPE=4096 ZCSHIM_GUARD_MIN_BYTES=4096)
ulimit -c 0 # some cases end (on purpose, in both runs) killed by SIGSEGV

if [ ! -x "$H" ] || [ ! -f "$ZC_LIB" ]; then fail setup "build first: $H / $ZC_LIB missing"; exit 1; fi


# D NAME VARIANT: the directory of one run (log, out, rc, st.PID.json)
D() { echo "$T/$1.$2"; }
rc() { cat "$(D "$1" "$2")/rc" 2>/dev/null || echo 255; }
st() { stat_sum "$(D "$1" shim)/st.*.json" "$2"; }

# Settings a case may set around a run: READER (the command at the read end of the program's
# stdout, "@D" becomes the run directory), SIDE (a function started beside the program with the run
# directory, stopped with SIGTERM when the program is done), SHIPPED (non-empty: the shim run gets
# the shipped defaults, not LOW).
READER=(cat) SIDE='' SHIPPED=''

# run VARIANT NAME [ENV... --] ARGS...: one hostile run, base (no shim) or shim (with LOW and ENV).
# "@D" in ARGS becomes the run directory.
run() {
	local v=$1 n=$2 d a spid='' pre=() envs=() args=() rd=()
	shift 2
	for a in "$@"; do [ "$a" = -- ] && { while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift; break; }; done
	d=$(D "$n" "$v")
	rm -rf "$d" && mkdir -p "$d"
	for a in "$@"; do args+=("${a//@D/$d}"); done
	for a in "${READER[@]}"; do rd+=("${a//@D/$d}"); done
	local low=("${LOW[@]}")
	[ -n "$SHIPPED" ] && low=()
	[ "$v" = shim ] && pre=(env "${low[@]}" "${envs[@]}" ZCSHIM_STATS_FILE="$d/st.%p.json" LD_PRELOAD="$ZC_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}")
	[ -n "$SIDE" ] && { "$SIDE" "$d" & spid=$!; }
	timeout -k 5 "$LIMIT" "${pre[@]}" "$H" "${args[@]}" --log "$d/log" | "${rd[@]}" >"$d/out"
	echo "${PIPESTATUS[0]}" >"$d/rc"
	[ -n "$spid" ] && { kill "$spid" 2>/dev/null; wait "$spid"; }
	return 0
}
# both NAME [ENV... --] ARGS...: the same program without and with the shim
both() { local n=$1; shift; run base "$n" "$@"; run shim "$n" "$@"; }

# transcript NAME VARIANT: the compared lines ("# ..." are informational)
transcript() { grep -v '^#' "$(D "$1" "$2")/log" 2>/dev/null; }
same_log() { diff <(transcript "$1" base) <(transcript "$1" shim) >/dev/null; }
# first_diff NAME: the first line where the transcripts part, for the failure message
first_diff() { diff <(transcript "$1" base) <(transcript "$1" shim) | grep '^[<>]' | head -2 | tr '\n' ' '; }
same_out() { cmp -s "$(D "$1" base)/out" "$(D "$1" shim)/out"; }

# same_behaviour NAME [BASE-RC]: status, transcript and bytes as without the shim, and the run
# without it ended as the scenario means (BASE-RC, default 0: else the case proves nothing)
same_behaviour() {
	local n=$1 want=${2:-0} rb rs
	rb=$(rc "$n" base) rs=$(rc "$n" shim)
	need "base $(status "$rb"), want $(status "$want") (the scenario itself did not run as meant)" [ "$rb" = "$want" ]
	need "base $(status "$rb"), shim $(status "$rs")" [ "$rb" = "$rs" ]
	need "transcripts differ: $(first_diff "$n")" same_log "$n"
	need "the receiver got other bytes with the shim ($(cmp "$(D "$n" base)/out" "$(D "$n" shim)/out" 2>&1 | head -1))" same_out "$n"
}
# rewritten NAME COUNTER: the shim did rewrite the untouched chunks (counters exist only after exit)
rewritten() { need "$2 $(st "$1" "$2"), want > 0 (untouched chunks were not rewritten)" ge "$(st "$1" "$2")" 1; }

KB=1024 MB=1048576
make_file "$T/f1" $MB             # 16 chunks of 64 KiB
make_file "$T/f3" $((3 * MB))     # 3 chunks of 1 MiB
make_file "$T/f8" $((8 * MB))
make_file "$T/other" $((256 * KB)) # mapped over the buffer (map-fixed-file)

# ---- 1: a worker thread with every signal blocked changes its own buffer ----------------------
# Servers block all signals in workers; a store into a guarded buffer must not kill the thread.
case_blocked_worker() {
	begin worker_with_all_signals_blocked_changes_its_buffer
	both bw ZCSHIM_LEASE=off -- blocked-worker --src "$T/f1"
	same_behaviour bw
	rewritten bw rw_splice
	end
	# the issue's reproduction: nothing lowered, lease required (the test owns the file)
	begin worker_with_all_signals_blocked_changes_its_buffer_shipped_defaults
	SHIPPED=1
	both bw_shipped blocked-worker --src "$T/f1"
	SHIPPED=''
	same_behaviour bw_shipped
	rewritten bw_shipped rw_splice
	end
}

# ---- 2: a signal handler that write()s to a self-pipe, signals every 50 us ----------------------
# write() is async-signal-safe; a handler calling it inside the shim's own code must not deadlock.
case_sigwrite() {
	begin signal_handler_writes_to_self_pipe_at_high_rate
	both sw ZCSHIM_LEASE=off -- sigwrite --src "$T/f1" --out @D/file --seconds 5
	for v in base shim; do cp "$(D sw $v)/file" "$(D sw $v)/out" 2>/dev/null; done # the file is the receiver
	same_behaviour sw
	rewritten sw rw_copy_file_range
	end
}

# ---- 3: another process opens the source for writing every 0.2 ms ------------------------------
# Each open breaks the read lease while the program changes every chunk; a legal store to its own
# buffer must never reach a SIGSEGV disposition. No chunk is untouched: nothing to rewrite.
side_opener() { exec "$H" opener --src "$T/f1.opened" --log "$1/opener.log"; }
case_opener() {
	begin source_opened_for_writing_while_program_changes_buffers
	cp "$T/f1" "$T/f1.opened"
	READER=(sha256sum) SIDE=side_opener
	both op modify --src "$T/f1.opened" --passes 1000
	READER=(cat) SIDE=''
	same_behaviour op
	local opens
	opens=$(sed -n 's/^opens \([0-9]*\).*/\1/p' "$(D op shim)/opener.log")
	need "the other process opened the source ${opens:-0} times, want >= 10 (no hostility)" ge "${opens:-0}" 10
	need "records_created $(st op records_created), want > 0 (the shim guarded nothing: proves nothing)" ge "$(st op records_created)" 1
	end
}

# ---- 4: the peer resets the connection ---------------------------------------------------------
# The receiver reads 1 MiB slowly and closes with data unread (RST) while the program is blocked in
# a write of a 64 KiB chunk: a partial count, then -1 ECONNRESET — never death by SIGPIPE or EPIPE.
# shape LOG-DIR: the writes with runs of full ones folded ("full partial -1:ECONNRESET"), the exit
shape() {
	awk '$1 == "w" { s = $3 == $2 ? "full" : $3 < 0 ? "-1:" $4 : "partial"; if (s != last) printf "%s ", s; last = s }
	     $1 == "exit" { print "exit " $2 " " $3 }' "$1/log"
}
# run_peer VARIANT NAME BYTES [ENV... --] ARGS...: one run against a slow TCP receiver (reset-recv)
# that reads BYTES, then closes; "@PORT" in ARGS is its port; what it got becomes the run's out
run_peer() {
	local v=$1 n=$2 bytes=$3 r rpid a port args=()
	shift 3
	r=$(D "$n" "$v").recv
	rm -rf "$r" && mkdir -p "$r"
	"$H" reset-recv --port-file "$r/port" --out "$r/received" --bytes "$bytes" --log "$r/log" &
	rpid=$!
	for _ in $(seq 1000); do [ -s "$r/port" ] && break; sleep 0.01; done
	port=$(cat "$r/port" 2>/dev/null || echo 1)
	for a in "$@"; do args+=("${a//@PORT/$port}"); done
	run "$v" "$n" "${args[@]}"
	wait "$rpid"
	cp "$r/received" "$(D "$n" "$v")/out" 2>/dev/null
}
run_reset() { run_peer "$1" "$2" 1M ZCSHIM_LEASE=off -- reset --port @PORT --src "$T/f8" --sigpipe "$3"; } # VARIANT NAME SIGPIPE
case_reset() { # SIGPIPE
	local n=rst_$1
	begin "peer_resets_connection_sigpipe_$1"
	run_reset base "$n" "$1"
	run_reset shim "$n" "$1"
	head -c $MB "$T/f8" >"$T/f8.1M"
	need "base writes '$(shape "$(D "$n" base)")', want a partial count then ECONNRESET (the scenario did not reproduce)" \
		[ "$(shape "$(D "$n" base)")" = "full partial -1:ECONNRESET exit 1 ECONNRESET" ]
	need "base $(status "$(rc "$n" base)"), shim $(status "$(rc "$n" shim)")" [ "$(rc "$n" base)" = "$(rc "$n" shim)" ]
	need "writes: base '$(shape "$(D "$n" base)")', shim '$(shape "$(D "$n" shim)")'" [ "$(shape "$(D "$n" base)")" = "$(shape "$(D "$n" shim)")" ]
	need "the receiver did not get the first 1 MiB with the shim" cmp -s "$(D "$n" shim)/out" "$T/f8.1M"
	rewritten "$n" rw_sendfile
	end
}

# ---- 5: blocking calls that must return early ------------------------------------------------
# (a) signal() after siginterrupt(sig, 1) (and the other orders): the read returns -1 EINTR.
case_eintr_read() { # VARIANT
	begin "read_interrupted_by_alarm_$1"
	both "ei_$1" eintr-read --variant "$1"
	same_behaviour "ei_$1"
	# the breach was the shim's own signal(): it must have been there, seeing the read
	need "calls_read $(st "ei_$1" calls_read), want > 0 (the shim was not loaded)" ge "$(st "ei_$1" calls_read)" 1
	end
}
# (b) a 1 MiB write to a pipe whose reader stopped, alarm() with a handler: the write returns the
# partial count (the reader took 512 KiB of it, the pipe holds 64 KiB more) instead of restarting,
# whichever way the handler came in. The shim waits for room with poll only when some handler
# restarts calls (SA_RESTART: sigaction, BSD signal, siginterrupt(0), or rt_sigaction unseen;
# a vfork child's reset is its own), else inside splice: strace of the shim run counts the polls.
case_alarm_write() { # VARIANT POLLS(none|some)
	local n="aw_$1" polls took=1536K
	case $1 in siginterrupt-0 | vfork-reset) took=2560K ;; esac # their first two chunks go whole
	begin "pipe_write_returns_partial_count_at_alarm_$1"
	READER=("$H" pipe-reader --bytes $took --out @D/out)
	both "$n" ZCSHIM_LEASE=off -- alarm-write --variant "$1" --src "$T/f3" --chunk 1M
	same_behaviour "$n"
	need "base: $(grep '^w' "$(D "$n" base)/log" | tail -1 | tr '\n' ' ')- want a partial count (the scenario did not reproduce)" \
		grep -q '^w 1048576 [1-9][0-9]* -$' "$(D "$n" base)/log"
	rewritten "$n" rw_splice
	# again under strace: how the shim waited for the stopped reader
	READER=("$H" pipe-reader --bytes $took --out "$T/$n.strace.out")
	timeout -k 5 "$LIMIT" strace -f -qq -e trace=poll,ppoll -o "$T/$n.strace" env "${LOW[@]}" ZCSHIM_LEASE=off \
		LD_PRELOAD="$ZC_PRELOAD" "$H" alarm-write --variant "$1" --src "$T/f3" --chunk 1M --log "$T/$n.strace.log" |
		"${READER[@]}" >/dev/null
	READER=(cat)
	polls=$(grep -c 'poll(' "$T/$n.strace")
	need "under strace: $(grep '^w' "$T/$n.strace.log" | tail -1)- want the same partial write" \
		grep -q '^w 1048576 [1-9][0-9]* -$' "$T/$n.strace.log"
	if [ "$2" = none ]; then need "polls $polls, want 0 (no handler restarts: splice waits)" [ "$polls" -eq 0 ]
	else need "polls $polls, want > 0 (a handler restarts calls: splice would not return)" [ "$polls" -ge 1 ]; fi
	end
}

# ---- 6: the program changes its buffer's protection or mapping, then writes ----------------------
# Chunks 3, 5, 7... get mprotect()ed (then filled by the program) or a new mapping; the bytes sent
# must be the buffer's, whatever the shim recorded before.
case_prot() { # VARIANT
	begin "buffer_$1_then_written"
	both "pr_$1" ZCSHIM_LEASE=off -- prot --variant "$1" --src "$T/f1" --src2 "$T/other"
	same_behaviour "pr_$1"
	rewritten "pr_$1" rw_splice
	end
}

# ---- 7: the program's own SIGSEGV dispositions -----------------------------------------------------
# SIG_IGN with raise(); handlers from sigset, bsd_signal, sysv_signal, raw rt_sigaction, sigaction,
# SA_RESETHAND; a handler checking its own mask and alternate stack; the disposition as sigaction()
# and the kernel report it; two threads guarding their first buffers at once.
case_segv() { # VARIANT
	local n=sg_$1
	begin "own_sigsegv_disposition_$1"
	both "$n" ZCSHIM_LEASE=off -- segv --variant "$1" --src "$T/f1"
	# resethand: the program's second fault on its trap page meets the default action
	same_behaviour "$n" "$([ "$1" = resethand ] && echo 139 || echo 0)"
	[ "$(rc "$n" base)" = 0 ] && rewritten "$n" rw_splice # a program killed by SIGSEGV leaves no counters
	[ "$(rc "$n" base)" = 0 ] || guarded_strace "$n" segv --variant "$1" --src "$T/f1"
	end
}
# guarded_strace NAME ARGS...: for a program that dies (no counters): the shim run, again under
# strace, armed a guard (UFFDIO_REGISTER) before the end, so the case proves something
guarded_strace() {
	local n=$1 d; shift
	d=$(D "$n" shim)
	timeout -k 5 "$LIMIT" strace -f -qq -e trace=ioctl -o "$d/strace" env "${LOW[@]}" ZCSHIM_LEASE=off \
		LD_PRELOAD="$ZC_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}" "$H" "$@" --log "$d/log.strace" 2>/dev/null | cat >/dev/null
	need "strace: the shim armed no guard before the program's end (UFFDIO_REGISTER)" grep -q UFFDIO_REGISTER "$d/strace"
}
# the race of two first guards is rare: five runs, each must behave as without the shim
case_segv_two_threads() {
	local bad=0 first=''
	begin own_sigsegv_disposition_two_threads_guard_first_buffers_at_once_x5
	for _ in 1 2 3 4 5; do
		both sg_tt ZCSHIM_LEASE=off -- segv --variant two-threads --src "$T/f1"
		if [ "$(rc sg_tt base)" != "$(rc sg_tt shim)" ] || ! same_log sg_tt; then
			bad=$((bad + 1))
			[ -z "$first" ] && first="base $(status "$(rc sg_tt base)"), shim $(status "$(rc sg_tt shim)"); $(first_diff sg_tt)"
		fi
	done
	need "differs in $bad of 5 runs (first: $first)" [ $bad = 0 ]
	need "base $(status "$(rc sg_tt base)"), want killed by SIGSEGV (the program touches its trap page)" [ "$(rc sg_tt base)" = 139 ]
	guarded_strace sg_tt segv --variant two-threads --src "$T/f1"
	end
}

# ---- 8: bad iovec arrays -----------------------------------------------------------------------
# Invalid or inaccessible iov pointers, 1000/2000 entries running into an inaccessible page, negative
# lengths and counts: the kernel's -1/errno, never a crash inside the shim; a chunk read before
# stays recorded and goes out rewritten after them.
case_iov() { # CALL
	begin "bad_iovec_$1"
	both "iov_$1" ZCSHIM_LEASE=off -- iov --variant "$1" --src "$T/f1" --out @D/pwritev.dat
	same_behaviour "iov_$1"
	rewritten "iov_$1" rw_splice
	end
}

# ---- 9: a worker thread's heap and mmap buffers are not stack buffers ----------------------------
# Buffers mapped above the worker's stack (by main before the thread, or in a hole left above it).
case_worker_bufs() { # VARIANT
	local n=wb_$1
	begin "worker_thread_buffer_$1_is_not_a_stack_buffer"
	both "$n" ZCSHIM_LEASE=off -- worker-bufs --variant "$1" --src "$T/f1"
	same_behaviour "$n"
	need "records_skipped_stack $(st "$n" records_skipped_stack), want 0" [ "$(st "$n" records_skipped_stack)" = 0 ]
	rewritten "$n" rw_splice
	end
}

# ---- a non-blocking sender that waits for room after EAGAIN ----------------------------------
# The program's wait for room after a rewritten write's EAGAIN must end, however it waits
# (edge-triggered epoll, as nginx, needs the kernel to have noted that someone waits for room).
# Bytes and end as without the shim.
run_nbwait() { run_peer "$1" "$2" 8M nonblock-wait --variant "$3" --port @PORT --src "$T/f8" --chunk 256K; } # VARIANT NAME WAIT
case_nonblock_wait() { # WAIT
	local n=nbw_$1 e
	begin "nonblocking_sender_waits_for_room_$1"
	run_nbwait base "$n" "$1"
	run_nbwait shim "$n" "$1"
	same_behaviour "$n"
	need "the receiver did not get the whole file with the shim" cmp -s "$(D "$n" shim)/out" "$T/f8"
	e=$(sed -n 's/^# eagain //p' "$(D "$n" shim)/log")
	need "EAGAIN ${e:-none} with the shim, want > 0 (the wait was never exercised)" ge "${e:-0}" 1
	rewritten "$n" rw_sendfile
	end
}

# ---- a socket with room, but less than poll's POLLOUT wants -------------------------------------
# After the first EAGAIN the program grows SO_SNDBUF by a quarter: write takes bytes although poll
# reports no POLLOUT (it wants half of what is queued free). A rewritten write must take them too,
# not answer EAGAIN (an earlier shim did, and nginx waited in epoll_wait 17 times as often).
case_sndbuf_grow() {
	local n=sbg
	begin nonblocking_write_takes_the_room_poll_calls_too_small
	both "$n" -- sndbuf-grow --src "$T/f1" --out @D/recv
	same_behaviour "$n"
	need "base: '$(grep '^grown' "$(D "$n" base)/log")', want 'grown write took bytes' (the scenario did not reproduce)" \
		grep -q '^grown write took bytes$' "$(D "$n" base)/log"
	need "the receiver did not get the whole file with the shim" cmp -s "$(D "$n" shim)/recv" "$T/f1"
	rewritten "$n" rw_sendfile
	end
}

# HOSTILE_ITEMS="1 4": only the cases of these items of issue 7 (default: all)
want() { [ -z "${HOSTILE_ITEMS:-}" ] || [[ " $HOSTILE_ITEMS " == *" $1 "* ]]; }
want 1 && case_blocked_worker
want 2 && case_sigwrite
want 3 && case_opener
want 4 && { case_reset default; case_reset ignore; }
want 5 && { for v in siginterrupt-signal signal-siginterrupt sigaction; do case_eintr_read $v; done; for v in sigaction:some signal:some siginterrupt-0:some vfork-reset:some raw:some norestart:none; do case_alarm_write "${v%:*}" "${v#*:}"; done; }
want 6 && for v in mprotect-rw mprotect-none-rw mprotect-rwx map-fixed-anon map-fixed-file; do case_prot $v; done
want 7 && { for v in ign-before ign-after sigset bsd_signal sysv_signal raw sigaction resethand selfcheck; do case_segv $v; done; case_segv_two_threads; }
want 8 && for v in readv preadv writev pwritev sendmsg; do case_iov $v; done
want 9 && for v in main-mmap main-malloc hole-mmap hole-malloc arena; do case_worker_bufs $v; done
want nb && for v in epoll-et poll select retry; do case_nonblock_wait $v; done
want nb && case_sndbuf_grow
