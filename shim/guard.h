/* guard.h — buffer integrity without signals: userfaultfd write-protection in async mode, read back
 * with PAGEMAP_SCAN. The kernel itself notes which pages were written after they were armed (by the
 * program or by any system call); nothing ever faults into the shim or the program. */
#ifndef ZC_GUARD_H
#define ZC_GUARD_H

#include <stddef.h>

/* What a check of an armed range found. */
enum zc_guard_verdict {
	ZC_GUARD_CLEAN = 0, /* every page present, still write-protected: unchanged since armed */
	ZC_GUARD_WRITTEN,   /* a page was written, dropped, swapped or remapped: trust the buffer only */
	ZC_GUARD_ERROR,     /* the kernel could not answer */
};

/* zc_guard_open — before a read into [lo, lo+len) (page aligned): registered, writable without a
 * fault. 0, or -errno (then the range cannot be guarded: no record). First use initialises. */
int zc_guard_open(void *lo, size_t len);
/* zc_guard_arm — after the read: write-protect; from now on any write marks its page. 0 or -errno. */
int zc_guard_arm(void *lo, size_t len);
/* zc_guard_check — has any page of [lo, lo+len) been written since it was armed? */
enum zc_guard_verdict zc_guard_check(const void *lo, size_t len);
/* zc_guard_mechanism — "userfaultfd-wp", "userfaultfd-wp (user mode)", "none" (and why). */
const char *zc_guard_mechanism(void);
/* Deferred mode (missing-page faults answered by the fault thread, fault.c). Enable before first use. */
void zc_guard_enable_defer(void);
/* 1 when a kernel access to a missing page waits for the fault thread: deferral is exact. */
int zc_guard_can_defer(void);
/* zc_guard_defer_possible — observe mode: whether deferral would be possible here, asked of the
 * kernel with a userfaultfd opened and closed again (nothing is guarded; answered once). */
int zc_guard_defer_possible(void);
/* Registers [lo, lo+len) for missing faults too and drops its pages: 0 or -errno. */
int zc_guard_defer_open(void *lo, size_t len);
/* Installs len bytes of src at lo (page aligned), write-protected, waking waiters. 0 or -errno. */
int zc_guard_fill(void *lo, const void *src, size_t len);
/* Answers a fault on a page no record holds: zeros (or a wake-up if it is present already). */
void zc_guard_zero(void *page);
/* Every page of the range still registered and absent (nothing mapped over it). */
int zc_guard_still_missing(const void *lo, size_t len);
/* The whole range still registered (enough for a deferred record: a touch would have filled it). */
int zc_guard_still_registered(void *lo, size_t len);
/* The kernel reports unmaps, zaps and moves of registered ranges (the fault thread applies them). */
int zc_guard_events(void);
/* In a forked child: the descriptors name the parent's memory; open our own on next use. */
void zc_guard_atfork_child(void);

/* The fault thread is started now, where reads may be deferred (the program forbids new threads). */
void zc_guard_prestart(void);
/* Before the program's chroot: the descriptors the guard needs from /proc are opened now. */
void zc_guard_before_chroot(void);

#endif
