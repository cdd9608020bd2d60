#!/usr/bin/env bash
# test_exports.sh — the shared object exports exactly the names in the version script's global
# section (generated from shim/exports.h into $ZC_BUILD/zcshim.map, like $ZC_BUILD/exports.txt):
# no zc_* internals (or anything else) leak, nothing the list promises is missing, and every
# public glibc name that moves data between a descriptor and a buffer is on the list.
. "$(dirname "$0")/lib.sh"

MAP=$ZC_BUILD/zcshim.map
LIST=$ZC_BUILD/exports.txt
if [ ! -f "$ZC_LIB" ]; then fail setup "$ZC_LIB not built"; exit 1; fi
if [ ! -f "$MAP" ]; then fail setup "$MAP missing"; exit 1; fi
if [ ! -f "$LIST" ]; then fail setup "$LIST missing"; exit 1; fi

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

# The map and the tests' list come from the same header: the same names.
check "map and exports.txt list the same names" [ "$want" = "$(awk '{print $1}' "$LIST" | sort -u)" ]

# glibc's own list: every public name of the read/pread/recv/write/pwrite/send families is
# exported, but for these, which move no data between a descriptor and a buffer.
NOT_IO='readahead readdir readdir64 readdir64_r readdir_r readlink readlinkat __readlink_chk __readlinkat_chk'
LIBC=$(ldd /bin/true 2>/dev/null | awk '$1 ~ /^libc\.so/ {print $3}')
if [ -n "$LIBC" ] && [ -f "$LIBC" ]; then
	glibc_io=$(nm -D --defined-only "$LIBC" | awk 'NF >= 3 && $3 !~ /GLIBC_PRIVATE/ {print $3}' | sed 's/@.*//' |
		grep -E '^(__)?(p?read|p?write|recv|send)' | grep -vxF -f <(tr ' ' '\n' <<<"$NOT_IO") | sort -u)
	uncovered=$(comm -23 <(echo "$glibc_io") <(echo "$have"))
	n=$(wc -w <<<"$glibc_io")
	[ -z "$uncovered" ] && [ "$n" -ge 20 ] && pass "every glibc data I/O name is exported ($n names)" ||
		fail "every glibc data I/O name is exported" "missing: $(echo $uncovered) ($n names)"
else
	skip "glibc data I/O names" "no libc.so found through ldd"
fi
