/* interpose_sig.c — SIGPIPE's disposition, and which signals have handlers that restart calls
 * (SA_RESTART), watched through the names that set them (sigaction, signal and its aliases,
 * sysv_signal, sigset, siginterrupt): a rewritten write to a socket needs no system call to learn
 * that the program ignores SIGPIPE (nginx, Apache and python do), and a write to a blocking pipe
 * may wait inside splice when no handler would restart it (rewrite.c). Every call passes through
 * unchanged; only its result is noted. */
#include "interpose.h"
#include "real.h"
#include "shim.h"

#include <signal.h>

/* glibc declares these nothrow and leaf; the aliases below are the same functions */
#pragma GCC diagnostic ignored "-Wmissing-attributes"

/* NEXT — zc_real.name, else resolved now (a call from another preload's constructor). */
#define NEXT(name)                                                                       \
	({                                                                                   \
		zc_real_##name##_t f_ = __atomic_load_n(&zc_real.name, __ATOMIC_ACQUIRE);        \
		if (!f_) f_ = (zc_real_##name##_t)zc_real_next(#name);                           \
		f_;                                                                              \
	})

/* note — the disposition just set for sig, and whether its handler restarts calls (state.c keeps
 * both). */
static void note(int sig, sighandler_t h, int restarts)
{
	if (sig == SIGPIPE) zc_sigpipe_set(h == SIG_IGN);
	int on = restarts && h != SIG_DFL && h != SIG_IGN;
	/* a vfork child shares the shim's memory, not its parent's handlers: what it resets is its own */
	if (!on && zc_sig_restart_has(sig) && zc_borrowed_state()) return;
	zc_sig_restart_set(sig, on);
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	zc_real_sigaction_t f = NEXT(sigaction);
	if (!f) return errno = ENOSYS, -1;
	int r = f(sig, act, old);
	/* sa_sigaction shares the slot: SIG_IGN either way */
	if (r == 0 && act) note(sig, act->sa_handler, (act->sa_flags & SA_RESTART) != 0);
	return r;
}

EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old) __attribute__((alias("sigaction")));

EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	zc_real_signal_t f = NEXT(signal);
	if (!f) return errno = ENOSYS, SIG_ERR;
	sighandler_t r = f(sig, h);
	if (r != SIG_ERR) note(sig, h, 1); /* BSD semantics: SA_RESTART unless siginterrupt said not */
	return r;
}

EXPORT sighandler_t bsd_signal(int sig, sighandler_t h) __attribute__((alias("signal")));
EXPORT sighandler_t ssignal(int sig, sighandler_t h) __attribute__((alias("signal")));

EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
	zc_real_sysv_signal_t f = NEXT(sysv_signal);
	if (!f) return errno = ENOSYS, SIG_ERR;
	sighandler_t r = f(sig, h);
	if (r != SIG_ERR) note(sig, h, 0);
	return r;
}

EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h) __attribute__((alias("sysv_signal")));

/* sigset(sig, SIG_HOLD) blocks the signal and leaves its disposition as it was. */
EXPORT sighandler_t sigset(int sig, sighandler_t h)
{
	zc_real_sigset_t f = NEXT(sigset);
	if (!f) return errno = ENOSYS, SIG_ERR;
	sighandler_t r = f(sig, h);
	if (r != SIG_ERR && h != SIG_HOLD) note(sig, h, 0);
	return r;
}

/* siginterrupt changes SA_RESTART of the handler in place: its new flags are the kernel's. */
EXPORT int siginterrupt(int sig, int flag)
{
	zc_real_siginterrupt_t f = NEXT(siginterrupt);
	if (!f) return errno = ENOSYS, -1;
	int r = f(sig, flag);
	zc_real_sigaction_t get = NEXT(sigaction);
	struct sigaction now;
	if (r == 0 && get && get(sig, NULL, &now) == 0) note(sig, now.sa_handler, (now.sa_flags & SA_RESTART) != 0);
	return r;
}
