#!/usr/bin/env bash
# test_secure.sh — issue 8, items 5, 7, 8, 9, 10: the edges where a preload library meets what it
# did not choose. The lease thread and unshare(CLONE_NEWUSER) (5); a system-wide install through
# /etc/ld.so.preload and a setuid program run by nobody with hostile ZCSHIM_* values (7); the files
# the shim writes: no symlink followed, no FIFO blocking, no foreign file emptied, 0600 (8); config
# input that is too long, holds NUL bytes, or is not a regular file (9); `zcshim stat` on a memfd
# that shrinks under it (10). Each case compares with the run without the shim where one exists.
source "$(dirname "$0")/lib.sh"

T=$ZC_TMP
U=$ZC_PROGS/secure_unshare
for p in "$U" "$ZC_PROGS/secure_prog" "$ZC_PROGS/secure_memfd" "$ZC_LIB" "$ZC_BIN"; do
	[ -x "$p" ] || [ -f "$p" ] || { fail setup "build first: $p missing"; exit 1; }
done
make_file "$T/src" $((4 * 1048576))

# ---- 5: unshare(CLONE_NEWUSER) and the lease thread ----------------------------------------------
# us VARIANT MODE [ENV...]: secure_unshare MODE src, stdout to a pipe; leaves rc, err, out, st.json
us() {
	local v=$1 m=$2 pre=()
	shift 2
	[ "$v" = shim ] && pre=(env "$@" ZCSHIM_STATS_FILE="$T/us.$v.$m.json" LD_PRELOAD="$ZC_PRELOAD")
	rm -f "$T/us.$v.$m.json"
	timeout 60 "${pre[@]}" "$U" "$m" "$T/src" 2>"$T/us.$v.$m.err" | cat >"$T/us.$v.$m.out"
	echo "${PIPESTATUS[0]}" >"$T/us.$v.$m.rc"
}
same_run() { cmp -s "$T/us.base.$1.$2" "$T/us.shim.$1.$2"; }
us base before
us shim before
check unshare-before-first-lease-same-exit same_run before rc
check unshare-before-first-lease-same-result same_run before err # "threads 1 unshare ok"
check unshare-before-first-lease-same-bytes cmp -s "$T/src" "$T/us.shim.before.out"
check unshare-before-first-lease-shim-acted [ "$(stat_get "$T/us.shim.before.json" rw_splice)" -gt 0 ]
# after the first lease the shim's threads exist (the lease thread, and in the default mode the
# fault thread of the first deferred read): EINVAL, as in any threaded program (README)
us base after
us shim after
check unshare-after-lease-base-ok grep -qx "threads 1 unshare ok" "$T/us.base.after.err"
check unshare-after-lease-is-einval-as-documented grep -qxE "threads [23] unshare Invalid argument" "$T/us.shim.after.err"
check unshare-after-lease-took-a-lease [ "$(stat_get "$T/us.shim.after.json" lease_granted)" -ge 1 ]
# the documented way out: lease = off starts no thread
mv "$T/us.shim.after.json" "$T/us.require.json"
us shim after ZCSHIM_LEASE=off
check unshare-after-copy-lease-off-same-exit same_run after rc
check unshare-after-copy-lease-off-same-result same_run after err
check unshare-after-copy-lease-off-shim-acted [ "$(stat_get "$T/us.shim.after.json" rw_splice)" -gt 0 ]

# ---- 7: installed system-wide (/etc/ld.so.preload), a setuid program run by nobody ----------------
# Runs in a private mount namespace: /etc gets an overlay (or a bind-mounted copy) holding
# ld.so.preload, so nothing outside this test sees the shim preloaded.
system_wide() {
	local S=$T/sys tag="zc-secure-$$"
	mkdir -p "$S/lib" "$S/bin" "$S/up" "$S/work" "$S/pub"
	chmod 755 "$T" "$S" "$S/lib" "$S/bin" "$S/pub"
	install -m 0755 "$ZC_LIB" "$S/lib/libzcshim.so"
	install -m 4755 -o root "$ZC_PROGS/secure_prog" "$S/bin/secure_prog"
	# ns.sh CASE CONF: mounts /etc with ld.so.preload (and CONF as /etc/zcshim.conf, if given), then
	# runs secure_prog as nobody with hostile values; CASE.out/.err/.rc, CASE.strace with strace
	cat >"$S/ns.sh" <<-EOF
		set -u
		mount --make-rprivate / || exit 20
		if ! mount -t overlay overlay -o lowerdir=/etc,upperdir=$S/up,workdir=$S/work /etc 2>/dev/null; then
			mkdir -p $S/etc && cp -a /etc/. $S/etc/ && mount --bind $S/etc /etc || exit 21
		fi
		rm -f /etc/zcshim.conf
		[ "\$2" = none ] || install -m "\$3" -o root -g root "\$2" /etc/zcshim.conf || exit 22
		[ "\$4" = noshim ] || echo $S/lib/libzcshim.so >/etc/ld.so.preload || exit 23
		hostile=(env -i PATH=/usr/bin:/bin ZCSHIM_CONF=/etc/shadow ZCSHIM_STATS_FILE=/root/$tag-x
			ZCSHIM_LOG_FILE=/root/$tag-y ZCSHIM_LOG_LEVEL=debug ZCSHIM_MODE=eager $S/bin/secure_prog)
		nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
		"\${nobody[@]}" "\${hostile[@]}" >$S/\$1.out 2>$S/\$1.err
		echo \$? >$S/\$1.rc
		if command -v strace >/dev/null; then
			strace -f -qq -o $S/\$1.strace -e trace=%file "\${nobody[@]}" "\${hostile[@]}" >/dev/null 2>&1
		fi
		exit 0
	EOF
	sys() { rm -f "/root/$tag-x" "/root/$tag-y"; unshare -m bash "$S/ns.sh" "$@"; }
	untouched() { [ ! -e "/root/$tag-x" ] && [ ! -e "/root/$tag-y" ]; }
	no_shadow() { ! grep -qF -f <(cut -d: -f1 /etc/shadow | sed 's/$/:/') "$S/$1.err"; }
	no_open() { [ ! -f "$S/$1.strace" ] || ! grep -E "/etc/shadow|/root/$tag" "$S/$1.strace" | grep -vE '^[0-9]+ +execve'; }

	# without the shim: the baseline a setuid program gets
	sys base none 0644 noshim
	check system-wide-baseline-runs grep -qx "secure 1 shim no" "$S/base.out"
	# with it, hostile values: the shim is there (built-in defaults), reads, writes, prints nothing
	sys hostile none 0644 shim
	check system-wide-setuid-runs-with-the-shim grep -qx "secure 1 shim yes" "$S/hostile.out"
	check system-wide-setuid-same-exit cmp -s "$S/base.rc" "$S/hostile.rc"
	check system-wide-setuid-prints-nothing [ ! -s "$S/hostile.err" ]
	check system-wide-setuid-no-shadow-on-stderr no_shadow hostile
	check system-wide-setuid-creates-no-file untouched
	check system-wide-setuid-opens-no-named-file no_open hostile
	[ -s "$S/hostile.err" ] && head -c 300 "$S/hostile.err" | sed 's/^/  stderr: /'
	# a root-owned /etc/zcshim.conf, not writable by others, still counts there; the environment not
	printf 'stats_file = %s/pub/trusted.%%p.json\n' "$S" >"$S/trusted.conf"
	sys trusted "$S/trusted.conf" 0644 shim
	# every program in the namespace reads that file; the setuid one says which stats file is its own
	local own
	own=$S/pub/trusted.$(sed -n 's/^pid //p' "$S/trusted.out").json
	check system-wide-root-owned-conf-honoured [ -f "$own" ]
	check system-wide-root-owned-conf-stats-0600 [ "$(stat -c %a "$own" 2>/dev/null)" = 600 ]
	check system-wide-root-owned-conf-env-still-ignored untouched
	check system-wide-root-owned-conf-prints-nothing [ ! -s "$S/trusted.err" ]
	sys loose "$S/trusted.conf" 0666 shim # writable by anyone: ignored as a whole
	check system-wide-writable-conf-runs grep -qx "secure 1 shim yes" "$S/loose.out"
	own=$S/pub/trusted.$(sed -n 's/^pid //p' "$S/loose.out").json
	check system-wide-writable-conf-ignored [ ! -e "$own" ]
	rm -f "/root/$tag-x" "/root/$tag-y"
}
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null || ! unshare -m true 2>/dev/null; then
	skip system-wide "needs root, setpriv and unshare -m (a private mount namespace)"
else
	system_wide
fi

# ---- 8: log_file and stats_file ------------------------------------------------------------------
run_true() { timeout 20 env "$@" LD_PRELOAD="$ZC_PRELOAD" /bin/true; }
echo precious >"$T/victim"
ln -s "$T/victim" "$T/log.lnk"
run_true ZCSHIM_LOG_FILE="$T/log.lnk" ZCSHIM_LOG_LEVEL=debug 2>"$T/loglnk.err"
check log-file-symlink-not-followed grep -qx precious "$T/victim"
check log-file-symlink-one-line [ "$(grep -c "cannot use log_file $T/log.lnk" "$T/loglnk.err")" -eq 1 ]
run_true ZCSHIM_LOG_FILE="$T/new.log" ZCSHIM_LOG_LEVEL=debug
check log-file-created-0600 [ "$(stat -c %a "$T/new.log" 2>/dev/null)" = 600 ]
check log-file-written grep -q "loaded" "$T/new.log"
ln -s "$T/victim" "$T/st.lnk"
ln -s "$T/nowhere" "$T/st.dangling"
run_true ZCSHIM_STATS_FILE="$T/st.lnk" 2>/dev/null
run_true ZCSHIM_STATS_FILE="$T/st.dangling" 2>/dev/null
check stats-file-symlink-not-followed grep -qx precious "$T/victim"
check stats-file-dangling-symlink-not-followed [ ! -e "$T/nowhere" ]
mkfifo "$T/st.fifo"
run_true ZCSHIM_STATS_FILE="$T/st.fifo" 2>"$T/fifo.err"
check stats-file-fifo-does-not-hang [ $? -eq 0 ]
cat "$T/st.fifo" >"$T/fifo.read" & reader=$!
sleep 0.2
run_true ZCSHIM_STATS_FILE="$T/st.fifo" 2>/dev/null
check stats-file-fifo-with-reader-not-written-or-hung [ $? -eq 0 ]
sleep 0.2; kill "$reader" 2>/dev/null; wait "$reader" 2>/dev/null
check stats-file-fifo-reader-got-nothing [ ! -s "$T/fifo.read" ]
run_true ZCSHIM_STATS_FILE="$T/st.new.json"
check stats-file-created-0600 [ "$(stat -c %a "$T/st.new.json" 2>/dev/null)" = 600 ]
printf 'stale stale stale stale stale stale stale stale stale stale stale stale stale\n%.0s' $(seq 200) >"$T/st.own.json"
run_true ZCSHIM_STATS_FILE="$T/st.own.json"
check stats-file-own-file-replaced bash -c "grep -q '\"counters\"' '$T/st.own.json' && ! grep -q '^stale' '$T/st.own.json'"
if [ "$(id -u)" -eq 0 ]; then
	echo theirs >"$T/st.foreign" && chown 65534 "$T/st.foreign"
	run_true ZCSHIM_STATS_FILE="$T/st.foreign" 2>/dev/null
	check stats-file-other-users-file-not-emptied grep -qx theirs "$T/st.foreign"
fi

# ---- 9: config input -----------------------------------------------------------------------------
long=$(printf '0%.0s' $(seq 1100))
printf 'min_bytes_tcp = %s1M\n' "$long" >"$T/long.conf"
"$ZC_BIN" check-config "$T/long.conf" >"$T/long.out" 2>"$T/long.err"
check check-config-long-line-exit-1 [ $? -eq 1 ]
check check-config-long-line-named grep -q "long.conf:1: line of 1118 bytes 'min_bytes_tcp = 000" "$T/long.err"
check check-config-long-line-keeps-default grep -q "^min_bytes_tcp  *262144  *default" "$T/long.out"
printf 'mode = off\n\0junk\nlease = maybe\n' >"$T/nul.conf"
"$ZC_BIN" check-config "$T/nul.conf" >/dev/null 2>"$T/nul.err"
check check-config-nul-byte-exit-1 [ $? -eq 1 ]
check check-config-nul-byte-named grep -q "nul.conf:2: NUL byte in line" "$T/nul.err"
check check-config-line-after-nul-seen grep -q "nul.conf:3: bad value 'maybe' for lease" "$T/nul.err"
# the host program: one line, no hang, same output as without the shim
host() { timeout 20 env ZCSHIM_CONF="$1" LD_PRELOAD="$ZC_PRELOAD" /bin/echo still-running 2>"$T/host.err"; }
mkdir "$T/conf.dir"
check conf-directory-host-runs [ "$(host "$T/conf.dir")" = still-running ]
check conf-directory-one-line [ "$(grep -c "config file $T/conf.dir is a directory" "$T/host.err")" -eq 1 ]
mkfifo "$T/conf.fifo"
check conf-fifo-host-runs-no-hang [ "$(host "$T/conf.fifo")" = still-running ]
check conf-fifo-one-line [ "$(grep -c "config file $T/conf.fifo is a FIFO" "$T/host.err")" -eq 1 ]
check conf-long-line-host-runs [ "$(host "$T/long.conf")" = still-running ]
check conf-long-line-host-one-line [ "$(grep -c '^zcshim: ' "$T/host.err")" -eq 1 ]
timeout 20 "$ZC_BIN" check-config "$T/conf.fifo" >/dev/null 2>&1
check check-config-fifo-exit-1 [ $? -eq 1 ]

# ---- 10: zcshim stat and a memfd that shrinks -----------------------------------------------------
"$ZC_PROGS/secure_memfd" 20 >"$T/memfd.out" & mpid=$!
wait_for 10 grep -q ready "$T/memfd.out"
sigs=0 ok=0
for _ in $(seq 200); do
	bash -c '"$0" stat "$1" >/dev/null 2>&1' "$ZC_BIN" "$mpid" 2>/dev/null; rc=$?
	[ $rc -gt 128 ] && sigs=$((sigs + 1))
	[ $rc -eq 0 ] && ok=$((ok + 1))
done
kill "$mpid" 2>/dev/null; wait "$mpid" 2>/dev/null
echo "stat on a shrinking memfd: 200 runs, $ok read counters, $sigs killed by a signal"
check stat-shrinking-memfd-no-signal [ "$sigs" -eq 0 ]
check stat-shrinking-memfd-still-reads [ "$ok" -gt 0 ]
