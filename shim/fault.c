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

static int ufd = -1;
static int running;
static __thread int on_fault_thread;

int zc_fault_thread(void)
{
	return on_fault_thread;
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
		struct uffd_msg m[16];
		if (syscall(SYS_poll, &p, 1, -1) < 0) continue;
		ssize_t n = zc_raw_read(ufd, m, sizeof m);
		for (ssize_t k = 0; k < n / (ssize_t)sizeof m[0]; k++)
			if (m[k].event == UFFD_EVENT_PAGEFAULT)
				zc_detect_on_fault((void *)(uintptr_t)(m[k].arg.pagefault.address & ~4095ULL));
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
	running = 0;
	ufd = -1;
}
