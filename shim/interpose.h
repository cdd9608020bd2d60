/* interpose.h — what the exported wrappers share: the export marker and the two memory gates. */
#ifndef ZC_INTERPOSE_H
#define ZC_INTERPOSE_H

#include "detect.h"
#include "shim.h"

#define EXPORT __attribute__((visibility("default")))

/* kernel_writes — the kernel (or the allocator) is about to write [p, p+n): what was recorded
 * there is no longer what the buffer will hold. The guard would see the change anyway (any write
 * marks its page); dropping early keeps the table small and the reason counted right. */
static inline void kernel_writes(const void *p, size_t n)
{
	if (__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) zc_detect_drop_range(p, n);
	if (zc_detect_quick_live) zc_detect_quick_drop(p, n);
}

/* kernel_reads — the kernel is about to read [p, p+n) on the program's behalf without the shim
 * rewriting the call. Eager buffers hold their bytes: nothing to do. Deferred mode materializes here. */
static inline void kernel_reads(const void *p, size_t n)
{
	(void)p, (void)n;
}

/* enter/leave — shim work on this thread: a signal handler that interrupts it and calls a wrapped
 * function passes straight through, so it never waits for a lock this thread holds. */
static inline void enter(void) { zc_depth++; }
static inline void leave(void) { zc_depth--; }

/* In a forked child: environ as the program left it, the exec module's lock free (interpose_exec.c). */
void zc_exec_atfork_child(void);
/* zc_mem_align_setup — large mallocs start on a page from now on, where the mode defers and the
 * allocator allows (interpose_mem.c; align_min_bytes). */
void zc_mem_align_setup(void);

#endif
