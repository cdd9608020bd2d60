#!/usr/bin/env bash
# test_metrics.sh — `zcshim stat --prometheus` and `zcshim systemd-dropin`.
# Metrics: legacy_server runs under the shim and serves a file once over loopback TCP (sendfile
# rewrites), then waits idle for a second connection, so its counters hold still while they are read.
# The output must pass `promtool check metrics` and a checker written from the format's grammar
# (text format 0.0.4) below, carry every counter of shim/stats.h once per process, and agree with
# `zcshim stat PID`. Drop-ins: --user root and --user www-data, a unit read through a stand-in
# systemctl (systemd itself does not run in the test container), a unit systemd cannot be asked
# about, and bad arguments.
#
# ZC_LIB=/path/libzcshim.so tests another build of the library (an empty one must fail the cases
# that need counters).
want_lib=${ZC_LIB:-}
. "$(dirname "$0")/lib.sh"
if [ -n "$want_lib" ]; then
	ZC_LIB=$want_lib
	ZC_PRELOAD=${ZC_PRELOAD_FIRST:+$ZC_PRELOAD_FIRST:}$ZC_LIB
fi
T=$ZC_TMP
P=$ZC_PROGS/legacy_server
if [ ! -x "$ZC_BIN" ] || [ ! -x "$P" ] || [ ! -f "$ZC_LIB" ]; then fail setup "build first: $ZC_BIN / $P / $ZC_LIB missing"; exit 1; fi
command -v promtool >/dev/null || fail promtool-installed "promtool missing (package prometheus: tools/install-deps.sh test)"

# the number of counters, from the header the shim is built from
printf '#include "stats.h"\n#include <stdio.h>\nint main(void) { printf("%%d\\n", (int)ZC_NCOUNTERS); return 0; }\n' >"$T/n.c"
NCOUNTERS=$(cc -I"$ZC_ROOT/shim" -o "$T/n" "$T/n.c" && "$T/n")
check ncounters-known [ "${NCOUNTERS:-0}" -gt 0 ]

# ---- the checker: text format 0.0.4 by its grammar -----------------------------------------------
# check_prom.py FILE: exit 1 with the first violation; else one line per sample on stdout:
# PID <tab> COMM (as Python repr) <tab> NAME{LABELS but pid and comm, sorted} <tab> VALUE
cat >"$T/check_prom.py" <<'EOF'
import re, sys
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LNAME = r'[a-zA-Z_][a-zA-Z0-9_]*'
VALUE = r'(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]Inf|NaN)'
LVAL = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE = re.compile(r'(%s)(?:\{((?:%s=%s)(?:,%s=%s)*,?)?\})?[ \t]+(%s)(?:[ \t]+-?[0-9]+)?$' % (NAME, LNAME, LVAL, LNAME, LVAL, VALUE))
LABEL = re.compile(r'(%s)=(%s)' % (LNAME, LVAL))
def die(n, why): sys.exit('line %d: %s' % (n, why))
def unescape(v): return re.sub(r'\\(.)', lambda m: {'n': '\n'}.get(m.group(1), m.group(1)), v[1:-1])
data = open(sys.argv[1], 'rb').read()
try: text = data.decode('utf-8')
except UnicodeDecodeError as e: sys.exit('not UTF-8: %s' % e)
if text and not text.endswith('\n'): sys.exit('the last line has no newline')
help_, type_, done, series, current = {}, {}, set(), set(), None
for n, line in enumerate(text.split('\n')[:-1], 1):
    if not line.strip(): continue
    m = re.match(r'#[ \t]+(HELP|TYPE)[ \t]+(%s)(?:[ \t]+(.*))?$' % NAME, line)
    if m:
        kind, name, rest = m.group(1), m.group(2), m.group(3) or ''
        table = help_ if kind == 'HELP' else type_
        if name in table: die(n, 'second %s for %s' % (kind, name))
        if kind == 'TYPE':
            if rest not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'): die(n, 'bad type %r' % rest)
            if any(s[0] == name for s in series): die(n, 'TYPE for %s after its samples' % name)
        elif not re.fullmatch(r'(?:[^\\]|\\\\|\\n)*', rest): die(n, 'bad escape in HELP of %s' % name)
        table[name] = rest
        if name in done: die(n, '%s appears in two groups' % name)
        if current and current != name: done.add(current)
        current = name
        continue
    if line.startswith('#'): continue
    m = SAMPLE.match(line)
    if not m: die(n, 'not a sample: %r' % line)
    name, labels, value = m.group(1), m.group(2) or '', m.group(3)
    if name in done: die(n, '%s appears in two groups' % name)
    if current and current != name: done.add(current)
    current = name
    pairs = [(k, unescape(v)) for k, v in LABEL.findall(labels)]
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys): die(n, 'a label twice')
    if any(k.startswith('__') for k in keys): die(n, 'reserved label name')
    key = (name, tuple(sorted(pairs)))
    if key in series: die(n, 'duplicate series %s' % line)
    series.add(key)
    if type_.get(name) == 'counter' and float(value) < 0: die(n, 'negative counter')
    d = dict(pairs)
    rest = ','.join('%s=%s' % kv for kv in sorted(pairs) if kv[0] not in ('pid', 'comm'))
    print('%s\t%r\t%s{%s}\t%s' % (d.get('pid', ''), d.get('comm', ''), name, rest, value))
for name in set(s[0] for s in series):
    if name not in help_ or name not in type_: sys.exit('%s has no HELP or no TYPE line' % name)
EOF
# parses FILE: promtool and the checker both accept it; the samples go to FILE.rows
parses() {
	[ -s "$1" ] || { echo "$1 is empty"; return 1; }
	promtool check metrics <"$1" >"$1.promtool" 2>&1 || { cat "$1.promtool"; return 1; }
	python3 "$T/check_prom.py" "$1" >"$1.rows"
}
# val ROWS PID SERIES: the value of one series of one process ("" if absent)
val() { awk -F'\t' -v p="$2" -v s="$3" '$1 == p && $3 == s { print $4 }' "$1"; }
# nseries ROWS PID: how many distinct series one process has
nseries() { awk -F'\t' -v p="$2" '$1 == p { print $3 }' "$1" | sort -u | wc -l; }
# statv PID COUNTER: a counter as `zcshim stat PID` shows it (0 when not shown: it is zero)
statv() { local v; v=$("$ZC_BIN" stat "$1" 2>/dev/null | sed -n "s/^ *$2 *\([0-9]*\)$/\1/p"); echo "${v:-0}"; }

# ---- servers under the shim --------------------------------------------------------------------
SIZE=$((8 * 1048576))
make_file "$T/src" $SIZE
# serve NAME: legacy_server under the shim, serves one connection, then idles (--conns 2); sets spid
serve() {
	LD_PRELOAD=$ZC_PRELOAD "$P" --file "$T/src" --port 0 --conns 2 >"$T/$1.port" 2>"$T/$1.err" &
	spid=$!
	wait_for 10 grep -q '^port ' "$T/$1.port" || return 1
	python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "wb") as f:
    while True:
        b = s.recv(1 << 20)
        if not b: break
        f.write(b)' "$(awk '{print $2}' "$T/$1.port")" "$T/$1.out"
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
serve a; pa=$spid
serve b; pb=$spid
check served-the-file cmp -s "$T/src" "$T/a.out"

# ---- one named process ---------------------------------------------------------------------------
"$ZC_BIN" stat --prometheus "$pa" >"$T/a.prom" 2>"$T/a.prom.err"; rc=$?
check prom-one-pid-exit-0 [ $rc -eq 0 ]
check prom-one-pid-parses parses "$T/a.prom"
touch "$T/a.prom.rows"
check prom-pid-and-comm-labels grep -q "^$pa	'legacy_server'	zcshim_bytes_total{method=sendfile}	" "$T/a.prom.rows"
# the transfer was rewritten, and the exposition says what `zcshim stat PID` says
sf=$(val "$T/a.prom.rows" "$pa" 'zcshim_bytes_total{method=sendfile}')
begin prom-bytes-match-stat
need "sendfile bytes ${sf:-none} > 0" [ "${sf:-0}" -gt 0 ]
need "bytes sendfile ${sf:-none} = rw_sendfile_bytes" eq "${sf:--1}" "$(statv "$pa" rw_sendfile_bytes)"
need "rewrites sendfile = rw_sendfile" eq "$(val "$T/a.prom.rows" "$pa" 'zcshim_rewrites_total{method=sendfile}')" "$(statv "$pa" rw_sendfile)"
need "bytes passthrough = bytes_passthrough" eq "$(val "$T/a.prom.rows" "$pa" 'zcshim_bytes_total{method=passthrough}')" "$(statv "$pa" bytes_passthrough)"
need "calls read = calls_read" eq "$(val "$T/a.prom.rows" "$pa" 'zcshim_calls_total{call=read}')" "$(statv "$pa" calls_read)"
end
# every byte written is in one method of zcshim_bytes_total
total=$(awk -F'\t' -v p="$pa" '$1 == p && $3 ~ /^zcshim_bytes_total[{]/ { s += $4 } END { print s + 0 }' "$T/a.prom.rows")
check prom-bytes-sum-to-the-file [ "$total" -eq $SIZE ]
n=$(nseries "$T/a.prom.rows" "$pa")
check prom-every-counter-exported [ "$n" -eq "${NCOUNTERS:-0}" ]
echo "pid $pa: $n series for $NCOUNTERS counters, sendfile bytes ${sf:-none} of $SIZE"

# ---- every process, and two named ------------------------------------------------------------------
"$ZC_BIN" stat --prometheus >"$T/all.prom" 2>"$T/all.err"; rc=$?
check prom-all-exit-0 [ $rc -eq 0 ]
check prom-all-parses parses "$T/all.prom"
touch "$T/all.prom.rows"
# whole ROWS PID: the process has a series for every counter
whole() { [ "$(nseries "$1" "$2")" -eq "${NCOUNTERS:-0}" ]; }
both() { whole "$T/all.prom.rows" "$pa" && whole "$T/all.prom.rows" "$pb"; }
check prom-all-lists-both both
check prom-all-one-help-per-family bash -c "! grep '^# HELP ' '$T/all.prom' | sort | uniq -d | grep -q ."
"$ZC_BIN" stat --prometheus "$pa" "$pb" "$pa" >"$T/two.prom" 2>/dev/null; rc=$?
check prom-two-pids-exit-0 [ $rc -eq 0 ]
check prom-two-pids-parse parses "$T/two.prom"
touch "$T/two.prom.rows"
check prom-two-pids-distinct-labels [ "$(cut -f1 "$T/two.prom.rows" | sort -u | tr '\n' ' ')" = "$(printf '%s\n' "$pa" "$pb" | sort | tr '\n' ' ')" ]

# ---- a process not under the shim: one line, exit 1, the readable one still printed ----------------
sleep 30 & plain=$!
"$ZC_BIN" stat --prometheus "$plain" >"$T/plain.prom" 2>"$T/plain.err"; rc=$?
check prom-not-under-shim-exit-1 [ $rc -eq 1 ]
check prom-not-under-shim-one-line bash -c "[ \$(wc -l <'$T/plain.err') -eq 1 ] && grep -q 'pid $plain: it does not run under the shim' '$T/plain.err'"
check prom-not-under-shim-prints-nothing [ ! -s "$T/plain.prom" ]
"$ZC_BIN" stat --prometheus "$pa" "$plain" >"$T/mixed.prom" 2>"$T/mixed.err"; rc=$?
check prom-mixed-exit-1 [ $rc -eq 1 ]
parses "$T/mixed.prom" >/dev/null 2>&1; touch "$T/mixed.prom.rows"
check prom-mixed-readable-printed whole "$T/mixed.prom.rows" "$pa"
stop $plain
"$ZC_BIN" stat --prometheus abc >/dev/null 2>"$T/bad.err"; rc=$?
check prom-bad-pid-exit-2 bash -c "[ $rc -eq 2 ] && grep -q '^usage: ' '$T/bad.err'"
"$ZC_BIN" stat --prometheus --watch 1 "$pa" >/dev/null 2>&1
check prom-with-watch-exit-2 [ $? -eq 2 ]

# ---- a name that needs escaping: quote, backslash, newline and a byte that is not UTF-8 ------------
LD_PRELOAD=$ZC_PRELOAD python3 -c 'import time
open("/proc/self/comm", "wb").write(b"a\"b\\c\nd\xff")
time.sleep(30)' & pe=$!
named_odd() { grep -q 'a"b' "/proc/$pe/comm" 2>/dev/null; }
wait_for 10 named_odd
"$ZC_BIN" stat --prometheus "$pe" >"$T/odd.prom" 2>/dev/null
check prom-odd-comm-parses parses "$T/odd.prom"
touch "$T/odd.prom.rows"
check prom-odd-comm-escaped grep -qF "comm=\"a\\\"b\\\\c\\nd$(printf '\xef\xbf\xbd')\"" "$T/odd.prom"
check prom-odd-comm-round-trip grep -qF "'a\"b\\\\c\\nd$(printf '\xef\xbf\xbd')'" "$T/odd.prom.rows"
stop $pe
stop $pa; stop $pb

# ---- systemd-dropin ----------------------------------------------------------------------------------
lib=$(realpath "$ZC_BUILD/libzcshim.so")
"$ZC_BIN" systemd-dropin --user root nginx.service >"$T/root.conf" 2>"$T/root.err"; rc=$?
check dropin-root-exit-0 [ $rc -eq 0 ]
check dropin-root-preload grep -qx "Environment=LD_PRELOAD=$lib" "$T/root.conf"
check dropin-root-keep-cap-lease grep -qx "Environment=ZCSHIM_KEEP_CAP_LEASE=on" "$T/root.conf"
check dropin-root-no-ambient bash -c "! grep -q '^AmbientCapabilities' '$T/root.conf'"
check dropin-says-where grep -q "/etc/systemd/system/nginx.service.d/zcshim.conf" "$T/root.conf"
check dropin-says-reload grep -q "systemctl daemon-reload && systemctl restart nginx.service" "$T/root.conf"
check dropin-service-section bash -c "[ \"\$(grep -v '^#' '$T/root.conf' | head -1)\" = '[Service]' ]"
# the key it sets is one the shim reads from the environment
: >"$T/empty.conf"
check dropin-key-is-config bash -c "ZCSHIM_KEEP_CAP_LEASE=on '$ZC_BIN' check-config '$T/empty.conf' | grep -q '^keep_cap_lease  *on  *environment'"
"$ZC_BIN" systemd-dropin --user www-data nginx >"$T/www.conf" 2>&1; rc=$?
check dropin-user-exit-0 [ $rc -eq 0 ]
check dropin-user-ambient grep -qx "AmbientCapabilities=CAP_LEASE" "$T/www.conf"
check dropin-user-no-keep-cap-lease bash -c "! grep -q '^Environment=ZCSHIM_KEEP_CAP_LEASE' '$T/www.conf'"
check dropin-adds-service-suffix grep -q "/etc/systemd/system/nginx.service.d/zcshim.conf" "$T/www.conf"
# without systemd's word on the bounding set, no CapabilityBoundingSet= line (it would replace the default)
check dropin-unknown-bounding-only-a-comment bash -c "! grep -q '^CapabilityBoundingSet' '$T/www.conf' && grep -q '^# If the unit sets CapabilityBoundingSet=' '$T/www.conf'"
check dropin-never-setcap bash -c "! grep -qi 'setcap' '$T/root.conf' '$T/www.conf'"
# the library it names loads and keeps its counters in a process
LD_PRELOAD=$(sed -n 's/^Environment=LD_PRELOAD=//p' "$T/www.conf") sleep 5 & ps5=$!
has_memfd() { ls -l "/proc/$ps5/fd" 2>/dev/null | grep -q "memfd:zcshim-stats"; }
check dropin-library-is-the-shim wait_for 5 has_memfd
stop $ps5

# a stand-in systemctl, since systemd does not run here: answers `show` from $FAKE_SHOW, logs its argv
mkdir -p "$T/fake"
cat >"$T/fake/systemctl" <<'EOF'
#!/bin/sh
echo "$*" >>"$FAKE_LOG"
cat "$FAKE_SHOW"
EOF
chmod +x "$T/fake/systemctl"
# show NAME LOADSTATE USER AMBIENT BOUNDING: what the stand-in answers for the next run
show() { printf 'LoadState=%s\nUser=%s\nDynamicUser=no\nAmbientCapabilities=%s\nCapabilityBoundingSet=%s\n' "$2" "$3" "$4" "$5" >"$T/$1.show"; }
dropin() { local n=$1; shift; FAKE_SHOW=$T/$n.show FAKE_LOG=$T/fake.log PATH=$T/fake:$PATH "$ZC_BIN" systemd-dropin "$@" >"$T/$n.conf" 2>"$T/$n.err"; }
all_caps="cap_chown cap_dac_override cap_setuid cap_net_bind_service cap_lease cap_sys_admin"
show sd-user loaded www-data "" "$all_caps"
dropin sd-user web; rc=$?
check dropin-systemd-user-exit-0 [ $rc -eq 0 ]
check dropin-systemd-user-ambient grep -qx "AmbientCapabilities=CAP_LEASE" "$T/sd-user.conf"
check dropin-systemd-full-bounding-untouched bash -c "! grep -q '^CapabilityBoundingSet' '$T/sd-user.conf'"
check dropin-systemd-asked-for-the-unit grep -q -- "show .*-p User .*-p CapabilityBoundingSet -- web.service" "$T/fake.log"
show sd-restricted loaded www-data "" "cap_net_bind_service"
dropin sd-restricted web.service
check dropin-systemd-restricted-bounding-gets-lease bash -c "grep -qx 'CapabilityBoundingSet=CAP_LEASE' '$T/sd-restricted.conf' && grep -qx 'AmbientCapabilities=CAP_LEASE' '$T/sd-restricted.conf'"
show sd-root loaded "" "" "$all_caps"
dropin sd-root nginx.service
check dropin-systemd-root-keep-cap-lease bash -c "grep -qx 'Environment=ZCSHIM_KEEP_CAP_LEASE=on' '$T/sd-root.conf' && ! grep -q '^AmbientCapabilities' '$T/sd-root.conf'"
dropin sd-root nginx.service --user www-data
check dropin-user-overrides-systemd grep -qx "AmbientCapabilities=CAP_LEASE" "$T/sd-root.conf"
show sd-missing not-found "" "" "$all_caps"
dropin sd-missing nosuch.service; rc=$?
check dropin-systemd-unknown-unit-exit-1 bash -c "[ $rc -eq 1 ] && grep -q 'systemd has no unit nosuch.service' '$T/sd-missing.err'"

# no systemctl at all (and no --user): one line, exit 1
mkdir -p "$T/empty"
PATH=$T/empty "$ZC_BIN" systemd-dropin nosuch.service >"$T/nosd.conf" 2>"$T/nosd.err"; rc=$?
check dropin-no-systemctl-exit-1 bash -c "[ $rc -eq 1 ] && [ \$(wc -l <'$T/nosd.err') -eq 1 ] && grep -q -- '--user NAME' '$T/nosd.err' && [ ! -s '$T/nosd.conf' ]"
# this machine's own systemctl: usable only where systemd runs (not in the test container)
if systemctl show -p User -- zcshim-no-such-unit.service >/dev/null 2>&1; then
	"$ZC_BIN" systemd-dropin zcshim-no-such-unit.service >/dev/null 2>"$T/real.err"; rc=$?
	check dropin-real-systemd-unknown-unit bash -c "[ $rc -eq 1 ] && grep -q 'systemd has no unit' '$T/real.err'"
else
	echo "systemd is not running here: units are read through the stand-in systemctl above"
	"$ZC_BIN" systemd-dropin zcshim-no-such-unit.service >/dev/null 2>"$T/real.err"; rc=$?
	check dropin-real-systemctl-unusable bash -c "[ $rc -eq 1 ] && grep -q 'cannot ask systemd' '$T/real.err'"
fi

# bad arguments: the usage line, exit 2
bad() { "$ZC_BIN" systemd-dropin "$@" >/dev/null 2>"$T/usage.err"; [ $? -eq 2 ] && grep -q '^usage: zcshim systemd-dropin' "$T/usage.err"; }
check dropin-no-unit-exit-2 bad
check dropin-two-units-exit-2 bad a.service b.service
check dropin-user-without-name-exit-2 bad nginx.service --user
check dropin-unit-with-slash-exit-2 bad ../etc/passwd
check dropin-unit-with-newline-exit-2 bad $'nginx\n[Service]'
check dropin-empty-user-exit-2 bad --user "" nginx.service
check dropin-bad-option-exit-2 bad --bogus nginx.service
