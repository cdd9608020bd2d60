/* wgate.c — writes in flight per descriptor.
 *
 * A non-blocking socket's write or writev is one call under the socket's lock: another thread's
 * write lands before it or after it, never inside. The shim sends a header and file data as two
 * calls (sendmsg with MSG_MORE, then sendfile), and another thread's write between them would land
 * inside what the program sent as one. Servers that hand a connection from thread to thread
 * (Apache's event MPM) write it from many threads, but one at a time: so the rule looks at the
 * writes in flight now, not at who wrote before. Every write-side call on a descriptor counts
 * itself in flight on the descriptor's word; a split takes the word only when its own call is the
 * one in flight, and calls arriving meanwhile wait for it, as they would wait for the socket's lock.
 */
#include "wgate.h"

#include "real.h"
#include "shim.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
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

/* zc_wgate_wait — until no split holds fd; a holder that died inside its split (cancelled) is let go. */
void zc_wgate_wait(int fd)
{
	struct zc_wgate_slot *s = &zc_wgate_tab[fd];
	int saved = errno;
	struct timespec t = {0, WG_WAIT_NS};
	uint32_t v;
	while ((v = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE)) & ZC_WGATE_SPLIT) {
		if (futex(&s->word, FUTEX_WAIT, v, &t) < 0 && errno == ETIMEDOUT) {
			pid_t o = __atomic_load_n(&s->owner, __ATOMIC_RELAXED);
			if (o && syscall(SYS_tgkill, zc_raw_getpid(), o, 0) < 0 && errno == ESRCH &&
			    __atomic_compare_exchange_n(&s->owner, &o, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				__atomic_fetch_and(&s->word, ~ZC_WGATE_SPLIT, __ATOMIC_RELEASE);
		}
	}
	errno = saved;
}

int zc_wgate_split_begin(int fd)
{
	if (!zc_wgate_covers(fd)) return 0;
	struct zc_wgate_slot *s = &zc_wgate_tab[fd];
	uint32_t one = 1;
	if (!__atomic_compare_exchange_n(&s->word, &one, 1 | ZC_WGATE_SPLIT, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return 0;
	__atomic_store_n(&s->owner, zc_tid(), __ATOMIC_RELAXED);
	return 1;
}

void zc_wgate_split_end(int fd)
{
	struct zc_wgate_slot *s = &zc_wgate_tab[fd];
	__atomic_store_n(&s->owner, 0, __ATOMIC_RELAXED);
	if ((__atomic_fetch_and(&s->word, ~ZC_WGATE_SPLIT, __ATOMIC_RELEASE) & ~ZC_WGATE_SPLIT) > 1)
		futex(&s->word, FUTEX_WAKE, INT_MAX, NULL); /* calls that arrived meanwhile wait on the word */
}

void zc_wgate_atfork_child(void)
{
	if (zc_wgate_tab) /* zero pages again */
		syscall(SYS_madvise, zc_wgate_tab, ZC_WGATE_FDS * sizeof(struct zc_wgate_slot), MADV_DONTNEED);
}
