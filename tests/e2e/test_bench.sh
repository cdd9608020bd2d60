#!/usr/bin/env bash
# test_bench.sh — `zcshim bench`: a tiny run writes complete JSON (every variant — plain, eager,
# deferred, native, interleaved — payloads verified by sha256) and a table; --modes picks the
# shim variants; --demo runs the shim's default mode and names it; bad options exit 2. No timing
# assertions.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -x "$ZC_BIN" ] && [ -x "$ZC_PROGS/legacy_server" ] && [ -x "$ZC_PROGS/legacy_client" ] ||
	{ fail bench_built "run make first ($ZC_BIN, $ZC_PROGS/legacy_*)"; exit 1; }

json=$ZC_TMP/results.json
"$ZC_BIN" bench --scenarios builtin-tcp-read --chunks 64K --size 8M --rounds 1 \
	--json "$json" --plot "$ZC_TMP/plot.svg" >"$ZC_TMP/out" 2>"$ZC_TMP/err"
rc=$?
check bench_tiny_exit0 [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || sed 's/^/    /' "$ZC_TMP/err" | tail -5
check bench_table_printed grep -q '^builtin-tcp-read/64K ' "$ZC_TMP/out"
check bench_progress_on_stderr grep -q '^\[1/4\] builtin-tcp-read/64K plain round 1' "$ZC_TMP/err"
check bench_table_vs_native grep -q 'CPU vs native' "$ZC_TMP/out"
check bench_table_shim_rows grep -Eq '^ +deferred +[0-9]' "$ZC_TMP/out"

# json_check NAME PYTHON-EXPR: PASS if the expression is true for the loaded results (d)
json_check() {
	local name=$1 expr=$2 why
	why=$(python3 - "$json" "$expr" 2>&1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
runs = d["runs"]
ok = eval(sys.argv[2])
sys.exit(0 if ok else 1)
EOF
	) && pass "$name" || fail "$name" "${why:-false: $expr}"
}
if [ -s "$json" ]; then
	json_check bench_json_machine 'all(d["machine"].get(k) for k in ("uname", "nproc", "cpu_model", "date"))'
	json_check bench_json_variants_interleaved '[r["variant"] for r in runs] == ["plain", "eager", "deferred", "native"]'
	json_check bench_json_shim_env 'd["config"]["shim_env"] == {"eager": "ZCSHIM_MODE=eager", "deferred": "ZCSHIM_MODE=deferred"}'
	json_check bench_json_runs_ok 'all(r["ok"] and not r["error"] for r in runs)'
	json_check bench_json_payload_sha256 'all(r["payload_ok"] and r["payload_check"] == "sha256" and r["sha256"] == d["config"]["file_sha256"] and r["bytes"] == d["config"]["file_size"] == 8 << 20 for r in runs)'
	json_check bench_json_raw_figures 'all(r["wall_s"] > 0 and r["server_cpu_s"] >= 0 and r["mb_per_s"] is not None and r["cpu_s_per_gib"] is not None for r in runs)'
	json_check bench_json_shim_stats 'all(r["stats_files"] >= 1 and r["kernel_share"] is not None and r["shim_mode"] == r["variant"] for r in runs if r["variant"] in ("eager", "deferred"))'
	json_check bench_json_summary 'len(d["summary"]) == 4 and all(s["runs_ok"] == 1 and s["runs_failed"] == 0 for s in d["summary"])'
	json_check bench_json_vs_native 'all((s["cpu_ratio_vs_native"] is not None) == (s["variant"] in ("eager", "deferred")) for s in d["summary"])'
else
	fail bench_json_written "$json missing or empty"
fi

# the discard receiver cannot hash what the kernel dropped: it verifies sampled positions;
# --modes auto: one shim variant, in auto mode
"$ZC_BIN" bench --scenarios builtin-tcp-discard --chunks 16K --size 4M --rounds 1 --modes auto \
	--json "$ZC_TMP/d.json" --plot "$ZC_TMP/d.svg" >/dev/null 2>"$ZC_TMP/err2"
check bench_discard_exit0 [ $? -eq 0 ]
json=$ZC_TMP/d.json
[ -s "$json" ] && json_check bench_discard_sampled 'all(r["payload_ok"] and r["payload_check"] == "sampled" and r["samples"] > 0 and r["bad_samples"] == 0 for r in runs)'
[ -s "$json" ] && json_check bench_modes_auto '[r["variant"] for r in runs] == ["plain", "auto", "native"] and runs[1]["shim_mode"] == "auto" and d["config"]["shim_env"] == {"auto": "ZCSHIM_MODE=auto"}'

# --modes floor: progs/floor (the shim's system calls, no shim) on the builtin cases of 8 KiB and
# more only, with its ratio to native; the payload whole; nginx runs without it
"$ZC_BIN" bench --scenarios builtin-pipe,builtin-aligned,overhead --chunks 4K,64K --size 4M --rounds 1 --modes auto,floor \
	--json "$ZC_TMP/f.json" --plot "$ZC_TMP/f.svg" >"$ZC_TMP/f.out" 2>"$ZC_TMP/err4"
check bench_floor_exit0 [ $? -eq 0 ]
json=$ZC_TMP/f.json
[ -s "$json" ] && json_check bench_floor_cases 'sorted((r["scenario"], r["chunk"]) for r in runs if r["variant"] == "floor") == [("builtin-aligned", 65536), ("builtin-pipe", 65536)]'
[ -s "$json" ] && json_check bench_floor_payload 'all(r["ok"] and r["payload_ok"] and r["sha256"] == d["config"]["file_sha256"] and r["stats_files"] == 0 for r in runs if r["variant"] == "floor")'
[ -s "$json" ] && json_check bench_floor_vs_native 'all(s["cpu_ratio_vs_native"] is not None for s in d["summary"] if s["variant"] == "floor")'
check bench_floor_table grep -Eq '^ +floor +[0-9]' "$ZC_TMP/f.out"

# --demo: the shim with ZCSHIM_MODE unset, labelled with the mode its stats files report
env -u ZCSHIM_MODE "$ZC_BIN" bench --demo --scenarios builtin-pipe --size 4M --rounds 1 \
	--json "$ZC_TMP/demo.json" --plot "$ZC_TMP/demo.svg" >"$ZC_TMP/demo.out" 2>"$ZC_TMP/err3"
check bench_demo_exit0 [ $? -eq 0 ]
json=$ZC_TMP/demo.json
[ -s "$json" ] && json_check bench_demo_default_mode '[r["variant"] for r in runs] == ["plain", "default", "native"] and runs[1]["shim_mode"] in ("eager", "deferred", "auto") and d["config"]["shim_env"] == {"default": ""}'
[ -s "$json" ] && json_check bench_demo_label '[s["label"] for s in d["summary"]] == ["plain", "default (%s)" % runs[1]["shim_mode"], "native"]'
check bench_demo_table grep -Eq '^ +default \((eager|deferred|auto)\) +[0-9]' "$ZC_TMP/demo.out"

# persistent servers whose work runs in processes that leave the server's group and exit (vsftpd's
# sessions) or Apache's mapped files: the CPU is that of a cgroup v2 of the run's own where one can
# be made (the JSON says which method), never nothing; Apache's shim variant sends from the mapping
# (kernel share), vsftpd's from deferred reads. Both get keep_cap_lease (workers drop root).
cg=proc-samples
d=/sys/fs/cgroup; [ -f $d/cgroup.controllers ] || d=/sys/fs/cgroup/unified
if mkdir "$d/zcshim-probe.$$" 2>/dev/null; then rmdir "$d/zcshim-probe.$$"; cg=cgroup2; fi
"$ZC_BIN" bench --scenarios vsftpd,apache --size 32M --rounds 1 --modes auto \
	--json "$ZC_TMP/s.json" --plot "$ZC_TMP/s.svg" >"$ZC_TMP/s.out" 2>"$ZC_TMP/err4"
check bench_servers_exit0 [ $? -eq 0 ]
[ -s "$ZC_TMP/err4" ] && grep -i "fail" "$ZC_TMP/err4" | head -3 | sed 's/^/    /'
json=$ZC_TMP/s.json
if [ -s "$json" ]; then
	json_check "bench_servers_cpu_method ($cg)" "all(r['cpu_method'] == '$cg' for r in runs)"
	json_check bench_servers_cpu_counted 'all(r["ok"] and r["server_cpu_s"] > 0 for r in runs)'
	json_check bench_servers_kernel_share 'all(r["kernel_share"] is not None and r["kernel_share"] >= 0.9 for r in runs if r["variant"] == "auto")'
else
	fail bench_servers_json "$json missing or empty"
fi

# usage errors: exit 2 with the usage line on stderr, nothing run
for bad in "--bogus" "--rounds 0" "--scenarios nosuch" "--size abc" "--chunks 0" "extra" \
	"--modes bogus" "--modes eager,eager" "--modes default"; do
	# shellcheck disable=SC2086
	"$ZC_BIN" bench $bad >"$ZC_TMP/o" 2>"$ZC_TMP/e"
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q '^usage: zcshim bench' "$ZC_TMP/e" && [ ! -s "$ZC_TMP/o" ]; then
		pass "bench_bad_option ($bad)"
	else
		fail "bench_bad_option ($bad)" "exit $rc, stderr: $(head -c 200 "$ZC_TMP/e")"
	fi
done
"$ZC_BIN" bench --help >"$ZC_TMP/o" 2>&1
check bench_help [ $? -eq 0 ]
check bench_help_lists_scenarios grep -q 'builtin-tcp-discard' "$ZC_TMP/o"
check bench_help_lists_modes grep -q -- '--modes LIST' "$ZC_TMP/o"
