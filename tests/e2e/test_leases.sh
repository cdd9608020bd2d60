#!/usr/bin/env bash
# test_leases.sh — a writer of a leased source never waits long (issue 8, items 11 and 12): the
# lease is given back when the break comes and the data sent from the file has left, also when the
# destination is a regular file, when the program closed the source while a dup or a forked child
# keeps it open, and a lease refused for a moment (EAGAIN) is asked again.
# Every case runs without and with the shim: same bytes; with the shim the rewrite and the lease
# are in the counters, and the writer's open returns within 1 s.
. "$(dirname "$0")/lib.sh"
P=$ZC_PROGS/leases
T=$ZC_TMP
LOW=(ZCSHIM_MIN_BYTES_PIPE=4096 ZCSHIM_MIN_BYTES_FILE=4096 ZCSHIM_GUARD_MIN_BYTES=4096 ZCSHIM_LEASE=require)
make_file "$T/src" $((1024 * 1024 + 777))
head -c $((4 * 65536)) "$T/src" >"$T/four.expected"
# the file destination is longer than the source and overwritten from its start
{ cat "$T/src"; head -c $((2 * 1024 * 1024 - 1024 * 1024 - 777)) /dev/zero; } >"$T/dst.expected"

# writer_ms PATH: milliseconds another process's open(O_RDWR) of PATH took (20 s at most)
writer_ms() { python3 -c 'import os,sys,time; t=time.monotonic(); os.close(os.open(sys.argv[1], os.O_RDWR)); print(int((time.monotonic()-t)*1000))' "$1"; }

# run_case NAME MODE VARIANT EXPECTED [ARGS...]: the program with its output read by a slow reader
# (so data sent from the file is still queued when the writer comes); the writer opens the source
# once the program says ready; prints nothing, leaves $T/NAME.VARIANT.{out,ms,rc,st.*}
run_case() {
	local name=$1 mode=$2 v=$3; shift 3
	local d=$T/$name.$v pre=()
	rm -rf "$d"; mkdir -p "$d"
	cp "$T/src" "$d/src"
	head -c $((2 * 1024 * 1024)) /dev/zero >"$d/dst"
	[ "$v" = shim ] && pre=(env "${LOW[@]}" ZCSHIM_STATS_FILE="$d/st.%p.json" LD_PRELOAD="$ZC_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}")
	( timeout 60 "${pre[@]}" "$P" "$mode" --src "$d/src" --ready "$d/ready" --go "$d/go" "$@" --dst "$d/dst" \
		| { sleep 0.4; cat; } >"$d/out"; echo "${PIPESTATUS[0]}" >"$d/rc" ) &
	local bg=$!
	wait_for 30 test -e "$d/ready" || echo "no ready file" >"$d/err"
	timeout 20 bash -c "$(declare -f writer_ms); writer_ms '$d/src'" >"$d/ms" || echo 99999 >"$d/ms"
	touch "$d/go"
	wait $bg
}

# lease_case NAME MODE EXPECTED-OUTPUT DST-CHECK
lease_case() {
	local name=$1 mode=$2 exp=$3 dstexp=$4 v d
	begin "$name"
	for v in base shim; do run_case "$name" "$mode" $v; done
	for v in base shim; do
		d=$T/$name.$v
		need "$v exit $(cat "$d/rc")" eq "$(cat "$d/rc")" 0
		need "$v output differs from the expected bytes" cmp -s "$d/out" "$exp"
		[ -n "$dstexp" ] && need "$v destination file differs" cmp -s "$d/dst" "$dstexp"
	done
	d=$T/$name.shim
	need "the writer waited $(cat "$d/ms") ms, want < 1000" [ "$(cat "$d/ms")" -lt 1000 ]
	need "lease_granted $(stat_sum "$d/st.*.json" lease_granted), want >= 1" ge "$(stat_sum "$d/st.*.json" lease_granted)" 1
	local rw=$(( $(stat_sum "$d/st.*.json" rw_splice_bytes) + $(stat_sum "$d/st.*.json" rw_copy_file_range_bytes) ))
	need "bytes moved by the kernel $rw, want > 0" ge "$rw" 1
	need "lease_released $(stat_sum "$d/st.*.json" lease_released), want >= 1" ge "$(stat_sum "$d/st.*.json" lease_released)" 1
	end
}

# begin/need/end: one PASS or FAIL line per case, with every failed condition
begin() { CASE=$1; WHY=(); }
need() { local what=$1; shift; case $1 in
	eq) [ "$2" -eq "$3" ] 2>/dev/null || WHY+=("$what") ;;
	ge) [ "$2" -ge "$3" ] 2>/dev/null || WHY+=("$what") ;;
	*) "$@" || WHY+=("$what") ;; esac; }
end() { if [ ${#WHY[@]} -eq 0 ]; then pass "$CASE"; else fail "$CASE" "$(IFS=';'; echo "${WHY[*]}")"; fi; }

# 11a: the destination is a regular file; FIONREAD on it was taken for queued data
lease_case lease_released_with_file_destination dst-file /dev/null "$T/dst.expected"
# 11b: the program closed its number but a dup keeps the open file description (and the lease)
lease_case lease_released_after_dup_and_close dup-close "$T/four.expected" ""
# 11b: the program closed its number but a forked child keeps the file open
lease_case lease_released_after_close_with_child_holding_it fork-child "$T/four.expected" ""

# 12: a lease refused with EAGAIN (another process has the file open for writing) is asked again
begin lease_asked_again_after_a_writer_closed
for v in base shim; do
	d=$T/again.$v; rm -rf "$d"; mkdir -p "$d"; cp "$T/src" "$d/src"
	pre=(); [ $v = shim ] && pre=(env "${LOW[@]}" ZCSHIM_STATS_FILE="$d/st.%p.json" LD_PRELOAD="$ZC_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}")
	python3 -c 'import os,sys,time; fd=os.open(sys.argv[1], os.O_WRONLY); open(sys.argv[2],"w").close(); time.sleep(0.3)' "$d/src" "$d/held" &
	holder=$!
	wait_for 10 test -e "$d/held"
	timeout 60 "${pre[@]}" "$P" paced --src "$d/src" --chunks 17 --pause-ms 40 | cat >"$d/out"; echo "${PIPESTATUS[0]}" >"$d/rc"
	wait $holder
	need "$v exit $(cat "$d/rc")" eq "$(cat "$d/rc")" 0
	need "$v output differs" cmp -s "$d/out" "$T/src"
done
d=$T/again.shim
need "lease_busy $(stat_sum "$d/st.*.json" lease_busy), want >= 1 (the writer held it first)" ge "$(stat_sum "$d/st.*.json" lease_busy)" 1
need "lease_granted $(stat_sum "$d/st.*.json" lease_granted), want >= 1 (asked again)" ge "$(stat_sum "$d/st.*.json" lease_granted)" 1
need "rw_splice_bytes $(stat_sum "$d/st.*.json" rw_splice_bytes), want > 0" ge "$(stat_sum "$d/st.*.json" rw_splice_bytes)" 1
end

# a lease kept past the program's close (data still queued) and released once drained, with no
# writer at all: nothing may count as a break (the keeper's own wake-up is not one)
begin kept_lease_released_without_a_break
d=$T/nobreak; rm -rf "$d"; mkdir -p "$d"; cp "$T/src" "$d/src"; touch "$d/go"
env "${LOW[@]}" ZCSHIM_STATS_FILE="$d/st.%p.json" LD_PRELOAD="$ZC_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}" \
	"$P" dup-close --src "$d/src" --ready "$d/ready" --go "$d/go" | { sleep 0.4; cat; } >"$d/out"
need "output differs" cmp -s "$d/out" "$T/four.expected"
need "lease_released $(stat_sum "$d/st.*.json" lease_released), want 1" eq "$(stat_sum "$d/st.*.json" lease_released)" 1
need "lease_broken $(stat_sum "$d/st.*.json" lease_broken), want 0 (nobody wrote)" eq "$(stat_sum "$d/st.*.json" lease_broken)" 0
end
