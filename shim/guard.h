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
/* In a forked child: the descriptors name the parent's memory; open our own on next use. */
void zc_guard_atfork_child(void);

#endif
