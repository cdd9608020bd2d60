#!/usr/bin/env bash
# test_inspect.sh — `zcshim inspect`: verdicts and exit status on fixtures compiled here and on
# real system programs, library resolution checked against ldd, imports against nm -D.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
T=$ZC_TMP
# The names the shim wraps that move data: the data-path kinds of the one export list
# ($ZC_BUILD/exports.txt, generated from shim/exports.h; descriptor, exec and memory names are not
# data paths), kept only where the built library really exports them (test_exports checks that
# it exports the whole list), so the tool is checked against the library, not against itself.
WRAPPED_IO=$(comm -12 <(awk '$2 ~ /^(READ|WRITE|ZEROCOPY|SEEK|MAP)$/ {print $1}' "$ZC_BUILD/exports.txt" 2>/dev/null | sort -u) \
	<(nm -D --defined-only "$ZC_LIB" 2>/dev/null | awk 'NF >= 3 {print $3}' | sed 's/@.*//' | sort -u) | tr '\n' ' ')
IO_NAMES=$WRAPPED_IO # replaced below by the names inspect reports, once read from it

# insp ARGS... : runs zcshim inspect; stdout in $out, stderr in $err, exit status in $rc
insp() { out=$("$ZC_BIN" inspect "$@" 2>"$ZC_TMP/stderr"); rc=$?; err=$(cat "$ZC_TMP/stderr"); }
# has TEXT : the last stdout or stderr contains TEXT
has() { grep -qF -- "$1" <<<"$out$err"; }
# not_has TEXT : neither contains TEXT
not_has() { ! has "$1"; }
# json_ok : the last stdout is valid JSON per python3 -m json.tool
json_ok() { "$PY" -m json.tool >/dev/null <<<"$out"; }
# jq_py EXPR : evaluates a Python expression on the JSON output bound to j (prints the result)
jq_py() { "$PY" -c "import json,sys; j=json.load(sys.stdin); print($1)" <<<"$out"; }
# nm_io BIN : the interposable names BIN imports, sorted, per nm -D
nm_io() {
	nm -D --undefined-only "$1" | awk '{print $2}' | sed 's/@.*//' | while read -r s; do
		for n in $IO_NAMES; do [ "$s" = "$n" ] && echo "$n"; done
	done | sort -u | tr '\n' ' '
}
# json_io : the "imports" array of the last --json output, sorted
json_io() { jq_py "' '.join(sorted(j['imports']))" | tr ' ' '\n' | sed '/^$/d' | tr '\n' ' '; }

if [ ! -x "$ZC_BIN" ]; then fail setup "$ZC_BIN not built"; exit 1; fi
[ "$(wc -w <<<"$WRAPPED_IO")" -ge 30 ] && pass "data-path names read from exports.txt ($(wc -w <<<"$WRAPPED_IO"))" ||
	fail "data-path names read from exports.txt" "got: $WRAPPED_IO"

# same_as_ldd BIN : every "name => path" of ldd matches the inspected library path
same_as_ldd() {
	local bin=$1 name path mine
	out=$("$ZC_BIN" inspect --json "$bin")
	while read -r name path; do
		mine=$(jq_py "[l['path'] for l in j['libraries'] if l['name'] == '$name'][0]" 2>/dev/null)
		[ "$(realpath "$mine" 2>/dev/null)" = "$(realpath "$path")" ] ||
			{ echo "  $name: ldd $path, inspect $mine"; return 1; }
	done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
}

# ---- fixtures --------------------------------------------------------------------------
cat > "$T/copier.c" <<'C'
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	char buf[4096];
	size_t want = argc > 1 ? (size_t)atoi(argv[1]) : 4096; /* unknown size: __read_chk */
	ssize_t n;
	while ((n = read(0, buf, want)) > 0)
		if (write(1, buf, (size_t)n) != n)
			return 1;
	return n < 0;
}
C
cat > "$T/stdio.c" <<'C'
#include <stdio.h>
int main(void)
{
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
		if (fwrite(buf, 1, n, stdout) != n)
			return 1;
	return 0;
}
C
# A stand-in Go binary: .go.buildinfo in the Go 1.18+ layout and a runtime.main symbol.
cat > "$T/fakego.c" <<'C'
#include <unistd.h>
__attribute__((used, section(".go.buildinfo"))) static const unsigned char buildinfo[48] =
	"\xff Go buildinf:\x08\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x08go1.22.1";
void go_main(void) __asm__("runtime.main");
void go_main(void) {}
int main(void) { char b[64]; ssize_t n = read(0, b, sizeof b); return n > 0 && write(1, b, (size_t)n) < 0; }
C
cat > "$T/libcp.c" <<'C'
#include <unistd.h>
int cp_copy(int in, int out)
{
	char b[4096];
	ssize_t n;
	while ((n = read(in, b, sizeof b)) > 0)
		if (write(out, b, (size_t)n) != n)
			return -1;
	return (int)n;
}
C
cat > "$T/uselib.c" <<'C'
int cp_copy(int in, int out);
int main(void) { return cp_copy(0, 1) != 0; }
C
# libmapsend.so maps a file and writev's it (Apache's libapr does the same): the mmap finding
# must come through DT_NEEDED for a program that imports neither name itself.
cat > "$T/libmapsend.c" <<'C'
#include <sys/mman.h>
#include <sys/uio.h>
int ms_send(int in, int out, size_t len)
{
	void *m = mmap(0, len, PROT_READ, MAP_SHARED, in, 0);
	struct iovec iov = { m, len };
	return m == MAP_FAILED ? -1 : (int)writev(out, &iov, 1);
}
C
cat > "$T/usemapsend.c" <<'C'
#include <stddef.h>
int ms_send(int in, int out, size_t len);
int main(void) { return ms_send(0, 1, 4096) < 0; }
C
mkdir -p "$T/lib" "$T/bin"
build() { local o=$1; shift; cc "$@" -o "$T/$o" 2>"$T/$o.err" || { fail "build-$o" "$(head -3 "$T/$o.err")"; return 1; }; }
build copier "$T/copier.c" -O0
build copier-static "$T/copier.c" -O0 -static
build copier-fortify "$T/copier.c" -O2 -D_FORTIFY_SOURCE=2
build stdio "$T/stdio.c" -O0
build fakego "$T/fakego.c" -O0
build lib/libcp.so "$T/libcp.c" -shared -fPIC
build bin/runpath "$T/uselib.c" -L"$T/lib" -lcp -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib'
build bin/rpath "$T/uselib.c" -L"$T/lib" -lcp -Wl,--disable-new-dtags,-rpath,'$ORIGIN/../lib'
build bin/norpath "$T/uselib.c" -L"$T/lib" -lcp
build lib/libmapsend.so "$T/libmapsend.c" -shared -fPIC
build bin/mapsend "$T/usemapsend.c" -L"$T/lib" -lmapsend -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib'
cc -c "$T/copier.c" -o "$T/copier.o"

# ---- the tool's name list equals the data-path names the shim wraps -------------------------
# allio imports every wrapped name and every name the tool might list (mmap, mmap64...):
# inspect must report exactly the wrapped ones.
CANDIDATES=$(printf '%s\n' $WRAPPED_IO read __read_chk pread pread64 __pread64_chk readv preadv preadv64 recv \
	recvfrom recvmsg write pwrite pwrite64 writev send sendto sendmsg sendfile sendfile64 splice \
	copy_file_range lseek lseek64 mmap mmap64 preadv2 pwritev pwritev2 __recv_chk __recvfrom_chk __pread_chk \
	recvmmsg sendmmsg | sort -u)
{
	for n in $CANDIDATES; do echo "extern void $n(void);"; done
	echo 'void *volatile all_io[] = {'
	for n in $CANDIDATES; do echo "	(void *)$n,"; done
	echo '};'
	echo 'int main(void) { return all_io[0] == 0; }'
} >"$T/allio.c"
if build allio "$T/allio.c" -O0 -w -fno-builtin; then
	insp --json "$T/allio"
	tool_names=$(jq_py "' '.join(sorted(j['imports']))")
	want_names=$(tr ' ' '\n' <<<"$WRAPPED_IO" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
	check inspect-names-are-the-wrapped-io-names [ "$tool_names" = "$want_names" ]
	[ "$tool_names" = "$want_names" ] && echo "  inspect lists:  $tool_names" ||
		echo "  inspect lists but the shim does not wrap: $(comm -23 <(tr ' ' '\n' <<<"$tool_names") <(tr ' ' '\n' <<<"$want_names") | tr '\n' ' ')"$'\n'"  the shim wraps but inspect does not list: $(comm -13 <(tr ' ' '\n' <<<"$tool_names") <(tr ' ' '\n' <<<"$want_names") | tr '\n' ' ')"
	# from here the ELF reading is compared with nm -D over the names the tool reports
	IO_NAMES=$tool_names
fi

# ---- the dynamic read/write copier -----------------------------------------------------
insp "$T/copier"
check copier-exit-0 [ "$rc" -eq 0 ]
check copier-verdict grep -q '^verdict: can accelerate$' <<<"$out"
check copier-imports-read-write grep -Eq '^  imports: +read write$' <<<"$out"
check copier-libc-listed grep -q 'libc.so.6 .*/libc.so.6 \[ld.so.cache\]' <<<"$out"
insp --json "$T/copier"
check copier-json-parses json_ok
check copier-json-fields [ "$(jq_py "j['verdict'], j['exit_status'], j['kind'], j['imports']")" = "can accelerate 0 dynamic ['read', 'write']" ]
check copier-no-mmap-path [ "$(jq_py "j['mmap_path']")" = False ]
insp "$T/copier"
check copier-no-mmap-line not_has "memory mappings"

# ---- the mmap path: mmap + writev, as Apache sends with EnableMMAP On ---------------------
MMAP_LINE="it may send files from memory mappings (Apache's default EnableMMAP On path: mmap read-only, then writev)"
MM=$ZC_PROGS/inspect_mmap
if [ -x "$MM" ]; then
	# the program really sends a file from a mapping, with no read of its own
	make_file "$T/mm.bin" 5000000
	"$MM" "$T/mm.bin" 'HTTP/1.1 200 OK' >"$T/mm.out"
	check mmap-prog-sends-the-file cmp -s <(printf 'HTTP/1.1 200 OK'; cat "$T/mm.bin") "$T/mm.out"
	check mmap-prog-imports-mmap-writev-only [ "$(nm_io "$MM")" = "mmap writev " ]
	insp "$MM"
	check mmap-line has "imports mmap (the executable) and writev: $MMAP_LINE"
	check mmap-line-says-sendfile has "the shim turns a write whose range lies in a read-only file-backed mapping into sendfile from that file at the mapping's offset, under the same lease rules as reads"
	check mmap-no-read-still-accelerates [ "$rc" -eq 0 ]
	check mmap-write-side-explained has "only the write side (writev): what it can rewrite is writes from file mappings"
	insp --json "$MM"
	check mmap-json [ "$(jq_py "j['mmap_path'], j['verdict']")" = "True can accelerate" ]
else
	fail mmap-prog "$MM not built (make B=... builds tests/progs/inspect_mmap.c)"
fi
insp "$T/bin/mapsend"
check mmap-via-needed-library has "imports mmap (libmapsend.so) and writev: $MMAP_LINE"
check mmap-via-needed-library-exe-imports-none grep -Eq '^  imports: +-$' <<<"$out"
insp "$T/stdio"
check stdio-no-mmap-line not_has "memory mappings"
# Debian's apache2 (EnableMMAP On by default): mmap and writev live in libapr-1.so.0, not in apache2
if [ -x /usr/sbin/apache2 ]; then
	insp /usr/sbin/apache2
	check apache2-mmap-line has "$MMAP_LINE"
	check apache2-mmap-via-libapr grep -Eq '^  \+ imports mmap[^(]* \([^)]*libapr-1\.so' <<<"$out"
	check apache2-keep-cap-lease-hint has "keep_cap_lease = on (zcshim run --keep-cap-lease)"
	check apache2-no-setcap-advice not_has "setcap cap_"
	insp --json /usr/sbin/apache2
	check apache2-json [ "$(jq_py "j['mmap_path'], j['changes_uid'], 'mmap' in j['imports']")" = "True True False" ]
else
	skip apache2 "/usr/sbin/apache2 is not installed (tools/install-deps.sh does not install it)"
fi

# ---- static: no loader, no LD_PRELOAD --------------------------------------------------
if [ -x "$T/copier-static" ]; then
	insp "$T/copier-static"
	check static-exit-3 [ "$rc" -eq 3 ]
	check static-verdict-no grep -q '^verdict: no$' <<<"$out"
	check static-reason has "statically linked"
fi

# ---- setuid / file capabilities ---------------------------------------------------------
cp "$T/copier" "$T/copier-suid"; chmod u+s "$T/copier-suid"
insp "$T/copier-suid"
if [ "$(id -u)" -eq "$(stat -c %u "$T/copier-suid")" ]; then
	check setuid-own-exit-1 [ "$rc" -eq 1 ]
else
	check setuid-own-exit-3 [ "$rc" -eq 3 ]
fi
check setuid-reason has "setuid (owner uid"
check setuid-mentions-ld-preload has "ignores LD_PRELOAD"
check setuid-at-secure has "the kernel sets AT_SECURE for any other user"
if [ "$(id -u)" -eq 0 ]; then
	cp "$T/copier" "$T/copier-suid-nobody"; chown nobody "$T/copier-suid-nobody"
	chmod u+s "$T/copier-suid-nobody"
	insp --json "$T/copier-suid-nobody"
	check setuid-other-exit-3 [ "$rc" -eq 3 ]
	check setuid-other-json [ "$(jq_py "j['verdict'], j['setuid'], j['secure_mode']")" = "no True True" ]
	if command -v setcap >/dev/null; then
		cp "$T/copier" "$T/copier-cap"
		if setcap cap_net_bind_service+ep "$T/copier-cap" 2>/dev/null; then
			insp --json "$T/copier-cap"
			check caps-root-exit-1 [ "$rc" -eq 1 ]
			# capabilities by name, as libcap writes them (cap_to_text), never a hex mask
			check caps-json [ "$(jq_py "j['capabilities']")" = cap_net_bind_service=ep ]
			insp "$T/copier-cap"
			check caps-reason has "file capabilities (security.capability"
			check caps-named has "file capabilities (security.capability: cap_net_bind_service=ep, effective bit set)"
			check caps-privileges-named grep -q '^  privileges: file-capabilities cap_net_bind_service=ep (not secure mode for you)$' <<<"$out"
			check caps-no-hex-mask not_has "permitted 0x"
			check caps-at-secure has "the kernel sets AT_SECURE for every caller but root, and the loader then ignores LD_PRELOAD (you are root: not for you)"
			check caps-ambient-cleared has "they also clear the ambient set at exec"
			check caps-no-setcap-advice not_has "setcap cap_"
			# what the old advice produced: cap_lease in the file's capabilities
			cp "$T/copier" "$T/copier-caplease"; setcap cap_lease+ep "$T/copier-caplease"
			insp "$T/copier-caplease"
			check caplease-named has "(security.capability: cap_lease=ep, effective bit set)"
			check caplease-does-not-help has "For leases (cap_lease there does not help), remove them (setcap -r) and grant what the program needs as ambient capabilities, CAP_LEASE included (systemd AmbientCapabilities= with User=, or setpriv --inh-caps +lease --ambient-caps +lease)"
			check caplease-no-setcap-advice not_has "setcap cap_"
			cp "$T/copier" "$T/copier-capinh"; setcap cap_lease+i "$T/copier-capinh"
			# judged for a caller other than root: the tool and the binaries where nobody can read them
			if command -v setpriv >/dev/null; then
				chmod 711 "$T"; mkdir -p "$T/pub"; chmod 755 "$T/pub"
				cp "$ZC_BIN" "$T/copier-caplease" "$T/copier-capinh" "$T/copier" "$T/pub/"
				setcap cap_lease+ep "$T/pub/copier-caplease"; setcap cap_lease+i "$T/pub/copier-capinh"
				cp "$T/copier" "$T/pub/copier-sgid"; chgrp 4 "$T/pub/copier-sgid"; chmod 2755 "$T/pub/copier-sgid"
				# as_nobody GID GROUPS [SETPRIV-OPTS...] -- BIN : inspect --json as uid 65534 with real
				# gid GID and supplementary GROUPS ("" for none), into $out and $rc
				as_nobody() {
					local o=(--reuid 65534 --regid "$1")
					if [ -n "$2" ]; then o+=(--groups "$2"); else o+=(--clear-groups); fi
					shift 2
					while [ "$1" != -- ]; do o+=("$1"); shift; done
					out=$(setpriv "${o[@]}" "$T/pub/zcshim" inspect --json "$2" 2>"$ZC_TMP/stderr"); rc=$?
					[ -n "$out" ] || echo "  setpriv ${o[*]}: $(cat "$ZC_TMP/stderr")"
				}
				# the measured fact (KERNEL-FACTS.md): AT_SECURE for a non-root start, no LD_PRELOAD
				as_nobody 65534 "" -- "$T/pub/copier-caplease"
				check caplease-nobody-secure [ "$rc:$(jq_py "j['secure_mode'], j['verdict']")" = "3:True no" ]
				check caplease-nobody-at-secure [ "$(jq_py "any('AT_SECURE for every caller but root' in x['text'] and x['level'] == 'no' for x in j['reasons'])")" = True ]
				# inheritable only: no new capability for a caller whose inheritable set lacks it
				as_nobody 65534 "" -- "$T/pub/copier-capinh"
				check capinh-nobody-not-secure [ "$(jq_py "j['secure_mode'], j['capabilities']")" = "False cap_lease=i" ]
				check capinh-named-no-effective-bit [ "$(jq_py "any('(security.capability: cap_lease=i)' in x['text'] for x in j['reasons'])")" = True ]
				as_nobody 65534 "" --inh-caps +lease -- "$T/pub/copier-capinh"
				check capinh-nobody-with-inheritable-secure [ "$rc:$(jq_py "j['secure_mode']")" = 3:True ]
				# setgid: the real gid decides; a supplementary group does not avoid AT_SECURE
				as_nobody 4 "" -- "$T/pub/copier-sgid"
				check setgid-real-gid-not-secure [ "$(jq_py "j['setgid'], j['secure_mode']")" = "True False" ]
				as_nobody 65534 4 -- "$T/pub/copier-sgid"
				check setgid-supplementary-secure [ "$rc:$(jq_py "j['secure_mode']")" = 3:True ]
				check setgid-says-real-gid [ "$(jq_py "any('whose real gid is another' in x['text'] for x in j['reasons'])")" = True ]
			else
				skip caps-nobody "setpriv (util-linux) is missing"
			fi
		else
			skip caps "the filesystem of $T takes no security.capability attribute"
		fi
	fi
fi
# the wrong advice is nowhere, not even in the help
insp --help
check help-no-setcap-advice not_has "setcap cap_"
check help-mentions-mmap-path has "(Apache's EnableMMAP path)"

# ---- stdio-only data path ---------------------------------------------------------------
insp "$T/stdio"
check stdio-exit-no-or-partly [ "$rc" -eq 3 -o "$rc" -eq 1 ]
check stdio-reason has "data path may go through stdio (fread fwrite imported"
check stdio-imports-none grep -Eq '^  imports: +-$' <<<"$out"

# ---- _FORTIFY_SOURCE: read becomes __read_chk ------------------------------------------
insp --json "$T/copier-fortify"
check fortify-read-chk [ "$(jq_py "'__read_chk' in j['imports']")" = True ]
check fortify-exit-0 [ "$rc" -eq 0 ]

# ---- Go runtime (stand-in) ----------------------------------------------------------------
insp --json "$T/fakego"
check go-exit-3 [ "$rc" -eq 3 ]
check go-json [ "$(jq_py "j['runtime'], j['go_version']")" = "go go1.22.1" ]
insp "$T/fakego"
check go-reason has "Go binary (go1.22.1, .go.buildinfo section): the Go runtime makes raw syscalls"

# ---- library resolution: DT_RUNPATH, DT_RPATH, LD_LIBRARY_PATH, not found ----------------
insp --json "$T/bin/runpath"
check runpath-exit-0 [ "$rc" -eq 0 ]
check runpath-resolved [ "$(jq_py "[(l['path'], l['found_via'], l['imports']) for l in j['libraries'] if l['name'] == 'libcp.so'][0]")" = "('$T/bin/../lib/libcp.so', 'DT_RUNPATH', ['read', 'write'])" ]
check runpath-matches-ldd same_as_ldd "$T/bin/runpath"
insp "$T/bin/runpath"
check runpath-via-lib has "imports read and write (via libcp.so)"
insp --json "$T/bin/rpath"
check rpath-resolved [ "$(jq_py "[l['found_via'] for l in j['libraries'] if l['name'] == 'libcp.so'][0]")" = DT_RPATH ]
insp --json "$T/bin/norpath"
check notfound-exit-1-or-3 [ "$rc" -eq 1 -o "$rc" -eq 3 ]
check notfound-reason [ "$(jq_py "[l['found_via'] for l in j['libraries'] if l['name'] == 'libcp.so'][0]")" = "not found" ]
out=$(LD_LIBRARY_PATH="$T/lib" "$ZC_BIN" inspect --json "$T/bin/norpath"); rc=$?
check ld-library-path [ "$rc:$(jq_py "[l['found_via'] for l in j['libraries'] if l['name'] == 'libcp.so'][0]")" = "0:LD_LIBRARY_PATH" ]

# ---- system programs: imports equal nm -D, libraries equal ldd ---------------------------
for bin in /usr/sbin/nginx /usr/bin/python3 /usr/bin/socat; do
	n=$(basename "$bin")
	# make test installs these (tools/install-deps.sh): missing is a failure, not a skip
	[ -x "$bin" ] || { fail "$n-installed" "$bin missing (tools/install-deps.sh test installs it)"; continue; }
	insp --json "$bin"
	check "$n-json-parses" json_ok
	check "$n-imports-match-nm" [ "$(json_io)" = "$(nm_io "$bin")" ]
	check "$n-libraries-match-ldd" same_as_ldd "$bin"
done

if [ -x /usr/sbin/nginx ]; then
	insp /usr/sbin/nginx
	check nginx-exit-0 [ "$rc" -eq 0 ]
	check nginx-imports grep -Eq '^  imports: .*\bpread64\b.*\bwritev\b.*\bsendfile64\b' <<<"$out"
	check nginx-already-sendfile has "already imports sendfile64 (the executable)"
	check nginx-dlopen has "loads code at run time with dlopen"
fi
if [ -x /usr/bin/python3 ]; then
	insp "$(readlink -f /usr/bin/python3)"
	check python3-exit-0 [ "$rc" -eq 0 ]
	check python3-embeds-libpython has "embeds the Python runtime"
	check python3-stdio-noted has "also uses stdio (fread fwrite"
fi
# A pyenv build links libpython as a shared library found through DT_RUNPATH.
pyenv_py=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*/bin/python3.* 2>/dev/null | grep -E '[0-9]$' | head -1)
if [ -n "$pyenv_py" ] && readelf -d "$pyenv_py" 2>/dev/null | grep -q 'libpython'; then
	insp "$pyenv_py"
	check pyenv-libpython-runpath grep -Eq '^    libpython3\.[0-9]+\.so\.1\.0 .* \[DT_RUNPATH\]: read .*write' <<<"$out"
	check pyenv-via-libpython has "(via libpython3."
	check pyenv-exit-0 [ "$rc" -eq 0 ]
fi
if [ -x /usr/bin/socat ]; then
	insp /usr/bin/socat
	check socat-exit-0 [ "$rc" -eq 0 ]
	check socat-imports grep -Eq '^  imports: +read .*write' <<<"$out"
fi

# ---- shared library, relocatable object -------------------------------------------------
insp "$T/lib/libcp.so"
check shared-lib-exit-1 [ "$rc" -eq 1 ]
check shared-lib-reason has "a shared library, not a program"
insp "$T/copier.o"
check object-file-exit-2 [ "$rc" -eq 2 ]

# ---- errors: not ELF, unreadable, truncated, wrong architecture, bad arguments -----------
echo 'just text' > "$T/text"
insp "$T/text"
check not-elf-exit-2 [ "$rc" -eq 2 ]
check not-elf-message has "not an ELF file"
printf '#!/bin/sh\necho hi\n' > "$T/script"
insp "$T/script"
check script-exit-2 [ "$rc" -eq 2 ]
insp "$T/does-not-exist"
check missing-exit-2 [ "$rc:$(has 'cannot open: No such file' && echo y)" = 2:y ]
insp "$T"
check directory-exit-2 [ "$rc" -eq 2 ]
head -c 3000 "$T/copier" > "$T/truncated"
insp "$T/truncated"
check truncated-exit-2 [ "$rc:$(has 'truncated' && echo y)" = 2:y ]
cp "$T/copier" "$T/copier-arm64"
printf '\267\000' | dd of="$T/copier-arm64" bs=1 seek=18 conv=notrunc status=none
insp "$T/copier-arm64"
check wrong-arch-exit-2 [ "$rc" -eq 2 ]
check wrong-arch-message has "wrong architecture: ELF 64-bit aarch64"
insp --json "$T/text"
check error-json [ "$rc:$(jq_py "j['verdict']" 2>/dev/null)" = 2:error ]

insp --bogus "$T/copier"
check bad-option-exit-2 [ "$rc" -eq 2 ]
check bad-option-usage has "usage: zcshim inspect"
insp
check no-argument-exit-2 [ "$rc:$(has 'usage:' && echo y)" = 2:y ]
insp "$T/copier" "$T/stdio"
check two-arguments-exit-2 [ "$rc" -eq 2 ]
insp --help
check help-exit-0 [ "$rc" -eq 0 ]
check help-documents has "--json"
check help-exit-status has "Exit status: 0 can accelerate, 1 partly, 3 no, 2 error"
