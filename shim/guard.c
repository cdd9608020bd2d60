/* guard.c — write protection of buffer interiors and the SIGSEGV handler that chains to the program's. */
#include "guard.h"
#include "detect.h"
#include "log.h"
#include "real.h"
#include "stats.h"

#include <string.h>
#include <sys/mman.h>

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction program_segv; /* what the program asked for; SIG_DFL until it asks */
static int installed;
static __thread int has_altstack;

/* ensure_altstack — a fault on a protected stack page must still be deliverable. */
static void ensure_altstack(void)
{
	stack_t old;
	if (has_altstack) return;
	has_altstack = 1;
	if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE)) return; /* the program's own */
	void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p == MAP_FAILED) return;
	stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) < 0) syscall(SYS_munmap, p, ALTSTACK_SIZE);
}

/* chain — hands a fault that is not ours to the program's action, as if we were not there. */
static void chain(int sig, siginfo_t *si, void *ctx)
{
	struct sigaction a = program_segv;
	zc_count(ZC_faults_chained, 1);
	if (a.sa_flags & SA_SIGINFO) {
		if (a.sa_flags & SA_RESETHAND) program_segv.sa_handler = SIG_DFL;
		a.sa_sigaction(sig, si, ctx);
	} else if (a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN) {
		if (a.sa_flags & SA_RESETHAND) program_segv.sa_handler = SIG_DFL;
		a.sa_handler(sig);
	} else {
		/* default action: restore it and return, the faulting instruction faults again and dies */
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		zc_real.sigaction(SIGSEGV, &dfl, NULL);
	}
}

/* on_segv — ours when it hits a guarded interior, otherwise the program's. */
static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;
	if (si->si_code == SEGV_ACCERR && zc_detect_fault(si->si_addr)) {
		zc_count(ZC_faults_handled, 1);
		errno = saved;
		return;
	}
	errno = saved;
	chain(sig, si, ctx);
}

/* install — our handler first; the program's is chained. */
static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (zc_real.sigaction(SIGSEGV, &sa, &program_segv) == 0) __atomic_store_n(&installed, 1, __ATOMIC_RELEASE);
	else zc_log(ZC_LOG_WARN, "cannot install the SIGSEGV handler; buffers are not guarded");
}

/* zc_guard_init — nothing is installed until the first buffer is guarded. */
void zc_guard_init(void)
{
	memset(&program_segv, 0, sizeof program_segv);
	program_segv.sa_handler = SIG_DFL;
}

/* zc_guard_protect — read-only interior; the program's next store to it faults into on_segv. */
int zc_guard_protect(void *lo, size_t len)
{
	if (!__atomic_load_n(&installed, __ATOMIC_ACQUIRE)) install();
	if (!installed) return -ENOTSUP;
	ensure_altstack();
	if (zc_raw_mprotect(lo, len, PROT_READ) < 0) return -errno;
	return 0;
}

/* zc_guard_unprotect — back to read-write. */
void zc_guard_unprotect(void *lo, size_t len)
{
	zc_raw_mprotect(lo, len, PROT_READ | PROT_WRITE);
}

/* zc_guard_sigaction — the program's view of SIGSEGV is its own action, ours stays underneath. */
int zc_guard_sigaction(const struct sigaction *act, struct sigaction *old)
{
	if (!installed) return zc_real.sigaction(SIGSEGV, act, old);
	if (old) *old = program_segv;
	if (act) program_segv = *act;
	return 0;
}
