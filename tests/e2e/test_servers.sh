#!/usr/bin/env bash
# test_servers.sh — real, unmodified servers under the shim serving a 64 MiB file to curl:
# nginx (`sendfile off`, workers drop privileges to nobody), python3 -m http.server, Apache 2.4
# (Debian's defaults: EnableSendfile Off, EnableMMAP On: mmap + writev), vsftpd (use_sendfile=NO,
# anonymous: chrooted sessions as ftp) and lighttpd (network-backend "write"). Every download is checked by sha256 against the file, and each server
# is also run without the shim (baseline); the per-process stats files prove the copy loop was
# rewritten (or, for a file the worker may not lease under lease=require, that it was not, and why).
# Besides one plain download, each server gets concurrent downloads (nginx: two workers; python:
# ThreadingHTTPServer threads) and a rate-limited one that fills the socket buffer, so the
# non-blocking servers meet EAGAIN and partial writes under the shim. nginx also has its file
# modified in place during a download (lease break). Last, the launcher `zcshim run --stats` on
# python and on nginx (workers as nobody).
#
# Thresholds: eager mode guards (and so rewrites) only reads of at least guard_min_bytes (64K by
# default, zcshim.conf) and transfers of at least min_bytes_tcp, and a source's first chunk is on
# probation. nginx reads 32K and lighttpd 16K, so with the defaults they are not rewritten
# (fb_small), and the defaults are tuned for CPU cost and may move. So the default-config runs
# check the bytes and that the reason is visible, and the rewrite runs pin both thresholds to
# 16K ($PIN) to exercise the rewrite path of every server whatever the defaults are.
#
# Copy paths seen with strace on this machine (Debian 12), without the shim:
#   nginx 1.22.1 `sendfile off`: pread64(file, 32K) then writev(sock, [hdr,] 32K), non-blocking.
#   /usr/bin/python3 (3.11) -m http.server: read(file, 64K) into a new bytes object then
#     sendto(sock, 64K) (shutil.copyfileobj + socket.sendall), blocking; it never calls sendfile,
#     so the shim has the whole copy loop to rewrite and the test asserts that. It ignores Range.
#   lighttpd 1.4.69 network-backend "write" (accepted by `lighttpd -tt`): header by writev, then
#     pread64(file, 16K) + write(sock, 16K) from a stack buffer, non-blocking.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.lib.sh"

PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
T=$ZC_TMP
SIZE=$((64 << 20))
MIB=$((1 << 20))
RANGE_LEN=$((2000000 - 1000 + 1)) # curl -r 1000-2000000, inclusive
PIN="ZCSHIM_GUARD_MIN_BYTES=16384 ZCSHIM_MIN_BYTES_TCP=16384" # split on purpose where used
# Workers running as nobody must reach the served files and write their stats files.
chmod 755 "$T"

# shim_env DIR LEASE : the environment settings for a run under the shim
shim_env() { echo "LD_PRELOAD=$ZC_LIB ZCSHIM_MODE=eager ZCSHIM_STATS_FILE=$1/%p.json ZCSHIM_LEASE=$2"; }
# sum COUNTER : the counter summed over the processes of the last run
sum() { stat_sum "$stats/*.json" "$1"; }
# info NAME : one line with the counters that matter, summed over the processes of the last run
info() {
	local c line="  info: $1: files=$(ls "$stats" 2>/dev/null | wc -l)"
	for c in rw_sendfile rw_sendfile_bytes bytes_passthrough bytes_from_buffer lease_granted \
		lease_denied lease_broken fb_lease_denied fb_lease_broken fb_no_record fb_dirty fb_small fb_multi_writer \
		fb_mixed fb_no_interior fb_stack_buffer fb_probation fb_kernel_other; do
		line+=" $c=$(sum $c)"
	done
	echo "$line"
}
sha() { sha256sum <"$1" | cut -d' ' -f1; }
# default_of KEY : the built-in default of a configuration key (zcshim check-config, no file)
default_of() { ZCSHIM_CONF=/dev/null "$ZC_BIN" check-config 2>/dev/null | awk -v k="$1" '$1 == k {print $2}'; }
# check_default_outcome NAME READ-SIZE : with the default settings a server reading READ-SIZE
# chunks is either below a threshold (nothing rewritten, fb_small counted) or above both (every
# body rewritten but for small tails): exactly one of the two, decided from the defaults
check_default_outcome() {
	if [ "$2" -lt "$(default_of guard_min_bytes)" ] || [ "$2" -lt "$(default_of min_bytes_tcp)" ]; then
		check "$1-below-threshold-not-rewritten" test "$(sum rw_sendfile_bytes)" -eq 0
		check "$1-below-threshold-fb-small" test "$(sum fb_small)" -gt 0
	else
		check "$1-above-threshold-rewritten" test "$(sum rw_sendfile_bytes)" -ge $((dl_full * (SIZE - MIB)))
	fi
}

# downloads PORT FILE OUT RANGE [SCHEME] : the downloads of one run (http, or ftp), every one bounded in time. OUT.full:
# the whole file; OUT.range (if RANGE=1): bytes 1000-2000000; OUT.par1..3: three at once, and
# with them OUT.slow, read at 48 MiB/s so the server's socket buffer fills (EAGAIN, partial
# writes). Sets $dl_ok (all curls succeeded) and $dl_full (whole-file bodies served).
downloads() {
	local url=${5:-http}://127.0.0.1:$1/$2 out=$3 pids=() p k
	dl_ok=1 dl_full=5
	curl -sS --fail --max-time 60 -o "$out.full" "$url" || dl_ok=0
	if [ "$4" = 1 ]; then curl -sS --fail --max-time 60 -r 1000-2000000 -o "$out.range" "$url" || dl_ok=0; fi
	for k in 1 2 3; do
		curl -sS --fail --max-time 60 -o "$out.par$k" "$url" &
		pids+=($!)
	done
	curl -sS --fail --max-time 60 --limit-rate 48M -o "$out.slow" "$url" &
	pids+=($!)
	for p in "${pids[@]}"; do wait "$p" || dl_ok=0; done
}
# check_bodies NAME OUT RANGE : every body of a run() equals the file (and the range its bytes)
check_bodies() {
	local f bad=
	for f in full par1 par2 par3 slow; do [ "$(sha "$2.$f" 2>/dev/null)" = "$REF" ] || bad+=" $f"; done
	check "$1-sha256" test -z "$bad" -a "$run_ok" = 1 -a "$dl_ok" = 1
	[ -n "$bad" ] && echo "  $1: bodies differing from the file:$bad"
	if [ "$3" = 1 ]; then check "$1-range" test "$(sha "$2.range" 2>/dev/null)" = "$RANGE_REF"; fi
}

# fetch_run KIND NAME LOG STOPSIG FILE RANGE SCHEME PORT ENV... -- CMD... : starts CMD with the ENV
# settings, runs the downloads of FILE into $T/NAME.* once PORT answers, stops it with STOPSIG.
# Sets $run_ok and $dl_ok.
fetch_run() {
	local kind=$1 name=$2 log=$3 sig=$4 file=$5 range=$6 scheme=$7 port=$8 envs=()
	shift 8
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	start_bg "$log" "${envs[@]}" -- "$@"
	local pid=$bg_pid
	run_ok=1 dl_ok=0
	if ! wait_port "$port" "$pid"; then
		run_ok=0
		echo "  $kind $name did not start: $(tail -3 "$log" ${errlog:+"$errlog"} 2>/dev/null)"
	else
		downloads "$port" "$file" "$T/$name" "$range" "$scheme"
		# vsftpd's sessions end (and write their counters) after curl has its bytes
		[ "$scheme" = ftp ] && sleep 0.5
	fi
	stop_bg "$pid" "$sig" || { run_ok=0; echo "  $kind $name did not stop on SIG$sig"; }
}
# log_clean NAME ERE : no line of the last run's error log matches ERE (the server's error levels)
log_clean() {
	local bad
	bad=$(grep -E "$2" "$errlog")
	check "$1-error-log-clean" test -z "$bad"
	[ -n "$bad" ] && echo "$bad" | head -5 | sed 's/^/  log: /'
}

for x in "$ZC_LIB" "$ZC_BIN"; do [ -e "$x" ] || { fail setup "$x not built"; exit 1; }; done

# ---- the payload ----------------------------------------------------------------------
W=$T/www
mkdir -p "$W"
chmod 755 "$W"
make_file "$W/root.bin" "$SIZE"
chmod 644 "$W/root.bin"
cp "$W/root.bin" "$W/nobody.bin"
chown nobody "$W/nobody.bin"
chmod 644 "$W/nobody.bin"
REF=$(sha "$W/root.bin")
tail -c +1001 "$W/root.bin" | head -c "$RANGE_LEN" >"$T/range.ref"
RANGE_REF=$(sha "$T/range.ref")

# ---- 1. nginx, sendfile off, workers as nobody --------------------------------------------
# nginx_run NAME LEASE|noshim FILE [ENV...] : starts nginx (under the shim with the extra ZCSHIM_*
# settings, unless noshim), runs the downloads of FILE into $T/NAME.*, stops it gracefully
# (SIGQUIT: workers exit normally and write their stats). Sets $run_ok, $stats, $errlog.
nginx_run() {
	local name=$1 lease=$2 file=$3 port d=$T/ng_$1 envs=()
	shift 3
	port=$(free_port)
	nginx_conf "$port" "$d"
	errlog=$d/error.log
	stats=$(stats_dir "$name")
	[ "$lease" != noshim ] && read -ra envs <<<"$(shim_env "$stats" "$lease") $*"
	fetch_run nginx "$name" "$d/stdout" QUIT "$file" 1 http "$port" "${envs[@]}" -- nginx -c "$d/nginx.conf" -p "$d/"
	[ "$lease" != noshim ] && info "nginx-$name"
}
# nginx_log_clean NAME : no [alert]/[crit]/[emerg]/[error] line in the last run's error log
nginx_log_clean() { log_clean "$1" '\[(alert|crit|emerg|error)\]'; }

if ! command -v nginx >/dev/null; then
	fail nginx "nginx not installed"
else
	# (c) baseline without the shim
	nginx_run base noshim root.bin
	check_bodies nginx-baseline "$T/base" 1

	# defaults: 32K reads; bytes identical, and the outcome the defaults imply
	nginx_run def require nobody.bin
	check_bodies nginx-default "$T/def" 1
	nginx_log_clean nginx-default
	check_default_outcome nginx-default 32768

	# (a) a file the worker (nobody) owns: the lease is granted, the copy loop becomes sendfile
	nginx_run own require nobody.bin $PIN
	check_bodies nginx-owned "$T/own" 1
	nginx_log_clean nginx-owned
	check nginx-owned-lease-granted test "$(sum lease_granted)" -gt 0
	check nginx-owned-no-lease-denied test "$(sum fb_lease_denied)" -eq 0
	# every body went through sendfile, but for small tails (allow 1 MiB of slack per body)
	check nginx-owned-rewrite-bytes test "$(sum rw_sendfile_bytes)" -ge $((dl_full * (SIZE - MIB)))

	# (b) root's file, 0644: the worker reads it but may not lease it. lease=require: the denial
	# is counted as such, nothing of that file is rewritten, bytes identical
	nginx_run rootreq require root.bin $PIN
	check_bodies nginx-root-require "$T/rootreq" 1
	nginx_log_clean nginx-root-require
	check nginx-root-require-lease-denied test "$(sum lease_denied)" -gt 0
	check nginx-root-require-fb-lease-denied test "$(sum fb_lease_denied)" -gt 0
	check nginx-root-require-no-rewrite test "$(sum rw_sendfile_bytes)" -eq 0
	# ... keep_cap_lease = on: the workers keep CAP_LEASE alone at their setuid, lease granted
	nginx_run rootkeep require root.bin $PIN ZCSHIM_KEEP_CAP_LEASE=on
	check_bodies nginx-root-keepcap "$T/rootkeep" 1
	nginx_log_clean nginx-root-keepcap
	check nginx-root-keepcap-kept test "$(sum cap_lease_kept)" -gt 0
	check nginx-root-keepcap-no-lease-denied test "$(sum fb_lease_denied)" -eq 0
	check nginx-root-keepcap-rewrite-bytes test "$(sum rw_sendfile_bytes)" -ge $((dl_full * (SIZE - MIB)))
	# ... lease=prefer: rewritten without the lease
	nginx_run rootpref prefer root.bin $PIN
	check_bodies nginx-root-prefer "$T/rootpref" 1
	nginx_log_clean nginx-root-prefer
	check nginx-root-prefer-rewrites test "$(sum rw_sendfile)" -gt 0
	check nginx-root-prefer-rewrite-bytes test "$(sum rw_sendfile_bytes)" -ge $((dl_full * (SIZE - MIB)))
fi

# ---- 1d. nginx: the served file is modified in place during a download (lease break) ---------
# break_run NAME LEASE|noshim : nginx serves mod.bin (owned by nobody: the worker holds a lease)
# to a rate-limited client; meanwhile root patches 4 KiB at 40 MiB in place (dd conv=notrunc:
# its open for writing breaks the lease). The shim must stop rewriting the file and let the
# writer go on within the lease break time; the body keeps its length and every byte outside the
# patch; inside it, each byte is the old or the new one (a local receiver may see either, see
# README "Known limit"); a later download equals the patched file. Sets $brk_ms, $brk_body.
break_run() {
	local name=$1 lease=$2 port d=$T/ng_$1 envs=() c t0
	port=$(free_port)
	nginx_conf "$port" "$d"
	errlog=$d/error.log
	stats=$(stats_dir "$name")
	cp "$W/nobody.bin" "$W/mod.bin"
	chown nobody "$W/mod.bin"
	[ "$lease" != noshim ] && read -ra envs <<<"$(shim_env "$stats" "$lease") $PIN"
	start_bg "$d/stdout" "${envs[@]}" -- nginx -c "$d/nginx.conf" -p "$d/"
	local pid=$bg_pid
	run_ok=1 brk_ms=999999 brk_body=missing
	if ! wait_port "$port" "$pid"; then
		run_ok=0
		echo "  nginx $name did not start: $(tail -n 3 "$errlog" "$d/stdout" 2>/dev/null)"
	else
		curl -sS --fail --max-time 60 --limit-rate 32M -o "$T/$name.slow" "http://127.0.0.1:$port/mod.bin" &
		c=$!
		# the patch goes in mid-download: once the body has passed 8 MiB (generous deadline)
		wait_for 30 eval '[ "$(stat -c %s "$T/$name.slow" 2>/dev/null || echo 0)" -ge $((8 << 20)) ]' ||
			echo "  $name: the download never passed 8 MiB"
		t0=$(date +%s%N)
		timeout 60 dd if="$T/patch" of="$W/mod.bin" bs=4096 seek=$((40 * 256)) count=1 conv=notrunc status=none || run_ok=0
		brk_ms=$((($(date +%s%N) - t0) / 1000000))
		wait "$c" || run_ok=0
		brk_body=$("$PY" - "$T/$name.slow" "$W/nobody.bin" "$W/mod.bin" $((40 << 20)) 4096 <<'PYEOF'
import sys
b, o, n = (open(p, 'rb').read() for p in sys.argv[1:4])
off, ln = int(sys.argv[4]), int(sys.argv[5])
r = slice(off, off + ln)
if len(b) != len(o): print('length %d' % len(b))
elif b[:off] != o[:off] or b[off + ln:] != o[off + ln:]: print('changed-outside-patch')
elif not all(x in (y, z) for x, y, z in zip(b[r], o[r], n[r])): print('foreign-bytes-in-patch')
else: print('old' if b[r] == o[r] else 'new' if b[r] == n[r] else 'mixed')
PYEOF
)
		curl -sS --fail --max-time 60 -o "$T/$name.after" "http://127.0.0.1:$port/mod.bin" || run_ok=0
	fi
	stop_bg "$pid" QUIT || { run_ok=0; echo "  nginx $name did not stop on SIGQUIT"; }
	echo "  info: $name: writer waited ${brk_ms} ms, patch region in the body: $brk_body"
	[ "$lease" != noshim ] && info "nginx-$name"
}
if command -v nginx >/dev/null; then
	head -c 4096 /dev/urandom >"$T/patch"
	BREAK_TIME=$(cat /proc/sys/fs/lease-break-time 2>/dev/null || echo 45)
	for mode in noshim require; do
		n=nginx-break-$mode
		[ $mode = noshim ] && n=nginx-break-baseline
		break_run "brk$mode" "$mode"
		check "$n-ran" test "$run_ok" = 1
		check "$n-body" test "$brk_body" = old -o "$brk_body" = new -o "$brk_body" = mixed
		check "$n-after" test "$(sha "$T/brk$mode.after" 2>/dev/null)" = "$(sha "$W/mod.bin")"
		check "$n-writer-not-stuck" test "$brk_ms" -le $(((BREAK_TIME + 5) * 1000))
		nginx_log_clean "$n"
	done
	check nginx-break-lease-broken test "$(sum lease_broken)" -gt 0
	# the rest of the slow download after the break went out by plain writes: the reason says so
	check nginx-break-fb-lease-broken test "$(sum fb_lease_broken)" -gt 0
	# the later download opened the file anew: leased and rewritten again
	check nginx-break-rewrites test "$(sum rw_sendfile_bytes)" -gt "$SIZE"
	rm -f "$W/mod.bin"
fi

# ---- 2. python3 -m http.server ------------------------------------------------------------
# py_run NAME LEASE|noshim [ENV...] : serves $W with /usr/bin/python3 as root (root owns root.bin,
# so the lease is granted), runs the downloads of root.bin (no Range: python 3.11 ignores it),
# stops it with SIGINT (KeyboardInterrupt, normal exit, stats written)
py_run() {
	local name=$1 lease=$2 port envs=()
	shift 2
	port=$(free_port)
	stats=$(stats_dir "$name")
	errlog=
	[ "$lease" != noshim ] && read -ra envs <<<"$(shim_env "$stats" "$lease") $*"
	fetch_run python "$name" "$T/$name.log" INT root.bin 0 http "$port" "${envs[@]}" -- "$PY" -m http.server -b 127.0.0.1 -d "$W" "$port"
	[ "$lease" != noshim ] && info "python-$name"
}
py_run pybase noshim
check_bodies python-baseline "$T/pybase" 0
py_run pydef require
check_bodies python-default "$T/pydef" 0
# python reads 64K: the outcome the defaults imply
check_default_outcome python-default 65536
py_run py require $PIN
check_bodies python "$T/py" 0
check python-no-traceback eval '! grep -q Traceback "$T/py.log"'
check python-lease-granted test "$(sum lease_granted)" -gt 0
check python-rewrites test "$(sum rw_sendfile)" -gt 0
# 64K chunks, all of them full: the whole of every body goes through sendfile
check python-rewrite-bytes test "$(sum rw_sendfile_bytes)" -ge $((dl_full * (SIZE - MIB)))

# ---- 2b. nginx and python in the default mode (auto) and in deferred mode ---------------------
# The runs above pin eager mode. Here the reads are deferred, with the shipped thresholds: 32K
# (nginx: defer_min_bytes) and 64K (python, a new buffer per chunk) reads of a file the process may lease are not copied, and their writes go out with
# sendfile. Bytes identical, the read copy elided (deferred_reads), and buffers filled by a touch
# rare (neither server looks at what it sends; a write the kernel does not take whole, or one not
# rewritten, reads its pages: seen once in 10295 chunks), at most 1 in 100.
for mode in auto deferred; do
	if command -v nginx >/dev/null; then
		nginx_run "own$mode" require nobody.bin ZCSHIM_MODE=$mode
		check_bodies "nginx-$mode" "$T/own$mode" 1
		nginx_log_clean "nginx-$mode"
		check "nginx-$mode-reads-deferred" test "$(sum deferred_reads)" -gt 0
		check "nginx-$mode-rewrite-bytes" test "$(sum rw_sendfile_bytes)" -ge $((dl_full * (SIZE - MIB)))
		check "nginx-$mode-rarely-touched" test $(($(sum materialized_fault) * 100)) -le "$(sum deferred_reads)"
		echo "  info: nginx-$mode: deferred_reads=$(sum deferred_reads) deferred_bytes=$(sum deferred_bytes) materialized=$(sum materialized) fault_zero=$(sum fault_zero)"
	fi
	py_run "py$mode" require ZCSHIM_MODE=$mode
	check_bodies "python-$mode" "$T/py$mode" 0
	check "python-$mode-no-traceback" eval '! grep -q Traceback "$T/py$mode.log"'
	check "python-$mode-reads-deferred" test "$(sum deferred_reads)" -gt 0
	check "python-$mode-rewrite-bytes" test "$(sum rw_sendfile_bytes)" -ge $((dl_full * (SIZE - MIB)))
	check "python-$mode-rarely-touched" test $(($(sum materialized_fault) * 100)) -le "$(sum deferred_reads)"
	echo "  info: python-$mode: deferred_reads=$(sum deferred_reads) deferred_bytes=$(sum deferred_bytes) materialized=$(sum materialized) fault_zero=$(sum fault_zero)"
done

# ---- 2c. Apache 2.4 as Debian ships it: EnableSendfile Off, EnableMMAP On -------------------------
# Each static file is mapped read-only in pieces of at most 4 MiB and sent with writev(header,
# mapping): no read at all. The shim follows the mappings (mapping.c) and sends from the file.
# mpm_event, the workers as nobody; the default mode. A file the workers own: leased, at least 90%
# of every body moved by the kernel. Root's file under lease = require: denied, counted, not
# rewritten. Stopped with SIGWINCH (graceful-stop: the children exit normally, stats written).
ap_run() {
	local name=$1 lease=$2 file=$3 port d=$T/ap_$1 envs=()
	shift 3
	port=$(free_port)
	errlog=$d/error.log
	apache_conf "$port" "$d" Off
	stats=$(stats_dir "$name")
	[ "$lease" != noshim ] && envs=(LD_PRELOAD="$ZC_LIB" ZCSHIM_STATS_FILE="$stats/%p.json" ZCSHIM_LEASE="$lease" "$@")
	fetch_run apache "$name" "$d/stdout" WINCH "$file" 1 http "$port" "${envs[@]}" -- apache2 -f "$d/httpd.conf" -DFOREGROUND
	if [ "$lease" != noshim ]; then
		info "apache-$name"
		echo "  info: apache-$name: maps_tracked=$(sum maps_tracked) rw_mapped_bytes=$(sum rw_mapped_bytes)"
	fi
}
# ap_log_clean NAME : no error-level line in the last run's error log
ap_log_clean() { log_clean "$1" '\[[a-z_]*:(error|crit|alert|emerg)\]'; }
if ! command -v apache2 >/dev/null; then
	fail apache "apache2 not installed"
else
	ap_run apbase noshim root.bin
	check_bodies apache-baseline "$T/apbase" 1
	ap_run apown require nobody.bin
	check_bodies apache-owned "$T/apown" 1
	ap_log_clean apache-owned
	check apache-owned-maps-followed test "$(sum maps_tracked)" -gt 0
	check apache-owned-lease-granted test "$(sum lease_granted)" -gt 0
	# at least 90% of every whole body went out by sendfile from the mapped file
	check apache-owned-kernel-share test "$(sum rw_mapped_bytes)" -ge $((dl_full * SIZE * 9 / 10))
	ap_run aproot require root.bin
	check_bodies apache-root-require "$T/aproot" 1
	ap_log_clean apache-root-require
	check apache-root-require-fb-lease-denied test "$(sum fb_lease_denied)" -gt 0
	check apache-root-require-no-rewrite test "$(sum rw_mapped_bytes)" -eq 0
fi

# ---- 2d. vsftpd, use_sendfile=NO, anonymous downloads ------------------------------------------
# Each session is a process that chroots to anon_root, drops to the ftp user, forbids new processes
# and threads (RLIMIT_NPROC 0) and ends with _exit: the shim opens what it needs from /proc and the
# stats file before the chroot, starts its threads before the limit, and writes its counters at
# _exit. read(file, 64K) + write(socket): deferred reads, sent with sendfile. Root's file, served
# under lease=require with keep_cap_lease=on (the sessions drop root themselves).
vf_run() {
	local name=$1 lease=$2 port d=$T/vf_$1 envs=()
	shift 2
	port=$(free_port)
	errlog=$d/vsftpd.log
	vsftpd_conf "$port" "$d" NO
	stats=$(stats_dir "$name")
	[ "$lease" != noshim ] && envs=(LD_PRELOAD="$ZC_LIB" ZCSHIM_STATS_FILE="$stats/%p.json" ZCSHIM_LEASE="$lease" "$@")
	fetch_run vsftpd "$name" "$d/stdout" TERM root.bin 1 ftp "$port" "${envs[@]}" -- vsftpd "$d/vsftpd.conf"
	[ "$lease" != noshim ] && info "vsftpd-$name"
}
if ! command -v vsftpd >/dev/null; then
	fail vsftpd "vsftpd not installed"
else
	vf_run vfbase noshim
	check_bodies vsftpd-baseline "$T/vfbase" 1
	vf_run vf require ZCSHIM_KEEP_CAP_LEASE=on
	check_bodies vsftpd "$T/vf" 1
	check vsftpd-lease-kept test "$(sum cap_lease_kept)" -gt 0
	check vsftpd-no-lease-denied test "$(sum fb_lease_denied)" -eq 0
	check vsftpd-reads-deferred test "$(sum deferred_reads)" -gt 0
	check vsftpd-rewrite-bytes test "$(sum rw_sendfile_bytes)" -ge $((dl_full * (SIZE - MIB)))
fi

# ---- 3. lighttpd, network-backend "write" ---------------------------------------------------
# lt_run NAME LEASE|noshim [ENV...] : lighttpd in the foreground as root (under the shim, with the
# extra ZCSHIM_* settings, unless noshim), runs the downloads of root.bin, stops it with SIGINT
# (graceful shutdown, normal exit). Sets $errlog.
lt_run() {
	local name=$1 lease=$2 port d=$T/lt_$1 envs=()
	shift 2
	port=$(free_port)
	errlog=$d/error.log
	lighttpd_conf "$port" "$d" write
	stats=$(stats_dir "$name")
	run_ok=1 dl_ok=0
	if ! lighttpd -tt -f "$d/lighttpd.conf" >"$d/tt.log" 2>&1; then
		run_ok=0
		echo "  lighttpd rejects the config: $(cat "$d/tt.log")"
		return
	fi
	[ "$lease" != noshim ] && read -ra envs <<<"$(shim_env "$stats" "$lease") $*"
	fetch_run lighttpd "$name" "$d/stdout" INT root.bin 1 http "$port" "${envs[@]}" -- lighttpd -D -f "$d/lighttpd.conf"
	[ "$lease" != noshim ] && info "lighttpd-$name"
}
if ! command -v lighttpd >/dev/null; then
	fail lighttpd "lighttpd not installed"
else
	lt_run ltbase noshim
	check_bodies lighttpd-baseline "$T/ltbase" 1
	# lt_log_clean NAME : nothing but start and stop notes in the last run's error log
	lt_log_clean() {
		local bad
		bad=$(grep -v -e 'server started' -e 'graceful shutdown started' -e 'server stopped' "$errlog")
		check "$1-error-log-clean" test -z "$bad"
		[ -n "$bad" ] && echo "$bad" | head -5 | sed 's/^/  log: /'
	}
	# lighttpd's buffer is on the stack, and stack buffers are opt-in (stack_buffers = off by
	# default, see zcshim.conf): with the defaults nothing is rewritten, and the stats say why
	lt_run ltdef require
	check_bodies lighttpd-default "$T/ltdef" 1
	lt_log_clean lighttpd-default
	check lighttpd-default-fb-stack-buffer test "$(sum fb_stack_buffer)" -gt 0
	check lighttpd-default-no-rewrite test "$(sum rw_sendfile_bytes)" -eq 0
	# stack_buffers = on: its pread+write loop becomes sendfile
	lt_run lt require ZCSHIM_STACK_BUFFERS=on $PIN
	check_bodies lighttpd "$T/lt" 1
	lt_log_clean lighttpd
	check lighttpd-lease-granted test "$(sum lease_granted)" -gt 0
	check lighttpd-rewrites test "$(sum rw_sendfile)" -gt 0
	check lighttpd-rewrite-bytes test "$(sum rw_sendfile_bytes)" -ge $((dl_full * (SIZE - MIB)))
fi

# ---- 4. the launcher: zcshim run --stats FILE -- SERVER --------------------------------------
# launcher_run NAME KIND : KIND python or nginx; one whole-file download into $T/NAME.out, the
# launcher's stderr in $T/NAME.err, the summed JSON in $T/NAME.json
launcher_run() {
	local name=$1 kind=$2 port d=$T/lr_$1 file
	port=$(free_port)
	run_ok=1
	if [ "$kind" = nginx ]; then
		nginx_conf "$port" "$d"
		file=nobody.bin
		start_bg "$T/$name.err" $PIN -- "$ZC_BIN" run --stats "$T/$name.json" -- nginx -c "$d/nginx.conf" -p "$d/"
	else
		file=root.bin
		start_bg "$T/$name.err" $PIN -- "$ZC_BIN" run --stats "$T/$name.json" -- "$PY" -m http.server -b 127.0.0.1 -d "$W" "$port"
	fi
	local pid=$bg_pid
	if ! wait_port "$port" "$pid"; then
		run_ok=0
		echo "  launcher $name did not start: $(tail -3 "$T/$name.err")"
	else
		curl -sS --fail --max-time 60 -o "$T/$name.out" "http://127.0.0.1:$port/$file" || run_ok=0
	fi
	# the launcher passes SIGINT on to the program; nginx's master gets SIGQUIT itself (graceful)
	if [ "$kind" = nginx ] && [ -s "$d/nginx.pid" ]; then
		kill -QUIT "$(cat "$d/nginx.pid")" 2>/dev/null
		stop_bg "$pid" CONT || { run_ok=0; echo "  launcher $name did not end"; }
	else
		stop_bg "$pid" INT || { run_ok=0; echo "  launcher $name did not end on SIGINT"; }
	fi
	grep -v -e 'GET /' -e 'Serving HTTP' -e 'Keyboard interrupt' -e '^$' "$T/$name.err" | sed 's/^/  stderr: /'
}
launcher_run lpy python
check launcher-python-sha256 test "$run_ok" = 1 -a "$(sha "$T/lpy.out")" = "$REF"
check launcher-python-summary grep -q "moved by the kernel" "$T/lpy.err"
check launcher-python-json test -s "$T/lpy.json"
check launcher-python-json-processes test "$(stat_get "$T/lpy.json" processes)" -ge 1
check launcher-python-json-rewrite-bytes test "$(stat_get "$T/lpy.json" rw_sendfile_bytes)" -ge $((SIZE - MIB))

if command -v nginx >/dev/null; then
	# workers drop privileges to nobody: their counters must reach the summary too
	launcher_run lng nginx
	check launcher-nginx-sha256 test "$run_ok" = 1 -a "$(sha "$T/lng.out")" = "$REF"
	check launcher-nginx-summary grep -q "moved by the kernel" "$T/lng.err"
	# master + 2 workers
	check launcher-nginx-json-processes test "$(stat_get "$T/lng.json" processes)" -ge 3
	check launcher-nginx-json-rewrite-bytes test "$(stat_get "$T/lng.json" rw_sendfile_bytes)" -ge $((SIZE - MIB))
fi
