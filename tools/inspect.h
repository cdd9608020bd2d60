/* inspect.h — ELF facts gathered by `zcshim inspect` (tools/inspect_elf.c) for tools/inspect.c. */
#ifndef ZC_INSPECT_H
#define ZC_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Interposable I/O names: the data-path kinds of the shim's one export list (shim/exports.h);
 * bit i of an import mask is zc_inspect_io_names[i]. */
#include "exports.h"

enum zc_inspect_kind { ZC_IO_K_READ, ZC_IO_K_WRITE, ZC_IO_K_ZEROCOPY, ZC_IO_K_SEEK, ZC_IO_K_MAP };
/* ZC_IO_NAMES(X): X(name, kind) for every data-path name; descriptor, exec and memory names drop out. */
#define ZC_IO_KEEP_READ(X, n) X(n, READ)
#define ZC_IO_KEEP_WRITE(X, n) X(n, WRITE)
#define ZC_IO_KEEP_ZEROCOPY(X, n) X(n, ZEROCOPY)
#define ZC_IO_KEEP_SEEK(X, n) X(n, SEEK)
#define ZC_IO_KEEP_MAP(X, n) X(n, MAP)
#define ZC_IO_KEEP_FD(X, n)
#define ZC_IO_KEEP_EXEC(X, n)
#define ZC_IO_KEEP_MEM(X, n)
#define ZC_IO_KEEP_SIG(X, n)
#define ZC_IO_KEEP_CRED(X, n)
#define ZC_IO_F(name, ret, params, kind) ZC_IO_KEEP_##kind(ZC_IO_X, name)
#define ZC_IO_A(name, target, kind) ZC_IO_KEEP_##kind(ZC_IO_X, name)
#define ZC_IO_NAMES ZC_EXPORTS(ZC_IO_F, ZC_IO_A) /* expands ZC_IO_X(name, kind), defined by the user */

#define ZC_IO_X(n, k) ZC_IO_##n,
enum zc_inspect_io { ZC_IO_NAMES ZC_IO_COUNT };
#undef ZC_IO_X
_Static_assert(ZC_IO_COUNT <= 64, "import masks are 64 bits");

#define ZC_IO_BIT(n) (UINT64_C(1) << ZC_IO_##n)
/* Names that read data in (files or sockets), write it out, or already move it zero-copy. */
uint64_t zc_inspect_mask(enum zc_inspect_kind kind);
#define ZC_IO_READ_MASK zc_inspect_mask(ZC_IO_K_READ)
#define ZC_IO_WRITE_MASK zc_inspect_mask(ZC_IO_K_WRITE)
#define ZC_IO_ZEROCOPY_MASK zc_inspect_mask(ZC_IO_K_ZEROCOPY)
#define ZC_IO_MAP_MASK zc_inspect_mask(ZC_IO_K_MAP)
/* The writes the shim turns into sendfile when their range lies in a read-only file mapping. */
#define ZC_IO_MAPPED_WRITE_MASK (ZC_IO_BIT(write) | ZC_IO_BIT(writev) | ZC_IO_BIT(send) | ZC_IO_BIT(sendmsg))

extern const char *const zc_inspect_io_names[ZC_IO_COUNT];

/* One ELF object: the inspected binary (index 0 of a closure) or one of its libraries. */
struct zc_inspect_obj {
	char *name;        /* DT_NEEDED string, or the path given on the command line */
	char *path;        /* file actually read; NULL when the library was not found */
	const char *via;   /* how the loader would find it: "runpath", "ld.so.cache", ... */
	int parent;        /* index of the object that needs it, -1 for the binary */
	int depth;         /* 0 for the binary, 1 for its DT_NEEDED, ... */
	int elf_class;     /* ELFCLASS32/64 */
	int machine;       /* e_machine */
	int type;          /* e_type: ET_EXEC, ET_DYN */
	char *interp;      /* PT_INTERP string or NULL */
	bool has_dynamic;  /* PT_DYNAMIC present */
	bool pie;          /* DF_1_PIE set */
	bool no_sections;  /* no section headers: symbols could not be read */
	char **needed;     /* DT_NEEDED, in order */
	size_t n_needed;
	char *runpath;     /* DT_RUNPATH or NULL */
	char *rpath;       /* DT_RPATH or NULL */
	uint64_t imports;  /* undefined dynamic symbols among zc_inspect_io_names */
	uint32_t stdio;    /* undefined stdio data-path functions (bits of an internal table) */
	bool uses_dlopen;  /* imports dlopen or dlmopen */
	bool changes_uid;  /* imports setuid, seteuid, setreuid or setresuid (a server dropping root) */
	bool embeds_python; /* defines Py_Initialize / Py_BytesMain */
	bool go_buildinfo; /* .go.buildinfo section */
	bool go_other;     /* .gopclntab / .note.go.buildid section or runtime.* symbols */
	char go_version[48]; /* from the build info, when it holds the version inline */
};

/* Reads one ELF file into *o (name/path must be set by the caller); on failure returns -1 and
 * writes a one-line reason to err. Non-ELF input, truncation and libelf errors are failures. */
int zc_inspect_read(const char *path, struct zc_inspect_obj *o, char *err, size_t errlen);

/* Appends the DT_NEEDED closure of (*objs)[0] breadth first, each library once, resolved as
 * the loader would (RPATH, LD_LIBRARY_PATH unless secure, RUNPATH, ld.so.cache, defaults). */
int zc_inspect_closure(struct zc_inspect_obj **objs, size_t *n, bool secure);

/* Releases what zc_inspect_read / zc_inspect_closure allocated in n objects and the array. */
void zc_inspect_free(struct zc_inspect_obj *objs, size_t n);

/* Names of the stdio data-path functions in mask, space-separated, into buf. */
size_t zc_inspect_join(uint64_t mask, const char *const *table, size_t n, char *buf, size_t len);
void zc_inspect_stdio_names(uint32_t mask, char *buf, size_t len);

/* e_machine value of the architecture zcshim was built for, and its ELF class. */
int zc_inspect_host_machine(void);
int zc_inspect_host_class(void);

#endif
