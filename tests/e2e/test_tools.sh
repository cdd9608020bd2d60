#!/usr/bin/env bash
# test_tools.sh — `zcshim stat` on a running program (its counters move while it copies) and
# `zcshim check-config` on good and bad configurations (exit codes, messages naming the line).
source "$(dirname "$0")/lib.sh"

# ---- stat: a program under the shim, mid-transfer (a slow pipe reader keeps it busy ~6 s) ------
make_file "$ZC_TMP/src" $((32 * 1048576))
ZCSHIM_MIN_BYTES_PIPE=4096 LD_PRELOAD=$ZC_LIB "$ZC_PROGS/legacy_server" --file "$ZC_TMP/src" --stdout \
	--loop read-write --chunk 256K --buffer aligned |
	python3 -c 'import sys, time
while True:
    b = sys.stdin.buffer.read(262144)
    if not b: break
    time.sleep(0.05)' &
# splice_bytes PID : rw_splice_bytes as `zcshim stat PID` shows it (0 if none)
splice_bytes() { local b; b=$("$ZC_BIN" stat "$1" 2>/dev/null | sed -n 's/^ *rw_splice_bytes *\([0-9]*\)$/\1/p'); echo "${b:-0}"; }
# conditions polled with a generous deadline instead of fixed sleeps
find_pid() { pid=$(pgrep -n -f "legacy_server --file $ZC_TMP/src"); [ -n "$pid" ]; }
moved_past() { b2=$(splice_bytes "$pid"); [ "$b2" -gt "$1" ]; }
pid= b1=0 b2=0
check stat-finds-pid wait_for 20 find_pid
check stat-shows-rewrites wait_for 20 moved_past 0
b1=$b2
check stat-counters-move wait_for 20 moved_past "$b1"
echo "stat mid-transfer: rw_splice_bytes $b1 then $b2"
check stat-lists-the-process grep -q "^$pid " <("$ZC_BIN" stat)
watch=$(timeout 5 "$ZC_BIN" stat --watch 0.3 "$pid" 2>&1 | grep -c '^pid ')
check stat-watch-repeats [ "$watch" -ge 2 ]
wait
check stat-gone-after-exit bash -c "! '$ZC_BIN' stat $pid 2>/dev/null"
"$ZC_BIN" stat "$pid" 2>"$ZC_TMP/gone.err"; rc=$?
check stat-exit-1-for-a-gone-process [ $rc -eq 1 ]
check stat-says-why grep -q "no live counters for pid $pid" "$ZC_TMP/gone.err"
"$ZC_BIN" stat $$ 2>"$ZC_TMP/noshim.err"
check stat-says-not-under-shim grep -q "does not run under the shim" "$ZC_TMP/noshim.err"
"$ZC_BIN" stat abc 2>/dev/null; check stat-bad-pid-exit-2 [ $? -eq 2 ]
"$ZC_BIN" stat --watch -1 1 2>/dev/null; check stat-bad-watch-exit-2 [ $? -eq 2 ]
"$ZC_BIN" stat 1 2 2>/dev/null; check stat-two-pids-exit-2 [ $? -eq 2 ]

# The live counters are a memfd, not a file in a directory: checked while the program runs (a file
# it created would be visible then), and a killed program is gone from `zcshim stat` at once.
LD_PRELOAD=$ZC_LIB sleep 30 & kpid=$!
has_memfd() { ls -l "/proc/$kpid/fd" 2>/dev/null | grep -q "memfd:zcshim-stats"; }
check stat-counters-in-a-memfd wait_for 20 has_memfd
check stat-no-file-named-after-the-process bash -c "! ls -d /dev/shm/*$kpid* /tmp/*zcshim*$kpid* 2>/dev/null | grep -q ."
check stat-listed-while-alive grep -q "^$kpid " <("$ZC_BIN" stat)
kill -9 $kpid; wait $kpid 2>/dev/null
check stat-not-listed-after-kill bash -c "! '$ZC_BIN' stat | grep -q '^$kpid '"

# ---- check-config --------------------------------------------------------------------------
"$ZC_BIN" check-config "$ZC_ROOT/zcshim.conf" >"$ZC_TMP/good.out" 2>"$ZC_TMP/good.err"
check check-config-shipped-file-passes [ $? -eq 0 ]
check check-config-no-messages-for-good-file [ ! -s "$ZC_TMP/good.err" ]
check check-config-prints-origin grep -q "^mode  *auto  *$ZC_ROOT/zcshim.conf" "$ZC_TMP/good.out"
printf 'mode = eager\n# fine\nmin_bytes_pipe = 12Q\nlease = maybe\nno equals sign\nfoo = 1\n' >"$ZC_TMP/bad.conf"
"$ZC_BIN" check-config "$ZC_TMP/bad.conf" >"$ZC_TMP/bad.out" 2>"$ZC_TMP/bad.err"
check check-config-bad-file-exit-1 [ $? -eq 1 ]
check check-config-names-line-3 grep -q "bad.conf:3: bad value '12Q' for min_bytes_pipe" "$ZC_TMP/bad.err"
check check-config-names-line-4 grep -q "bad.conf:4: bad value 'maybe' for lease (accepted: require, prefer, off)" "$ZC_TMP/bad.err"
check check-config-names-line-5 grep -q "bad.conf:5: expected 'key = value'" "$ZC_TMP/bad.err"
check check-config-names-line-6 grep -q "bad.conf:6: unknown key 'foo'" "$ZC_TMP/bad.err"
check check-config-counts-4 grep -q "4 bad entries" "$ZC_TMP/bad.err"
check check-config-bad-keeps-default grep -q "^lease  *require  *default" "$ZC_TMP/bad.out"
ZCSHIM_MODE=off "$ZC_BIN" check-config "$ZC_ROOT/zcshim.conf" >"$ZC_TMP/env.out" 2>&1
check check-config-env-overrides grep -q "^mode  *off  *environment" "$ZC_TMP/env.out"
ZCSHIM_MODE=fast "$ZC_BIN" check-config "$ZC_ROOT/zcshim.conf" >/dev/null 2>"$ZC_TMP/envbad.err"
check check-config-bad-env-exit-1 [ $? -eq 1 ]
check check-config-bad-env-named grep -q "environment ZCSHIM_MODE: bad value 'fast' for mode" "$ZC_TMP/envbad.err"
"$ZC_BIN" check-config "$ZC_TMP/missing.conf" >/dev/null 2>&1
check check-config-missing-file-exit-1 [ $? -eq 1 ]
"$ZC_BIN" check-config -x 2>/dev/null; check check-config-bad-option-exit-2 [ $? -eq 2 ]
# the host program runs on, with the default, whatever the config says
out=$(ZCSHIM_CONF=$ZC_TMP/bad.conf LD_PRELOAD=$ZC_LIB /bin/echo still-running 2>"$ZC_TMP/host.err")
check host-runs-with-bad-config [ "$out" = still-running ]
check host-gets-one-line-per-bad-entry [ "$(grep -c '^zcshim: ' "$ZC_TMP/host.err")" -eq 4 ]

# ---- the launcher ----------------------------------------------------------------------------
"$ZC_BIN" run 2>/dev/null; check run-without-command-exit-2 [ $? -eq 2 ]
"$ZC_BIN" run --bogus -- true 2>/dev/null; check run-bad-option-exit-2 [ $? -eq 2 ]
"$ZC_BIN" nonsense 2>/dev/null; check unknown-subcommand-exit-2 [ $? -eq 2 ]
"$ZC_BIN" run --quiet -- sh -c 'exit 7'; check run-passes-exit-status [ $? -eq 7 ]
"$ZC_BIN" --help | grep -q "zcshim run"; check help-lists-run [ $? -eq 0 ]
