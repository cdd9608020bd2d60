#!/usr/bin/env bash
# test_threads.sh — 2,000 short threads each copy a guarded chunk into a file of their own (issue 8
# item 6: the old guard leaked a 64 KiB alternate signal stack per thread, +210 MB of VmSize). Each
# chunk reads back as the source (the program checks), the chunks were really rewritten, and VmSize
# stays within 16 MiB of the plain run.
. "$(dirname "$0")/lib.sh"
make_file "$ZC_TMP/src" $((8 * 1024 * 1024))
LOW=(ZCSHIM_MIN_BYTES_FILE=4096 ZCSHIM_GUARD_MIN_BYTES=4096 ZCSHIM_LEASE=off ZCSHIM_STATS_FILE="$ZC_TMP/st.%p.json")
"$ZC_PROGS/threads" --src "$ZC_TMP/src" 2>"$ZC_TMP/base.err"; echo $? >"$ZC_TMP/base.rc"
with_shim "${LOW[@]}" -- "$ZC_PROGS/threads" --src "$ZC_TMP/src" 2>"$ZC_TMP/shim.err"; echo $? >"$ZC_TMP/shim.rc"
check "threads-plain-exit-0 ($(cat "$ZC_TMP/base.err" | tr '\n' ' '))" [ "$(cat "$ZC_TMP/base.rc")" = 0 ]
check "threads-every-chunk-reads-back ($(cat "$ZC_TMP/shim.err" | tr '\n' ' '))" [ "$(cat "$ZC_TMP/shim.rc")" = 0 ]
rw=$(stat_sum "$ZC_TMP/st.*.json" rw_copy_file_range)
check "threads-rewritten ($rw copy_file_range calls, want >= 1000)" [ "$rw" -ge 1000 ]
b=$(sed -n 's/^VmSize \([0-9]*\).*/\1/p' "$ZC_TMP/base.err") s=$(sed -n 's/^VmSize \([0-9]*\).*/\1/p' "$ZC_TMP/shim.err")
grew() { [ -n "$b" ] && [ -n "$s" ] && [ $((s - b)) -lt 16384 ]; }
check "threads-no-per-thread-leak (VmSize $b KiB plain, $s KiB under the shim)" grew
