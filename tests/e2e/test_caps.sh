#!/usr/bin/env bash
# test_caps.sh — issue 10, item 2: keep_cap_lease. A root process that drops to nobody (65534) keeps
# CAP_LEASE alone, and nothing else, when keep_cap_lease = on; with it off (the default) nothing
# changes. tests/progs/dropcaps prints its thread's /proc/self/status capability lines after the
# drop and tries F_SETLEASE F_RDLCK on a root-owned 0644 file. Every case is compared with the same
# run without the shim: same return values and errno of the set*uid calls, same bounding set.
# Cases: base and off (leases denied, nothing kept); on with setuid, setresuid, setreuid; seteuid
# (a temporary drop: permitted untouched, root gets everything back); a root master forking a
# worker that drops (nginx's way) with the shim's own copy loop under lease = require and a writer
# of the file released within 1 s; a second thread during the drop (loses everything, counted); the
# config file, `zcshim run --keep-cap-lease` and check-config; a bad value (one line, runs as off).
. "$(dirname "$0")/lib.sh"

P=$ZC_PROGS/dropcaps
T=$ZC_TMP
for p in "$P" "$ZC_LIB" "$ZC_BIN"; do [ -f "$p" ] || { fail setup "build first: $p missing"; exit 1; }; done
if [ "$(id -u)" -ne 0 ]; then
	skip caps "needs root (a root process dropping its privileges is the case under test)"
	exit 0
fi
LEASE_ONLY=0000000010000000 # CAP_LEASE is bit 28
NONE=0000000000000000
chmod 755 "$T"
make_file "$T/src" $((4 * 1048576))
chmod 644 "$T/src" # root's, readable by nobody: a lease needs CAP_LEASE
mkdir -m 1733 "$T/st" # nobody leaves its stats (and hold) files here; each created 0600
LOW=(ZCSHIM_MIN_BYTES_PIPE=4096 ZCSHIM_LEASE=require)

# dc NAME base|shim [ENV...] -- ARGS... : dropcaps ARGS $T/src, stdout through a pipe into NAME.out;
# NAME.err (its report), NAME.rc; stats in st/NAME.PID.json
dc() {
	local n=$1 v=$2 envs=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local pre=()
	[ "$v" = shim ] && pre=(env "${envs[@]}" ZCSHIM_STATS_FILE="$T/st/$n.%p.json" LD_PRELOAD="$ZC_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}")
	timeout 60 "${pre[@]}" "$P" "$@" "$T/src" 2>"$T/$n.err" | cat >"$T/$n.out"
	echo "${PIPESTATUS[0]}" >"$T/$n.rc"
}
# val NAME LINE : the value after "LINE:" in NAME.err ("CapEff", "thread CapPrm", "lease", "drop")
val() { awk -v k="$2:" 'index($0, k) == 1 { sub(/^[^:]*:[ \t]*/, ""); print; exit }' "$T/$1.err"; }
# calls NAME : the lines reporting the set*uid calls' results (rc and errno) and keepcaps after them
calls() { grep -E '^(drop|keepcaps|again):' "$T/$1.err"; }
st() { stat_sum "$T/st/$1.*.json" "$2"; }

# kept NAME [BASE] : the worker kept CAP_LEASE alone, got its lease, and every call returned as in BASE
kept() {
	local n=$1 b=${2:-base}
	need "exit $(cat "$T/$n.rc")" eq "$(cat "$T/$n.rc")" 0
	need "CapPrm $(val "$n" CapPrm), want $LEASE_ONLY" [ "$(val "$n" CapPrm)" = $LEASE_ONLY ]
	need "CapEff $(val "$n" CapEff), want $LEASE_ONLY" [ "$(val "$n" CapEff)" = $LEASE_ONLY ]
	need "CapInh $(val "$n" CapInh), want $NONE" [ "$(val "$n" CapInh)" = $NONE ]
	need "CapAmb $(val "$n" CapAmb), want $NONE" [ "$(val "$n" CapAmb)" = $NONE ]
	need "CapBnd $(val "$n" CapBnd), want the base run's $(val "$b" CapBnd)" [ "$(val "$n" CapBnd)" = "$(val "$b" CapBnd)" ]
	need "lease: $(val "$n" lease), want granted" [ "$(val "$n" lease)" = granted ]
	need "unlock: $(val "$n" unlock), want ok" [ "$(val "$n" unlock)" = ok ]
	need "return values and errno differ from the base run: $(calls "$n" | tr '\n' ' ')" [ "$(calls "$n")" = "$(calls "$b")" ]
	need "cap_lease_kept $(st "$n" cap_lease_kept), want 1" eq "$(st "$n" cap_lease_kept)" 1
}
# dropped NAME : nothing kept: as the kernel does it without the shim
dropped() {
	local n=$1
	need "exit $(cat "$T/$n.rc")" eq "$(cat "$T/$n.rc")" 0
	need "CapPrm $(val "$n" CapPrm), want $NONE" [ "$(val "$n" CapPrm)" = $NONE ]
	need "CapEff $(val "$n" CapEff), want $NONE" [ "$(val "$n" CapEff)" = $NONE ]
	need "lease: $(val "$n" lease), want denied" grep -q '^lease: denied' "$T/$n.err"
}

# ---- without the shim, and with keep_cap_lease off (the default) -------------------------------
dc base base --
begin base-drop-loses-every-capability
dropped base
need "drop: $(val base drop), want 'rc 0 errno 25' (errno untouched)" [ "$(val base drop)" = "rc 0 errno 25" ]
need "again: $(val base again), want 'rc -1 errno 1'" [ "$(val base again)" = "rc -1 errno 1" ]
need "keepcaps: $(val base keepcaps), want 0" [ "$(val base keepcaps)" = 0 ]
end

dc off shim --
begin off-changes-nothing
dropped off
need "report differs from the base run" cmp -s "$T/base.err" "$T/off.err"
need "cap_lease_kept $(st off cap_lease_kept), want 0" eq "$(st off cap_lease_kept)" 0
end

# ---- on: setuid, setresuid, setreuid -------------------------------------------------------------
for via in setuid setresuid setreuid; do
	dc "base.$via" base -- --via $via
	dc "on.$via" shim ZCSHIM_KEEP_CAP_LEASE=on -- --via $via
	begin "on-$via-keeps-cap-lease-alone"
	kept "on.$via" "base.$via"
	need "cap_lease_failed $(st "on.$via" cap_lease_failed), want 0" eq "$(st "on.$via" cap_lease_failed)" 0
	end
done

# ---- on: seteuid, a temporary drop: permitted stays whole, effective holds CAP_LEASE only --------
dc base.seteuid base -- --via seteuid
dc on.seteuid shim ZCSHIM_KEEP_CAP_LEASE=on -- --via seteuid
begin on-seteuid-temporary-drop
need "CapPrm $(val on.seteuid CapPrm), want the base run's $(val base.seteuid CapPrm)" [ "$(val on.seteuid CapPrm)" = "$(val base.seteuid CapPrm)" ]
need "base CapEff $(val base.seteuid CapEff), want $NONE" [ "$(val base.seteuid CapEff)" = $NONE ]
need "CapEff $(val on.seteuid CapEff), want $LEASE_ONLY" [ "$(val on.seteuid CapEff)" = $LEASE_ONLY ]
need "lease: $(val on.seteuid lease), want granted" [ "$(val on.seteuid lease)" = granted ]
need "back at root CapEff $(val on.seteuid 'back CapEff'), want $(val base.seteuid 'back CapEff')" \
	[ "$(val on.seteuid 'back CapEff')" = "$(val base.seteuid 'back CapEff')" ]
need "return values and errno differ from the base run" [ "$(calls on.seteuid)" = "$(calls base.seteuid)" ]
end

# ---- nginx's way: a root master forks a worker that drops, then serves root's file ---------------
# writer_ms PATH: milliseconds another process's open(O_RDWR) of PATH took
writer_ms() { python3 -c 'import os,sys,time; t=time.monotonic(); os.close(os.open(sys.argv[1], os.O_RDWR)); print(int((time.monotonic()-t)*1000))' "$1"; }
# master NAME base|shim [ENV...] : dropcaps --fork --copy [$MASTER_ARGS] --hold; a writer opens the source while the
# worker still holds it open (and the shim its lease); NAME.ms
master() {
	local n=$1 v=$2
	shift 2
	rm -f "$T/st/$n.hold"
	dc "$n" "$v" "$@" -- --fork --copy ${MASTER_ARGS:-} --hold "$T/st/$n.hold" &
	local bg=$!
	if wait_for 30 test -e "$T/st/$n.hold"; then
		timeout 50 bash -c "$(declare -f writer_ms); writer_ms '$T/src'" >"$T/$n.ms" || echo 99999 >"$T/$n.ms"
	else
		echo 99999 >"$T/$n.ms"
	fi
	rm -f "$T/st/$n.hold"
	wait $bg
}
master base.fork base
master off.fork shim "${LOW[@]}"
master on.fork shim "${LOW[@]}" ZCSHIM_KEEP_CAP_LEASE=on
begin fork-worker-off-leases-denied
dropped off.fork
need "bytes differ" cmp -s "$T/src" "$T/off.fork.out"
need "lease_denied $(st off.fork lease_denied), want >= 1" ge "$(st off.fork lease_denied)" 1
need "rw_splice $(st off.fork rw_splice), want 0 (lease = require)" eq "$(st off.fork rw_splice)" 0
end
begin fork-worker-on-keeps-cap-lease-and-is-rewritten
kept on.fork base.fork
need "master CapEff $(val on.fork 'master CapEff'), want the base run's $(val base.fork 'master CapEff')" \
	[ "$(val on.fork 'master CapEff')" = "$(val base.fork 'master CapEff')" ]
need "bytes differ" cmp -s "$T/src" "$T/on.fork.out"
need "lease_granted $(st on.fork lease_granted), want >= 1" ge "$(st on.fork lease_granted)" 1
need "lease_denied $(st on.fork lease_denied), want 0" eq "$(st on.fork lease_denied)" 0
need "rw_splice $(st on.fork rw_splice), want > 0" ge "$(st on.fork rw_splice)" 1
# the shim's lease thread, started by the worker after the drop, inherited CAP_LEASE: it can give
# the lease back when the writer comes (F_UNLCK needs CAP_LEASE as much as F_RDLCK)
need "the writer waited $(cat "$T/on.fork.ms") ms, want < 1000" [ "$(cat "$T/on.fork.ms")" -lt 1000 ]
need "lease_released $(st on.fork lease_released), want >= 1" ge "$(st on.fork lease_released)" 1
end

# ---- the worker copied a file while still root: the shim's lease thread was started then, and lost
# CAP_LEASE at the drop with every other thread; a new one is started from the thread that kept it,
# so a lease taken after the drop is still given back at once when a writer comes
MASTER_ARGS=--early master base.early base
MASTER_ARGS=--early master on.early shim "${LOW[@]}" ZCSHIM_KEEP_CAP_LEASE=on
begin fork-worker-early-lease-thread-replaced
kept on.early base.early
need "bytes differ (want the file twice)" cmp -s <(cat "$T/src" "$T/src") "$T/on.early.out"
need "lease_granted $(st on.early lease_granted), want >= 2" ge "$(st on.early lease_granted)" 2
need "the writer waited $(cat "$T/on.early.ms") ms, want < 1000" [ "$(cat "$T/on.early.ms")" -lt 1000 ]
end

# ---- a second thread during the drop: glibc changes its ids too; it keeps nothing ---------------
dc base.thread base -- --thread
dc on.thread shim ZCSHIM_KEEP_CAP_LEASE=on -- --thread
begin thread-other-thread-loses-everything
kept on.thread base.thread
need "thread CapPrm $(val on.thread 'thread CapPrm'), want $NONE" [ "$(val on.thread 'thread CapPrm')" = $NONE ]
need "thread CapEff $(val on.thread 'thread CapEff'), want $NONE" [ "$(val on.thread 'thread CapEff')" = $NONE ]
need "cap_lease_threads_lost $(st on.thread cap_lease_threads_lost), want 1" eq "$(st on.thread cap_lease_threads_lost)" 1
end

# ---- the config file, the launcher, check-config -------------------------------------------------
printf 'keep_cap_lease = on\n' >"$T/on.conf"
dc conf.on shim ZCSHIM_CONF="$T/on.conf" --
begin config-file-on
kept conf.on
end
begin check-config-shows-the-key
"$ZC_BIN" check-config "$T/on.conf" >"$T/cc.out" 2>&1
need "check-config: $(grep keep_cap_lease "$T/cc.out")" grep -qE '^keep_cap_lease +on ' "$T/cc.out"
end
begin run-keep-cap-lease
rm -f "$T/st/run.hold"
timeout 60 "$ZC_BIN" run --keep-cap-lease --stats "$T/run.json" -- "$P" --fork "$T/src" >"$T/run.out" 2>"$T/run.err"
echo $? >"$T/run.rc"
need "zcshim run: exit $(cat "$T/run.rc")" eq "$(cat "$T/run.rc")" 0
need "CapPrm $(val run CapPrm), want $LEASE_ONLY" [ "$(val run CapPrm)" = $LEASE_ONLY ]
need "CapEff $(val run CapEff), want $LEASE_ONLY" [ "$(val run CapEff)" = $LEASE_ONLY ]
need "lease: $(val run lease), want granted" [ "$(val run lease)" = granted ]
need "cap_lease_kept $(stat_get "$T/run.json" cap_lease_kept), want 1" eq "$(stat_get "$T/run.json" cap_lease_kept)" 1
need "no summary line for it" grep -q 'CAP_LEASE kept' "$T/run.err"
end

# ---- a bad value: one line naming origin, key, value and what is accepted; the program runs as off
dc bad.env shim ZCSHIM_KEEP_CAP_LEASE=maybe --
printf 'keep_cap_lease = sometimes\n' >"$T/bad.conf"
dc bad.conf shim ZCSHIM_CONF="$T/bad.conf" --
begin bad-value-one-line-runs-as-off
want="zcshim: environment ZCSHIM_KEEP_CAP_LEASE: bad value 'maybe' for keep_cap_lease (accepted: on, off); keeping the previous value"
need "env: zcshim lines: $(grep '^zcshim' "$T/bad.env.err" | tr '\n' '|')" [ "$(grep '^zcshim' "$T/bad.env.err")" = "$want" ]
want="zcshim: $T/bad.conf:1: bad value 'sometimes' for keep_cap_lease (accepted: on, off); keeping the previous value"
need "file: zcshim lines: $(grep '^zcshim' "$T/bad.conf.err" | tr '\n' '|')" [ "$(grep '^zcshim' "$T/bad.conf.err")" = "$want" ]
for n in bad.env bad.conf; do
	dropped $n
	need "$n: report differs from the base run" cmp -s "$T/base.err" <(grep -v '^zcshim' "$T/$n.err")
done
end
