/* shim.h — state every wrapper consults: initialised yet, and re-entered on this thread? */
#ifndef ZC_SHIM_H
#define ZC_SHIM_H

#include <stddef.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

extern int zc_on;                 /* set at the end of the constructor */
extern __thread int zc_depth;     /* >0 while the shim runs on this thread */
extern size_t zc_min_record;      /* smallest read worth recording */

/* zc_high_fd — moves one of the shim's own descriptors high, close-on-exec, out of the program's way. */
int zc_high_fd(int fd);
/* zc_dup_high — a high close-on-exec duplicate of fd, made there directly (no low one closed); -1. */
int zc_dup_high(int fd);
/* zc_high_fd_strict — the same, but a descriptor that cannot go high is closed: -1. */
int zc_high_fd_strict(int fd);
/* zc_is_own_fd — fd is one of those (the program's close gets EBADF, as without the shim). */
int zc_is_own_fd(int fd);
/* zc_own_fds_in — those in [lo, hi], ascending (at most cap); how many. */
int zc_own_fds_in(unsigned lo, unsigned hi, int *out, int cap);
/* zc_close_own — the shim closes one of its own descriptors. */
void zc_close_own(int fd);

/* zc_copy_in — copies n bytes of the program's memory that may be invalid; -EFAULT if it is. */
int zc_copy_in(void *dst, const void *src, size_t n);
/* zc_sigpipe_ignored — SIGPIPE's disposition is SIG_IGN (interpose_sig.c follows it: zc_sigpipe_set). */
int zc_sigpipe_ignored(void);
void zc_sigpipe_set(int ignored);
/* zc_sig_restarting — some signal has a handler installed with SA_RESTART (the kernel is asked
 * once, then interpose_sig.c follows it: zc_sig_restart_set). Errs toward yes. */
int zc_sig_restarting(void);
void zc_sig_restart_set(int sig, int on);
int zc_sig_restart_has(int sig);
/* zc_on_stack — p lies in the calling thread's own stack. */
int zc_on_stack(const void *p);
extern pid_t zc_pid_cache; /* getpid(), asked once (reset in a forked child) */
/* zc_raw_clone_check — this process is a child made by a raw clone (no fork handlers ran): its
 * state is reset as a forked child's; 1 if so (init.c). */
int zc_raw_clone_check(void);
/* zc_borrowed_state — the caller is not the process the shim's state belongs to: a vfork child
 * (or a clone sharing memory) that has not exec'd yet (init.c). One getpid. */
int zc_borrowed_state(void);

extern __thread pid_t zc_tid_cache;
/* zc_tid — this thread's id, asked of the kernel once (reset in a forked child). */
static inline pid_t zc_tid(void)
{
	if (__builtin_expect(!zc_tid_cache, 0)) zc_tid_cache = (pid_t)syscall(SYS_gettid);
	return zc_tid_cache;
}

/* zc_active — do shim work only once initialised and never re-entered (signal handlers, own I/O). */
static inline int zc_active(void)
{
	return __builtin_expect(__atomic_load_n(&zc_on, __ATOMIC_RELAXED) && !zc_depth, 1);
}

#endif
