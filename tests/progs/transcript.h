/* transcript.h — the transcript the hostile test programs write: one line per event, through raw
 * system calls so the shim under test never sees them (hostile.c, deferred.c). */
#ifndef ZC_TRANSCRIPT_H
#define ZC_TRANSCRIPT_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int log_fd = -1; /* the transcript's descriptor, set by the program; -1: none */

/* raw_write_all — all of [p, p+n) to fd, restarting after EINTR. */
static void raw_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		long r = syscall(SYS_write, fd, c, n);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return;
		c += r, n -= (size_t)r;
	}
}

/* tlog — one transcript line (async-signal-safe enough for the programs' handlers: no malloc). */
__attribute__((format(printf, 1, 2), unused)) static void tlog(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	if (log_fd < 0) return;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
	line[n++] = '\n';
	raw_write_all(log_fd, line, (size_t)n);
}

/* ename — "EPIPE" for EPIPE, "-" for 0. */
__attribute__((unused)) static const char *ename(int e)
{
	const char *s;
	if (!e) return "-";
	s = strerrorname_np(e);
	return s ? s : "E?";
}

static long watchdog_s;

/* watchdog — the deadline: a hang becomes "exit 4 DEADLINE" in the transcript, not a stuck suite. */
static void *watchdog(void *a)
{
	struct timespec left = {watchdog_s, 0};
	(void)a;
	while (nanosleep(&left, &left) < 0 && errno == EINTR) {}
	tlog("# deadline of %ld s passed", watchdog_s);
	tlog("exit 4 DEADLINE");
	_exit(4);
}

/* start_watchdog — the watchdog thread, with every signal blocked (none of the test's lands there). */
__attribute__((unused)) static int start_watchdog(long seconds)
{
	pthread_t t;
	sigset_t old, all;
	watchdog_s = seconds;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&t, NULL, watchdog, NULL);
	if (!rc) pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc ? -1 : 0;
}

#endif
