/* interpose_mem.c — memory given back (free, realloc, munmap, madvise, mremap) and SIGSEGV ownership. */
#include "detect.h"
#include "guard.h"
#include "real.h"
#include "shim.h"

#include <malloc.h>
#include <stdarg.h>
#include <sys/mman.h>

#define EXPORT __attribute__((visibility("default")))

extern void __libc_free(void *);
extern void *__libc_realloc(void *, size_t);

/* live — any record at all? One load keeps the allocator path cheap. */
static int live(void)
{
	return zc_active() && __atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED);
}

EXPORT void free(void *p)
{
	if (p && live()) zc_detect_drop_range(p, malloc_usable_size(p), 1); /* the allocator may write there */
	if (zc_real.free) zc_real.free(p);
	else __libc_free(p);
}

EXPORT void *realloc(void *p, size_t n)
{
	if (p && live()) zc_detect_drop_range(p, malloc_usable_size(p), 1);
	return zc_real.realloc ? zc_real.realloc(p, n) : __libc_realloc(p, n);
}

EXPORT int munmap(void *p, size_t n)
{
	if (live()) zc_detect_drop_range(p, n, 0);
	return zc_real.munmap ? zc_real.munmap(p, n) : (int)syscall(SYS_munmap, p, n);
}

EXPORT int madvise(void *p, size_t n, int advice)
{
	if (live() && (advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE)) zc_detect_drop_range(p, n, 1);
	return zc_real.madvise(p, n, advice);
}

EXPORT void *mremap(void *old, size_t oldn, size_t newn, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	void *addr = (flags & MREMAP_FIXED) ? va_arg(ap, void *) : NULL;
	va_end(ap);
	if (live()) zc_detect_drop_range(old, oldn, 1);
	return zc_real.mremap(old, oldn, newn, flags, addr);
}

/* SIGSEGV stays ours; the program's handler is kept and chained (guard.c). */
EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sig == SIGSEGV && zc_active()) return zc_guard_sigaction(act, old);
	return zc_real.sigaction ? zc_real.sigaction(sig, act, old) : (int)syscall(SYS_rt_sigaction, sig, act, old, 8);
}

EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	struct sigaction sa = {0}, old;
	sa.sa_handler = h;
	sa.sa_flags = SA_RESTART; /* glibc's BSD semantics */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, sig);
	if (sigaction(sig, &sa, &old) < 0) return SIG_ERR;
	return old.sa_handler;
}
