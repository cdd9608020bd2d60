/* fault.c — one thread of the shim's own waits on the userfaultfd and answers each missing-page
 * fault: the page of a deferred record is filled with the bytes its read returned (detect.c), any
 * other page with zeros. The faulting thread, or the system call that touched the page for the
 * program, simply waits meanwhile: nothing is signalled, nothing fails. */
#include "fault.h"
#include "detect.h"
#include "log.h"
#include "real.h"
#include "shim.h"

#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

static int ufd = -1;
static int running;
static __thread int on_fault_thread;
/* up (non-zero) from before the thread reads the descriptor until the events read are applied: a
 * munmap, madvise or mremap of a registered range returns once its event is read, and only once
 * the gate is down again do the records say what the event did (zc_fault_settled). A count: a
 * fill inside an event's handling may read and apply more (zc_fault_drain) */
static int gate;
/* page faults read while a fill waited for an event (zc_fault_drain): answered next */
#define STASH 256
static uint64_t stash[STASH];
static int stashed;

int zc_fault_thread(void)
{
	return on_fault_thread;
}

/* take — events applied at once, faults kept for later (never more than the stash holds: a fault
 * read and dropped would leave its thread waiting); returns how many messages were read. */
static ssize_t take(void)
{
	struct uffd_msg m[16];
	size_t room = STASH - (size_t)stashed;
	if (!room) return 0;
	ssize_t n = zc_raw_read(ufd, m, (room < 16 ? room : 16) * sizeof m[0]);
	n = n > 0 ? n / (ssize_t)sizeof m[0] : 0;
	for (ssize_t k = 0; k < n; k++) {
		if (m[k].event == UFFD_EVENT_PAGEFAULT)
			stash[stashed++] = m[k].arg.pagefault.address & ~4095ULL;
		else if (m[k].event == UFFD_EVENT_UNMAP || m[k].event == UFFD_EVENT_REMOVE)
			zc_detect_on_unmap((void *)(uintptr_t)m[k].arg.remove.start, (size_t)(m[k].arg.remove.end - m[k].arg.remove.start));
		else if (m[k].event == UFFD_EVENT_REMAP)
			zc_detect_on_remap((void *)(uintptr_t)m[k].arg.remap.from, (void *)(uintptr_t)m[k].arg.remap.to, (size_t)m[k].arg.remap.len);
	}
	return n;
}

/* zc_fault_drain — on the fault thread, a fill refused with EAGAIN: an unmap, zap or move of some
 * registered range waits for its event to be read, and no fill succeeds until then. */
void zc_fault_drain(void)
{
	__atomic_add_fetch(&gate, 1, __ATOMIC_SEQ_CST);
	take();
	__atomic_sub_fetch(&gate, 1, __ATOMIC_RELEASE);
}

/* zc_fault_settled — every unmap, zap or move of a registered range the kernel reported has been
 * applied to the records (waits a little for one being applied); 0: not known. */
int zc_fault_settled(void)
{
	for (int k = 0; __atomic_load_n(&gate, __ATOMIC_ACQUIRE); k++) {
		if (on_fault_thread || k >= 1000) return 0;
		syscall(SYS_sched_yield);
	}
	return 1;
}

/* loop — every signal blocked (none of the program's lands here), shim work marked as such so the
 * interposed calls it makes pass straight through. */
static void *loop(void *arg)
{
	sigset_t all;
	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	zc_depth = 1;
	on_fault_thread = 1;
	for (;;) {
		struct pollfd p = {ufd, POLLIN, 0};
		if (!stashed && syscall(SYS_poll, &p, 1, -1) < 0) continue;
		__atomic_add_fetch(&gate, 1, __ATOMIC_SEQ_CST);
		if (!stashed || (syscall(SYS_poll, &p, 1, 0) == 1)) take();
		__atomic_sub_fetch(&gate, 1, __ATOMIC_RELEASE);
		while (stashed) {
			uint64_t a = stash[0];
			memmove(stash, stash + 1, (size_t)--stashed * sizeof stash[0]);
			zc_detect_on_fault((void *)(uintptr_t)a);
		}
	}
	return NULL;
}

int zc_fault_start(int uffd)
{
	pthread_t t;
	pthread_attr_t a;
	sigset_t all, old;
	if (__atomic_load_n(&running, __ATOMIC_ACQUIRE)) return 0;
	ufd = uffd;
	zc_detect_fault_thread_init(); /* before the thread: a fault may come at once */
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 128 * 1024);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the new thread starts with everything blocked */
	int rc = pthread_create(&t, &a, loop, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (rc) {
		zc_log(ZC_LOG_WARN, "cannot start the fault thread (error %d); reads are not deferred", rc);
		return -1;
	}
	__atomic_store_n(&running, 1, __ATOMIC_RELEASE);
	return 0;
}

void zc_fault_atfork_child(void)
{
	running = 0, gate = 0, stashed = 0;
	ufd = -1;
}
