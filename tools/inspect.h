/* inspect.h — ELF facts gathered by `zcshim inspect` (tools/inspect_elf.c) for tools/inspect.c. */
#ifndef ZC_INSPECT_H
#define ZC_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Interposable I/O names the shim wraps; bit i of an import mask is zc_inspect_io_names[i]. */
#define ZC_INSPECT_IO_NAMES(X)                                                                  \
	X(read) X(__read_chk) X(pread) X(pread64) X(__pread64_chk) X(readv) X(preadv) X(preadv64)   \
	X(recv) X(recvfrom) X(recvmsg)                                                              \
	X(write) X(pwrite) X(pwrite64) X(writev) X(send) X(sendto) X(sendmsg)                       \
	X(sendfile) X(sendfile64) X(splice) X(copy_file_range)                                      \
	X(lseek) X(lseek64) X(mmap) X(mmap64)

#define ZC_IO_ENUM(n) ZC_IO_##n,
enum zc_inspect_io { ZC_INSPECT_IO_NAMES(ZC_IO_ENUM) ZC_IO_COUNT };
#undef ZC_IO_ENUM

#define ZC_IO_BIT(n) (UINT32_C(1) << ZC_IO_##n)
/* Names that read data in (files or sockets), write it out, or already move it zero-copy. */
#define ZC_IO_READ_MASK                                                                         \
	(ZC_IO_BIT(read) | ZC_IO_BIT(__read_chk) | ZC_IO_BIT(pread) | ZC_IO_BIT(pread64) |          \
	 ZC_IO_BIT(__pread64_chk) | ZC_IO_BIT(readv) | ZC_IO_BIT(preadv) | ZC_IO_BIT(preadv64) |     \
	 ZC_IO_BIT(recv) | ZC_IO_BIT(recvfrom) | ZC_IO_BIT(recvmsg))
#define ZC_IO_WRITE_MASK                                                                        \
	(ZC_IO_BIT(write) | ZC_IO_BIT(pwrite) | ZC_IO_BIT(pwrite64) | ZC_IO_BIT(writev) |           \
	 ZC_IO_BIT(send) | ZC_IO_BIT(sendto) | ZC_IO_BIT(sendmsg))
#define ZC_IO_ZEROCOPY_MASK                                                                     \
	(ZC_IO_BIT(sendfile) | ZC_IO_BIT(sendfile64) | ZC_IO_BIT(splice) | ZC_IO_BIT(copy_file_range))

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
	uint32_t imports;  /* undefined dynamic symbols among zc_inspect_io_names */
	uint32_t stdio;    /* undefined stdio data-path functions (bits of an internal table) */
	bool uses_dlopen;  /* imports dlopen or dlmopen */
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
size_t zc_inspect_join(uint32_t mask, const char *const *table, size_t n, char *buf, size_t len);
void zc_inspect_stdio_names(uint32_t mask, char *buf, size_t len);

/* e_machine value of the architecture zcshim was built for, and its ELF class. */
int zc_inspect_host_machine(void);
int zc_inspect_host_class(void);

#endif
