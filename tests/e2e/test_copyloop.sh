#!/usr/bin/env bash
# test_copyloop.sh — legacy copy loops (tests/progs/copyloop.c) run twice, without the shim and with
# it: the peer must receive the same bytes, the program must see the same calls (transcript), and
# the shim's counters must show that the rewrite really happened.
. "$(dirname "$0")/copyloop.lib.sh"
KB=1024 MB=1048576
# The exact counts below follow the shim's documented policy (shim/interpose_io.c may_record): the
# first chunk read from each newly opened source is on probation (passes through: its write proves
# the copy loop), and a read that returns fewer bytes than the destination's min_bytes_* is written
# as is. want_rw SIZE CHUNK DST-MIN [SOURCES]: bytes a clean copy loop should move kernel-side.
PROBATION=1
want_rw() {
	local size=$1 chunk=$2 min=$3 srcs=${4:-1} tail
	tail=$((size % chunk)); [ $tail -lt "$min" ] && tail=0
	echo $(((size / chunk - PROBATION * srcs) * chunk + tail))
}
MIN_TCP=16384 MIN_PIPE=4097 MIN_FILE=65536 C=65536
make_file "$T/src" $((5 * MB + 12345))     # not a multiple of the chunk
make_file "$T/src2" $((2 * MB + 5000))
make_file "$T/src3" $((3 * MB + 100))
RECV_OPTS=

# ---- read/write to TCP, size not a multiple of the chunk --------------------------------------
begin tcp_read_write_odd_size
both odd tcp --src "$T/src" --chunk $C
basics odd "$T/src"
w=$(want_rw $((5 * MB + 12345)) $C $MIN_TCP)
need "rw_sendfile_bytes $(st odd rw_sendfile_bytes), want $w" eq "$(st odd rw_sendfile_bytes)" "$w"
need "bytes_passthrough $(st odd bytes_passthrough), want $((5 * MB + 12345 - w)) (probation chunk + last chunk)" eq "$(st odd bytes_passthrough)" $((5 * MB + 12345 - w))
need "fb_small $(st odd fb_small), want 1 (the last chunk)" eq "$(st odd fb_small)" 1
need "lease_granted $(st odd lease_granted)" ge "$(st odd lease_granted)" 1
end

begin tcp_read_write_odd_size_min4k
both odd4k tcp ZCSHIM_MIN_BYTES_TCP=4096 ZCSHIM_GUARD_MIN_BYTES=4096 -- --src "$T/src" --chunk $C
basics odd4k "$T/src"
w=$(want_rw $((5 * MB + 12345)) $C 4096)
need "rw_sendfile_bytes $(st odd4k rw_sendfile_bytes), want $w (the last chunk too)" eq "$(st odd4k rw_sendfile_bytes)" "$w"
end

# ---- every read call x every write call to TCP (2 MiB + 5000, 64 KiB chunks) -------------------
for rd in read pread readv readv2; do
	for wr in write writev send send-nosignal sendmsg; do
		n=mx_${rd}_$wr
		begin "tcp_${rd}_$wr"
		both "$n" tcp --src "$T/src2" --rd $rd --wr $wr --chunk $C
		basics "$n" "$T/src2"
		if [ $rd = readv2 ] && [ $wr != writev ] && [ $wr != sendmsg ]; then
			: # two records (one per iovec) written as one range: no single record holds it
		else
			w=$(want_rw $((2 * MB + 5000)) $C $MIN_TCP)
			need "rw_sendfile_bytes $(st "$n" rw_sendfile_bytes), want $w" eq "$(st "$n" rw_sendfile_bytes)" "$w"
		fi
		end
	done
done

# ---- buffer kinds: aligned, malloc reused, fresh malloc per chunk, stack, two alternating, page+16 --
for b in aligned malloc fresh alt page16; do
	n=buf_$b
	begin "tcp_buffer_$b"
	both "$n" tcp --src "$T/src" --buf $b --chunk $C
	basics "$n" "$T/src"
	w=$(want_rw $((5 * MB + 12345)) $C $MIN_TCP)
	need "rw_sendfile_bytes $(st "$n" rw_sendfile_bytes), want $w" eq "$(st "$n" rw_sendfile_bytes)" "$w"
	need "records_dirty $(st "$n" records_dirty), want 0" eq "$(st "$n" records_dirty)" 0
	# an unaligned buffer's head comes with the previous read's tail (defer.c carry) when deferred
	# (auto steps down here: the program reads every buffer after its write, for its --expect file);
	# a malloc'd 64 KiB one starts on a page under the shim (align_min_bytes): no head to carry,
	# unless an allocator preloaded ahead of the shim (libasan in the sanitized run) placed it
	if [ "${ZCSHIM_MODE:-auto}" = deferred ] && [ $b = page16 ]; then
		need "deferred_heads_carried $(st "$n" deferred_heads_carried), want >= 70" ge "$(st "$n" deferred_heads_carried)" 70
	elif [ "${ZCSHIM_MODE:-auto}" = deferred ] && [ $b = malloc ]; then
		hc=$(st "$n" deferred_heads_carried)
		need "deferred_heads_carried $hc, want 0 (on a page) or >= 70 (carried)" eval "[ $hc -eq 0 ] || [ $hc -ge 70 ]"
		need "deferred_reads $(st "$n" deferred_reads), want >= 70" ge "$(st "$n" deferred_reads)" 70
	fi
	end
done

# ---- two chunks, one call (nginx's output_buffers 2): the shim joins them into one transfer ---------
# 80 chunks and 12345 bytes as 40 pairs and a short last read; the first pair passes (probation)
for wr in writev sendmsg; do
	n=pair_$wr
	begin "tcp_pair_$wr"
	both "$n" tcp --src "$T/src" --buf alt --pair --wr $wr --chunk $C
	basics "$n" "$T/src"
	need "rw_sendfile_bytes $(st "$n" rw_sendfile_bytes), want $((78 * C))" eq "$(st "$n" rw_sendfile_bytes)" $((78 * C))
	need "rw_sendfile $(st "$n" rw_sendfile) calls, want 39 (one per pair)" eq "$(st "$n" rw_sendfile)" 39
	end
done
# a full socket stops a joined transfer anywhere: the program resends from the middle of either buffer
begin tcp_pair_writev_nonblock_slow_reader
RECV_OPTS="--rate 16K:1 --rcvbuf 32K"
both pairnb tcp --src "$T/src2" --buf alt --pair --wr writev --nonblock --sndbuf 16K --chunk $C
RECV_OPTS=
for v in base shim; do
	need "$v exit $(rc pairnb $v)" eq "$(rc pairnb $v)" 0
	need "$v output differs" same "$(D pairnb $v)/out" "$T/src2"
	need "$v expect-file differs" same "$(D pairnb $v)/exp" "$T/src2"
	need "$v saw no partial write (test did not exercise it)" ge "$(partials "$(D pairnb $v)/log")" 1
done
need "read-side calls / chunk summaries differ" same_calls pairnb
need "byte accounting" accounted pairnb
need "rw_sendfile_bytes $(st pairnb rw_sendfile_bytes), want > 1 MiB" ge "$(st pairnb rw_sendfile_bytes)" $MB
end

# stack buffers are left alone by default (stack_buffers = off), guarded and rewritten when on
begin tcp_buffer_stack_default_passes_through
both buf_stack tcp --src "$T/src" --buf stack --chunk $C
basics buf_stack "$T/src"
need "rw_sendfile_bytes $(st buf_stack rw_sendfile_bytes), want 0" eq "$(st buf_stack rw_sendfile_bytes)" 0
need "records_skipped_stack $(st buf_stack records_skipped_stack), want >= 80" ge "$(st buf_stack records_skipped_stack)" 80
end

begin tcp_buffer_stack_buffers_on
both buf_stack_on tcp ZCSHIM_STACK_BUFFERS=on -- --src "$T/src" --buf stack --chunk $C
basics buf_stack_on "$T/src"
w=$(want_rw $((5 * MB + 12345)) $C $MIN_TCP)
need "rw_sendfile_bytes $(st buf_stack_on rw_sendfile_bytes), want $w" eq "$(st buf_stack_on rw_sendfile_bytes)" "$w"
need "records_dirty $(st buf_stack_on records_dirty), want 0" eq "$(st buf_stack_on records_dirty)" 0
end

begin tcp_buffer_page16_chunk1m
both buf_p16m tcp --src "$T/src" --buf page16 --chunk 1M
basics buf_p16m "$T/src"
w=$(want_rw $((5 * MB + 12345)) $MB $MIN_TCP)
need "rw_sendfile_bytes $(st buf_p16m rw_sendfile_bytes), want $w" eq "$(st buf_p16m rw_sendfile_bytes)" "$w"
end

# ---- read/send with a new malloc'd buffer per chunk (python-style), with and without MSG_NOSIGNAL --
for wr in send send-nosignal; do
	n=fresh_$wr
	begin "tcp_read_${wr}_fresh_malloc_256k"
	both "$n" tcp --src "$T/src" --wr $wr --buf fresh --chunk 256K
	basics "$n" "$T/src"
	w=$(want_rw $((5 * MB + 12345)) $((256 * KB)) $MIN_TCP)
	need "rw_sendfile_bytes $(st "$n" rw_sendfile_bytes), want $w" eq "$(st "$n" rw_sendfile_bytes)" "$w"
	end
done

# ---- non-blocking pread + writev with a header on every chunk, small SO_SNDBUF, slow reader ------
# EAGAIN and partial writes: the program resends from the middle of the header or the data.
begin nonblock_pread_writev_header_slow_reader
RECV_OPTS="--rate 16K:1 --rcvbuf 32K"
both nb tcp --src "$T/src2" --rd pread --wr writev --header "HTTP/1.1 200 OK chunk header 0123456789" \
	--header-every --nonblock --sndbuf 16K --chunk $C
RECV_OPTS=
python3 - "$T/src2" "$T/nb.expected" <<'PY'
import sys
h = b"HTTP/1.1 200 OK chunk header 0123456789"
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(b"".join(h + d[i:i + 65536] for i in range(0, len(d), 65536)))
PY
for v in base shim; do
	need "$v exit $(rc nb $v)" eq "$(rc nb $v)" 0
	need "$v output differs from header+chunk sequence" same "$(D nb $v)/out" "$T/nb.expected"
	need "$v expect-file differs" same "$(D nb $v)/exp" "$T/nb.expected"
	need "$v write errnos '$(errs "$(D nb $v)/log")', want EAGAIN only" [ "$(errs "$(D nb $v)/log")" = "EAGAIN " ]
	need "$v saw no EAGAIN (test did not exercise it)" grep -q ' EAGAIN$' "$(D nb $v)/log"
	need "$v saw no partial write (test did not exercise it)" ge "$(partials "$(D nb $v)/log")" 1
done
need "read-side calls / chunk summaries differ" same_calls nb
need "bytes written $(wsum "$(D nb shim)/log") != base $(wsum "$(D nb base)/log")" eq "$(wsum "$(D nb shim)/log")" "$(wsum "$(D nb base)/log")"
need "rw_sendfile_bytes $(st nb rw_sendfile_bytes), want > 1 MiB" ge "$(st nb rw_sendfile_bytes)" $MB
need "byte accounting" accounted nb
end

# ---- file -> pipe (splice) ----------------------------------------------------------------
begin file_to_pipe_read_write
both pipe pipe --src "$T/src" --chunk $C
basics pipe "$T/src"
w=$(want_rw $((5 * MB + 12345)) $C $MIN_PIPE)
need "rw_splice_bytes $(st pipe rw_splice_bytes), want $w" eq "$(st pipe rw_splice_bytes)" "$w"
end

begin file_to_pipe_pread_writev_1m
both pipe2 pipe --src "$T/src" --rd pread --wr writev --chunk 1M --buf page16
basics pipe2 "$T/src"
w=$(want_rw $((5 * MB + 12345)) $MB $MIN_PIPE)
need "rw_splice_bytes $(st pipe2 rw_splice_bytes), want $w" eq "$(st pipe2 rw_splice_bytes)" "$w"
end

# non-blocking pipe, slow reader: partial writes and EAGAIN, resent from the middle of the buffer
begin file_to_nonblocking_pipe_slow_reader
PIPE_READER=("${SLOW_READER[@]}")
both pipenb pipe --src "$T/src2" --chunk 256K --nonblock
PIPE_READER=(cat)
for v in base shim; do
	need "$v exit $(rc pipenb $v)" eq "$(rc pipenb $v)" 0
	need "$v output differs from the source" same "$(D pipenb $v)/out" "$T/src2"
	need "$v expect-file differs" same "$(D pipenb $v)/exp" "$T/src2"
	need "$v write errnos '$(errs "$(D pipenb $v)/log")', want EAGAIN only" [ "$(errs "$(D pipenb $v)/log")" = "EAGAIN " ]
	need "$v saw no partial write (test did not exercise it)" ge "$(partials "$(D pipenb $v)/log")" 1
done
need "read-side calls / chunk summaries differ" same_calls pipenb
need "rw_splice_bytes $(st pipenb rw_splice_bytes), want >= 1 MiB" ge "$(st pipenb rw_splice_bytes)" $MB
need "byte accounting" accounted pipenb
end

# ---- file -> file: copy_file_range; across filesystems (EXDEV) -> sendfile; O_APPEND passes --------
begin file_to_file_write
for v in base shim; do run $v f2f "file:$T/f2f.dst" --src "$T/src" --chunk $C; cp "$T/f2f.dst" "$(D f2f $v)/out"; done
basics f2f "$T/src"
w=$(want_rw $((5 * MB + 12345)) $C $MIN_FILE)
need "rw_copy_file_range_bytes $(st f2f rw_copy_file_range_bytes), want $w" eq "$(st f2f rw_copy_file_range_bytes)" "$w"
end

begin file_to_file_readv_writev_1m
for v in base shim; do run $v f2fv "file:$T/f2fv.dst" --src "$T/src" --rd readv --wr writev --chunk 1M; cp "$T/f2fv.dst" "$(D f2fv $v)/out"; done
basics f2fv "$T/src"
w=$(want_rw $((5 * MB + 12345)) $MB $MIN_FILE)
need "rw_copy_file_range_bytes $(st f2fv rw_copy_file_range_bytes), want $w" eq "$(st f2fv rw_copy_file_range_bytes)" "$w"
end

begin file_to_file_pread_pwrite
for v in base shim; do run $v f2fp "file:$T/f2fp.dst" --src "$T/src" --rd pread --wr pwrite --chunk 128K; cp "$T/f2fp.dst" "$(D f2fp $v)/out"; done
basics f2fp "$T/src"
w=$(want_rw $((5 * MB + 12345)) $((128 * KB)) $MIN_FILE)
need "rw_copy_file_range_bytes $(st f2fp rw_copy_file_range_bytes), want $w" eq "$(st f2fp rw_copy_file_range_bytes)" "$w"
end

# the first writable directory on a filesystem of another type than $T (copy_file_range: EXDEV)
XFS=
for x in /dev/shm /run /var/tmp "$ZC_BUILD"; do
	if [ -d "$x" ] && [ -w "$x" ] && [ "$(stat -f -c %T "$x")" != "$(stat -f -c %T "$T")" ]; then XFS=$x; break; fi
done
if [ -n "$XFS" ]; then
	begin "file_to_file_across_filesystems_exdev_sendfile"
	xd=$(mktemp -d "$XFS/zce2e.XXXXXX")
	for v in base shim; do run $v xfs "file:$xd/dst" --src "$T/src" --chunk 128K; cp "$xd/dst" "$(D xfs $v)/out"; done
	rm -rf "$xd"
	basics xfs "$T/src"
	w=$(want_rw $((5 * MB + 12345)) $((128 * KB)) $MIN_FILE)
	need "rw_sendfile_bytes $(st xfs rw_sendfile_bytes), want $w" eq "$(st xfs rw_sendfile_bytes)" "$w"
	need "rw_copy_file_range_bytes $(st xfs rw_copy_file_range_bytes), want 0" eq "$(st xfs rw_copy_file_range_bytes)" 0
	end
else
	skip file_to_file_across_filesystems_exdev_sendfile "no writable filesystem of another type than $T's"
fi

begin file_to_file_o_append_passes_through
printf 'existing content\n' >"$T/app.expected"; cat "$T/src" >>"$T/app.expected"
for v in base shim; do
	printf 'existing content\n' >"$T/app.dst"
	run $v app "append:$T/app.dst" --src "$T/src" --chunk 128K
	cp "$T/app.dst" "$(D app $v)/out"
	need "$v exit $(rc app $v)" eq "$(rc app $v)" 0
	need "$v destination differs from prior content + source" same "$(D app $v)/out" "$T/app.expected"
	need "$v expect-file differs from the source" same "$(D app $v)/exp" "$T/src"
done
need "transcripts differ" same_log app
need "fb_append $(st app fb_append), want >= 1" ge "$(st app fb_append)" 1
need "rw_copy_file_range_bytes $(st app rw_copy_file_range_bytes), want 0" eq "$(st app rw_copy_file_range_bytes)" 0
need "rw_sendfile_bytes $(st app rw_sendfile_bytes), want 0" eq "$(st app rw_sendfile_bytes)" 0
need "byte accounting" accounted app
end

# ---- two threads, each serving its own socket ------------------------------------------------
begin two_threads_two_sockets
RECV_OPTS="--conns 2"
both thr tcp --src "$T/src3" --src2 "$T/src2" --threads 2 --chunk $C
RECV_OPTS=
want=$(sha256sum "$T/src3" "$T/src2" | awk '{print $1}' | sort | tr '\n' ' ')
for v in base shim; do
	need "$v exit $(rc thr $v)" eq "$(rc thr $v)" 0
	got=$(sha256sum "$(D thr $v)/out.0" "$(D thr $v)/out.1" 2>/dev/null | awk '{print $1}' | sort | tr '\n' ' ')
	need "$v: the two connections did not carry the two files" [ "$got" = "$want" ]
	need "$v thread 0 expect-file" same "$(D thr $v)/exp.0" "$T/src3"
	need "$v thread 1 expect-file" same "$(D thr $v)/exp.1" "$T/src2"
done
for t in t0 t1; do
	need "$t transcripts differ" diff <(grep "^$t [^#]" "$(D thr base)/log") <(grep "^$t [^#]" "$(D thr shim)/log")
done
w=$(($(want_rw $((3 * MB + 100)) $C $MIN_TCP) + $(want_rw $((2 * MB + 5000)) $C $MIN_TCP)))
need "rw_sendfile_bytes $(st thr rw_sendfile_bytes), want $w" eq "$(st thr rw_sendfile_bytes)" "$w"
need "fb_multi_writer $(st thr fb_multi_writer), want 0" eq "$(st thr fb_multi_writer)" 0
need "byte accounting" accounted thr
end

# ---- a child forked after the read writes the parent's buffer ----------------------------------
make_file "$T/src_fork" $((1 * MB + 333))
begin fork_child_writes_parent_buffer
both fork tcp --src "$T/src_fork" --fork --chunk $C
basics fork "$T/src_fork"
# Every chunk is written by a fresh child: the write that would end the source's probation happens
# in a child, so the parent never guards a read and each of the 16 full chunks is written as is,
# counted as fb_probation (the 333-byte tail was never recorded: fb_no_record).
need "children's rw_sendfile_bytes $(st fork rw_sendfile_bytes), want 0" eq "$(st fork rw_sendfile_bytes)" 0
need "fb_probation $(st fork fb_probation), want 16 (every full chunk)" eq "$(st fork fb_probation)" 16
need "fb_no_record $(st fork fb_no_record), want 1 (the tail)" eq "$(st fork fb_no_record)" 1
nst=$(find "$(D fork shim)" -name 'st.*.json' | wc -l)
need "stats files $nst, want 18 (parent + 17 children)" eq "$nst" 18
end

begin fork_child_writes_parent_buffer_lease_off
both forkoff tcp ZCSHIM_LEASE=off -- --src "$T/src_fork" --fork --chunk $C
basics forkoff "$T/src_fork"
# Out of scope, by decision: when every chunk is written by a fresh child, the first write (which
# ends a source's probation) happens in a child, so the parent never learns that the source is
# copied and never guards its reads. The bytes are right; the reason must be visible.
need "rw_sendfile_bytes $(st forkoff rw_sendfile_bytes), want 0 (parent never leaves probation)" eq "$(st forkoff rw_sendfile_bytes)" 0
need "fb_probation $(st forkoff fb_probation), want 16 (every full chunk)" eq "$(st forkoff fb_probation)" 16
end
# ---- chunks nothing rewrites (16 KiB: below guard_min_bytes and defer_min_bytes). After 16 writes
# the source is steady (shim/fdtab.c zc_fdtab_steady): its reads skip the policy and the records
# table, the reason is kept on the reading thread, and the counters say the same as before ----------
for c in malloc:pipe:write stack:pipe:write malloc:pipe:writev malloc:tcp:sendmsg; do
	IFS=: read -r b dst wr <<<"$c"
	n=steady_${b}_$wr why=small
	[ $b = stack ] && why=stack_buffer
	begin "${dst}_small_chunks_steady_${b}_$wr"
	both "$n" "$dst" --src "$T/src" --buf $b --wr "$wr" --chunk 16K
	basics "$n" "$T/src"
	# 320 full chunks and a 12345-byte last one, every write passed for the same reason (a vector's
	# buffers are looked up as the write's own)
	need "fb_$why $(st "$n" fb_$why), want 321" eq "$(st "$n" fb_$why)" 321
	need "bytes_fb_$why $(st "$n" bytes_fb_$why), want $((5 * MB + 12345))" eq "$(st "$n" bytes_fb_$why)" $((5 * MB + 12345))
	need "fb_no_record $(st "$n" fb_no_record), want 0" eq "$(st "$n" fb_no_record)" 0
	# the reads after the 16th write, the end-of-file read among them
	need "records_skipped_steady $(st "$n" records_skipped_steady), want 306" eq "$(st "$n" records_skipped_steady)" 306
	end
done

# ---- the steady fast path, attacked: the steady descriptor goes on in 64 KiB reads, then is closed
# and its number reused by another file, then the same buffer is filled from a socket --------------
make_file "$T/steady_a" 2000000
make_file "$T/steady_b" 3000000
begin steady_source_grows_number_reused_then_socket_data
"$ZC_PROGS/steady" "$T/steady_a" "$T/steady_b" 2>/dev/null | cat >"$T/steady_base.out"
with_shim ZCSHIM_STATS_FILE="$T/steady.json" -- "$ZC_PROGS/steady" "$T/steady_a" "$T/steady_b" 2>/dev/null | cat >"$T/steady_shim.out"
need "bytes differ from the run without the shim" cmp -s "$T/steady_base.out" "$T/steady_shim.out"
need "run without the shim: $(stat -c %s "$T/steady_base.out") bytes" eq "$(stat -c %s "$T/steady_base.out")" $((5000000 + 16384))
sj() { stat_get "$T/steady.json" "$1"; }
need "records_skipped_steady $(sj records_skipped_steady), want 45 (16 KiB reads 17 to 61)" eq "$(sj records_skipped_steady)" 45
need "fb_small $(sj fb_small), want 61" eq "$(sj fb_small)" 61
# bigger reads from the steady descriptor and the new file on its number: one probation chunk each,
# every other byte by splice
need "rw_splice_bytes $(sj rw_splice_bytes), want $((5000000 - 61 * 16384 - 2 * 65536))" eq "$(sj rw_splice_bytes)" $((5000000 - 61 * 16384 - 2 * 65536))
need "fb_probation $(sj fb_probation), want 2" eq "$(sj fb_probation)" 2
# the socket write and the write of what came back: no file behind them
need "fb_no_record $(sj fb_no_record), want 2" eq "$(sj fb_no_record)" 2
end
mode_check
