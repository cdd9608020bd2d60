#!/usr/bin/env bash
# test_gaps.sh — cases no other script covered: a lease break while data is still queued in the
# socket; the source truncated mid-transfer into a pipe and into a file (write, pwrite); SIGPIPE to
# a pipe with SIGPIPE blocked or already pending; one socket written by two threads; exec with
# inherit = off; buffers dropped by realloc/munmap/madvise/mremap/recv; mode = off;
# unix_sockets = on; O_DIRECT sources. Every case runs without and with the shim, compares the
# bytes, and asserts from the shim's counters what it did (a rewrite, or the reason it passed).
. "$(dirname "$0")/copyloop.lib.sh"
G=$ZC_PROGS/gaps
[ -x "$G" ] || { fail setup "build first: $G missing"; exit 1; }
KB=1024 MB=1048576 C=65536
PROBATION=1 # the first chunk of each source is written as is (see test_copyloop.sh)
wait_file() { wait_for 30 test -e "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
make_file "$T/f1" $((1 * MB + 4321)) # 16 full chunks + a 4321-byte tail
make_file "$T/f2" $((2 * MB + 5000))
make_file "$T/f16" $((1 * MB)) # exactly 16 chunks: no tail whose treatment depends on the buffer kind
make_file "$T/f8" $((8 * MB))

# grun VARIANT NAME [ENV... --] CMD... : one run of CMD, its stdout a pipe (read into D/out), "@D"
# in CMD the run directory; base without the shim, shim with it (and ENV); the exit status in D/rc
grun() {
	local v=$1 n=$2 d envs=() a
	shift 2
	for a in "$@"; do [ "$a" = -- ] && { while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift; break; }; done
	d=$(D "$n" "$v")
	rm -rf "$d" && mkdir -p "$d"
	if [ "$v" = shim ]; then
		timeout $LIMIT env "${envs[@]}" ZCSHIM_STATS_FILE="$d/st.%p.json" LD_PRELOAD="$ZC_LIB${LD_PRELOAD:+:$LD_PRELOAD}" \
			"${@//@D/$d}" 2>"$d/err" | cat >"$d/out"
	else
		timeout $LIMIT "${@//@D/$d}" 2>"$d/err" | cat >"$d/out"
	fi
	echo "${PIPESTATUS[0]}" >"$d/rc"
}
# gboth NAME [ENV... --] CMD... : grun base and shim
gboth() { local n=$1; shift; grun base "$n" "$@"; grun shim "$n" "$@"; }
# same_out NAME [EXPECTED] : both runs succeeded with the same bytes (and equal EXPECTED if given)
same_out() {
	local n=$1 v
	for v in base shim; do need "$v exit $(rc "$n" $v): $(head -c 200 "$(D "$n" $v)/err")" eq "$(rc "$n" $v)" 0; done
	need "shim bytes differ from the run without the shim" same "$(D "$n" base)/out" "$(D "$n" shim)/out"
	[ -n "${2:-}" ] && need "bytes differ from the expected" same "$(D "$n" base)/out" "$2"
	return 0
}
# log_of NAME VARIANT : the program's log without informational (#) lines
log_of() { grep -v '^#' "$(D "$1" "$2")/log" 2>/dev/null; }

# ---- a lease break while sent data is still queued in the socket --------------------------------
# The receiver stalls for 4 s after 32 KiB, so chunks 1-5 (sendfile: references to page-cache
# pages) wait in the send queue. Before the write of chunk 6 another process opens the file for
# writing and overwrites chunk 1 in place. The shim must hold the lease until that data has left
# the socket; otherwise the peer receives the new bytes of a chunk the program read (and sent)
# before the change. Chunk 1 is followed by 4 more chunks, so it has been read out of the
# receiver's queue by the time the send queue is empty (the README's known limit does not apply).
act_queued() {
	local d=$1 t0
	wait_file "$d/ctl.ready.6" || return
	t0=$(now_ms)
	timeout 60 python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDWR); os.pwrite(fd, b"\xee"*65536, 65536); os.close(fd)' "$T/queued.$2.src"
	echo $? >"$d/act.rc"; echo $(($(now_ms) - t0)) >"$d/act.ms"
	touch "$d/ctl.go.6"
}
case_lease_break_data_queued() {
	begin lease_break_while_data_queued_in_socket
	ACT=act_queued RECV_OPTS="--stall 32768:4000 --rcvbuf 64K"
	for v in base shim; do
		cp "$T/f2" "$T/queued.$v.src"
		run $v queued tcp --src "$T/queued.@V.src" --sndbuf 1M --fault 6:handshake
		need "$v: the writer failed" eq "$(cat "$(D queued $v)/act.rc" 2>/dev/null || echo 1)" 0
	done
	ACT= RECV_OPTS=
	# the program read chunks 0-6 before the change; chunk 1 is not read again
	basics queued "$T/f2"
	echo "  info: the writer waited $(cat "$(D queued shim)/act.ms") ms for the lease (peer stalled 4000 ms)"
	need "the writer waited $(cat "$(D queued shim)/act.ms") ms, want < 30000" [ "$(cat "$(D queued shim)/act.ms")" -lt 30000 ]
	need "lease_broken $(st queued lease_broken), want >= 1" ge "$(st queued lease_broken)" 1
	need "rw_sendfile_bytes $(st queued rw_sendfile_bytes), want $((5 * C)) (chunks 1-5)" eq "$(st queued rw_sendfile_bytes)" $((5 * C))
	need "fb_lease_broken $(st queued fb_lease_broken), want >= 1 (chunk 6 on)" ge "$(st queued fb_lease_broken)" 1
	end
}

# ---- the source truncated mid-transfer: pipe and file destinations ---------------------------
# After the read of chunk 3 another process cuts the file to 20000 bytes into that chunk. No lease
# (lease = off): the kernel call comes back short at the new end and the rest of the chunk must
# come from the buffer, which still holds what the program read.
TRUNC_AT=$((3 * C + 20000))
head -c $((4 * C)) "$T/f1" >"$T/trunc.expected"
act_truncate() {
	local d=$1
	wait_file "$d/ctl.ready.3" || return
	timeout 20 python3 -c 'import os,sys; os.truncate(sys.argv[1], int(sys.argv[2]))' "$T/trunc.$2.src" $TRUNC_AT
	echo $? >"$d/act.rc"
	touch "$d/ctl.go.3"
}
# trunc_case NAME DST WR COUNTER : DST pipe or file; WR write or pwrite; COUNTER the rewrite's bytes
trunc_case() {
	local n=$1 dst=$2 wr=$3 ctr=$4 v
	begin "source_truncated_mid_transfer_to_${dst}_$wr"
	ACT=act_truncate
	for v in base shim; do
		cp "$T/f1" "$T/trunc.$v.src"
		if [ "$dst" = pipe ]; then
			run $v "$n" pipe ZCSHIM_LEASE=off -- --src "$T/trunc.@V.src" --wr "$wr" --fault 3:handshake
		else
			rm -f "$T/trunc.dst"
			run $v "$n" "file:$T/trunc.dst" ZCSHIM_LEASE=off -- --src "$T/trunc.@V.src" --wr "$wr" --fault 3:handshake
			cp "$T/trunc.dst" "$(D "$n" $v)/out"
		fi
		need "$v: truncate failed" eq "$(cat "$(D "$n" $v)/act.rc" 2>/dev/null || echo 1)" 0
	done
	ACT=
	basics "$n" "$T/trunc.expected"
	need "bytes_from_buffer $(st "$n" bytes_from_buffer), want $((4 * C - TRUNC_AT))" eq "$(st "$n" bytes_from_buffer)" $((4 * C - TRUNC_AT))
	need "$ctr $(st "$n" "$ctr"), want $((TRUNC_AT - PROBATION * C)) (chunks 1-2 and chunk 3 up to the cut)" eq "$(st "$n" "$ctr")" $((TRUNC_AT - PROBATION * C))
	end
}

# ---- SIGPIPE to a pipe destination with SIGPIPE blocked (and already pending) -----------------
# The reader takes 1 MiB and exits. Without the shim the failing write returns EPIPE and SIGPIPE
# stays pending (blocked): exactly one is there to take, whether or not one was pending before.
sigpipe_case() {
	local n=$1 flag=$2 pb=0
	[ -n "$flag" ] && pb=1
	begin "sigpipe_to_pipe_blocked${flag:+_already_pending}"
	for v in base shim; do
		d=$(D "$n" $v); rm -rf "$d"; mkdir -p "$d"
		if [ $v = shim ]; then
			timeout $LIMIT env ZCSHIM_STATS_FILE="$d/st.%p.json" LD_PRELOAD="$ZC_LIB" "$G" sigpipe --src "$T/f8" $flag --log "$d/log" 2>"$d/err" | head -c $MB >"$d/out"
		else
			timeout $LIMIT "$G" sigpipe --src "$T/f8" $flag --log "$d/log" 2>"$d/err" | head -c $MB >"$d/out"
		fi
		echo "${PIPESTATUS[0]}" >"$d/rc"
	done
	head -c $MB "$T/f8" >"$T/sigpipe.expected"
	same_out "$n" "$T/sigpipe.expected"
	need "log without the shim: $(log_of "$n" base | tr '\n' ' ')" [ "$(log_of "$n" base | tr '\n' ' ')" = "pending-before $pb write-error EPIPE pending-after 1 sigpipe-taken 1 exit 0 " ]
	need "log differs: $(log_of "$n" shim | tr '\n' ' ')" diff <(log_of "$n" base) <(log_of "$n" shim)
	need "rw_splice_bytes $(st "$n" rw_splice_bytes), want >= $((14 * C))" ge "$(st "$n" rw_splice_bytes)" $((14 * C))
	end
}

# ---- one socket written by two threads in turns ------------------------------------------------
# Each thread reads its next chunk, then waits for its turn; the peer must get A0 B0 A1 B1 ...
# The shim never splits a multi-writer socket's write into several calls; a write of file data alone
# stays one kernel call (as atomic as the original) and may be rewritten: the order must hold.
case_shared_socket() {
	local v d i
	begin one_socket_two_threads
	python3 - "$T/f1" "$T/f2" "$T/shared.expected" <<'PY'
import sys
a, b = (open(p, "rb").read() for p in sys.argv[1:3])
ca = [a[i:i + 65536] for i in range(0, len(a), 65536)]
cb = [b[i:i + 65536] for i in range(0, len(b), 65536)]
out = []
for k in range(max(len(ca), len(cb))):
    out += ca[k:k + 1] + cb[k:k + 1]
open(sys.argv[3], "wb").write(b"".join(out))
PY
	for v in base shim; do
		d=$(D shared $v); rm -rf "$d"; mkdir -p "$d"
		"$CL" recv --port-file "$d/port" --out "$d/out" --timeout $LIMIT &
		local rpid=$!
		wait_for 10 test -s "$d/port"
		if [ $v = shim ]; then
			timeout $LIMIT env ZCSHIM_STATS_FILE="$d/st.%p.json" LD_PRELOAD="$ZC_LIB" "$G" shared --src "$T/f1" --src2 "$T/f2" --port "$(cat "$d/port")" 2>"$d/err"
		else
			timeout $LIMIT "$G" shared --src "$T/f1" --src2 "$T/f2" --port "$(cat "$d/port")" 2>"$d/err"
		fi
		echo $? >"$d/rc"
		wait "$rpid"
	done
	same_out shared "$T/shared.expected"
	need "rw_sendfile_bytes $(st shared rw_sendfile_bytes), want > 0 (one call per write, in turns)" ge "$(st shared rw_sendfile_bytes)" 1
	end
}

# ---- exec with inherit = off: the new image runs without the shim ------------------------------
# The program copies f16 to a pipe (rewritten: the shim is active), then executes itself as a probe
# that logs its LD_PRELOAD and whether libzcshim is mapped. A second preloaded library stays.
OTHER=$(ldconfig -p 2>/dev/null | awk '/libm\.so\.6 .*x86-64/ {print $NF; exit}')
[ -n "$OTHER" ] || OTHER=$(find /lib /usr/lib -name 'libm.so.6' 2>/dev/null | head -1)
exec_case() {
	local inherit=$1 how=$2 n=exec_${1}_$2 d pid
	begin "exec_${how}_inherit_$inherit"
	for v in base shim; do
		d=$(D "$n" $v); rm -rf "$d"; mkdir -p "$d"
		if [ $v = shim ]; then
			timeout $LIMIT env ZCSHIM_INHERIT="$inherit" ZCSHIM_STATS_FILE="$d/st.%p.json" LD_PRELOAD="$ZC_LIB:$OTHER" \
				"$G" exec --src "$T/f16" --how "$how" --log "$d/log" 2>"$d/err" | cat >"$d/out"
		else
			timeout $LIMIT env LD_PRELOAD="$OTHER" "$G" exec --src "$T/f16" --how "$how" --log "$d/log" 2>"$d/err" | cat >"$d/out"
		fi
		echo "${PIPESTATUS[0]}" >"$d/rc"
	done
	same_out "$n" "$T/f16"
	d=$(D "$n" shim)
	# the copy before exec was rewritten: the counters of the old image are kept apart (.exec)
	pre=$(stat_sum "$d/st.*.json.exec" rw_splice_bytes)
	need "rw_splice_bytes before exec $pre, want $(((16 - PROBATION) * C))" eq "$pre" $(((16 - PROBATION) * C))
	if [ "$inherit" = off ]; then
		need "probe: $(grep preload= "$d/log"), want preload=$OTHER" grep -qxF "preload=$OTHER" "$d/log"
		need "probe: the shim is mapped in the new image" grep -qx "mapped=0" "$d/log"
		need "the new image wrote counters (it ran under the shim)" [ -z "$(ls "$d"/st.*.json 2>/dev/null)" ]
	else
		need "probe: $(grep preload= "$d/log"), want preload=$ZC_LIB:$OTHER" grep -qxF "preload=$ZC_LIB:$OTHER" "$d/log"
		need "probe: the shim is not mapped in the new image" grep -qx "mapped=1" "$d/log"
		need "the new image wrote no counters" [ -n "$(ls "$d"/st.*.json 2>/dev/null)" ]
	fi
	end
}

# ---- records dropped with the buffer: realloc, munmap, madvise, mremap, recv ----------------------
# Chunk 2's buffer is dropped or refilled between the read and the write; the write must carry
# the buffer's bytes (python computes them), and the other chunks are still rewritten.
bufop_expected() { # OP OUT
	python3 - "$T/f16" "$1" "$2" <<'PY'
import sys
d, op, out = open(sys.argv[1], "rb").read(), sys.argv[2], sys.argv[3]
C = 65536
c2 = d[2 * C:3 * C]
new = {"realloc": c2 + b"\x11" * C, "munmap": b"\x22" * C, "madvise": b"\0" * C,
       "mremap": c2 + b"\x33" * C, "recv": b"\x44" * C}[op]
open(out, "wb").write(d[:2 * C] + new + d[3 * C:])
PY
}
bufop_case() {
	local op=$1 n=bufop_$1
	begin "buffer_dropped_by_${op}_before_the_write"
	bufop_expected "$op" "$T/$n.expected"
	gboth "$n" "$G" bufop --src "$T/f16" --op "$op" --log @D/log
	same_out "$n" "$T/$n.expected"
	grep '^#' "$(D "$n" shim)/log" | sed 's/^/  info: /'
	# chunk 0 on probation, chunk 2 not the file's bytes
	need "rw_splice_bytes $(st "$n" rw_splice_bytes), want $((14 * C)) (every full chunk but 0 and 2)" eq "$(st "$n" rw_splice_bytes)" $((14 * C))
	end
}

# ---- mode = off: every call passes through, counters still count --------------------------------
case_mode_off() {
	begin mode_off_end_to_end
	both modeoff tcp ZCSHIM_MODE=off -- --src "$T/f2" --chunk $C
	basics modeoff "$T/f2"
	local rw=$(($(st modeoff rw_sendfile) + $(st modeoff rw_splice) + $(st modeoff rw_copy_file_range)))
	need "rewrites $rw, want 0" eq $rw 0
	need "bytes_passthrough $(st modeoff bytes_passthrough), want $((2 * MB + 5000))" eq "$(st modeoff bytes_passthrough)" $((2 * MB + 5000))
	need "calls_read $(st modeoff calls_read), want >= 33" ge "$(st modeoff calls_read)" 33
	need "fb_mode_off $(st modeoff fb_mode_off), want 33 (every write)" eq "$(st modeoff fb_mode_off)" 33
	end
}

# ---- AF_UNIX destinations: passed through by default, rewritten with unix_sockets = on ------------
unix_case() {
	local on=$1 n=unix_$1
	begin "unix_socket_destination_unix_sockets_$on"
	gboth "$n" ZCSHIM_UNIX_SOCKETS="$on" -- "$G" unix --src "$T/f1" --log @D/log
	same_out "$n" "$T/f1"
	if [ "$on" = on ]; then
		need "rw_sendfile_bytes $(st "$n" rw_sendfile_bytes), want $(((16 - PROBATION) * C))" eq "$(st "$n" rw_sendfile_bytes)" $(((16 - PROBATION) * C))
	else
		need "rw_sendfile_bytes $(st "$n" rw_sendfile_bytes), want 0" eq "$(st "$n" rw_sendfile_bytes)" 0
		need "fb_unix_socket $(st "$n" fb_unix_socket), want >= $((16 - PROBATION))" ge "$(st "$n" fb_unix_socket)" $((16 - PROBATION))
	fi
	end
}

# ---- O_DIRECT sources pass through (the same loop without O_DIRECT is rewritten) ----------------
case_odirect() {
	begin odirect_source_passes_through
	grun base odirect "$G" odirect --src "$T/f16"
	if [ "$(rc odirect base)" = 4 ]; then
		skip odirect_source_passes_through "the filesystem of $T refuses O_DIRECT"
		return
	fi
	grun shim odirect "$G" odirect --src "$T/f16"
	gboth odplain "$G" odirect --src "$T/f16" --plain
	same_out odirect "$T/f16"
	same_out odplain "$T/f16"
	need "control without O_DIRECT: rw_splice_bytes $(st odplain rw_splice_bytes), want $(((16 - PROBATION) * C))" eq "$(st odplain rw_splice_bytes)" $(((16 - PROBATION) * C))
	need "O_DIRECT: rw_splice_bytes $(st odirect rw_splice_bytes), want 0" eq "$(st odirect rw_splice_bytes)" 0
	need "O_DIRECT: records_created $(st odirect records_created), want 0" eq "$(st odirect records_created)" 0
	need "O_DIRECT: fb_no_record $(st odirect fb_no_record), want 16 (every write)" eq "$(st odirect fb_no_record)" 16
	end
}

case_lease_break_data_queued
trunc_case trunc_pipe pipe write rw_splice_bytes
trunc_case trunc_file file write rw_copy_file_range_bytes
trunc_case trunc_filep file pwrite rw_copy_file_range_bytes
sigpipe_case sigpipe_blocked ""
sigpipe_case sigpipe_pending --pending
case_shared_socket
for how in execve execvp; do exec_case off $how; done
exec_case on execve
for op in realloc munmap madvise mremap recv; do bufop_case $op; done
case_mode_off
unix_case on
unix_case off
case_odirect
