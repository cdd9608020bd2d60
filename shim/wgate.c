/* wgate.c — writes in flight per descriptor.
 *
 * A non-blocking socket's write or writev is one call under the socket's lock: another thread's
 * write lands before it or after it, never inside. The shim sends a header and file data as two
 * calls (sendmsg with MSG_MORE, then sendfile), and another thread's write between them would land
 * inside what the program sent as one. Servers that hand a connection from thread to thread
 * (Apache's event MPM) write it from many threads, but one at a time: so the rule looks at the
 * writes in flight now, not at who wrote before. Every write-side call on a descriptor counts
 * itself in flight on the descriptor's slot; a split holds the slot only when its own call is the
 * one in flight, and calls arriving meanwhile wait for it, as they would wait for the socket's
 * lock, with their signals held as that wait holds them (a handler runs after the call).
 */
#include "wgate.h"

#include "real.h"
#include "shim.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#define WG_WAIT_NS 10000000L /* a waiter looks whether the holder still lives this often */

struct zc_wgate_slot *zc_wgate_tab;

void zc_wgate_init(void)
{
	void *p = (void *)syscall(SYS_mmap, NULL, ZC_WGATE_FDS * sizeof(struct zc_wgate_slot), PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p != MAP_FAILED) zc_wgate_tab = p;
}

static long futex(uint32_t *w, int op, uint32_t v, const struct timespec *t)
{
	return syscall(SYS_futex, w, op | FUTEX_PRIVATE_FLAG, v, t, NULL, 0);
}

/* zc_wgate_wait — until no split holds fd; a holder that died inside its split (cancelled) is let
 * go. Signals are held meanwhile: a handler's own write would otherwise go before this call's. */
void zc_wgate_wait(int fd)
{
	struct zc_wgate_slot *s = &zc_wgate_tab[fd];
	int saved = errno;
	struct timespec t = {0, WG_WAIT_NS};
	sigset_t all, old;
	sigfillset(&all);
	int masked = pthread_sigmask(SIG_BLOCK, &all, &old) == 0;
	uint32_t h;
	while ((h = __atomic_load_n(&s->holder, __ATOMIC_SEQ_CST))) {
		if (futex(&s->holder, FUTEX_WAIT, h, &t) < 0 && errno == ETIMEDOUT &&
		    syscall(SYS_tgkill, zc_raw_getpid(), (pid_t)h, 0) < 0 && errno == ESRCH &&
		    __atomic_compare_exchange_n(&s->holder, &h, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			futex(&s->holder, FUTEX_WAKE, INT_MAX, NULL); /* the others wait no longer either */
	}
	if (masked) pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
}

int zc_wgate_split_begin(int fd)
{
	if (!zc_wgate_covers(fd)) return 0;
	struct zc_wgate_slot *s = &zc_wgate_tab[fd];
	uint32_t none = 0;
	if (!__atomic_compare_exchange_n(&s->holder, &none, (uint32_t)zc_tid(), 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		return 0;
	if (__atomic_load_n(&s->count, __ATOMIC_SEQ_CST) == 1) return 1;
	zc_wgate_split_end(fd); /* another write is in flight (it may wait on us already: wake it) */
	return 0;
}

void zc_wgate_split_end(int fd)
{
	struct zc_wgate_slot *s = &zc_wgate_tab[fd];
	__atomic_store_n(&s->holder, 0, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->count, __ATOMIC_SEQ_CST) > 1) futex(&s->holder, FUTEX_WAKE, INT_MAX, NULL);
}

void zc_wgate_atfork_child(void)
{
	if (zc_wgate_tab) /* zero pages again: the parent's other threads are not writing here */
		syscall(SYS_madvise, zc_wgate_tab, ZC_WGATE_FDS * sizeof(struct zc_wgate_slot), MADV_DONTNEED);
}
