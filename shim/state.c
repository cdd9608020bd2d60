/* state.c — the few process-wide variables every layer reads (see shim.h). */
#include "shim.h"

#include <errno.h>
#include <limits.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

int zc_on;
__thread int zc_depth;
__thread pid_t zc_tid_cache;
size_t zc_min_record;

#define OWN_MAX 352 /* the high zone's most (320) and a few low ones */
static int own[OWN_MAX]; /* the shim's own descriptors, stored as fd + 1 (0: a free slot) */
static int own_min = INT_MAX; /* no own descriptor is lower: a program's close of one below asks nothing */

/* own_add — remembers one of the shim's descriptors, so the program's close cannot take it. */
static void own_add(int fd)
{
	for (int m = __atomic_load_n(&own_min, __ATOMIC_RELAXED); fd < m;)
		if (__atomic_compare_exchange_n(&own_min, &m, fd, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) break;
	for (int k = 0; k < OWN_MAX; k++)
		if (__atomic_compare_exchange_n(&own[k], &(int){0}, fd + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return;
}

int zc_is_own_fd(int fd)
{
	if (fd < __atomic_load_n(&own_min, __ATOMIC_ACQUIRE)) return 0;
	for (int k = 0; k < OWN_MAX; k++)
		if (__atomic_load_n(&own[k], __ATOMIC_RELAXED) == fd + 1) return 1;
	return 0;
}

/* zc_own_fds_in — the shim's descriptors in [lo, hi], ascending; returns how many (at most cap). */
int zc_own_fds_in(unsigned lo, unsigned hi, int *out, int cap)
{
	int n = 0;
	for (int k = 0; k < OWN_MAX && n < cap; k++) {
		int v = __atomic_load_n(&own[k], __ATOMIC_RELAXED) - 1;
		if (v < 0 || (unsigned)v < lo || (unsigned)v > hi) continue;
		int i = n++;
		for (; i > 0 && out[i - 1] > v; i--) out[i] = out[i - 1];
		out[i] = v;
	}
	return n;
}

/* zc_close_own — the shim closes one of its own descriptors. */
void zc_close_own(int fd)
{
	for (int k = 0; k < OWN_MAX; k++)
		if (__atomic_compare_exchange_n(&own[k], &(int){fd + 1}, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) break;
	syscall(SYS_close, fd);
}

/* zc_dup_high — a duplicate of fd near the top of the soft descriptor limit, where a program's next
 * open never lands, made there directly: no low descriptor of the file is ever closed (a close of
 * any descriptor of a file drops the program's POSIX locks on it). From then on the program's
 * close and close_range leave it alone. -1 if none fits. The zone is the limit's top sixteenth,
 * 64 to 320 numbers (the sources of deferred reads live there: one per file streamed at once). */
int zc_dup_high(int fd)
{
	struct rlimit rl;
	long base = 900;
	if (syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 128) {
		long zone = (long)rl.rlim_cur / 16;
		base = (long)rl.rlim_cur - (zone < 64 ? 64 : zone > 320 ? 320 : zone);
	}
	int high = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base);
	if (high >= 0) own_add(high);
	return high;
}

/* zc_high_fd — one of the shim's own descriptors moved high (the low one closed). */
int zc_high_fd(int fd)
{
	int high = zc_dup_high(fd);
	if (high < 0) {
		own_add(fd); /* keep the low one rather than lose it */
		return fd;
	}
	syscall(SYS_close, fd);
	return high;
}

int zc_high_fd_strict(int fd)
{
	int high = zc_dup_high(fd);
	syscall(SYS_close, fd);
	return high;
}

static __thread uintptr_t stack_lo, stack_hi; /* this thread's stack, asked once; hi 1: unknown */
pid_t zc_pid_cache;

/* stack_known — this thread's stack bounds, asked of libc once per thread. */
static int stack_known(void)
{
	if (__builtin_expect(!stack_hi, 0)) {
		pthread_attr_t a;
		void *addr;
		size_t size;
		stack_hi = 1;
		if (pthread_getattr_np(pthread_self(), &a) == 0) {
			if (pthread_attr_getstack(&a, &addr, &size) == 0) stack_lo = (uintptr_t)addr, stack_hi = (uintptr_t)addr + size;
			pthread_attr_destroy(&a);
		}
	}
	return stack_hi > 1;
}

/* zc_on_stack — the real bounds (a worker's heap buffer may lie just above its stack pointer);
 * only where they cannot be had, the frames above ours. */
int zc_on_stack(const void *p)
{
	if (stack_known()) return (uintptr_t)p >= stack_lo && (uintptr_t)p < stack_hi;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	return (uintptr_t)p >= sp && (uintptr_t)p < sp + (8UL << 20);
}

/* zc_copy_in — through the kernel, so a bad pointer is an error and never a fault in the shim.
 * Memory between our frame and the top of this thread's stack is mapped: copied directly (the
 * vectors of nginx's writev live there), saving the system call. */
int zc_copy_in(void *dst, const void *src, size_t n)
{
	uintptr_t a = (uintptr_t)src, sp = (uintptr_t)__builtin_frame_address(0);
	if (!n) return 0;
	if (stack_known() && a >= sp && a + n > a && a + n <= stack_hi) {
		memcpy(dst, src, n);
		return 0;
	}
	if (!zc_pid_cache) zc_pid_cache = (pid_t)syscall(SYS_getpid);
	struct iovec l = {dst, n}, r = {(void *)src, n};
	return syscall(SYS_process_vm_readv, zc_pid_cache, &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

/* ksig — the kernel's struct sigaction (rt_sigaction's). */
struct ksig {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static int pipe_state = -1; /* SIGPIPE: 1 SIG_IGN, 0 anything else, -1 not known yet */

void zc_sigpipe_set(int ignored)
{
	__atomic_store_n(&pipe_state, ignored, __ATOMIC_RELAXED);
}

/* zc_sigpipe_ignored — asked of the kernel once, then followed through interpose_sig.c. */
int zc_sigpipe_ignored(void)
{
	int s = __atomic_load_n(&pipe_state, __ATOMIC_RELAXED);
	if (s >= 0) return s;
	struct ksig k;
	s = syscall(SYS_rt_sigaction, SIGPIPE, NULL, &k, sizeof k.mask) == 0 && k.handler == (void *)SIG_IGN;
	int unknown = -1;
	__atomic_compare_exchange_n(&pipe_state, &unknown, s, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	return __atomic_load_n(&pipe_state, __ATOMIC_RELAXED);
}

/* restart_mask — bit sig-1: sig has a handler with SA_RESTART. Notes apply even before the kernel
 * was asked; the kernel's answer is or-ed in, so a race can only leave a bit set (the exact path) */
static uint64_t restart_mask;
static int restart_known;

void zc_sig_restart_set(int sig, int on)
{
	if (sig < 1 || sig > 64) return;
	uint64_t bit = 1ULL << (sig - 1);
	if (on) __atomic_fetch_or(&restart_mask, bit, __ATOMIC_RELAXED);
	else __atomic_fetch_and(&restart_mask, ~bit, __ATOMIC_RELAXED);
}

int zc_sig_restart_has(int sig)
{
	return sig >= 1 && sig <= 64 && (__atomic_load_n(&restart_mask, __ATOMIC_RELAXED) >> (sig - 1) & 1);
}

int zc_sig_restarting(void)
{
	if (!__atomic_load_n(&restart_known, __ATOMIC_ACQUIRE)) {
		uint64_t m = 0;
		for (int sig = 1; sig <= 64; sig++) {
			struct ksig k;
			/* glibc's own (cancellation, setuid across threads), which the program cannot
			 * handle: a write they interrupt and restart looks to it as one never interrupted */
			if (sig == 32 || sig == 33) continue;
			if (syscall(SYS_rt_sigaction, sig, NULL, &k, sizeof k.mask) != 0) continue;
			if (k.handler != (void *)SIG_DFL && k.handler != (void *)SIG_IGN && (k.flags & SA_RESTART)) m |= 1ULL << (sig - 1);
		}
		__atomic_fetch_or(&restart_mask, m, __ATOMIC_RELAXED);
		__atomic_store_n(&restart_known, 1, __ATOMIC_RELEASE);
	}
	return __atomic_load_n(&restart_mask, __ATOMIC_RELAXED) != 0;
}
