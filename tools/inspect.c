/* inspect.c — `zcshim inspect BINARY`: says whether the shim can act on a program and why. */
#include "cmds.h"
#include "inspect.h"

#include <elf.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

/* Verdict levels; they double as the exit status. */
#define LV_OK 0
#define LV_PARTLY 1
#define LV_ERROR 2
#define LV_NO 3

#define MAX_REASONS 24

/* One reason behind the verdict: its level and a sentence. */
struct reason {
	int level;
	char text[600];
};

/* Everything the report needs about one binary. */
struct report {
	const char *path;
	struct zc_inspect_obj *objs;
	size_t n;
	const char *kind;         /* "dynamic", "static", "static-pie", "shared-library" */
	bool setuid, setgid, secure;
	unsigned owner_uid, owner_gid;
	bool has_caps;
	uint64_t caps_permitted;  /* the file's permitted set, by capability number */
	char caps_text[256];      /* the file's capabilities as libcap writes them: "cap_lease=ep" */
	const char *runtime;      /* "libc", "go", "no-libc" */
	const char *libc_path;
	uint64_t all_imports;     /* imports of the binary and of every non-libc library */
	bool mmap_path;           /* mmap and a write the shim can turn into sendfile from a mapping */
	bool changes_uid;         /* it or a library imports setuid, seteuid, setreuid or setresuid */
	struct reason reasons[MAX_REASONS];
	int n_reasons;
	int verdict;
};

static const char usage_line[] = "usage: zcshim inspect [--json] BINARY\n";

static const char help_text[] =
	"usage: zcshim inspect [--json] BINARY\n"
	"\n"
	"Reads BINARY's ELF headers (it is not run) and says whether zcshim can rewrite its\n"
	"read()/write() copy loops, and why:\n"
	"  - dynamic (PT_INTERP) or static: LD_PRELOAD needs the dynamic loader;\n"
	"  - setuid/setgid bits or file capabilities (security.capability): when they change\n"
	"    the caller's uid or gid, or give a caller other than root capabilities, the\n"
	"    kernel sets AT_SECURE and the loader ignores LD_PRELOAD;\n"
	"  - Go (.go.buildinfo, runtime.main) or no libc at all: raw syscalls, not interposable;\n"
	"  - which interposable I/O names (read, __read_chk, pread64, readv, recv*, write,\n"
	"    writev, send*, sendfile, splice, copy_file_range, lseek, mmap...) the binary and\n"
	"    each of its DT_NEEDED libraries import, libraries resolved as the loader does\n"
	"    (DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH, /etc/ld.so.cache, default directories);\n"
	"  - stdio data paths (fread/fwrite without read): libc's internal calls are invisible;\n"
	"  - whether it already uses sendfile/splice/copy_file_range;\n"
	"  - mmap with write/writev/send/sendmsg: files may be sent from memory mappings\n"
	"    (Apache's EnableMMAP path), which the shim turns into sendfile from the file;\n"
	"  - setuid/seteuid/setreuid/setresuid: a server that drops root gets leases only on\n"
	"    files its new user owns; how to keep CAP_LEASE and still have LD_PRELOAD honoured.\n"
	"Code loaded later with dlopen (plugins, Python extension modules) is not inspected.\n"
	"\n"
	"Options:\n"
	"  --json      one JSON object on stdout instead of the human-readable report\n"
	"  -h, --help  this text\n"
	"\n"
	"Exit status: 0 can accelerate, 1 partly, 3 no, 2 error (not an ELF file, unreadable,\n"
	"wrong architecture, bad arguments).\n";

/* add — appends a reason of the given level, formatted like printf. */
__attribute__((format(printf, 3, 4))) static void add(struct report *r, int level,
						      const char *fmt, ...)
{
	va_list ap;

	if (r->n_reasons >= MAX_REASONS)
		return;
	va_start(ap, fmt);
	vsnprintf(r->reasons[r->n_reasons].text, sizeof r->reasons[0].text, fmt, ap);
	va_end(ap);
	r->reasons[r->n_reasons++].level = level;
	if (level > r->verdict)
		r->verdict = level;
}

/* names — the interposable names in mask, space-separated ("-" when none). */
static const char *names(uint64_t mask, char *buf, size_t len)
{
	if (!zc_inspect_join(mask, zc_inspect_io_names, ZC_IO_COUNT, buf, len))
		snprintf(buf, len, "-");
	return buf;
}

/* is_libc — the C library itself: it defines the I/O names, it is not an "importer". */
static bool is_libc(const char *name)
{
	return !strncmp(name, "libc.so", 7) || !strncmp(name, "libc.musl", 9);
}

/* is_loader — the dynamic loader itself, likewise not an "importer". */
static bool is_loader(const char *name)
{
	return !strncmp(name, "ld-linux", 8) || !strncmp(name, "ld64.so", 7) ||
	       !strncmp(name, "ld-musl", 7);
}

/* machine_name — short name of an e_machine value. */
static const char *machine_name(int m, char *buf, size_t len)
{
	switch (m) {
	case EM_X86_64: return "x86-64";
	case EM_386: return "i386";
	case EM_AARCH64: return "aarch64";
	case EM_ARM: return "arm";
	case EM_RISCV: return "riscv";
	case EM_PPC64: return "ppc64";
	case EM_S390: return "s390";
	default: snprintf(buf, len, "machine %d", m); return buf;
	}
}

/* cap_mask — the capabilities raised in one set of caps, as a mask of capability numbers
 * (libcap's cap_get_flag, not a layout of our own); 0 when caps is NULL. */
static uint64_t cap_mask(cap_t caps, cap_flag_t set)
{
	uint64_t m = 0;
	cap_flag_value_t on;

	for (cap_value_t c = 0; caps && c < 64; c++)
		if (cap_get_flag(caps, c, set, &on) == 0 && on == CAP_SET)
			m |= UINT64_C(1) << c;
	return m;
}

/* bounding_mask — this process's bounding set (libcap's cap_get_bound, prctl PR_CAPBSET_READ). */
static uint64_t bounding_mask(void)
{
	uint64_t m = 0;

	for (cap_value_t c = 0; c < 64; c++)
		if (cap_get_bound(c) == 1)
			m |= UINT64_C(1) << c;
	return m;
}

/* How a program started as its user gets CAP_LEASE with LD_PRELOAD kept (KERNEL-FACTS.md):
 * ambient, never file capabilities, which put a non-root start in secure mode. */
#define AMBIENT_HINT "ambient CAP_LEASE (systemd AmbientCapabilities=CAP_LEASE with User=, or " \
		     "setpriv --inh-caps +lease --ambient-caps +lease)"
#define CAP_LEASE_BIT (UINT64_C(1) << CAP_LEASE)

/* check_privileges — setuid/setgid bits and file capabilities, judged for the caller as the
 * kernel does at exec: AT_SECURE when the effective uid or gid differs from the real one, or
 * when a caller other than root gains capabilities (or the file's effective bit is set). */
static void check_privileges(struct report *r)
{
	struct stat st;
	cap_t file_caps, own;
	uint64_t inh = 0;
	bool eff = false;

	if (stat(r->path, &st))
		return;
	r->owner_uid = st.st_uid;
	r->owner_gid = st.st_gid;
	r->setuid = st.st_mode & S_ISUID;
	r->setgid = (st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP);
	/* NULL (ENODATA) when the file has no security.capability attribute */
	file_caps = cap_get_file(r->path);
	if (file_caps) {
		char *text = cap_to_text(file_caps, NULL);
		r->has_caps = true;
		r->caps_permitted = cap_mask(file_caps, CAP_PERMITTED);
		inh = cap_mask(file_caps, CAP_INHERITABLE);
		/* libcap raises the effective flags only when the file's effective bit is set */
		eff = cap_mask(file_caps, CAP_EFFECTIVE) != 0;
		snprintf(r->caps_text, sizeof r->caps_text, "%s", text ? text : "?");
		cap_free(text);
		cap_free(file_caps);
	}
	if (r->setuid) {
		bool other = st.st_uid != getuid();
		r->secure |= other;
		add(r, other ? LV_NO : LV_PARTLY,
		    "setuid (owner uid %u): the kernel sets AT_SECURE for any other user and the "
		    "loader then ignores LD_PRELOAD%s", r->owner_uid,
		    other ? "" : "; not when that uid (you) runs it");
	}
	if (r->setgid) {
		bool other = st.st_gid != getgid();
		r->secure |= other;
		add(r, other ? LV_NO : LV_PARTLY,
		    "setgid (group gid %u): the kernel sets AT_SECURE for any caller whose real gid "
		    "is another (membership as a supplementary group is not enough) and the loader "
		    "then ignores LD_PRELOAD%s", r->owner_gid,
		    other ? "" : "; not for your real gid");
	}
	if (r->has_caps) {
		own = cap_get_proc();
		uint64_t gained = (r->caps_permitted & bounding_mask()) |
				  (inh & cap_mask(own, CAP_INHERITABLE));
		bool other = getuid() != 0 && (eff || (gained & ~cap_mask(own, CAP_PERMITTED)));
		cap_free(own);
		r->secure |= other;
		add(r, other ? LV_NO : LV_PARTLY,
		    "file capabilities (security.capability: %s%s): the kernel sets "
		    "AT_SECURE for %s, and the loader then ignores LD_PRELOAD%s; they also clear the "
		    "ambient set at exec. For leases%s, remove them (setcap -r) and grant what the "
		    "program needs as ambient capabilities, CAP_LEASE included (systemd "
		    "AmbientCapabilities= with User=, or setpriv --inh-caps +lease --ambient-caps +lease)",
		    r->caps_text, eff ? ", effective bit set" : "",
		    eff ? "every caller but root" : "a caller other than root whom they give new capabilities",
		    other ? "" : getuid() ? " (they give you none: not for you)" : " (you are root: not for you)",
		    (r->caps_permitted | inh) & CAP_LEASE_BIT ? " (cap_lease there does not help)" : "");
	}
}

/* classify_kind — dynamic, static, static-pie or a shared library; adds the reason. */
static void classify_kind(struct report *r)
{
	const struct zc_inspect_obj *o = &r->objs[0];

	if (o->interp) {
		r->kind = "dynamic";
		add(r, LV_OK, "dynamically linked (interpreter %s): the loader honours LD_PRELOAD",
		    o->interp);
	} else if (o->type == ET_DYN && o->has_dynamic && !o->pie) {
		r->kind = "shared-library";
		add(r, LV_PARTLY, "a shared library, not a program: the shim reaches it only "
				  "inside a dynamically linked program that loads it");
	} else {
		r->kind = o->type == ET_DYN ? "static-pie" : "static";
		add(r, LV_NO, "statically linked (%s, no PT_INTERP): no dynamic loader runs, so "
			      "LD_PRELOAD has no effect", r->kind);
	}
}

/* mmap_path — who imports mmap, and what the shim does with writes from a file mapping. */
static void mmap_path(struct report *r, uint64_t writes)
{
	char a[512], b[512], who[512] = "";
	size_t used = 0;

	for (size_t i = 0; i < r->n && used < sizeof who; i++) {
		const struct zc_inspect_obj *o = &r->objs[i];
		if ((o->imports & ZC_IO_MAP_MASK) && !is_libc(o->name) && !is_loader(o->name))
			used += (size_t)snprintf(who + used, sizeof who - used, "%s%s",
						 used ? ", " : "", i ? o->name : "the executable");
	}
	add(r, LV_OK, "imports %s (%s) and %s: it may send files from memory mappings (Apache's "
		      "default EnableMMAP On path: mmap read-only, then writev); the shim turns a "
		      "write whose range lies in a read-only file-backed mapping into sendfile from "
		      "that file at the mapping's offset, under the same lease rules as reads",
	    names(r->all_imports & ZC_IO_MAP_MASK, a, sizeof a), who, names(writes, b, sizeof b));
}

/* judge_imports — I/O names across the closure, stdio-only data paths, runtime hints. */
static void judge_imports(struct report *r)
{
	const struct zc_inspect_obj *exe = &r->objs[0];
	char a[512], b[512], libs[512] = "", py[256] = "";
	uint64_t lib_imports = 0;
	bool has_libc = false, go = exe->go_buildinfo || exe->go_other;
	size_t used = 0;

	for (size_t i = 1; i < r->n; i++) {
		const struct zc_inspect_obj *o = &r->objs[i];
		if (is_libc(o->name)) {
			has_libc = true;
			if (!r->libc_path)
				r->libc_path = o->path;
		}
		if (!o->path)
			add(r, LV_PARTLY, "%s not found (%s): the program would not start here and "
					  "this analysis is incomplete", o->name, o->via);
		if (is_libc(o->name) || is_loader(o->name))
			continue;
		if (!strncmp(o->name, "libpython", 9) && !*py)
			snprintf(py, sizeof py, "%s", o->name);
		if ((o->imports & (ZC_IO_READ_MASK | ZC_IO_WRITE_MASK)) && used < sizeof libs)
			used += (size_t)snprintf(libs + used, sizeof libs - used, "%s%s",
						 used ? ", " : "", o->name);
		lib_imports |= o->imports;
	}
	r->all_imports = exe->imports | lib_imports;
	uint64_t rd = r->all_imports & ZC_IO_READ_MASK, wr = r->all_imports & ZC_IO_WRITE_MASK;
	uint64_t mw = r->all_imports & ZC_IO_MAPPED_WRITE_MASK;

	r->mmap_path = (r->all_imports & ZC_IO_MAP_MASK) && mw;

	if (go) {
		r->runtime = "go";
		add(r, LV_NO, "Go binary (%s%s%s): the Go runtime makes raw syscalls for file and "
			      "network I/O, which symbol interposition cannot see",
		    exe->go_version[0] ? exe->go_version : "",
		    exe->go_version[0] ? ", " : "",
		    exe->go_buildinfo ? ".go.buildinfo section" : "runtime.main symbol");
	} else if (!strcmp(r->kind, "dynamic") && !has_libc) {
		r->runtime = "no-libc";
		add(r, LV_NO, "does not link a C library: its I/O presumably uses raw syscalls");
	} else {
		r->runtime = "libc";
	}
	if (exe->no_sections)
		add(r, LV_PARTLY, "no section headers: its imports could not be read");
	if (exe->embeds_python)
		add(r, LV_OK, "embeds the Python runtime (libpython linked in statically: exports "
			      "Py_Initialize), so the interpreter's I/O imports are the executable's own");
	if (*py)
		add(r, LV_OK, "the Python runtime lives in %s: its imports, not the tiny "
			      "executable's, carry the data path", py);

	if (!rd && !wr) {
		add(r, LV_NO, "neither it nor its libraries import any read or write function "
			      "the shim wraps: nothing to rewrite");
	} else if (!rd && r->mmap_path) {
		add(r, LV_OK, "imports no read function the shim wraps, only the write side (%s): "
			      "what it can rewrite is writes from file mappings (below)",
		    names(wr, a, sizeof a));
	} else if (!rd || !wr) {
		add(r, LV_PARTLY, "imports only the %s side (%s): no read()+write() loop to pair "
				  "within the interposable names", rd ? "read" : "write",
		    names(rd | wr, a, sizeof a));
	} else {
		bool own = exe->imports & (ZC_IO_READ_MASK | ZC_IO_WRITE_MASK);
		add(r, LV_OK, "imports %s and %s (%s%s%s)", names(rd, a, sizeof a),
		    names(wr, b, sizeof b), own ? "the executable itself" : "via ",
		    own && *libs ? "; also " : "", libs);
	}
	if (r->mmap_path)
		mmap_path(r, mw);
	if (exe->stdio) {
		zc_inspect_stdio_names(exe->stdio, a, sizeof a);
		if (!(exe->imports & ZC_IO_READ_MASK))
			add(r, rd ? LV_PARTLY : LV_NO,
			    "its data path may go through stdio (%s imported, no read of its own): "
			    "libc calls read/write internally there, which symbol interposition "
			    "cannot see%s", a, rd ? "; only its libraries' own reads can be rewritten" : "");
		else
			add(r, LV_OK, "also uses stdio (%s): copies made through stdio stay invisible "
				      "to the shim", a);
	}
	used = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct zc_inspect_obj *o = &r->objs[i];
		if (!(o->imports & ZC_IO_ZEROCOPY_MASK) || is_libc(o->name) || is_loader(o->name) ||
		    used >= sizeof libs)
			continue;
		used += (size_t)snprintf(libs + used, sizeof libs - used, "%s%s (%s)",
					 used ? ", " : "", names(o->imports & ZC_IO_ZEROCOPY_MASK, a, sizeof a),
					 i ? o->name : "the executable");
	}
	if (used)
		add(r, LV_OK, "already imports %s: those transfers are zero-copy already; the shim "
			      "targets the remaining read/write loops", libs);
	for (size_t i = 0; i < r->n; i++)
		if (r->objs[i].changes_uid && !is_libc(r->objs[i].name) && !is_loader(r->objs[i].name)) {
			r->changes_uid = true;
			add(r, LV_OK, "can change its user id (setuid, seteuid, setreuid or setresuid imported by %s): "
				      "once it has dropped root it gets leases only on files its new user "
				      "owns, and under lease = require other files are not rewritten. A root "
				      "master whose workers drop privileges keeps CAP_LEASE alone across the "
				      "drop with keep_cap_lease = on (zcshim run --keep-cap-lease); a service "
				      "started as its user gets them on other users' files with " AMBIENT_HINT,
			    i ? r->objs[i].name : "the executable");
			break;
		}
	for (size_t i = 0; i < r->n; i++)
		if (r->objs[i].uses_dlopen) {
			add(r, LV_OK, "%s loads code at run time with dlopen (modules, plugins; "
				      "for Python, extension modules such as _socket): those objects are not "
				      "inspected here, though LD_PRELOAD reaches them too",
			    i ? r->objs[i].name : "it");
			break;
		}
}

/* utf8_ok — whether s is well-formed UTF-8 (paths and DT_NEEDED strings are raw bytes). */
static bool utf8_ok(const unsigned char *s)
{
	while (*s) {
		int extra = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2 :
			    (*s & 0xf8) == 0xf0 ? 3 : -1;
		if (extra < 0)
			return false;
		for (s++; extra > 0; extra--, s++)
			if ((*s & 0xc0) != 0x80)
				return false;
	}
	return true;
}

/* json_str — prints s as a JSON string (or null); bytes of ill-formed UTF-8 as \u00XX. */
static void json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	bool raw = utf8_ok((const unsigned char *)s);
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !raw))
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* json_names — prints the names in mask as a JSON array. */
static void json_names(uint64_t mask)
{
	putchar('[');
	for (int i = 0, first = 1; i < ZC_IO_COUNT; i++)
		if (mask & (UINT64_C(1) << i)) {
			printf("%s\"%s\"", first ? "" : ", ", zc_inspect_io_names[i]);
			first = 0;
		}
	putchar(']');
}

/* verdict_name — words for a verdict level. */
static const char *verdict_name(int v)
{
	return v == LV_OK ? "can accelerate" : v == LV_PARTLY ? "partly" : "no";
}

/* print_json — the whole report as one JSON object. */
static void print_json(const struct report *r)
{
	const struct zc_inspect_obj *exe = &r->objs[0];
	char buf[512];

	printf("{\n  \"path\": ");
	json_str(r->path);
	printf(",\n  \"verdict\": \"%s\",\n  \"exit_status\": %d,\n  \"kind\": \"%s\",\n  \"interpreter\": ",
	       verdict_name(r->verdict), r->verdict, r->kind);
	json_str(exe->interp);
	printf(",\n  \"setuid\": %s,\n  \"setgid\": %s,\n  \"capabilities\": ",
	       r->setuid ? "true" : "false", r->setgid ? "true" : "false");
	json_str(r->has_caps ? r->caps_text : NULL);
	printf(",\n  \"secure_mode\": %s,\n  \"runtime\": \"%s\",\n  \"go_version\": ",
	       r->secure ? "true" : "false", r->runtime);
	json_str(exe->go_version[0] ? exe->go_version : NULL);
	printf(",\n  \"imports\": ");
	json_names(exe->imports);
	zc_inspect_stdio_names(exe->stdio, buf, sizeof buf);
	printf(",\n  \"stdio\": [");
	for (char *w = strtok(buf, " "), *sep = ""; w; w = strtok(NULL, " "), sep = ", ") {
		printf("%s", sep);
		json_str(w);
	}
	putchar(']');
	printf(",\n  \"all_imports\": ");
	json_names(r->all_imports);
	printf(",\n  \"mmap_path\": %s,\n  \"changes_uid\": %s",
	       r->mmap_path ? "true" : "false", r->changes_uid ? "true" : "false");
	printf(",\n  \"already_zero_copy\": ");
	json_names(r->all_imports & ZC_IO_ZEROCOPY_MASK);
	printf(",\n  \"libc\": ");
	json_str(r->libc_path);
	printf(",\n  \"libraries\": [");
	for (size_t i = 1; i < r->n; i++) {
		const struct zc_inspect_obj *o = &r->objs[i];
		printf("%s\n    {\"name\": ", i > 1 ? "," : "");
		json_str(o->name);
		printf(", \"path\": ");
		json_str(o->path);
		printf(", \"found_via\": ");
		json_str(o->via);
		printf(", \"needed_by\": ");
		json_str(o->parent > 0 ? r->objs[o->parent].name : r->path);
		printf(", \"imports\": ");
		json_names(o->imports);
		putchar('}');
	}
	printf("%s],\n  \"reasons\": [", r->n > 1 ? "\n  " : "");
	for (int i = 0; i < r->n_reasons; i++) {
		printf("%s\n    {\"level\": \"%s\", \"text\": ", i ? "," : "",
		       r->reasons[i].level == LV_OK ? "ok" : verdict_name(r->reasons[i].level));
		json_str(r->reasons[i].text);
		putchar('}');
	}
	printf("\n  ]\n}\n");
}

/* print_human — the report as aligned text, verdict line last. */
static void print_human(const struct report *r)
{
	const struct zc_inspect_obj *exe = &r->objs[0];
	char a[512], m[32];

	printf("%s: ELF %d-bit %s, %s%s%s%s\n", r->path, exe->elf_class == ELFCLASS64 ? 64 : 32,
	       machine_name(exe->machine, m, sizeof m), r->kind, exe->interp ? " (" : "",
	       exe->interp ? exe->interp : "", exe->interp ? ")" : "");
	if (r->setuid || r->setgid || r->has_caps)
		printf("  privileges: %s%s%s%s%s%s\n", r->setuid ? "setuid " : "",
		       r->setgid ? "setgid " : "", r->has_caps ? "file-capabilities " : "",
		       r->has_caps ? r->caps_text : "", r->has_caps ? " " : "",
		       r->secure ? "(secure mode for you)" : "(not secure mode for you)");
	else
		printf("  privileges: none (no setuid/setgid bit, no file capabilities)\n");
	printf("  runtime:    %s%s%s\n", r->runtime,
	       exe->go_version[0] ? " " : "", exe->go_version);
	printf("  imports:    %s\n", names(exe->imports, a, sizeof a));
	zc_inspect_stdio_names(exe->stdio, a, sizeof a);
	printf("  stdio:      %s\n", *a ? a : "-");
	if (r->n > 1)
		printf("  libraries (breadth first, as the loader resolves them):\n");
	for (size_t i = 1; i < r->n; i++) {
		const struct zc_inspect_obj *o = &r->objs[i];
		const char *what = is_libc(o->name) ? "the C library (defines these names)" :
				   is_loader(o->name) ? "the dynamic loader" : names(o->imports, a, sizeof a);
		printf("    %-20s %s [%s%s%s]: %s\n", o->name, o->path ? o->path : "-", o->via,
		       o->parent > 0 ? ", needed by " : "", o->parent > 0 ? r->objs[o->parent].name : "",
		       what);
	}
	printf("verdict: %s\n", verdict_name(r->verdict));
	for (int lv = LV_NO; lv >= LV_OK; lv--)
		for (int i = 0; i < r->n_reasons; i++)
			if (r->reasons[i].level == lv)
				printf("  %s %s\n", lv == LV_OK ? "+" : lv == LV_PARTLY ? "~" : "x",
				       r->reasons[i].text);
}

/* fail — reports an error for path (stderr, and a JSON object when asked) and returns 2. */
static int fail(const char *path, const char *msg, bool json)
{
	fprintf(stderr, "zcshim inspect: %s: %s\n", path, msg);
	if (json) {
		printf("{\"path\": ");
		json_str(path);
		printf(", \"verdict\": \"error\", \"exit_status\": 2, \"error\": ");
		json_str(msg);
		printf("}\n");
	}
	return LV_ERROR;
}

/* zc_cmd_inspect — entry point: parses arguments, inspects one binary, prints the verdict. */
int zc_cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct report r;
	char err[512], m1[32], m2[32];
	bool json = false;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else if (c == 'h') {
			fputs(help_text, stdout);
			return 0;
		} else {
			fprintf(stderr, "zcshim inspect: unknown option '%s'\n", argv[optind - 1]);
			fputs(usage_line, stderr);
			return LV_ERROR;
		}
	}
	if (argc - optind != 1) {
		fputs(usage_line, stderr);
		return LV_ERROR;
	}
	memset(&r, 0, sizeof r);
	r.path = argv[optind];
	r.n = 1;
	if (!(r.objs = calloc(1, sizeof *r.objs)) || !(r.objs[0].name = strdup(r.path)) ||
	    !(r.objs[0].path = strdup(r.path))) {
		zc_inspect_free(r.objs, r.objs ? 1 : 0);
		return fail(r.path, "out of memory", json);
	}
	r.objs[0].parent = -1;
	if (zc_inspect_read(r.path, &r.objs[0], err, sizeof err))
		goto error;
	if (r.objs[0].type != ET_EXEC && r.objs[0].type != ET_DYN) {
		snprintf(err, sizeof err, "not an executable or shared object (ELF type %d)",
			 r.objs[0].type);
		goto error;
	}
	if (r.objs[0].elf_class != zc_inspect_host_class() ||
	    r.objs[0].machine != zc_inspect_host_machine()) {
		snprintf(err, sizeof err, "wrong architecture: ELF %d-bit %s, zcshim is built for %d-bit %s",
			 r.objs[0].elf_class == ELFCLASS64 ? 64 : 32,
			 machine_name(r.objs[0].machine, m1, sizeof m1),
			 zc_inspect_host_class() == ELFCLASS64 ? 64 : 32,
			 machine_name(zc_inspect_host_machine(), m2, sizeof m2));
		goto error;
	}
	classify_kind(&r);
	check_privileges(&r);
	if (zc_inspect_closure(&r.objs, &r.n, r.secure)) {
		snprintf(err, sizeof err, "out of memory");
		goto error;
	}
	judge_imports(&r);
	if (json)
		print_json(&r);
	else
		print_human(&r);
	zc_inspect_free(r.objs, r.n);
	return r.verdict;
error:
	zc_inspect_free(r.objs, r.n);
	return fail(r.path, err, json);
}
