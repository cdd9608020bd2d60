#!/usr/bin/env bash
# test_exports.sh — the shared object exports exactly the names in shim/zcshim.map's global
# section: no zc_* internals (or anything else) leak, and nothing the map promises is missing.
. "$(dirname "$0")/lib.sh"

MAP=$ZC_ROOT/shim/zcshim.map
if [ ! -f "$ZC_LIB" ]; then fail setup "$ZC_LIB not built"; exit 1; fi
if [ ! -f "$MAP" ]; then fail setup "$MAP missing"; exit 1; fi

# map_globals : the names of the global section, one a line, sorted (comments dropped)
map_globals() {
	sed -e 's,/\*.*\*/,,g' -e 's,#.*,,' "$MAP" |
		awk '/global:/ {on = 1; sub(/.*global:/, "")} /local:/ {sub(/local:.*/, ""); print; on = 0} on {print}' |
		tr ';' '\n' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u
}
# dyn_defined : the defined dynamic symbols of the library, version suffix dropped, sorted
dyn_defined() { nm -D --defined-only "$ZC_LIB" | awk 'NF >= 3 {print $3}' | sed 's/@.*//' | sort -u; }

want=$(map_globals)
have=$(dyn_defined)
nwant=$(wc -l <<<"$want")
[ "$nwant" -ge 10 ] && pass "map global section parsed ($nwant names)" ||
	fail "map global section parsed" "only $nwant names read from $MAP"

extra=$(comm -13 <(echo "$want") <(echo "$have"))
missing=$(comm -23 <(echo "$want") <(echo "$have"))
[ -z "$extra" ] && pass "no symbol exported beyond the map" ||
	fail "no symbol exported beyond the map" "extra: $(echo $extra)"
[ -z "$missing" ] && pass "every name in the map is exported" ||
	fail "every name in the map is exported" "missing: $(echo $missing)"

zc=$(grep -E '^(zc_|ZC_)' <<<"$have")
[ -z "$zc" ] && pass "no zc_* internal symbol in the dynamic table" ||
	fail "no zc_* internal symbol in the dynamic table" "$(echo $zc)"

# Every exported name is a function (T), never data an application could bind to.
nonfunc=$(nm -D --defined-only "$ZC_LIB" | awk 'NF >= 3 && $2 != "T" && $2 != "i" {print $3 "(" $2 ")"}')
[ -z "$nonfunc" ] && pass "every export is a function" || fail "every export is a function" "$(echo $nonfunc)"
