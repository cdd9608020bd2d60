/* interpose_mem.c — memory given back or remapped (free, realloc, munmap, madvise, mremap,
 * mprotect, mmap over a buffer): records there end. The guard would see most of these on its own
 * (a zapped or remapped page is not "present and unwritten"); dropping early keeps reasons right. */
#include "detect.h"
#include "interpose.h"
#include "real.h"
#include "shim.h"

#include <malloc.h>
#include <stdarg.h>
#include <sys/mman.h>

extern void __libc_free(void *);
extern void *__libc_realloc(void *, size_t);

/* live — any record at all? One load keeps the allocator path cheap. */
static int live(void)
{
	return zc_active() && __atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED);
}

/* forget — records in [p, p+n) end; entered, errno kept. */
static void forget(const void *p, size_t n)
{
	int saved = errno;
	enter();
	zc_detect_drop_range(p, n);
	leave();
	errno = saved;
}

EXPORT void free(void *p)
{
	if (p && live()) forget(p, malloc_usable_size(p)); /* the allocator may write there */
	if (zc_real.free) zc_real.free(p);
	else __libc_free(p);
}

EXPORT void *realloc(void *p, size_t n)
{
	if (p && live()) forget(p, malloc_usable_size(p));
	return zc_real.realloc ? zc_real.realloc(p, n) : __libc_realloc(p, n);
}

EXPORT int munmap(void *p, size_t n)
{
	if (live()) forget(p, n);
	return zc_real.munmap ? zc_real.munmap(p, n) : (int)syscall(SYS_munmap, p, n);
}

EXPORT int madvise(void *p, size_t n, int advice)
{
	if (live() && (advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE)) forget(p, n);
	return zc_real.madvise ? zc_real.madvise(p, n, advice) : (int)syscall(SYS_madvise, p, n, advice);
}

EXPORT void *mremap(void *old, size_t oldn, size_t newn, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	void *addr = (flags & MREMAP_FIXED) ? va_arg(ap, void *) : NULL;
	va_end(ap);
	if (live()) forget(old, oldn);
	if (live() && (flags & MREMAP_FIXED)) forget(addr, newn);
	return zc_real.mremap ? zc_real.mremap(old, oldn, newn, flags, addr) : (void *)syscall(SYS_mremap, old, oldn, newn, flags, addr);
}

/* A buffer made inaccessible must fail a plain write with EFAULT: never rewrite from it again. */
EXPORT int mprotect(void *p, size_t n, int prot)
{
	if (live()) forget(p, n);
	return zc_real.mprotect ? zc_real.mprotect(p, n, prot) : (int)syscall(SYS_mprotect, p, n, prot);
}

EXPORT void *mmap64(void *p, size_t n, int prot, int flags, int fd, off_t off)
{
	if (live() && (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))) forget(p, n);
	return zc_real.mmap64 ? zc_real.mmap64(p, n, prot, flags, fd, off) : (void *)syscall(SYS_mmap, p, n, prot, flags, fd, off);
}

EXPORT void *mmap(void *p, size_t n, int prot, int flags, int fd, off_t off) __attribute__((alias("mmap64")));
