/* test_log.c — shim/log.c: the async-signal-safe formatter (every conversion, extremes,
 * truncation, never a byte past the buffer) and zc_log (level filter, one line in one write,
 * pid prefix, errno kept, long messages cut to one line). */
#include <criterion/criterion.h>

#include "log.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void setup(void)
{
	zc_real_resolve();
}

static void teardown(void)
{
	zc_log_set(ZC_LOG_WARN, 2);
}

TestSuite(log, .init = setup, .fini = teardown);

/* unchecked — zc_log_vformat with formats the compiler's printf check would refuse */
static int unchecked(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = zc_log_vformat(out, cap, fmt, ap);
	va_end(ap);
	return n;
}

/* fmt_eq — zc_log_format gives exactly what snprintf gives for the same format and value. */
#define FMT_EQ(f, v)                                                                     \
	do {                                                                                 \
		char got_[128], want_[128];                                                      \
		int n_ = zc_log_format(got_, sizeof got_, f, v);                                 \
		snprintf(want_, sizeof want_, f, v);                                             \
		cr_assert_str_eq(got_, want_, "format '%s'", f);                                 \
		cr_assert_eq(n_, (int)strlen(want_), "format '%s': returned %d", f, n_);         \
	} while (0)

Test(log, every_conversion_matches_snprintf)
{
	FMT_EQ("%s!", "text");
	FMT_EQ("[%d]", 0);
	FMT_EQ("[%d]", -42);
	FMT_EQ("[%d]", INT_MAX);
	FMT_EQ("[%d]", INT_MIN);
	FMT_EQ("[%u]", UINT_MAX);
	FMT_EQ("[%ld]", LONG_MAX);
	FMT_EQ("[%ld]", LONG_MIN);
	FMT_EQ("[%lu]", ULONG_MAX);
	FMT_EQ("[%zu]", (size_t)SIZE_MAX);
	FMT_EQ("[%zd]", (ssize_t)-1);
	FMT_EQ("[%x]", 0xdeadbeefu);
	FMT_EQ("[%lx]", 0x123456789abcdefUL);
	FMT_EQ("[%c]", 'q');
	char out[32];
	zc_log_format(out, sizeof out, "100%%");
	cr_assert_str_eq(out, "100%");
}

Test(log, null_string_prints_null)
{
	char out[32];
	unchecked(out, sizeof out, "<%s>", (const char *)NULL);
	cr_assert_str_eq(out, "<(null)>");
}

Test(log, pointer_is_hex_with_0x)
{
	char out[32], want[32];
	void *p = (void *)0x7ffdeadbe000UL;
	zc_log_format(out, sizeof out, "%p", p);
	snprintf(want, sizeof want, "0x%lx", (unsigned long)p);
	cr_assert_str_eq(out, want);
}

Test(log, unknown_conversion_and_trailing_percent_do_not_read_past_the_format)
{
	char out[32];
	unchecked(out, sizeof out, "a%qb");
	cr_assert_str_eq(out, "a?b");
	int n = unchecked(out, sizeof out, "end%");
	cr_assert_eq(n, (int)strlen(out));
	cr_assert(!strncmp(out, "end", 3), "%s", out);
}

/* every cut length: NUL-terminated, the prefix of the full text, nothing written past cap */
Test(log, truncation_never_writes_past_cap)
{
	const char *full = "pid 12345 wrote 987654321 bytes to fd 7: Broken pipe";
	for (size_t cap = 1; cap < 60; cap++) {
		char buf[80];
		memset(buf, 0x5a, sizeof buf);
		int n = zc_log_format(buf, cap, "pid %d wrote %lu bytes to fd %u: %s", 12345, 987654321UL, 7u, "Broken pipe");
		size_t want = strlen(full) < cap - 1 ? strlen(full) : cap - 1;
		cr_assert_eq((size_t)n, want, "cap %zu: returned %d", cap, n);
		cr_assert_eq(buf[n], 0, "cap %zu: not NUL-terminated", cap);
		cr_assert(!strncmp(buf, full, want), "cap %zu: '%s' is not a prefix", cap, buf);
		for (size_t k = cap; k < sizeof buf; k++) cr_assert_eq((unsigned char)buf[k], 0x5a, "cap %zu: byte %zu written", cap, k);
	}
}

Test(log, cut_inside_a_number_or_pointer_stays_in_bounds)
{
	for (size_t cap = 1; cap < 24; cap++) {
		char buf[40];
		memset(buf, 0x5a, sizeof buf);
		zc_log_format(buf, cap, "%p%ld", (void *)0xffffffffffffUL, LONG_MIN);
		for (size_t k = cap; k < sizeof buf; k++) cr_assert_eq((unsigned char)buf[k], 0x5a, "cap %zu: byte %zu written", cap, k);
	}
}

Test(log, zero_cap_writes_nothing)
{
	char b = 0x5a;
	cr_assert_eq(zc_log_format(&b, 0, "x%d", 1), 0);
	cr_assert_eq(b, 0x5a);
}

/* ---- zc_log ---------------------------------------------------------------------------- */

/* logged — sets the log to a pipe, runs one zc_log at level lvl, returns what one read got */
static ssize_t logged(int level, enum zc_log_level lvl, const char *msg, char *out, size_t cap)
{
	int p[2];
	cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	zc_log_set(level, p[1]);
	zc_log(lvl, "%s", msg);
	ssize_t n = read(p[0], out, cap - 1);
	out[n > 0 ? n : 0] = 0;
	char extra[8];
	cr_assert_lt(read(p[0], extra, sizeof extra), 1, "more than one write for one line");
	close(p[0]), close(p[1]);
	zc_log_set(ZC_LOG_WARN, 2);
	return n;
}

Test(log, one_line_with_pid_prefix_in_one_write)
{
	char out[1024], want[64];
	ssize_t n = logged(ZC_LOG_WARN, ZC_LOG_WARN, "lease denied for fd 5", out, sizeof out);
	snprintf(want, sizeof want, "zcshim[%d]: lease denied for fd 5\n", (int)getpid());
	cr_assert_eq(n, (ssize_t)strlen(want));
	cr_assert_str_eq(out, want);
}

Test(log, levels_above_the_configured_one_are_dropped)
{
	char out[1024];
	cr_assert_eq(logged(ZC_LOG_WARN, ZC_LOG_INFO, "info", out, sizeof out), -1, "info logged at warn: %s", out);
	cr_assert_eq(logged(ZC_LOG_WARN, ZC_LOG_DEBUG, "debug", out, sizeof out), -1);
	cr_assert_gt(logged(ZC_LOG_WARN, ZC_LOG_ERROR, "error", out, sizeof out), 0);
	cr_assert_gt(logged(ZC_LOG_DEBUG, ZC_LOG_DEBUG, "debug", out, sizeof out), 0);
	cr_assert_eq(logged(ZC_LOG_ERROR, ZC_LOG_WARN, "warn", out, sizeof out), -1);
}

Test(log, long_message_is_cut_to_one_line)
{
	char msg[2000], out[4096];
	memset(msg, 'm', sizeof msg - 1);
	msg[sizeof msg - 1] = 0;
	ssize_t n = logged(ZC_LOG_WARN, ZC_LOG_ERROR, msg, out, sizeof out);
	cr_assert_gt(n, 100);
	cr_assert_leq(n, 512, "a line of %zd bytes", n);
	cr_assert_eq(out[n - 1], '\n');
	cr_assert_eq(strchr(out, '\n'), out + n - 1, "more than one line");
}

Test(log, errno_is_kept)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	close(p[0]);
	zc_log_set(ZC_LOG_WARN, p[1]); /* the write fails with EPIPE (SIGPIPE ignored) */
	signal(SIGPIPE, SIG_IGN);
	errno = ENOSPC;
	zc_log(ZC_LOG_ERROR, "x");
	cr_assert_eq(errno, ENOSPC);
	close(p[1]);
}
