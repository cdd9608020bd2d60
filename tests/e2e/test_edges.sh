#!/usr/bin/env bash
# test_edges.sh — the edges a preload library lives at (issue 8, items 1-4): every I/O name of a
# fortified build, another preloaded library whose constructor runs first, another allocator
# (a preloaded one, AddressSanitizer's), and inherit = off / large environments on every exec path.
# Each case compares a run under the shim with the run without it, and where the shim acts, its
# counters (stats JSON).
. "$(dirname "$0")/lib.sh"

P=$ZC_PROGS
T=$ZC_TMP
LIST=$ZC_BUILD/exports.txt
for f in "$ZC_LIB" "$LIST" "$P/fortified" "$P/edges_exec" "$P/edges_asan" "$P/edges_libother.so" "$P/edges_liballoc.so"; do
	[ -e "$f" ] || { fail setup "$f not built"; exit 1; }
done
SRC=$T/src
make_file "$SRC" 1048576

# ---- 1. every read/write name, fortified build, on a buffer the shim recorded and guarded ----
# family NAME : the counter a call of NAME counts in
family() {
	case $1 in
	read | __read | __read_chk) echo calls_read ;;
	readv | preadv*) echo calls_readv ;;
	pread* | __pread*) echo calls_pread ;;
	recv* | __recv*) echo calls_recv ;;
	write | __write) echo calls_write ;;
	pwritev*) echo calls_writev ;;
	pwrite* | __pwrite*) echo calls_pwrite ;;
	writev) echo calls_writev ;;
	send | __send | sendto) echo calls_send ;;
	sendmsg | sendmmsg) echo calls_sendmsg ;;
	*) echo unknown ;;
	esac
}
# fort NAME : runs "fortified SRC none NAME" without and with the shim (stats in $T/fort.json)
fort() {
	"$P/fortified" "$SRC" none "$1" >"$T/plain.out" 2>"$T/plain.err"; prc=$?
	with_shim ZCSHIM_STATS_FILE="$T/fort.json" -- "$P/fortified" "$SRC" none "$1" >"$T/shim.out" 2>"$T/shim.err"; src=$?
}
# the reference: the same program doing nothing after the priming read+write
fort none
cp "$T/fort.json" "$T/none.json"
check "fortified: priming write rewritten (buffer guarded)" [ "$(stat_get "$T/none.json" rw_splice)" -ge 1 ]
# grew NAME COUNTER [BY] : the counter of the last run exceeds the reference by at least BY (1)
grew() { [ "$(stat_get "$T/fort.json" "$2")" -ge $(($(stat_get "$T/none.json" "$2") + ${3:-1})) ]; }

names=$(awk '$2 == "READ" || $2 == "WRITE" {print $1}' "$LIST")
[ "$(wc -w <<<"$names")" -ge 30 ] && pass "fortified: $(wc -w <<<"$names") read/write names from exports.txt" ||
	fail "fortified: names from exports.txt" "$names"
for n in $names; do
	fort "$n"
	c=$(family "$n")
	if [ $prc -ne 0 ] || [ $src -ne 0 ]; then
		fail "fortified $n" "exit $prc without the shim, $src with it: $(cat "$T/plain.err" "$T/shim.err" | head -2)"
	elif ! cmp -s "$T/plain.out" "$T/shim.out"; then
		fail "fortified $n" "without: $(tr '\n' ' ' <"$T/plain.out") with: $(tr '\n' ' ' <"$T/shim.out")"
	elif [ "$c" = unknown ] || ! grew "$n" "$c"; then
		fail "fortified $n" "$c did not count the call ($(stat_get "$T/fort.json" "$c"), reference $(stat_get "$T/none.json" "$c"))"
	else
		pass "fortified $n: $(head -1 "$T/shim.out"), counted in $c"
	fi
done
# the calls _FORTIFY_SOURCE makes of read/pread/recv/recvfrom with a known buffer size
check "fortified build imports the _chk names" \
	[ "$(nm -D --undefined-only "$P/fortified" | grep -cE ' (__read_chk|__pread_chk|__recv_chk|__recvfrom_chk)@')" -eq 4 ]
for f in read:calls_read:65536 pread:calls_pread:65536 recv:calls_recv:5 recvfrom:calls_recv:5; do
	IFS=: read -r call c want <<<"$f"
	fort "fortify:$call"
	if [ $prc -ne 0 ] || [ $src -ne 0 ] || ! cmp -s "$T/plain.out" "$T/shim.out"; then
		fail "fortify $call" "exit $prc/$src; without: $(cat "$T/plain.out") with: $(cat "$T/shim.out")"
	elif ! grep -q "^fortify:$call = $call = $want " "$T/shim.out"; then
		fail "fortify $call" "expected $want: $(cat "$T/shim.out")"
	elif ! grew "fortify:$call" "$c"; then
		fail "fortify $call" "the _chk call was not counted in $c"
	else
		pass "fortify $call = $want (the _chk name), counted in $c"
	fi
done

# ---- 2. another preloaded library calls dup/close/read/write/fcntl/free in its constructor ----
OTHER=$P/edges_libother.so
# ran_ok ERRFILE MARK : the constructor got through every call
ran_ok() { grep -qx "$2: ok" "$1"; }
LD_PRELOAD="$OTHER:$ZC_PRELOAD" /bin/true 2>"$T/o1.err"
check "other preload first: exit 0, its constructor's calls work" eval "[ $? -eq 0 ] && ran_ok '$T/o1.err' edges_libother"
LD_PRELOAD="$ZC_PRELOAD:$OTHER" /bin/true 2>"$T/o2.err"
check "other preload after the shim: exit 0, its constructor's calls work" eval "[ $? -eq 0 ] && ran_ok '$T/o2.err' edges_libother"
LD_PRELOAD=$OTHER "$ZC_BIN" run -- /bin/true >/dev/null 2>"$T/o3.err"
check "LD_PRELOAD=other zcshim run -- true: exit 0" eval "[ $? -eq 0 ] && ran_ok '$T/o3.err' edges_libother"
LD_PRELOAD="$ZC_PRELOAD:$OTHER" ZCSHIM_STATS_FILE="$T/o.json" "$P/fortified" "$SRC" none none >"$T/o.out" 2>/dev/null
check "other preload: the shim still rewrites" eval "[ $? -eq 0 ] && [ $(stat_get "$T/o.json" rw_splice) -ge 1 ]"

# ---- 3. another allocator: no pointer of its own may reach glibc's free ----------------------
ALLOC=$P/edges_liballoc.so
for order in "$ALLOC:$ZC_PRELOAD" "$ZC_PRELOAD:$ALLOC"; do
	what=$([ "${order%%:*}" = "$ALLOC" ] && echo "allocator first" || echo "allocator after the shim")
	LD_PRELOAD=$order /bin/true 2>"$T/a.err"
	check "$what: constructor frees, exit 0" eval "[ $? -eq 0 ] && ran_ok '$T/a.err' edges_liballoc"
	LD_PRELOAD=$order ZCSHIM_STATS_FILE="$T/a.json" "$P/fortified" "$SRC" none none write >"$T/a.out" 2>"$T/a.err"
	rc=$?
	"$P/fortified" "$SRC" none none write >"$T/a.plain" 2>/dev/null
	check "$what: copy loop, same results, rewritten" \
		eval "[ $rc -eq 0 ] && cmp -s '$T/a.out' '$T/a.plain' && [ $(stat_get "$T/a.json" rw_splice) -ge 1 ]"
done
ASAN=$(cc -print-file-name=libasan.so 2>/dev/null)
if [ -e "$ASAN" ]; then
	LD_PRELOAD="$ASAN:$ZC_PRELOAD" ZCSHIM_STATS_FILE="$T/asan.json" "$P/edges_asan" "$SRC" 2>"$T/asan.err" | cat >"$T/asan.out"
	rc=${PIPESTATUS[0]}
	check "ASan program, libasan first: exit 0, bytes intact, rewritten" \
		eval "[ $rc -eq 0 ] && cmp -s '$SRC' '$T/asan.out' && [ $(stat_get "$T/asan.json" rw_splice) -ge 1 ]"
	# the shim first: ASan accepts it when told to; a free before the shim's constructor used to abort
	ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$ZC_LIB" "$P/edges_asan" "$SRC" 2>"$T/asan.err" | cat >"$T/asan.out"
	rc=${PIPESTATUS[0]}
	check "ASan program, the shim first: exit 0, bytes intact" \
		eval "[ $rc -eq 0 ] && cmp -s '$SRC' '$T/asan.out' || { head -3 '$T/asan.err'; false; }"
else
	fail "ASan program" "no libasan.so for $(cc --version | head -1)"
fi

# ---- 4. exec paths: inherit = off everywhere, environments of any size arrive whole ----------
# LD_PRELOAD longer than 4 KiB (other entries: the same harmless library under many spellings)
# and 1,539 more variables.
DL=$(ldd /bin/true | awk '$1 ~ /^libc\.so/ {print $3}')
more=""
for k in $(seq 1 70); do more="$more:$(dirname "$DL")/$(printf './%.0s' $(seq 1 "$k"))$(basename "$DL")"; done
big=()
for i in $(seq 1 1539); do big+=("ZCE_$i=value-$i"); done
PRE="$ZC_PRELOAD$more"
want_off=${more#:}
[ -n "${ZC_PRELOAD_FIRST:-}" ] && want_off="$ZC_PRELOAD_FIRST$more"
# field WHO KEY : a field of the line WHO of the last run
field() { sed -n "s/^$1 .*\b$2=\([^ ]*\).*/\1/p" "$T/x.out" | head -1; }
for mode in execve execv execvp execvpe execl execlp execle posix_spawn posix_spawnp system popen; do
	for inherit in on off; do
		env "${big[@]}" ZCSHIM_INHERIT=$inherit LD_PRELOAD="$PRE" "$P/edges_exec" "$mode" >"$T/x.out" 2>"$T/x.err"
		rc=$?
		want=$PRE
		[ $inherit = off ] && want=$want_off
		why=""
		[ $rc -eq 0 ] || why="exit $rc: $(head -2 "$T/x.err")"
		[ "$(field child n)" = "$(field parent n)" ] && [ "$(field parent n)" -ge 1539 ] ||
			why="$why; entries: parent $(field parent n), child $(field child n)"
		[ "$(field child sum)" = "$(field parent sum)" ] || why="$why; the other entries changed"
		[ "$(field child preload)" = "$want" ] || why="$why; child LD_PRELOAD of $(field child preload | wc -c) bytes, $(field child preload | grep -o libzcshim | wc -l) shim"
		if [ "$mode" = system ] || [ "$mode" = popen ]; then
			[ "$(sed -n 's/^shell preload=//p' "$T/x.out")" = "$want" ] || why="$why; the shell's LD_PRELOAD has $(grep '^shell' "$T/x.out" | grep -o libzcshim | wc -l) shim"
		fi
		[ "$(grep '^after' "$T/x.out" | cut -d' ' -f2-)" = "$(grep '^parent' "$T/x.out" | cut -d' ' -f2-)" ] ||
			why="$why; the parent's own environment changed"
		[ -z "$why" ] && pass "exec $mode, inherit $inherit: $(field child n) entries, LD_PRELOAD of ${#want} bytes as expected" ||
			fail "exec $mode, inherit $inherit" "${why#; }"
	done
done

# ---- a daemon closing every descriptor mid-loop (daemonize code) ------------------------------
# The shim's own descriptors (counters, userfaultfd, pagemap) are not the program's: its close of
# them says EBADF as if they were never open, and close_range leaves them, so the loop is still
# guarded and rewritten after it. Same bytes and same close results as without the shim.
make_file "$T/ca.src" $((24 * 65536 + 99))
for how in loop range; do
	"$P/closeall" $how --src "$T/ca.src" 2>"$T/ca.base.err" | cat >"$T/ca.base.out"
	rm -f "$T"/ca.st.*.json
	env ZCSHIM_MIN_BYTES_PIPE=4096 ZCSHIM_GUARD_MIN_BYTES=4096 ZCSHIM_LEASE=off ZCSHIM_STATS_FILE="$T/ca.st.%p.json" \
		LD_PRELOAD="$ZC_PRELOAD" "$P/closeall" $how --src "$T/ca.src" 2>"$T/ca.shim.err" | cat >"$T/ca.shim.out"
	check "closeall $how: same bytes" cmp -s "$T/ca.base.out" "$T/ca.shim.out"
	check "closeall $how: same close results ($(cat "$T/ca.shim.err"))" cmp -s "$T/ca.base.err" "$T/ca.shim.err"
	# 20 chunks after the reopen, the first on probation: 19 rewritten after the close
	sp=$(stat_sum "$T/ca.st.*.json" rw_splice_bytes)
	check "closeall $how: still rewritten after it (rw_splice_bytes $sp, want >= $((19 * 65536)))" [ "$sp" -ge $((19 * 65536)) ]
done
