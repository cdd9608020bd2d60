#!/usr/bin/env bash
# test_hints.sh — the launcher's and `zcshim stat`'s hint names the fallback reason that passed the
# most bytes through, with what to do about it: one program per reason made to dominate (each run
# also writes through other reasons, or more often, so a count-based choice would name another).
source "$(dirname "$0")/lib.sh"
T=$ZC_TMP
CL=$ZC_PROGS/copyloop
make_file "$T/src" $((4 * 1048576))
chmod 755 "$T"
# hint_of FILE : the reason named by the hint line in a launcher's stderr (empty without one)
hint_of() { sed -n 's/^  hint (\([a-z_]*\): .*/\1/p' "$1" | head -1; }
# case NAME REASON [RUN-PREFIX...] -- CMD... : zcshim run CMD; its hint must name REASON, and the
# command's output must equal the input (when it wrote $T/NAME.out)
case_() {
	local name=$1 want=$2 pre=()
	shift 2
	while [ "$1" != -- ]; do pre+=("$1"); shift; done
	shift
	"${pre[@]}" "$ZC_BIN" run "$@" >/dev/null 2>"$T/$name.err"
	local got
	got=$(hint_of "$T/$name.err")
	check "hint-$name-names-$want" test "$got" = "$want"
	[ "$got" = "$want" ] || sed 's/^/  stderr: /' "$T/$name.err" | tail -6
	check "hint-$name-says-what-to-do" test "$(grep -A1 '^  hint (' "$T/$name.err" | tail -1 | wc -c)" -gt 20
	if [ -e "$T/$name.out" ]; then check "hint-$name-bytes" cmp -s "$T/src" "$T/$name.out"; fi
}
# small: 16 KiB writes to a file (min_bytes_file is 64 KiB)
case_ small small -- "$CL" send --src "$T/src" --dst "file:$T/small.out" --chunk 16K
# append: O_APPEND destination; its transcript writes (no_record) are more numerous but tiny
case_ append append -- "$CL" send --src "$T/src" --dst "append:$T/append.out" --chunk 256K
# stack_buffer: reads into a VLA on the stack
case_ stack stack_buffer -- "$CL" send --src "$T/src" --dst "file:$T/stack.out" --chunk 256K --buf stack
# dirty: the program patches most chunks between the read and the write
flips=() ; for k in $(seq 1 14); do flips+=(--fault "$k:flip-mid"); done
case_ dirty dirty -- "$CL" send --src "$T/src" --dst "file:$T/dirty.bin" --chunk 256K "${flips[@]}"
# mode_off: everything counted, nothing rewritten
case_ off mode_off -- --mode off -- "$CL" send --src "$T/src" --dst "file:$T/off.out" --chunk 256K
# no_record: data that never came from a file read (dd from a character device)
case_ norec no_record -- -- dd if=/dev/urandom of="$T/norec.bin" bs=64K count=64 status=none
# lease_denied: nobody reading root's file
mkdir -m 777 "$T/nb"
case_ lease lease_denied setpriv --reuid nobody --regid nogroup --clear-groups -- -- "$CL" send --src "$T/src" \
	--dst "file:$T/nb/lease.bin" --chunk 256K
# rewritten: a copy loop the kernel moved (its first chunk on probation) gets no hint
"$ZC_BIN" run --stats "$T/rw.json" -- "$CL" send --src "$T/src" --dst "file:$T/rw.out" --chunk 256K >/dev/null 2>"$T/rw.err"
check hint-none-when-rewritten test -z "$(hint_of "$T/rw.err")"
check hint-rewritten-bytes cmp -s "$T/src" "$T/rw.out"
check hint-rewritten-moved test "$(stat_get "$T/rw.json" rw_copy_file_range_bytes)" -ge $((3 * 1048576))

# zcshim stat PID: the same hint for a live process (2 KiB reads, below what the shim records, written
# into a slowly read pipe)
LD_PRELOAD=$ZC_PRELOAD "$CL" send --src "$T/src" --dst stdout --chunk 2K |
	python3 -c 'import sys, time
while sys.stdin.buffer.read(16384): time.sleep(0.05)' &
find_pid() { pid=$(pgrep -n -f "copyloop send --src $T/src --dst stdout"); [ -n "$pid" ]; }
stat_hint() { "$ZC_BIN" stat "$pid" >"$T/stat.out" 2>&1; grep -q '^  hint (no_record: ' "$T/stat.out"; }
pid=
check hint-stat-finds-pid wait_for 20 find_pid
check hint-stat-names-no_record wait_for 20 stat_hint
[ -s "$T/stat.out" ] && grep -A1 '^  hint' "$T/stat.out" | sed 's/^/  stat: /'
wait
