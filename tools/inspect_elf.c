/* inspect_elf.c — reads an ELF file with libelf and resolves its DT_NEEDED closure the way
 * the dynamic loader would, for `zcshim inspect`. */
#include "inspect.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZC_IO_X(n, k) #n,
const char *const zc_inspect_io_names[ZC_IO_COUNT] = { ZC_IO_NAMES };
#undef ZC_IO_X
#define ZC_IO_X(n, k) ZC_IO_K_##k,
static const unsigned char io_kinds[ZC_IO_COUNT] = { ZC_IO_NAMES };
#undef ZC_IO_X

/* zc_inspect_mask — the bits of the names of one kind. */
uint64_t zc_inspect_mask(enum zc_inspect_kind kind)
{
	uint64_t m = 0;
	for (int i = 0; i < ZC_IO_COUNT; i++)
		if (io_kinds[i] == kind)
			m |= UINT64_C(1) << i;
	return m;
}

/* stdio functions that can carry a program's data; bit i of obj->stdio is stdio_names[i]. */
static const char *const stdio_names[] = {
	"fread", "fwrite", "fread_unlocked", "fwrite_unlocked", "__fread_chk",
	"__fread_unlocked_chk", "fgets", "fputs", "__fgets_chk", "fgets_unlocked",
	"fputs_unlocked", "getline", "getdelim", "__getdelim", "fgetc", "fputc", "getc",
	"putc", "_IO_getc", "_IO_putc", "getc_unlocked", "putc_unlocked", "fgetc_unlocked",
	"fputc_unlocked",
};
#define N_STDIO (sizeof stdio_names / sizeof stdio_names[0])

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#define MULTIARCH "x86_64-linux-gnu"
#define PLATFORM "x86_64"
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#define MULTIARCH "aarch64-linux-gnu"
#define PLATFORM "aarch64"
#elif defined(__i386__)
#define HOST_MACHINE EM_386
#define MULTIARCH "i386-linux-gnu"
#define PLATFORM "i686"
#else
#error "zcshim inspect: unknown host architecture"
#endif
#define HOST_CLASS (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)

/* zc_inspect_host_machine — e_machine of the architecture zcshim was built for. */
int zc_inspect_host_machine(void)
{
	return HOST_MACHINE;
}

/* zc_inspect_host_class — ELF class of the architecture zcshim was built for. */
int zc_inspect_host_class(void)
{
	return HOST_CLASS;
}

/* zc_inspect_join — the names of the bits set in mask, space-separated; returns the length. */
size_t zc_inspect_join(uint64_t mask, const char *const *table, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		if (mask & (UINT64_C(1) << i))
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "", table[i]);
	return used;
}

/* zc_inspect_stdio_names — names of the stdio bits in mask, space-separated. */
void zc_inspect_stdio_names(uint32_t mask, char *buf, size_t len)
{
	zc_inspect_join(mask, stdio_names, N_STDIO, buf, len);
}

/* xstrdup — strdup that tolerates NULL. */
static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* classify_symbol — records what one dynamic symbol tells about the object. */
static void classify_symbol(struct zc_inspect_obj *o, const char *name, bool undefined)
{
	if (!undefined) {
		if (!strcmp(name, "Py_Initialize") || !strcmp(name, "Py_BytesMain"))
			o->embeds_python = true;
		if (!strcmp(name, "runtime.main") || !strcmp(name, "runtime.goexit"))
			o->go_other = true;
		return;
	}
	for (int i = 0; i < ZC_IO_COUNT; i++)
		if (!strcmp(name, zc_inspect_io_names[i])) {
			o->imports |= UINT64_C(1) << i;
			return;
		}
	for (size_t i = 0; i < N_STDIO; i++)
		if (!strcmp(name, stdio_names[i])) {
			o->stdio |= UINT32_C(1) << i;
			return;
		}
	if (!strcmp(name, "dlopen") || !strcmp(name, "dlmopen"))
		o->uses_dlopen = true;
	if (!strcmp(name, "setuid") || !strcmp(name, "seteuid") || !strcmp(name, "setreuid") ||
	    !strcmp(name, "setresuid"))
		o->changes_uid = true;
}

/* scan_symbols — walks a SHT_DYNSYM or SHT_SYMTAB section. */
static void scan_symbols(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, struct zc_inspect_obj *o)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	GElf_Sym sym;

	for (size_t i = 1; d && i < n; i++) {
		if (!gelf_getsym(d, (int)i, &sym))
			break;
		const char *name = elf_strptr(e, sh->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		if (sh->sh_type == SHT_SYMTAB) { /* only Go runtime symbols matter here */
			if (!strcmp(name, "runtime.main") || !strcmp(name, "runtime.goexit"))
				o->go_other = true;
			continue;
		}
		if (GELF_ST_BIND(sym.st_info) == STB_LOCAL)
			continue;
		classify_symbol(o, name, sym.st_shndx == SHN_UNDEF);
	}
}

/* scan_dynamic — DT_NEEDED, DT_RPATH, DT_RUNPATH and DT_FLAGS_1 of a SHT_DYNAMIC section. */
static int scan_dynamic(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, struct zc_inspect_obj *o)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	GElf_Dyn dyn;

	for (size_t i = 0; d && i < n; i++) {
		if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		const char *s = NULL;
		if (dyn.d_tag == DT_NEEDED || dyn.d_tag == DT_RPATH || dyn.d_tag == DT_RUNPATH)
			s = elf_strptr(e, sh->sh_link, dyn.d_un.d_val);
		if (dyn.d_tag == DT_FLAGS_1 && (dyn.d_un.d_val & DF_1_PIE))
			o->pie = true;
		if (!s)
			continue;
		if (dyn.d_tag == DT_NEEDED) {
			char **nn = realloc(o->needed, (o->n_needed + 1) * sizeof *nn);
			if (!nn || !(nn[o->n_needed] = strdup(s)))
				return -1;
			o->needed = nn;
			o->n_needed++;
		} else if (dyn.d_tag == DT_RPATH && !o->rpath) {
			o->rpath = strdup(s);
		} else if (dyn.d_tag == DT_RUNPATH && !o->runpath) {
			o->runpath = strdup(s);
		}
	}
	return 0;
}

/* go_version — the Go version held inline in a .go.buildinfo section (Go 1.18 and later). */
static void go_version(Elf_Scn *scn, struct zc_inspect_obj *o)
{
	static const char magic[] = "\xff Go buildinf:";
	Elf_Data *d = elf_getdata(scn, NULL);
	const unsigned char *p;
	size_t len = 0, i = 32;

	if (!d || !d->d_buf || d->d_size < 33 || memcmp(d->d_buf, magic, 14))
		return;
	p = d->d_buf;
	if (!(p[15] & 2)) /* older layout: pointers to the strings, not worth chasing */
		return;
	for (int shift = 0; i < d->d_size && shift < 28; shift += 7) {
		len |= (size_t)(p[i] & 0x7f) << shift;
		if (!(p[i++] & 0x80))
			break;
	}
	if (len && len < sizeof o->go_version && i + len <= d->d_size) {
		memcpy(o->go_version, p + i, len);
		o->go_version[len] = '\0';
	}
}

/* read_headers — program headers (PT_INTERP, PT_DYNAMIC) and sections of an open ELF of
 * the given size; anything pointing past the end is a truncated file. */
static int read_headers(Elf *e, int fd, const GElf_Ehdr *eh, uint64_t size,
			struct zc_inspect_obj *o, char *err, size_t errlen)
{
	uint64_t shoff = eh->e_shoff, shentsize = eh->e_shentsize;
	size_t nph = 0, nsh = 0, shstrndx;
	GElf_Phdr ph;
	Elf_Scn *scn = NULL;

	if (elf_getphdrnum(e, &nph))
		nph = 0;
	for (size_t i = 0; i < nph; i++) {
		if (!gelf_getphdr(e, (int)i, &ph)) {
			snprintf(err, errlen, "truncated or malformed ELF file (program headers): %s",
				 elf_errmsg(-1));
			return -1;
		}
		if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset) {
			snprintf(err, errlen, "truncated ELF file (a segment extends past the end)");
			return -1;
		}
		if (ph.p_type == PT_DYNAMIC)
			o->has_dynamic = true;
		if (ph.p_type == PT_INTERP && !o->interp) {
			char buf[PATH_MAX];
			size_t want = ph.p_filesz < sizeof buf - 1 ? ph.p_filesz : sizeof buf - 1;
			ssize_t got = pread(fd, buf, want, (off_t)ph.p_offset);
			if (got <= 0) {
				snprintf(err, errlen, "truncated ELF file (PT_INTERP out of range)");
				return -1;
			}
			buf[got] = '\0';
			o->interp = strdup(buf);
		}
	}
	if (!shoff) { /* stripped of section headers (sstrip): only the program headers */
		o->no_sections = true;
		return 0;
	}
	if (shoff > size || elf_getshdrstrndx(e, &shstrndx) || elf_getshdrnum(e, &nsh) ||
	    nsh * shentsize > size - shoff) {
		snprintf(err, errlen, "truncated or malformed ELF file (section headers): %s",
			 elf_errmsg(-1));
		return -1;
	}
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh)) {
			snprintf(err, errlen, "malformed ELF file (section header): %s", elf_errmsg(-1));
			return -1;
		}
		const char *name = elf_strptr(e, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".go.buildinfo")) {
			o->go_buildinfo = true;
			go_version(scn, o);
		} else if (name && (!strcmp(name, ".gopclntab") || !strcmp(name, ".note.go.buildid"))) {
			o->go_other = true;
		}
		if (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB)
			scan_symbols(e, scn, &sh, o);
		else if (sh.sh_type == SHT_DYNAMIC && scan_dynamic(e, scn, &sh, o)) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* zc_inspect_read — fills *o from the ELF file at path, or explains in err why it cannot. */
int zc_inspect_read(const char *path, struct zc_inspect_obj *o, char *err, size_t errlen)
{
	unsigned char head[4];
	struct stat st;
	GElf_Ehdr eh;
	Elf *e;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto out;
	}
	if (pread(fd, head, 4, 0) != 4 || memcmp(head, ELFMAG, SELFMAG)) {
		bool script = pread(fd, head, 2, 0) == 2 && head[0] == '#' && head[1] == '!';
		snprintf(err, errlen, "not an ELF file%s", script ? " (a #! script: inspect its interpreter)" : "");
		goto out;
	}
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
		goto out;
	}
	if (!(e = elf_begin(fd, ELF_C_READ, NULL))) {
		snprintf(err, errlen, "malformed ELF file: %s", elf_errmsg(-1));
		goto out;
	}
	if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh)) {
		snprintf(err, errlen, "malformed ELF file: %s", elf_errmsg(-1));
	} else {
		o->elf_class = gelf_getclass(e);
		o->machine = eh.e_machine;
		o->type = eh.e_type;
		rc = read_headers(e, fd, &eh, (uint64_t)st.st_size, o, err, errlen);
	}
	elf_end(e);
out:
	close(fd);
	return rc;
}

/* arch_ok — whether path is an ELF file of the given class and machine (the loader skips
 * the others and keeps searching, e.g. i386 libraries in /lib32). */
static bool arch_ok(const char *path, int elf_class, int machine)
{
	unsigned char h[20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h && !memcmp(h, ELFMAG, SELFMAG) &&
	     h[EI_CLASS] == elf_class && (h[18] | h[19] << 8) == machine;
	close(fd);
	return ok;
}

/* Search state: directories from ld.so.conf when the cache is unusable, and the mapped cache. */
static const unsigned char *cache;
static size_t cache_len;
static char **conf_dirs;
static size_t n_conf_dirs;

/* conf_parse — adds the directories of one ld.so.conf file, following include lines. */
static void conf_parse(const char *file, int depth)
{
	char line[PATH_MAX];
	FILE *f;

	if (depth > 8 || !(f = fopen(file, "re")))
		return;
	while (fgets(line, sizeof line, f)) {
		char *s = line, *hash = strchr(s, '#');
		if (hash)
			*hash = '\0';
		s += strspn(s, " \t");
		s[strcspn(s, " \t\r\n")] = '\0';
		if (!*s)
			continue;
		if (!strcmp(s, "include")) {
			char pat[PATH_MAX];
			glob_t g;
			char *arg = s + strlen(s) + 1;
			arg += strspn(arg, " \t");
			arg[strcspn(arg, " \t\r\n")] = '\0';
			snprintf(pat, sizeof pat, "%s%s", arg[0] == '/' ? "" : "/etc/", arg);
			if (glob(pat, 0, NULL, &g) == 0) {
				for (size_t i = 0; i < g.gl_pathc; i++)
					conf_parse(g.gl_pathv[i], depth + 1);
				globfree(&g);
			}
		} else if (s[0] == '/') {
			char **nd = realloc(conf_dirs, (n_conf_dirs + 1) * sizeof *nd);
			if (nd && (nd[n_conf_dirs] = strdup(s))) {
				conf_dirs = nd;
				n_conf_dirs++;
			} else if (nd) {
				conf_dirs = nd;
			}
		}
	}
	fclose(f);
}

/* cache_open — maps /etc/ld.so.cache if it has the new format; otherwise reads ld.so.conf. */
static void cache_open(void)
{
	static const char old_magic[] = "ld.so-1.7.0", new_magic[] = "glibc-ld.so.cache1.1";
	static bool done;
	struct stat st;
	int fd;

	if (done)
		return;
	done = true;
	fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !fstat(fd, &st) && st.st_size > 48) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			const unsigned char *p = m;
			size_t off = 0;
			if (!memcmp(p, old_magic, sizeof old_magic - 1)) { /* old table, then new */
				uint32_t nold;
				memcpy(&nold, p + 12, 4);
				off = (16 + (size_t)nold * 12 + 7) & ~(size_t)7;
			}
			if (off + 48 <= (size_t)st.st_size &&
			    !memcmp(p + off, new_magic, sizeof new_magic - 1)) {
				cache = p + off;
				cache_len = (size_t)st.st_size - off;
			} else {
				munmap(m, (size_t)st.st_size);
			}
		}
	}
	if (fd >= 0)
		close(fd);
	if (!cache)
		conf_parse("/etc/ld.so.conf", 0);
}

/* cache_lookup — path of name in the loader cache that matches the class and machine. */
static char *cache_lookup(const char *name, int elf_class, int machine)
{
	uint32_t nlibs;

	if (!cache)
		return NULL;
	memcpy(&nlibs, cache + 20, 4);
	for (size_t i = 0; i < nlibs && 48 + (i + 1) * 24 <= cache_len; i++) {
		uint32_t key, value;
		memcpy(&key, cache + 48 + i * 24 + 4, 4);
		memcpy(&value, cache + 48 + i * 24 + 8, 4);
		if (key >= cache_len || value >= cache_len ||
		    !memchr(cache + key, '\0', cache_len - key) ||
		    !memchr(cache + value, '\0', cache_len - value))
			continue;
		if (!strcmp((const char *)cache + key, name) &&
		    arch_ok((const char *)cache + value, elf_class, machine))
			return strdup((const char *)cache + value);
	}
	return NULL;
}

/* origin_of — directory of an object's real path, for $ORIGIN. */
static void origin_of(const struct zc_inspect_obj *o, char *buf, size_t len)
{
	char real[PATH_MAX];

	if (!o->path || !realpath(o->path, real))
		snprintf(real, sizeof real, "%s", o->path ? o->path : ".");
	char *slash = strrchr(real, '/');
	if (slash == real)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(real, sizeof real, ".");
	snprintf(buf, len, "%s", real);
}

/* expand — one search-list element with $ORIGIN, $LIB and $PLATFORM substituted. */
static void expand(const char *elem, size_t elen, const char *origin, char *out, size_t len)
{
	static const struct { const char *tok, *braced; } toks[] = {
		{ "$ORIGIN", "${ORIGIN}" }, { "$LIB", "${LIB}" }, { "$PLATFORM", "${PLATFORM}" },
	};
	const char *vals[] = { origin, "lib/" MULTIARCH, PLATFORM };
	size_t used = 0;

	for (size_t i = 0; i < elen && used + 1 < len;) {
		size_t k, tl = 0;
		for (k = 0; k < 3; k++) {
			if (!strncmp(elem + i, toks[k].braced, strlen(toks[k].braced)))
				tl = strlen(toks[k].braced);
			else if (!strncmp(elem + i, toks[k].tok, strlen(toks[k].tok)))
				tl = strlen(toks[k].tok);
			if (tl)
				break;
		}
		if (tl && i + tl <= elen) {
			used += (size_t)snprintf(out + used, len - used, "%s", vals[k]);
			i += tl;
		} else {
			out[used++] = elem[i++];
		}
	}
	out[used < len ? used : len - 1] = '\0';
}

/* search_list — first compatible name in a colon-separated directory list (empty = "."). */
static char *search_list(const char *list, const struct zc_inspect_obj *owner, const char *name,
			 int elf_class, int machine)
{
	char origin[PATH_MAX], dir[PATH_MAX], path[PATH_MAX * 2];

	origin_of(owner, origin, sizeof origin);
	for (const char *p = list; p;) {
		const char *colon = strchr(p, ':');
		size_t elen = colon ? (size_t)(colon - p) : strlen(p);
		expand(p, elen, origin, dir, sizeof dir);
		snprintf(path, sizeof path, "%s/%s", *dir ? dir : ".", name);
		if (arch_ok(path, elf_class, machine))
			return strdup(path);
		p = colon ? colon + 1 : NULL;
	}
	return NULL;
}

/* resolve — where the loader would find name when objs[req] needs it; sets *via. */
static char *resolve(const struct zc_inspect_obj *objs, int req, const char *name, bool secure,
		     const char **via)
{
	static const char *const defaults[] = {
		"/lib/" MULTIARCH, "/usr/lib/" MULTIARCH, "/lib64", "/usr/lib64", "/lib", "/usr/lib",
	};
	const struct zc_inspect_obj *r = &objs[req];
	const char *llp = secure ? NULL : getenv("LD_LIBRARY_PATH");
	int cls = objs[0].elf_class, mach = objs[0].machine;
	char *p = NULL;

	if (strchr(name, '/')) {
		*via = "path in DT_NEEDED";
		return arch_ok(name, cls, mach) ? strdup(name) : NULL;
	}
	*via = "DT_RPATH";
	if (!r->runpath) /* DT_RPATH of the requester and of each object up the chain */
		for (int i = req; i >= 0 && !p; i = objs[i].parent)
			if (objs[i].rpath && !objs[i].runpath)
				p = search_list(objs[i].rpath, &objs[i], name, cls, mach);
	if (!p && llp && *llp && (*via = "LD_LIBRARY_PATH"))
		p = search_list(llp, &objs[0], name, cls, mach);
	if (!p && r->runpath && (*via = "DT_RUNPATH"))
		p = search_list(r->runpath, r, name, cls, mach);
	cache_open();
	if (!p && cache && (*via = "ld.so.cache"))
		p = cache_lookup(name, cls, mach);
	for (size_t i = 0; !p && !cache && i < n_conf_dirs; i++)
		if ((*via = "ld.so.conf"))
			p = search_list(conf_dirs[i], r, name, cls, mach);
	for (size_t i = 0; !p && i < sizeof defaults / sizeof defaults[0]; i++)
		if ((*via = "default path"))
			p = search_list(defaults[i], r, name, cls, mach);
	if (!p)
		*via = "not found";
	return p;
}

/* zc_inspect_closure — breadth-first DT_NEEDED closure of (*objs)[0], each library once. */
int zc_inspect_closure(struct zc_inspect_obj **objs, size_t *n, bool secure)
{
	char err[256];

	for (size_t i = 0; i < *n; i++) {
		for (size_t k = 0; k < (*objs)[i].n_needed; k++) {
			const char *name = (*objs)[i].needed[k];
			const char *via;
			bool seen = false;
			for (size_t j = 0; j < *n && !seen; j++)
				seen = j > 0 && !strcmp((*objs)[j].name, name);
			if (seen)
				continue;
			char *path = resolve(*objs, (int)i, name, secure, &via);
			for (size_t j = 1; j < *n && path && !seen; j++)
				seen = (*objs)[j].path && !strcmp((*objs)[j].path, path);
			if (seen) {
				free(path);
				continue;
			}
			struct zc_inspect_obj *no = realloc(*objs, (*n + 1) * sizeof *no);
			if (!no) {
				free(path);
				return -1;
			}
			*objs = no;
			struct zc_inspect_obj *o = &no[*n];
			memset(o, 0, sizeof *o);
			o->name = xstrdup(name);
			o->path = path;
			o->via = via;
			o->parent = (int)i;
			o->depth = no[i].depth + 1;
			(*n)++;
			if (path && zc_inspect_read(path, o, err, sizeof err)) {
				o->via = "unreadable";
			}
		}
	}
	return 0;
}

/* zc_inspect_free — releases n objects and the array holding them. */
void zc_inspect_free(struct zc_inspect_obj *objs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct zc_inspect_obj *o = &objs[i];
		free(o->name);
		free(o->path);
		free(o->interp);
		free(o->runpath);
		free(o->rpath);
		for (size_t k = 0; k < o->n_needed; k++)
			free(o->needed[k]);
		free(o->needed);
	}
	free(objs);
}
