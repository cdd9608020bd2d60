/* interpose_mem.c — memory given back or remapped (free, realloc, munmap, madvise, mremap,
 * mprotect, mmap over a buffer): records there end. The guard would see most of these on its own
 * (a zapped or remapped page is not "present and unwritten"); dropping early keeps reasons right. */
#include "config.h"
#include "detect.h"
#include "guard.h"
#include "interpose.h"
#include "mapping.h"
#include "real.h"
#include "shim.h"

#include <dlfcn.h>
#include <malloc.h>
#include <string.h>
#include <stdarg.h>
#include <sys/mman.h>


/* live — any record at all? One load keeps the allocator path cheap. */
static int live(void)
{
	return zc_active() && __atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED);
}

/* maps — any file mapping followed? */
static int maps(void)
{
	return zc_active() && __atomic_load_n(&zc_map_live, __ATOMIC_RELAXED);
}

/* unfollow — mappings overlapping [p, p+n) are no longer followed; entered, errno kept. */
static void unfollow(const void *p, size_t n)
{
	int saved = errno;
	enter();
	zc_map_forget_range(p, n);
	leave();
	errno = saved;
}

/* forget — records in [p, p+n) end; entered, errno kept. discard: the memory's bytes no longer
 * matter (freed, unmapped, zapped, mapped over), so deferred ones are not filled first. */
static void forget(const void *p, size_t n, int discard)
{
	int saved = errno;
	enter();
	if (discard) zc_detect_discard_range(p, n);
	else zc_detect_drop_range(p, n);
	leave();
	errno = saved;
}

/* The next free/realloc before the constructor ran (another preload's constructor frees): looked
 * up on first use, never assumed to be libc's (a preloaded allocator owns the pointer). dlsym may
 * itself free or realloc: on this thread, while it runs, such a call leaves the pointer alone. */
static __thread int resolving;

/* NEXT_MEM — zc_real.name, else resolved now; NULL while resolving on this thread. */
#define NEXT_MEM(name)                                                                          \
	({                                                                                          \
		zc_real_##name##_t f_ = __atomic_load_n(&zc_real.name, __ATOMIC_ACQUIRE);               \
		if (!f_ && !resolving) {                                                                \
			resolving = 1;                                                                      \
			f_ = (zc_real_##name##_t)zc_real_next(#name);                                       \
			resolving = 0;                                                                      \
			if (f_) __atomic_store_n(&zc_real.name, f_, __ATOMIC_RELEASE);                      \
		}                                                                                       \
		f_;                                                                                     \
	})

/* Large allocations start on a page (align_min_bytes, deferred and auto modes): a read into such
 * a buffer has no head to copy and, for whole pages, no tail (defer.c moves all of it with the one
 * transfer; a malloc'd 64 KiB chunk to a pipe cost 1.32x native sendfile, 1.13x aligned). The
 * memory is the program's allocator's own, through its posix_memalign, and only where that comes
 * from the same object as its malloc (free gets its own pointers back). Costs up to a page each. */
static size_t align_min;                               /* 0: off (and until the constructor) */
static int align_state;                                /* 0 not asked, 1 deferral possible, -1 not */
static int (*next_memalign)(void **, size_t, size_t);

/* boot — memory for a malloc made while this thread looks malloc up (dlsym may allocate): never
 * given back, never passed to the allocator */
static char boot[16384] __attribute__((aligned(16)));
static size_t boot_used;

static int in_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof boot;
}

/* aligned — n bytes on a page, or NULL (then malloc as usual): only once deferral is known possible
 * here, since without it the page would buy nothing */
static void *aligned(size_t n)
{
	int s = __atomic_load_n(&align_state, __ATOMIC_ACQUIRE);
	if (!s) {
		s = zc_guard_defer_possible() ? 1 : -1;
		__atomic_store_n(&align_state, s, __ATOMIC_RELEASE);
	}
	void *p;
	return s > 0 && next_memalign(&p, 4096, n) == 0 ? p : NULL;
}

EXPORT void *malloc(size_t n)
{
	size_t a = __atomic_load_n(&align_min, __ATOMIC_ACQUIRE);
	void *p = a && n >= a ? aligned(n) : NULL;
	if (p) return p;
	zc_real_malloc_t f = NEXT_MEM(malloc);
	if (f) return f(n);
	size_t at = __atomic_fetch_add(&boot_used, (n + 15) & ~(size_t)15, __ATOMIC_RELAXED);
	if (at + n <= sizeof boot && at + n >= at) return boot + at;
	errno = ENOMEM;
	return NULL;
}

void zc_mem_align_setup(void)
{
	if ((zc_cfg.mode != ZC_MODE_DEFERRED && zc_cfg.mode != ZC_MODE_AUTO) || !zc_cfg.align_min_bytes) return;
	Dl_info m, pm;
	void *f = (void *)NEXT_MEM(malloc), *g = zc_real_next("posix_memalign");
	if (!f || !g || !dladdr(f, &m) || !dladdr(g, &pm) || m.dli_fbase != pm.dli_fbase) return;
	next_memalign = (int (*)(void **, size_t, size_t))g;
	__atomic_store_n(&align_min, (size_t)zc_cfg.align_min_bytes, __ATOMIC_RELEASE);
}

EXPORT void free(void *p)
{
	if (in_boot(p)) return;
	if (p && live()) forget(p, malloc_usable_size(p), 1); /* the allocator may write there */
	zc_real_free_t f = NEXT_MEM(free);
	if (f) f(p); /* else: a few bytes dlsym let go of while it looked free up, leaked once */
}

/* realloc during its own lookup: failing is the one answer that never touches the pointer. */
EXPORT void *realloc(void *p, size_t n)
{
	if (in_boot(p)) { /* its size is unknown: what fits, from p to the end of boot */
		size_t left = (size_t)(boot + sizeof boot - (char *)p);
		void *q = malloc(n);
		if (q) memcpy(q, p, n < left ? n : left);
		return q;
	}
	if (p && live()) forget(p, malloc_usable_size(p), 0); /* the bytes move: they must be there */
	zc_real_realloc_t f = NEXT_MEM(realloc);
	if (f) return f(p, n);
	errno = ENOMEM;
	return NULL;
}

EXPORT int munmap(void *p, size_t n)
{
	if (live()) forget(p, n, 1);
	if (maps()) unfollow(p, n);
	return zc_real.munmap ? zc_real.munmap(p, n) : (int)syscall(SYS_munmap, p, n);
}

EXPORT int madvise(void *p, size_t n, int advice)
{
	if (live() && (advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE)) forget(p, n, 1);
	return zc_real.madvise ? zc_real.madvise(p, n, advice) : (int)syscall(SYS_madvise, p, n, advice);
}

EXPORT void *mremap(void *old, size_t oldn, size_t newn, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	void *addr = (flags & MREMAP_FIXED) ? va_arg(ap, void *) : NULL;
	va_end(ap);
	if (live()) forget(old, oldn, 0); /* the pages move without their registration: filled first */
	if (live() && (flags & MREMAP_FIXED)) forget(addr, newn, 1);
	if (maps()) unfollow(old, oldn);
	if (maps() && (flags & MREMAP_FIXED)) unfollow(addr, newn);
	return zc_real.mremap ? zc_real.mremap(old, oldn, newn, flags, addr) : (void *)syscall(SYS_mremap, old, oldn, newn, flags, addr);
}

/* A buffer made inaccessible must fail a plain write with EFAULT: never rewrite from it again. */
EXPORT int mprotect(void *p, size_t n, int prot)
{
	if (live()) forget(p, n, 0);
	if (maps()) unfollow(p, n); /* PROT_NONE must fail the write, PROT_WRITE may make private pages */
	return zc_real.mprotect ? zc_real.mprotect(p, n, prot) : (int)syscall(SYS_mprotect, p, n, prot);
}

EXPORT void *mmap64(void *p, size_t n, int prot, int flags, int fd, off_t off)
{
	if (live() && (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))) forget(p, n, 1);
	if (maps() && (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))) unfollow(p, n);
	/* a read-only file mapping: writes from it may be sent from the file (mapping.c) */
	struct zc_map_seen seen;
	int follow = 0, saved = errno;
	if (fd >= 0 && !(prot & PROT_WRITE) && zc_active()) {
		enter();
		follow = zc_map_want(n, prot, flags, fd, &seen);
		leave();
		errno = saved;
	}
	void *r = zc_real.mmap64 ? zc_real.mmap64(p, n, prot, flags, fd, off) : (void *)syscall(SYS_mmap, p, n, prot, flags, fd, off);
	if (r != MAP_FAILED && follow) {
		saved = errno;
		enter();
		zc_map_track(r, n, fd, off, &seen);
		leave();
		errno = saved;
	}
	return r;
}

EXPORT void *mmap(void *p, size_t n, int prot, int flags, int fd, off_t off) __attribute__((alias("mmap64")));
