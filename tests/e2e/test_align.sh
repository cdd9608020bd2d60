#!/usr/bin/env bash
# test_align.sh — align_min_bytes: in deferred and auto modes malloc puts requests of at least
# 32 KiB on a page (a deferred read into them then has no head to copy), through the program's own
# allocator, and never through another one's (a preloaded allocator without posix_memalign). Each
# case reads the addresses progs/align prints; the run without the shim shows glibc's offsets, so
# the check can fail.
. "$(dirname "$0")/lib.sh"

P=$ZC_PROGS
T=$ZC_TMP
for f in "$ZC_LIB" "$P/align" "$P/edges_liballoc.so" "$P/edges_liballoc_nomemalign.so"; do
	[ -e "$f" ] || { fail setup "$f not built"; exit 1; }
done

# offset OUT SIZE: the offset align printed for SIZE (bytes)
offset() { sed -n "s/^size $2 offset \([0-9]*\)$/\1/p" "$1"; }
SIZES=(16K 32K 64K 1M 130K)

# deferral needs a full userfaultfd (root here); aligning is done only where it is possible
if [ "$(id -u)" != 0 ] && [ ! -r /dev/userfaultfd ]; then
	skip align "no full userfaultfd (not root, no /dev/userfaultfd): the shim aligns nothing here"
	exit 0
fi

"$P/align" "${SIZES[@]}" >"$T/plain" 2>&1
check "without the shim: glibc's offsets (32 KiB at $(offset "$T/plain" 32768), 64 KiB at $(offset "$T/plain" 65536), 1 MiB at $(offset "$T/plain" 1048576))" \
	eval "[ $(offset "$T/plain" 32768) -ne 0 ] && [ $(offset "$T/plain" 65536) -ne 0 ] && [ $(offset "$T/plain" 1048576) -ne 0 ]"

# run NAME ENV...: align under the shim (stdout in $T/NAME, exit status in $T/NAME.rc)
run() {
	local n=$1
	shift
	env "$@" LD_PRELOAD="${PRE:-$ZC_PRELOAD}" "$P/align" "${SIZES[@]}" >"$T/$n" 2>"$T/$n.err"
	echo $? >"$T/$n.rc"
}
ok() { [ "$(cat "$T/$1.rc")" = 0 ] && grep -q '^done$' "$T/$1"; }

begin malloc_of_32k_and_more_starts_on_a_page_in_auto_mode
run auto
need "exit $(cat "$T/auto.rc"): $(head -2 "$T/auto.err" | tr '\n' ' ')" ok auto
need "64 KiB at offset $(offset "$T/auto" 65536), want 0" eq "$(offset "$T/auto" 65536)" 0
need "1 MiB at offset $(offset "$T/auto" 1048576), want 0" eq "$(offset "$T/auto" 1048576)" 0
need "130 KiB at offset $(offset "$T/auto" 133120), want 0" eq "$(offset "$T/auto" 133120)" 0
need "32 KiB at offset $(offset "$T/auto" 32768), want 0" eq "$(offset "$T/auto" 32768)" 0
need "16 KiB at offset 0: below align_min_bytes it must be glibc's" [ "$(offset "$T/auto" 16384)" -ne 0 ]
end

begin malloc_starts_on_a_page_in_deferred_mode
run deferred ZCSHIM_MODE=deferred
need "exit $(cat "$T/deferred.rc")" ok deferred
need "64 KiB at offset $(offset "$T/deferred" 65536), want 0" eq "$(offset "$T/deferred" 65536)" 0
end

# align_min_bytes = 0, eager mode, observe: malloc as it was
for v in "off0 ZCSHIM_ALIGN_MIN_BYTES=0" "eager ZCSHIM_MODE=eager" "observe ZCSHIM_MODE=observe"; do
	n=${v%% *}
	begin "malloc_left_alone_${n}"
	run "$n" "${v#* }"
	need "exit $(cat "$T/$n.rc")" ok "$n"
	need "64 KiB at offset 0" [ "$(offset "$T/$n" 65536)" -ne 0 ]
	end
done

begin align_min_bytes_128k_leaves_64k_alone
run a128 ZCSHIM_ALIGN_MIN_BYTES=128K
need "exit $(cat "$T/a128.rc")" ok a128
need "64 KiB at offset 0 (below 128K)" [ "$(offset "$T/a128" 65536)" -ne 0 ]
need "1 MiB at offset $(offset "$T/a128" 1048576), want 0" eq "$(offset "$T/a128" 1048576)" 0
end

# a preloaded allocator after the shim: with its own posix_memalign it serves the aligned ones too;
# without one, posix_memalign is glibc's and the shim must not use it (the allocator's free aborts
# on a pointer it does not own)
begin preloaded_allocator_serves_the_aligned_buffers
PRE="$ZC_PRELOAD:$P/edges_liballoc.so" run alloc
need "exit $(cat "$T/alloc.rc"): $(grep -v ': ok$' "$T/alloc.err" | head -2 | tr '\n' ' ')" ok alloc
need "64 KiB at offset $(offset "$T/alloc" 65536), want 0" eq "$(offset "$T/alloc" 65536)" 0
end

begin preloaded_allocator_without_posix_memalign_gets_only_its_own_pointers
PRE="$ZC_PRELOAD:$P/edges_liballoc_nomemalign.so" run nomem
need "exit $(cat "$T/nomem.rc"): $(grep -v ': ok$' "$T/nomem.err" | head -2 | tr '\n' ' ')" ok nomem
end
