/* test_config.c — zcshim.conf / ZCSHIM_* parsing: defaults, every key's valid and bad values,
 * the one-line error contract, file syntax, lookup order and origin tracking. */
#include <criterion/criterion.h>

#include "config.h"
#include "log.h"
#include "real.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------- */

static void setup(void)
{
	zc_real_resolve();
}

TestSuite(config, .init = setup);

/* capture — error output of one call, captured through a pipe. */
struct capture {
	int wfd;
	int rfd;
	char text[8192];
	size_t len;
};

/* cap_open — a pipe whose write end stands in for err_fd. */
static void cap_open(struct capture *c)
{
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	c->rfd = p[0];
	c->wfd = p[1];
	c->len = 0;
	c->text[0] = 0;
}

/* cap_close — closes the write end and reads everything that was written. */
static void cap_close(struct capture *c)
{
	ssize_t r;
	close(c->wfd);
	while (c->len < sizeof c->text - 1 && (r = read(c->rfd, c->text + c->len, sizeof c->text - 1 - c->len)) > 0)
		c->len += (size_t)r;
	c->text[c->len] = 0;
	close(c->rfd);
}

/* cap_lines — number of '\n' in the captured text. */
static int cap_lines(const struct capture *c)
{
	int n = 0;
	for (size_t i = 0; i < c->len; i++) n += c->text[i] == '\n';
	return n;
}

/* assert_one_line — the capture is exactly one line: one '\n', and it is the last byte. */
static void assert_one_line(const struct capture *c, const char *what)
{
	cr_assert_eq(cap_lines(c), 1, "%s: expected exactly one line on err_fd, got %d: [%s]", what, cap_lines(c), c->text);
	cr_assert_eq(c->text[c->len - 1], '\n', "%s: the line must end with a newline: [%s]", what, c->text);
}

/* key_idx — position of a key in zc_config_keys (origin[] index). */
static int key_idx(const char *key)
{
	for (int i = 0; i < zc_config_nkeys; i++)
		if (!strcmp(zc_config_keys[i].name, key)) return i;
	cr_assert_fail("no key %s in zc_config_keys", key);
	return -1;
}

/* set_ok — the value is accepted silently and reads back as want (NULL: as given). */
static void set_ok(struct zc_config *c, const char *key, const char *val, const char *want)
{
	struct capture cap;
	char got[512];
	cap_open(&cap);
	int r = zc_config_set(c, key, val, "test", cap.wfd);
	cap_close(&cap);
	cr_assert_eq(r, 0, "%s = '%s' should be accepted, got %d: %s", key, val, r, cap.text);
	cr_assert_eq(cap.len, 0, "%s = '%s' accepted but wrote: %s", key, val, cap.text);
	cr_assert_geq(zc_config_get(c, key, got, sizeof got), 0);
	cr_assert_str_eq(got, want ? want : val, "%s = '%s' reads back as '%s'", key, val, got);
}

/* set_bad — the value is refused: -1, nothing in the struct changes, one line on err_fd naming the
 * origin, the key, the value and what is accepted. */
static void set_bad(struct zc_config *c, const char *key, const char *val)
{
	struct capture cap;
	struct zc_config before;
	memcpy(&before, c, sizeof before); /* padding included */
	cap_open(&cap);
	int r = zc_config_set(c, key, val, "origin-xyz", cap.wfd);
	cap_close(&cap);
	cr_assert_eq(r, -1, "%s = '%s' should be refused, got %d", key, val, r);
	cr_assert_eq(memcmp(&before, c, sizeof before), 0, "%s = '%s' was refused but changed the config", key, val);
	assert_one_line(&cap, val);
	cr_assert(strstr(cap.text, "origin-xyz"), "message does not name the origin: %s", cap.text);
	cr_assert(strstr(cap.text, key), "message does not name the key: %s", cap.text);
	cr_assert(strstr(cap.text, val), "message does not name the value '%s': %s", val, cap.text);
	const char *acc = zc_config_keys[key_idx(key)].accepted;
	if (!strcmp(key, "log_file") || !strcmp(key, "stats_file"))
		cr_assert(strstr(cap.text, "accepted") && strstr(cap.text, "path"), "message does not say what is accepted: %s",
			  cap.text);
	else
		cr_assert(strstr(cap.text, acc), "message does not list the accepted values '%s': %s", acc, cap.text);
}

/* nondefault — fresh config with non-default values everywhere, so "keeps the previous value" is not "the default" */
static void nondefault(struct zc_config *c)
{
	zc_config_defaults(c);
	cr_assert_eq(zc_config_set(c, "mode", "off", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "min_bytes_tcp", "123", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "min_bytes_pipe", "7K", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "min_bytes_file", "2M", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "unix_sockets", "on", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "lease", "prefer", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "log_level", "debug", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "log_file", "/tmp/prev.log", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "stats_file", "/tmp/prev.%p.json", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "inherit", "off", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "lease_signal", "SIGRTMIN+1", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "stack_buffers", "on", "t", -1), 0);
	cr_assert_eq(zc_config_set(c, "align_min_bytes", "0", "t", -1), 0);
}

/* cfg_eq — same value for every key (as text, so bytes after a string's NUL do not count) and
 * the same origins. */
static int cfg_eq(const struct zc_config *a, const struct zc_config *b)
{
	for (int i = 0; i < zc_config_nkeys; i++) {
		char ta[300], tb[300];
		zc_config_get(a, zc_config_keys[i].name, ta, sizeof ta);
		zc_config_get(b, zc_config_keys[i].name, tb, sizeof tb);
		if (strcmp(ta, tb) || a->origin[i] != b->origin[i]) return 0;
	}
	return 1;
}

/* write_tmp — a temporary file with the given text; the path goes to out. */
static void write_tmp(char *out, size_t cap, const char *text)
{
	snprintf(out, cap, "/tmp/zc_cfg_test.XXXXXX");
	int fd = mkstemp(out);
	cr_assert_geq(fd, 0);
	size_t n = strlen(text);
	cr_assert_eq(write(fd, text, n), (ssize_t)n);
	close(fd);
}

/* sigtext — a signal number as the text zc_config_get gives back. */
static void sigtext(char *out, size_t cap, int v)
{
	snprintf(out, cap, "%d", v);
}

/* ---- defaults ------------------------------------------------------------------------ */

Test(config, defaults_match_the_documented_values)
{
	struct zc_config c;
	zc_config_defaults(&c);
	cr_assert_eq(c.mode, ZC_MODE_AUTO);
	cr_assert_eq(c.min_bytes_tcp, 262144);
	cr_assert_eq(c.min_bytes_pipe, 4096);
	cr_assert_eq(c.min_bytes_file, 65536);
	cr_assert_eq(c.unix_sockets, 0);
	cr_assert_eq(c.lease, ZC_LEASE_REQUIRE);
	cr_assert_eq(c.log_level, ZC_LOG_WARN);
	cr_assert_str_eq(c.log_file, "");
	cr_assert_str_eq(c.stats_file, "");
	cr_assert_eq(c.inherit, 1);
	cr_assert_eq(c.lease_signal, SIGRTMAX - 2);
	cr_assert_eq(c.stack_buffers, 0);
	cr_assert_eq(c.guard_min_bytes, 65536);
	cr_assert_eq(c.defer_min_bytes, 32768);
	cr_assert_eq(c.align_min_bytes, 32768);
	cr_assert_leq(zc_config_nkeys, ZC_CONFIG_MAX_KEYS);
	for (int i = 0; i < zc_config_nkeys; i++) cr_assert_eq(c.origin[i], ZC_ORIGIN_DEFAULT, "key %d", i);
}

/* The documented defaults (README table, zcshim.conf), as zc_config_get prints them: written out
 * here, not derived from zc_config_keys, so a changed default fails until the docs follow. */
static const char *const documented[][2] = {
	{"mode", "auto"},          {"min_bytes_tcp", "262144"}, {"min_bytes_pipe", "4096"},
	{"min_bytes_file", "65536"}, {"unix_sockets", "off"},   {"lease", "require"},
	{"log_level", "warn"},     {"log_file", ""},            {"stats_file", ""},
	{"inherit", "on"},         {"stack_buffers", "off"},    {"guard_min_bytes", "65536"},
	{"defer_min_bytes", "32768"}, {"keep_cap_lease", "off"}, {"align_min_bytes", "32768"},
};

Test(config, every_key_parses_its_default_text)
{
	struct zc_config c;
	nondefault(&c);
	for (int i = 0; i < zc_config_nkeys; i++) {
		struct capture cap;
		cap_open(&cap);
		int r = zc_config_set(&c, zc_config_keys[i].name, zc_config_keys[i].def, "default", cap.wfd);
		cap_close(&cap);
		cr_assert_eq(r, 0, "default of %s ('%s') refused: %s", zc_config_keys[i].name, zc_config_keys[i].def, cap.text);
		cr_assert_eq(cap.len, 0);
	}
	/* every key but lease_signal (checked by number below) reads back as documented */
	cr_assert_eq(zc_config_nkeys, (int)(sizeof documented / sizeof documented[0]) + 1,
		     "a key was added or removed: document its default here");
	for (size_t k = 0; k < sizeof documented / sizeof documented[0]; k++) {
		char got[300];
		cr_assert_geq(zc_config_get(&c, documented[k][0], got, sizeof got), 0, "no key %s", documented[k][0]);
		cr_assert_str_eq(got, documented[k][1], "%s: default text sets '%s', documented '%s'", documented[k][0], got,
				 documented[k][1]);
	}
	char sig[32], want[32];
	zc_config_get(&c, "lease_signal", sig, sizeof sig);
	sigtext(want, sizeof want, SIGRTMAX - 2);
	cr_assert_str_eq(sig, want, "lease_signal default");
}

/* ---- valid values -------------------------------------------------------------------- */

Test(config, mode_accepts_off_eager_deferred_auto)
{
	struct zc_config c;
	zc_config_defaults(&c);
	set_ok(&c, "mode", "off", NULL);
	cr_assert_eq(c.mode, ZC_MODE_OFF);
	set_ok(&c, "mode", "eager", NULL);
	cr_assert_eq(c.mode, ZC_MODE_EAGER);
	set_ok(&c, "mode", "deferred", NULL);
	cr_assert_eq(c.mode, ZC_MODE_DEFERRED);
	set_ok(&c, "mode", "Auto", "auto");
	cr_assert_eq(c.mode, ZC_MODE_AUTO);
	set_ok(&c, "mode", "OFF", "off");
	cr_assert_eq(c.mode, ZC_MODE_OFF);
}

Test(config, byte_counts_accept_plain_and_suffixed_values)
{
	static const char *const keys[] = {"min_bytes_tcp", "min_bytes_pipe", "min_bytes_file"};
	struct zc_config c;
	zc_config_defaults(&c);
	for (int k = 0; k < 3; k++) {
		set_ok(&c, keys[k], "0", NULL);
		set_ok(&c, keys[k], "1", NULL);
		set_ok(&c, keys[k], "65536", NULL);
		set_ok(&c, keys[k], "64K", "65536");
		set_ok(&c, keys[k], "64k", "65536");
		set_ok(&c, keys[k], "1M", "1048576");
		set_ok(&c, keys[k], "3m", "3145728");
		set_ok(&c, keys[k], "1024M", "1073741824");
		set_ok(&c, keys[k], "1048576K", "1073741824");
		set_ok(&c, keys[k], "1073741824", NULL);
	}
	cr_assert_eq(c.min_bytes_tcp, 1L << 30);
	cr_assert_eq(c.min_bytes_pipe, 1L << 30);
	cr_assert_eq(c.min_bytes_file, 1L << 30);
}

Test(config, booleans_accept_on_off_and_synonyms)
{
	static const char *const keys[] = {"unix_sockets", "inherit", "stack_buffers", "keep_cap_lease"};
	static const char *const on[] = {"on", "yes", "true", "1", "ON", "Yes", "TRUE"};
	static const char *const off[] = {"off", "no", "false", "0", "OFF", "No", "False"};
	struct zc_config c;
	zc_config_defaults(&c);
	int *field[] = {&c.unix_sockets, &c.inherit, &c.stack_buffers, &c.keep_cap_lease};
	for (int k = 0; k < 4; k++)
		for (size_t j = 0; j < sizeof on / sizeof on[0]; j++) {
			set_ok(&c, keys[k], off[j], "off");
			cr_assert_eq(*field[k], 0);
			set_ok(&c, keys[k], on[j], "on");
			cr_assert_eq(*field[k], 1);
		}
}

Test(config, lease_accepts_require_prefer_off)
{
	struct zc_config c;
	zc_config_defaults(&c);
	set_ok(&c, "lease", "prefer", NULL);
	cr_assert_eq(c.lease, ZC_LEASE_PREFER);
	set_ok(&c, "lease", "off", NULL);
	cr_assert_eq(c.lease, ZC_LEASE_OFF);
	set_ok(&c, "lease", "require", NULL);
	cr_assert_eq(c.lease, ZC_LEASE_REQUIRE);
}

Test(config, log_level_accepts_the_four_levels)
{
	struct zc_config c;
	zc_config_defaults(&c);
	set_ok(&c, "log_level", "error", NULL);
	cr_assert_eq(c.log_level, ZC_LOG_ERROR);
	set_ok(&c, "log_level", "warn", NULL);
	cr_assert_eq(c.log_level, ZC_LOG_WARN);
	set_ok(&c, "log_level", "info", NULL);
	cr_assert_eq(c.log_level, ZC_LOG_INFO);
	set_ok(&c, "log_level", "debug", NULL);
	cr_assert_eq(c.log_level, ZC_LOG_DEBUG);
}

Test(config, paths_accept_empty_and_up_to_255_bytes)
{
	char p[256];
	struct zc_config c;
	zc_config_defaults(&c);
	set_ok(&c, "log_file", "/tmp/zcshim.log", NULL);
	set_ok(&c, "log_file", "", NULL);
	set_ok(&c, "stats_file", "/tmp/zc.%p.json", NULL);
	cr_assert_str_eq(c.stats_file, "/tmp/zc.%p.json");
	memset(p, 'a', 255);
	p[0] = '/';
	p[255] = 0;
	set_ok(&c, "log_file", p, NULL);
	set_ok(&c, "stats_file", p, NULL);
}

Test(config, lease_signal_accepts_rtmin_plus_rtmax_minus_and_numbers)
{
	char want[32], num[32];
	struct zc_config c;
	zc_config_defaults(&c);
	sigtext(want, sizeof want, SIGRTMIN);
	set_ok(&c, "lease_signal", "SIGRTMIN", want);
	sigtext(want, sizeof want, SIGRTMIN + 3);
	set_ok(&c, "lease_signal", "SIGRTMIN+3", want);
	cr_assert_eq(c.lease_signal, SIGRTMIN + 3);
	sigtext(want, sizeof want, SIGRTMAX);
	set_ok(&c, "lease_signal", "SIGRTMAX", want);
	sigtext(want, sizeof want, SIGRTMAX - 2);
	set_ok(&c, "lease_signal", "SIGRTMAX-2", want);
	set_ok(&c, "lease_signal", "sigrtmax-2", want);
	cr_assert_eq(c.lease_signal, SIGRTMAX - 2);
	sigtext(want, sizeof want, SIGRTMIN);
	snprintf(num, sizeof num, "SIGRTMAX-%d", SIGRTMAX - SIGRTMIN);
	set_ok(&c, "lease_signal", num, want);
	snprintf(num, sizeof num, "SIGRTMIN+%d", SIGRTMAX - SIGRTMIN);
	sigtext(want, sizeof want, SIGRTMAX);
	set_ok(&c, "lease_signal", num, want);
	sigtext(num, sizeof num, SIGRTMIN);
	set_ok(&c, "lease_signal", num, NULL);
	sigtext(num, sizeof num, SIGRTMAX);
	set_ok(&c, "lease_signal", num, NULL);
	cr_assert_eq(c.lease_signal, SIGRTMAX);
}

/* ---- bad values ---------------------------------------------------------------------- */

Test(config, mode_rejects_other_words)
{
	struct zc_config c;
	nondefault(&c);
	set_bad(&c, "mode", "fast");
	set_bad(&c, "mode", "eagerly");
	set_bad(&c, "mode", "on");
	set_bad(&c, "mode", "");
	set_bad(&c, "mode", "eager x");
	cr_assert_eq(c.mode, ZC_MODE_OFF);
}

Test(config, byte_counts_reject_negative_junk_and_out_of_range)
{
	static const char *const keys[] = {"min_bytes_tcp", "min_bytes_pipe", "min_bytes_file"};
	static const char *const bad[] = {
		"-1", "-0", "+5", " 5", "", "abc", "12x", "1KB", "1KK", "1G", "1.5K", "0x10", "1 K",
		"1073741825",               /* 1 GiB + 1 */
		"1025M", "1048577K",
		"99999999999999999999",     /* does not fit in 64 bits */
		"18446744073709551615",     /* ULLONG_MAX */
	};
	struct zc_config c;
	nondefault(&c);
	for (int k = 0; k < 3; k++)
		for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) set_bad(&c, keys[k], bad[j]);
	cr_assert_eq(c.min_bytes_tcp, 123);
	cr_assert_eq(c.min_bytes_pipe, 7 * 1024);
	cr_assert_eq(c.min_bytes_file, 2 * 1024 * 1024);
}

/* align_min_bytes: 0 turns it off; else at least 8 KiB (a smaller malloc has no page to gain). */
Test(config, align_min_bytes_accepts_0_or_8k_and_up)
{
	struct zc_config c;
	zc_config_defaults(&c);
	set_ok(&c, "align_min_bytes", "0", "0");
	cr_assert_eq(c.align_min_bytes, 0);
	set_ok(&c, "align_min_bytes", "128K", "131072");
	cr_assert_eq(c.align_min_bytes, 131072);
	set_bad(&c, "align_min_bytes", "4K");
	set_bad(&c, "align_min_bytes", "-1");
	set_bad(&c, "align_min_bytes", "2G");
	cr_assert_eq(c.align_min_bytes, 131072);
}

/* defer_min_bytes: below 8 KiB a deferred read has no page to leave out of two partial ones. */
Test(config, defer_min_bytes_accepts_8k_and_up_only)
{
	struct zc_config c;
	zc_config_defaults(&c);
	set_ok(&c, "defer_min_bytes", "8K", "8192");
	cr_assert_eq(c.defer_min_bytes, 8192);
	set_ok(&c, "defer_min_bytes", "1M", "1048576");
	set_bad(&c, "defer_min_bytes", "8191");
	set_bad(&c, "defer_min_bytes", "0");
	set_bad(&c, "defer_min_bytes", "2G");
	cr_assert_eq(c.defer_min_bytes, 1048576);
}

/* A count that fits in 64 bits but whose suffix multiplication overflows must not wrap to a
 * small value (2^54 K = 2^64 bytes wraps to 0; 2^44 M likewise). */
Test(config, byte_counts_reject_suffix_overflow)
{
	static const char *const keys[] = {"min_bytes_tcp", "min_bytes_pipe", "min_bytes_file"};
	static const char *const bad[] = {
		"18014398509481984K",  /* 2^54 K = 2^64 */
		"18014398509481985K",  /* 2^64 + 1024 */
		"17592186044416M",     /* 2^44 M = 2^64 */
		"17592186044417M",
		"18014398509481984k",
	};
	struct zc_config c;
	nondefault(&c);
	for (int k = 0; k < 3; k++)
		for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) set_bad(&c, keys[k], bad[j]);
}

Test(config, booleans_reject_other_words)
{
	static const char *const bad[] = {"maybe", "2", "onn", "", "enabled", "-1", "o"};
	struct zc_config c;
	nondefault(&c);
	for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
		set_bad(&c, "unix_sockets", bad[j]);
		set_bad(&c, "inherit", bad[j]);
		set_bad(&c, "stack_buffers", bad[j]);
	}
}

Test(config, lease_and_log_level_reject_other_words)
{
	struct zc_config c;
	nondefault(&c);
	set_bad(&c, "lease", "required");
	set_bad(&c, "lease", "no");
	set_bad(&c, "lease", "");
	set_bad(&c, "log_level", "warning");
	set_bad(&c, "log_level", "trace");
	set_bad(&c, "log_level", "3");
	set_bad(&c, "log_level", "");
	cr_assert_eq(c.lease, ZC_LEASE_PREFER);
	cr_assert_eq(c.log_level, ZC_LOG_DEBUG);
}

Test(config, paths_reject_256_bytes_and_more)
{
	char p[301];
	struct zc_config c;
	nondefault(&c);
	memset(p, 'b', 300);
	p[0] = '/';
	p[300] = 0;
	set_bad(&c, "log_file", p);
	set_bad(&c, "stats_file", p);
	p[256] = 0;
	set_bad(&c, "log_file", p);
	set_bad(&c, "stats_file", p);
	cr_assert_str_eq(c.log_file, "/tmp/prev.log");
	cr_assert_str_eq(c.stats_file, "/tmp/prev.%p.json");
}

Test(config, lease_signal_rejects_junk_and_out_of_range)
{
	char buf[64];
	struct zc_config c;
	nondefault(&c);
	static const char *const bad[] = {
		"SIGUSR1", "10", "0", "-5", "", "SIGRTMIN+", "SIGRTMAX-", "SIGRTMIN-1", "SIGRTMAX+1",
		"SIGRTMIN+2x", "SIGRTMAX-2 x", "SIGRTMIN +2", "SIGRTMIN+0x2", "SIGRTMAXX", "SIGRT",
		"SIGRTMIN+99999999999999999999", "SIGRTMAX-99999999999999999999", "99999999999999999999", "34x",
		"SIGRTMIN+9223372036854775807", "SIGRTMAX-9223372036854775808", "SIGRTMAX--9223372036854775807",
	};
	for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) set_bad(&c, "lease_signal", bad[j]);
	snprintf(buf, sizeof buf, "SIGRTMIN+%d", SIGRTMAX - SIGRTMIN + 1);
	set_bad(&c, "lease_signal", buf);
	snprintf(buf, sizeof buf, "SIGRTMAX-%d", SIGRTMAX - SIGRTMIN + 1);
	set_bad(&c, "lease_signal", buf);
	snprintf(buf, sizeof buf, "%d", SIGRTMIN - 1);
	set_bad(&c, "lease_signal", buf);
	snprintf(buf, sizeof buf, "%d", SIGRTMAX + 1);
	set_bad(&c, "lease_signal", buf);
	cr_assert_eq(c.lease_signal, SIGRTMIN + 1);
}

Test(config, unknown_key_is_one_line_and_changes_nothing)
{
	struct zc_config c, before;
	struct capture cap;
	nondefault(&c);
	memcpy(&before, &c, sizeof c);
	cap_open(&cap);
	cr_assert_eq(zc_config_set(&c, "min_bytes_udp", "5", "origin-xyz", cap.wfd), -1);
	cap_close(&cap);
	cr_assert_eq(memcmp(&before, &c, sizeof c), 0);
	assert_one_line(&cap, "unknown key");
	cr_assert(strstr(cap.text, "origin-xyz"), "%s", cap.text);
	cr_assert(strstr(cap.text, "min_bytes_udp"), "%s", cap.text);
	cr_assert(strstr(cap.text, "5"), "%s", cap.text);
	cr_assert_eq(zc_config_set(&c, "Mode", "off", "o", -1), -1, "keys are lower case in files");
}

/* DESIGN.md 4: the line says what is accepted; for a mistyped key that is the list of keys. */
Test(config, unknown_key_line_lists_the_known_keys)
{
	struct zc_config c;
	struct capture cap;
	zc_config_defaults(&c);
	cap_open(&cap);
	cr_assert_eq(zc_config_set(&c, "min_byte_tcp", "1K", "zcshim.conf:3", cap.wfd), -1);
	cap_close(&cap);
	assert_one_line(&cap, "mistyped key");
	for (int i = 0; i < zc_config_nkeys; i++)
		cr_assert(strstr(cap.text, zc_config_keys[i].name), "the line does not list the known key %s: %s",
			  zc_config_keys[i].name, cap.text);
}

/* The error line stays one line whatever the value holds: an over-long value or an embedded
 * newline (from the environment) must not produce zero or two lines. */
Test(config, error_line_is_one_line_for_a_very_long_value)
{
	static char p[2000];
	struct zc_config c;
	struct capture cap;
	nondefault(&c);
	memset(p, 'c', sizeof p - 1);
	p[0] = '/';
	cap_open(&cap);
	cr_assert_eq(zc_config_set(&c, "log_file", p, "environment ZCSHIM_LOG_FILE", cap.wfd), -1);
	cap_close(&cap);
	assert_one_line(&cap, "2000-byte value");
	cr_assert(strstr(cap.text, "log_file"), "%s", cap.text);
	cr_assert(strstr(cap.text, "ZCSHIM_LOG_FILE"), "%s", cap.text);
}

Test(config, error_line_is_one_line_for_a_value_with_a_newline)
{
	struct zc_config c;
	struct capture cap;
	nondefault(&c);
	cap_open(&cap);
	cr_assert_eq(zc_config_set(&c, "mode", "eager\nzcshim: forged second line", "environment ZCSHIM_MODE", cap.wfd), -1);
	cap_close(&cap);
	assert_one_line(&cap, "value with a newline");
	cr_assert_eq(c.mode, ZC_MODE_OFF);
}

Test(config, error_line_is_one_line_for_a_long_unknown_key_or_bad_line)
{
	static char v[900], text[1000];
	struct zc_config c;
	struct capture cap;
	zc_config_defaults(&c);
	memset(v, 'v', sizeof v - 1);
	cap_open(&cap);
	cr_assert_eq(zc_config_set(&c, "no_such_key", v, "environment ZCSHIM_NO_SUCH_KEY", cap.wfd), -1);
	cap_close(&cap);
	assert_one_line(&cap, "unknown key with a 899-byte value");
	/* a file line of 950 bytes without '=' */
	memset(text, 'w', 950);
	text[950] = '\n';
	cap_open(&cap);
	cr_assert_eq(zc_config_parse_text(&c, text, "/etc/t.conf", cap.wfd), 1);
	cap_close(&cap);
	assert_one_line(&cap, "950-byte line without '='");
	cr_assert(strstr(cap.text, "/etc/t.conf:1"), "%s", cap.text);
}

/* ---- file parsing -------------------------------------------------------------------- */

Test(config, file_text_comments_blanks_and_spacing)
{
	const char *text = "# a comment\n"
			   "\n"
			   "   \t  \n"
			   "mode=off\n"
			   "  min_bytes_tcp   =   32K   # trailing comment\n"
			   "\tlease = prefer\t\n"
			   "#log_level = debug\n"
			   "log_file = /tmp/x.log\r\n"
			   "inherit = no"; /* no final newline */
	struct zc_config c;
	struct capture cap;
	zc_config_defaults(&c);
	cap_open(&cap);
	int bad = zc_config_parse_text(&c, text, "/etc/t.conf", cap.wfd);
	cap_close(&cap);
	cr_assert_eq(bad, 0, "bad lines: %d: %s", bad, cap.text);
	cr_assert_eq(cap.len, 0, "%s", cap.text);
	cr_assert_eq(c.mode, ZC_MODE_OFF);
	cr_assert_eq(c.min_bytes_tcp, 32 * 1024);
	cr_assert_eq(c.lease, ZC_LEASE_PREFER);
	cr_assert_eq(c.log_level, ZC_LOG_WARN, "a commented-out line must not apply");
	cr_assert_str_eq(c.log_file, "/tmp/x.log");
	cr_assert_eq(c.inherit, 0);
	cr_assert_eq(c.origin[key_idx("mode")], ZC_ORIGIN_FILE);
	cr_assert_eq(c.origin[key_idx("min_bytes_tcp")], ZC_ORIGIN_FILE);
	cr_assert_eq(c.origin[key_idx("inherit")], ZC_ORIGIN_FILE);
	cr_assert_eq(c.origin[key_idx("log_level")], ZC_ORIGIN_DEFAULT);
	cr_assert_eq(c.origin[key_idx("min_bytes_pipe")], ZC_ORIGIN_DEFAULT);
}

/* count_sub — occurrences of s in text. */
static int count_sub(const char *text, const char *s)
{
	int n = 0;
	for (const char *p = strstr(text, s); p; p = strstr(p + 1, s)) n++;
	return n;
}

Test(config, file_bad_lines_name_path_and_line_number)
{
	const char *text = "# header\n"              /* 1 */
			   "mode = off\n"            /* 2 */
			   "this line has no equals\n" /* 3: missing '=' */
			   "\n"                      /* 4 */
			   "min_bytes_pipe = -4\n"   /* 5: bad value */
			   "no_such_key = 1\n"       /* 6: unknown key */
			   "lease = prefer\n"        /* 7 */
			   "log_level = loud # why\n" /* 8: bad value */
			   "unix_sockets = on\n";    /* 9 */
	struct zc_config c;
	struct capture cap;
	zc_config_defaults(&c);
	cap_open(&cap);
	int bad = zc_config_parse_text(&c, text, "/etc/t.conf", cap.wfd);
	cap_close(&cap);
	cr_assert_eq(bad, 4, "bad lines %d: %s", bad, cap.text);
	cr_assert_eq(cap_lines(&cap), 4, "one line per bad line: [%s]", cap.text);
	cr_assert_eq(count_sub(cap.text, "/etc/t.conf:3"), 1, "%s", cap.text);
	cr_assert_eq(count_sub(cap.text, "/etc/t.conf:5"), 1, "%s", cap.text);
	cr_assert_eq(count_sub(cap.text, "/etc/t.conf:6"), 1, "%s", cap.text);
	cr_assert_eq(count_sub(cap.text, "/etc/t.conf:8"), 1, "%s", cap.text);
	cr_assert(strstr(cap.text, "this line has no equals"), "%s", cap.text);
	cr_assert(strstr(cap.text, "min_bytes_pipe") && strstr(cap.text, "'-4'"), "%s", cap.text);
	cr_assert(strstr(cap.text, "no_such_key"), "%s", cap.text);
	cr_assert(strstr(cap.text, "'loud'") && strstr(cap.text, "error, warn, info, debug"), "%s", cap.text);
	/* the good lines still applied, the bad ones kept the defaults and their origin */
	cr_assert_eq(c.mode, ZC_MODE_OFF);
	cr_assert_eq(c.lease, ZC_LEASE_PREFER);
	cr_assert_eq(c.unix_sockets, 1);
	cr_assert_eq(c.min_bytes_pipe, 4096);
	cr_assert_eq(c.log_level, ZC_LOG_WARN);
	cr_assert_eq(c.origin[key_idx("min_bytes_pipe")], ZC_ORIGIN_DEFAULT);
	cr_assert_eq(c.origin[key_idx("log_level")], ZC_ORIGIN_DEFAULT);
	cr_assert_eq(c.origin[key_idx("unix_sockets")], ZC_ORIGIN_FILE);
}

Test(config, file_that_cannot_be_read_is_one_line)
{
	struct zc_config c, d;
	struct capture cap;
	zc_config_defaults(&c);
	memcpy(&d, &c, sizeof c);
	cap_open(&cap);
	cr_assert_eq(zc_config_load_file(&c, "/nonexistent/zcshim.conf", cap.wfd), -1);
	cap_close(&cap);
	assert_one_line(&cap, "unreadable file");
	cr_assert(strstr(cap.text, "/nonexistent/zcshim.conf"), "%s", cap.text);
	cr_assert_eq(memcmp(&c, &d, sizeof c), 0);
}

Test(config, load_file_reads_a_file_from_disk)
{
	char path[64];
	struct zc_config c;
	struct capture cap;
	write_tmp(path, sizeof path, "mode = off\nmin_bytes_file = 1M\nbogus\n");
	zc_config_defaults(&c);
	cap_open(&cap);
	int bad = zc_config_load_file(&c, path, cap.wfd);
	cap_close(&cap);
	unlink(path);
	cr_assert_eq(bad, 1);
	assert_one_line(&cap, "bad line");
	char want[96];
	snprintf(want, sizeof want, "%s:3", path);
	cr_assert(strstr(cap.text, want), "expected '%s' in: %s", want, cap.text);
	cr_assert_eq(c.mode, ZC_MODE_OFF);
	cr_assert_eq(c.min_bytes_file, 1L << 20);
}

/* A long commented file is read to the end: a key after 64 KiB of comments still applies. */
Test(config, load_file_reads_past_64k)
{
	static char text[80 * 1024];
	char path[64];
	size_t n = 0;
	while (n < 70 * 1024) n += (size_t)snprintf(text + n, sizeof text - n, "# %0100d\n", 0);
	snprintf(text + n, sizeof text - n, "mode = off\n");
	write_tmp(path, sizeof path, text);
	struct zc_config c;
	struct capture cap;
	zc_config_defaults(&c);
	cap_open(&cap);
	int bad = zc_config_load_file(&c, path, cap.wfd);
	cap_close(&cap);
	unlink(path);
	cr_assert_eq(bad, 0, "%s", cap.text);
	cr_assert_eq(c.mode, ZC_MODE_OFF, "the key after 64 KiB was silently ignored");
}

/* ---- environment and lookup order ---------------------------------------------------- */

Test(config, env_keys_are_case_insensitive_and_named_in_errors)
{
	char *envp[] = {"PATH=/usr/bin", "ZCSHIM_MODE=off", "ZCSHIM_min_bytes_pipe=8K", "ZCSHIM_LEASE=sometimes",
			"ZCSHIM_NOT_A_KEY=1", "ZCSHIM_CONF=/whatever", "NOT_ZCSHIM_MODE=eager", NULL};
	struct zc_config c;
	struct capture cap;
	zc_config_defaults(&c);
	cap_open(&cap);
	int bad = zc_config_load_env(&c, envp, cap.wfd);
	cap_close(&cap);
	cr_assert_eq(bad, 2, "%s", cap.text);
	cr_assert_eq(cap_lines(&cap), 2, "%s", cap.text);
	cr_assert(strstr(cap.text, "ZCSHIM_LEASE") && strstr(cap.text, "sometimes") && strstr(cap.text, "require, prefer, off"),
		  "%s", cap.text);
	cr_assert(strstr(cap.text, "ZCSHIM_NOT_A_KEY"), "%s", cap.text);
	cr_assert_null(strstr(cap.text, "ZCSHIM_CONF"), "ZCSHIM_CONF is not a key: %s", cap.text);
	cr_assert_eq(c.mode, ZC_MODE_OFF);
	cr_assert_eq(c.min_bytes_pipe, 8192);
	cr_assert_eq(c.lease, ZC_LEASE_REQUIRE);
	cr_assert_eq(c.origin[key_idx("mode")], ZC_ORIGIN_ENV);
	cr_assert_eq(c.origin[key_idx("min_bytes_pipe")], ZC_ORIGIN_ENV);
	cr_assert_eq(c.origin[key_idx("lease")], ZC_ORIGIN_DEFAULT);
}

Test(config, env_overrides_file_overrides_default)
{
	char path[64], conf[96];
	write_tmp(path, sizeof path,
		  "mode = off\n"
		  "min_bytes_tcp = 8K\n"
		  "min_bytes_pipe = 8K\n"
		  "lease = prefer\n");
	snprintf(conf, sizeof conf, "ZCSHIM_CONF=%s", path);
	char *envp[] = {conf, "ZCSHIM_MODE=eager", "ZCSHIM_MIN_BYTES_TCP=1M", "ZCSHIM_LEASE=bogus", "HOME=/root", NULL};
	struct zc_config c;
	struct capture cap;
	nondefault(&c); /* load starts from the defaults whatever c held */
	cap_open(&cap);
	int bad = zc_config_load(&c, envp, cap.wfd);
	cap_close(&cap);
	unlink(path);
	cr_assert_eq(bad, 1, "%s", cap.text);
	assert_one_line(&cap, "bad env value");
	cr_assert(strstr(cap.text, "ZCSHIM_LEASE") && strstr(cap.text, "bogus"), "%s", cap.text);

	cr_assert_eq(c.mode, ZC_MODE_EAGER, "environment beats file");
	cr_assert_eq(c.origin[key_idx("mode")], ZC_ORIGIN_ENV);
	cr_assert_eq(c.min_bytes_tcp, 1L << 20);
	cr_assert_eq(c.origin[key_idx("min_bytes_tcp")], ZC_ORIGIN_ENV);
	cr_assert_eq(c.min_bytes_pipe, 8192, "file beats default");
	cr_assert_eq(c.origin[key_idx("min_bytes_pipe")], ZC_ORIGIN_FILE);
	cr_assert_eq(c.lease, ZC_LEASE_PREFER, "a bad env value keeps the file's value");
	cr_assert_eq(c.origin[key_idx("lease")], ZC_ORIGIN_FILE);
	cr_assert_eq(c.min_bytes_file, 65536, "untouched key is the default");
	cr_assert_eq(c.origin[key_idx("min_bytes_file")], ZC_ORIGIN_DEFAULT);
	cr_assert_eq(c.unix_sockets, 0);
	cr_assert_eq(c.origin[key_idx("unix_sockets")], ZC_ORIGIN_DEFAULT);
	cr_assert_eq(c.lease_signal, SIGRTMAX - 2);
}

/* zc_config_load "returns bad entries": bad lines of the ZCSHIM_CONF file count like bad
 * environment values (init.c and check-config style callers rely on a non-zero total). */
Test(config, load_counts_bad_file_lines_and_bad_env_values)
{
	char path[64], conf[96];
	write_tmp(path, sizeof path, "mode = sideways\nmin_bytes_tcp = 12Q\nlease = off\n");
	snprintf(conf, sizeof conf, "ZCSHIM_CONF=%s", path);
	char *envp[] = {conf, "ZCSHIM_INHERIT=perhaps", NULL};
	struct zc_config c;
	struct capture cap;
	cap_open(&cap);
	int bad = zc_config_load(&c, envp, cap.wfd);
	cap_close(&cap);
	unlink(path);
	cr_assert_eq(cap_lines(&cap), 3, "%s", cap.text);
	cr_assert_eq(c.lease, ZC_LEASE_OFF);
	cr_assert_eq(c.mode, ZC_MODE_AUTO);
	cr_assert_eq(bad, 3, "2 bad file lines + 1 bad env value, got %d", bad);
}

Test(config, load_with_unreadable_conf_keeps_defaults)
{
	char *envp[] = {"ZCSHIM_CONF=/nonexistent/dir/zc.conf", "ZCSHIM_UNIX_SOCKETS=yes", NULL};
	struct zc_config c, d;
	struct capture cap;
	cap_open(&cap);
	int bad = zc_config_load(&c, envp, cap.wfd);
	cap_close(&cap);
	cr_assert_geq(bad, 1);
	assert_one_line(&cap, "unreadable ZCSHIM_CONF");
	cr_assert(strstr(cap.text, "/nonexistent/dir/zc.conf"), "%s", cap.text);
	zc_config_defaults(&d);
	d.unix_sockets = 1;
	d.origin[key_idx("unix_sockets")] = ZC_ORIGIN_ENV;
	cr_assert(cfg_eq(&c, &d));
}

/* ---- get ----------------------------------------------------------------------------- */

/* roundtrip — every key of a reads back as text that, set into fresh defaults, gives the same. */
static void roundtrip(const struct zc_config *a)
{
	struct zc_config b;
	zc_config_defaults(&b);
	for (int i = 0; i < zc_config_nkeys; i++) {
		char t1[300], t2[300];
		const char *k = zc_config_keys[i].name;
		cr_assert_geq(zc_config_get(a, k, t1, sizeof t1), 0, "get %s", k);
		cr_assert_eq(zc_config_set(&b, k, t1, "roundtrip", -1), 0, "get(%s) = '%s' does not parse back", k, t1);
		cr_assert_geq(zc_config_get(&b, k, t2, sizeof t2), 0);
		cr_assert_str_eq(t1, t2, "%s", k);
	}
	for (int i = 0; i < zc_config_nkeys; i++) b.origin[i] = a->origin[i];
	cr_assert(cfg_eq(a, &b), "round trip through text changed a value");
}

Test(config, get_round_trips_every_key)
{
	struct zc_config c;
	char t[64];
	zc_config_defaults(&c);
	roundtrip(&c);
	nondefault(&c);
	roundtrip(&c);
	cr_assert_eq(zc_config_set(&c, "lease", "off", "t", -1), 0);
	cr_assert_eq(zc_config_set(&c, "log_level", "error", "t", -1), 0);
	cr_assert_eq(zc_config_set(&c, "lease_signal", "SIGRTMAX", "t", -1), 0);
	roundtrip(&c);
	cr_assert_eq(zc_config_get(&c, "no_such_key", t, sizeof t), -1);
	zc_config_defaults(&c);
	zc_config_get(&c, "mode", t, sizeof t);
	cr_assert_str_eq(t, "auto");
	zc_config_get(&c, "unix_sockets", t, sizeof t);
	cr_assert_str_eq(t, "off");
	zc_config_get(&c, "min_bytes_tcp", t, sizeof t);
	cr_assert_str_eq(t, "262144");
}

/* ---- the shipped zcshim.conf --------------------------------------------------------- */

/* repo_path — file at the top of the repository: $ZC_ROOT, else the nearest directory above the
 * binary (build/unit/, build/h2/unit/...) that holds shim/config.h. */
static void repo_path(char *out, size_t cap, const char *name)
{
	const char *root = getenv("ZC_ROOT");
	if (root && *root) {
		snprintf(out, cap, "%s/%s", root, name);
		return;
	}
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	cr_assert_gt(n, 0);
	exe[n] = 0;
	char *slash;
	while ((slash = strrchr(exe, '/')) && slash != exe) {
		*slash = 0;
		snprintf(probe, sizeof probe, "%s/shim/config.h", exe); /* the repository's root */
		if (access(probe, R_OK) == 0) break;
	}
	snprintf(out, cap, "%s/%s", exe, name);
}

Test(config, shipped_conf_parses_cleanly_and_equals_the_defaults)
{
	char path[PATH_MAX + 32];
	struct zc_config c, d;
	struct capture cap;
	repo_path(path, sizeof path, "zcshim.conf");
	nondefault(&c);
	zc_config_defaults(&c);
	cap_open(&cap);
	int bad = zc_config_load_file(&c, path, cap.wfd);
	cap_close(&cap);
	cr_assert_eq(bad, 0, "%s: %d bad lines: %s", path, bad, cap.text);
	cr_assert_eq(cap.len, 0, "%s", cap.text);
	zc_config_defaults(&d);
	for (int i = 0; i < zc_config_nkeys; i++) {
		char a[300], b[300];
		zc_config_get(&c, zc_config_keys[i].name, a, sizeof a);
		zc_config_get(&d, zc_config_keys[i].name, b, sizeof b);
		cr_assert_str_eq(a, b, "zcshim.conf sets %s = '%s', the default is '%s'", zc_config_keys[i].name, a, b);
		cr_assert_eq(c.origin[i], ZC_ORIGIN_FILE, "zcshim.conf does not document key %s", zc_config_keys[i].name);
	}
	for (int i = 0; i < zc_config_nkeys; i++) c.origin[i] = ZC_ORIGIN_DEFAULT;
	cr_assert(cfg_eq(&c, &d));
}

/* ---- issue 8, item 9: lines too long, NUL bytes, files that are not regular --------------------- */

/* long_line — "min_bytes_tcp = 000…0001M" of exactly len bytes (without the newline). */
static char *long_line(size_t len)
{
	static char line[4096];
	const char *head = "min_bytes_tcp = ";
	size_t h = strlen(head);
	cr_assert(len < sizeof line - 2 && len > h + 2);
	memcpy(line, head, h);
	memset(line + h, '0', len - h - 2);
	memcpy(line + len - 2, "1M", 2);
	line[len] = '\n';
	line[len + 1] = 0;
	return line;
}

/* A line of 1,024 bytes or more was cut at 1,023 and its start accepted: "min_bytes_tcp = 000…0"
 * became 0. It is refused as a whole now, with one line naming where, the key and the limit. */
Test(config, line_of_1024_bytes_or_more_is_refused_whole)
{
	static const size_t lens[] = {1024, 1025, 1100, 3000};
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		struct zc_config c;
		struct capture cap;
		nondefault(&c);
		cap_open(&cap);
		int bad = zc_config_parse_text(&c, long_line(lens[k]), "/etc/long.conf", cap.wfd);
		cap_close(&cap);
		cr_assert_eq(bad, 1, "a %zu-byte line: %d bad lines", lens[k], bad);
		cr_assert_eq(c.min_bytes_tcp, 123, "a %zu-byte line set min_bytes_tcp to %ld", lens[k], c.min_bytes_tcp);
		cr_assert_eq(c.origin[key_idx("min_bytes_tcp")], ZC_ORIGIN_DEFAULT);
		assert_one_line(&cap, "long line");
		cr_assert(strstr(cap.text, "/etc/long.conf:1:"), "%s", cap.text);
		cr_assert(strstr(cap.text, "min_bytes_tcp"), "the message does not name the key: %s", cap.text);
		cr_assert(strstr(cap.text, "accepted: lines shorter than 1024 bytes"), "%s", cap.text);
	}
}

/* 1,023 bytes is still a line: the limit is not off by one. */
Test(config, line_of_1023_bytes_is_accepted)
{
	struct zc_config c;
	struct capture cap;
	nondefault(&c);
	cap_open(&cap);
	int bad = zc_config_parse_text(&c, long_line(1023), "t.conf", cap.wfd);
	cap_close(&cap);
	cr_assert_eq(bad, 0, "%s", cap.text);
	cr_assert_eq(c.min_bytes_tcp, 1L << 20);
}

/* A NUL byte ended parsing silently, hiding every line after it. The line holding it is a bad line;
 * the lines after it are parsed (and reported) as usual. */
Test(config, nul_byte_is_a_bad_line_and_hides_nothing)
{
	static const char text[] = "mode = off\n\0junk\nlease = maybe\nunix_sockets = on\nmin_bytes_pipe = 8\0K\n";
	struct zc_config c;
	struct capture cap;
	zc_config_defaults(&c);
	cap_open(&cap);
	int bad = zc_config_parse_buf(&c, text, sizeof text - 1, "/etc/nul.conf", cap.wfd);
	cap_close(&cap);
	cr_assert_eq(bad, 3, "%d bad lines: %s", bad, cap.text);
	cr_assert_eq(cap_lines(&cap), 3, "%s", cap.text);
	cr_assert(strstr(cap.text, "/etc/nul.conf:2: NUL byte in line '\\x00junk'"), "%s", cap.text);
	cr_assert(strstr(cap.text, "/etc/nul.conf:3: bad value 'maybe' for lease"), "%s", cap.text);
	cr_assert(strstr(cap.text, "/etc/nul.conf:5: NUL byte in line 'min_bytes_pipe = 8\\x00K'"), "%s", cap.text);
	cr_assert_eq(c.mode, ZC_MODE_OFF);
	cr_assert_eq(c.unix_sockets, 1);
	cr_assert_eq(c.min_bytes_pipe, 4096);
}

/* The same from a file on disk (zc_config_load_file reads its bytes, not a C string). */
Test(config, nul_byte_in_a_file_on_disk)
{
	static const char text[] = "mode = off\n\0\nlease = maybe\n";
	char path[64];
	struct zc_config c;
	struct capture cap;
	snprintf(path, sizeof path, "/tmp/zc_cfg_test.XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	close(fd);
	zc_config_defaults(&c);
	cap_open(&cap);
	int bad = zc_config_load_file(&c, path, cap.wfd);
	cap_close(&cap);
	unlink(path);
	cr_assert_eq(bad, 2, "%s", cap.text);
	cr_assert_eq(c.mode, ZC_MODE_OFF);
}

/* load_refused — zc_config_load_file(path) is -1 with one line containing what, and changes nothing. */
static void load_refused(const char *path, const char *what)
{
	struct zc_config c, d;
	struct capture cap;
	nondefault(&c);
	memcpy(&d, &c, sizeof c);
	cap_open(&cap);
	cr_assert_eq(zc_config_load_file(&c, path, cap.wfd), -1, "%s was accepted", path);
	cap_close(&cap);
	assert_one_line(&cap, path);
	cr_assert(strstr(cap.text, path) && strstr(cap.text, what), "%s: expected '%s' in: %s", path, what, cap.text);
	cr_assert(strstr(cap.text, "accepted: a regular file"), "%s", cap.text);
	cr_assert_eq(memcmp(&c, &d, sizeof c), 0);
}

/* A directory was accepted silently; a FIFO or a tty blocked the constructor in open or read. */
Test(config, directory_fifo_and_device_are_refused_without_blocking, .timeout = 20)
{
	char dir[64], fifo[96];
	snprintf(dir, sizeof dir, "/tmp/zc_cfg_dir.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	load_refused(dir, "is a directory");
	load_refused(fifo, "is a FIFO"); /* no writer: a blocking open would never return */
	load_refused("/dev/null", "is a character device");
	int tty = open("/dev/ptmx", O_RDWR | O_NOCTTY);
	if (tty >= 0) { /* a terminal nobody types into: a blocking read would never return */
		char pts[64];
		cr_assert_eq(grantpt(tty) | unlockpt(tty), 0);
		cr_assert_eq(ptsname_r(tty, pts, sizeof pts), 0);
		load_refused(pts, "is a character device");
		close(tty);
	}
	unlink(fifo);
	rmdir(dir);
}

/* ---- issue 8, item 7: secure-execution mode ------------------------------------------------------ */

/* secure_file — a temporary config file with the given text, owner and mode. */
static void secure_file(char *path, size_t cap, const char *text, uid_t owner, mode_t mode)
{
	write_tmp(path, cap, text);
	cr_assert_eq(chown(path, owner, 0), 0);
	cr_assert_eq(chmod(path, mode), 0);
}

/* Under AT_SECURE only root's own system file counts: no environment (there is no envp to pass),
 * nothing printed, and a file others may write, or owned by someone else, is ignored whole. */
Test(config, secure_mode_trusts_only_a_root_owned_unwritable_system_file)
{
	char path[64];
	struct zc_config c, d;
	if (geteuid() != 0) cr_skip_test("needs root to create files of other owners");
	zc_config_defaults(&d);
	secure_file(path, sizeof path, "mode = off\nstats_file = /var/tmp/zc.%p.json\n", 0, 0644);
	cr_assert_eq(zc_config_load_secure(&c, path), 0);
	cr_assert_eq(c.mode, ZC_MODE_OFF);
	cr_assert_str_eq(c.stats_file, "/var/tmp/zc.%p.json");
	static const struct { uid_t uid; mode_t mode; } untrusted[] = {{0, 0666}, {0, 0664}, {0, 0646}, {65534, 0644}};
	for (size_t k = 0; k < sizeof untrusted / sizeof untrusted[0]; k++) {
		cr_assert_eq(chown(path, untrusted[k].uid, 0), 0);
		cr_assert_eq(chmod(path, untrusted[k].mode), 0);
		nondefault(&c);
		cr_assert_eq(zc_config_load_secure(&c, path), -1, "uid %d mode %o was trusted", (int)untrusted[k].uid,
			     (unsigned)untrusted[k].mode);
		cr_assert(cfg_eq(&c, &d), "uid %d mode %o: not the built-in defaults", (int)untrusted[k].uid,
			  (unsigned)untrusted[k].mode);
	}
	unlink(path);
	nondefault(&c);
	cr_assert_eq(zc_config_load_secure(&c, "/nonexistent/zcshim.conf"), 0);
	cr_assert(cfg_eq(&c, &d), "no system file: the built-in defaults");
}

/* Its bad lines and unreadable files print nothing: stderr belongs to whoever ran the program. */
Test(config, secure_mode_prints_nothing, .timeout = 20)
{
	char path[64], dir[64], fifo[96];
	struct zc_config c;
	struct capture cap;
	if (geteuid() != 0) cr_skip_test("needs root to create a root-owned file");
	secure_file(path, sizeof path, "root:secret:1:2\nmode = fast\n", 0, 0600);
	snprintf(dir, sizeof dir, "/tmp/zc_cfg_dir.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cap_open(&cap);
	int saved = dup(2);
	cr_assert_eq(dup2(cap.wfd, 2), 2);
	int bad = zc_config_load_secure(&c, path);
	int fifo_r = zc_config_load_secure(&c, fifo); /* and never blocks */
	dup2(saved, 2);
	close(saved);
	cap_close(&cap);
	unlink(path);
	unlink(fifo);
	rmdir(dir);
	cr_assert_eq(bad, 2);
	cr_assert_eq(fifo_r, 0);
	cr_assert_eq(cap.len, 0, "printed: %s", cap.text);
}
