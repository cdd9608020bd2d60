/* interpose_sig.c — SIGPIPE's disposition, watched through the names that set it (sigaction,
 * signal and its aliases, sysv_signal, sigset), so a rewritten write to a socket needs no system
 * call to learn that the program ignores SIGPIPE (nginx, Apache and python do). Every call passes
 * through unchanged; only its result is noted. */
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

/* note — the disposition just set for sig (state.c keeps it). */
static void note(int sig, sighandler_t h)
{
	if (sig == SIGPIPE) zc_sigpipe_set(h == SIG_IGN);
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	zc_real_sigaction_t f = NEXT(sigaction);
	if (!f) return errno = ENOSYS, -1;
	int r = f(sig, act, old);
	if (r == 0 && act) note(sig, act->sa_handler); /* sa_sigaction shares the slot: SIG_IGN either way */
	return r;
}

EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old) __attribute__((alias("sigaction")));

EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	zc_real_signal_t f = NEXT(signal);
	if (!f) return errno = ENOSYS, SIG_ERR;
	sighandler_t r = f(sig, h);
	if (r != SIG_ERR) note(sig, h);
	return r;
}

EXPORT sighandler_t bsd_signal(int sig, sighandler_t h) __attribute__((alias("signal")));
EXPORT sighandler_t ssignal(int sig, sighandler_t h) __attribute__((alias("signal")));

EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
	zc_real_sysv_signal_t f = NEXT(sysv_signal);
	if (!f) return errno = ENOSYS, SIG_ERR;
	sighandler_t r = f(sig, h);
	if (r != SIG_ERR) note(sig, h);
	return r;
}

EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h) __attribute__((alias("sysv_signal")));

/* sigset(sig, SIG_HOLD) blocks the signal and leaves its disposition as it was. */
EXPORT sighandler_t sigset(int sig, sighandler_t h)
{
	zc_real_sigset_t f = NEXT(sigset);
	if (!f) return errno = ENOSYS, SIG_ERR;
	sighandler_t r = f(sig, h);
	if (r != SIG_ERR && h != SIG_HOLD) note(sig, h);
	return r;
}
