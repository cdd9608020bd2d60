/* test_config_fuzz.c — the config parser against mutated input (issue 8, item 9: this found the
 * cut long lines, the NUL byte that hid later lines and the signal-number overflow).
 *
 * Two builds of one file:
 *  - the unit test (Criterion, built by `make test` like every tests/unit/test_*.c): a short,
 *    seeded mutation run, ZC_FUZZ_ITERS inputs (default 50000, about a second), ZC_FUZZ_SEED to
 *    choose the sequence (a run is reproducible); a failing input is saved to /tmp/zc-config-fuzz.bin;
 *  - a libFuzzer target, for the long run (README, "Configuration"):
 *      clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -DZC_LIBFUZZER -Ishim \
 *        tests/unit/test_config_fuzz.c shim/config.c shim/log.c shim/real.c -ldl -o build/fuzz_config
 *      build/fuzz_config -max_total_time=3600 -max_len=8192
 *
 * What every input must give: no crash or undefined behaviour; exactly one message line per bad
 * line, each starting "zcshim: " and shorter than 1024 bytes; a message for every line of 1024
 * bytes or more and every line holding a NUL byte; every value in its documented range; every
 * value the file set is accepted again as text (zc_config_get, then zc_config_set). */
#include "config.h"
#include "log.h"
#include "real.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef ZC_LIBFUZZER
#define FUZZ_FAIL(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), abort())
#else
#include <criterion/criterion.h>
static void save_input(void);
#define FUZZ_FAIL(...) do { save_input(); cr_assert_fail(__VA_ARGS__); } while (0)
#endif

#define FUZZ_PATH "fuzz.conf"
#define FUZZ_MAX 8192

static int out_fd = -1; /* a memfd standing in for stderr: never fills up like a pipe */
static char out[1 << 20];

/* messages — what the parser wrote since the last call, NUL-terminated; its length. */
static size_t messages(void)
{
	off_t n = lseek(out_fd, 0, SEEK_CUR);
	if (n < 0 || n >= (off_t)sizeof out) FUZZ_FAIL("message output too large (%ld bytes)", (long)n);
	if (pread(out_fd, out, (size_t)n, 0) != n) FUZZ_FAIL("cannot read the messages back");
	out[n] = 0;
	if (ftruncate(out_fd, 0) || lseek(out_fd, 0, SEEK_SET)) FUZZ_FAIL("cannot reset the message file");
	return (size_t)n;
}

/* check_lines — one well-formed line per bad line; returns whether line lineno got a message. */
static int check_lines(const char *text, size_t len, int bad, int lineno_wanted)
{
	int lines = 0, found = 0;
	char want[64];
	snprintf(want, sizeof want, "zcshim: " FUZZ_PATH ":%d:", lineno_wanted);
	for (const char *p = text; p < text + len;) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p));
		if (!nl) FUZZ_FAIL("a message without its newline: %s", p);
		if (strncmp(p, "zcshim: ", 8)) FUZZ_FAIL("a message line not starting 'zcshim: ': %.200s", p);
		if (nl - p >= ZC_CONFIG_LINE_MAX) FUZZ_FAIL("a message line of %ld bytes", (long)(nl - p));
		if (!strncmp(p, want, strlen(want))) found = 1;
		lines++;
		p = nl + 1;
	}
	if (lines != bad) FUZZ_FAIL("%d bad lines reported, %d message lines:\n%.2000s", bad, lines, text);
	return found;
}

/* check_unreadable — every line of the input that must be refused whole got its message. */
static void check_unreadable(const uint8_t *data, size_t size, const char *msgs, size_t mlen, int bad)
{
	int lineno = 0;
	check_lines(msgs, mlen, bad, 0);
	for (const uint8_t *p = data; p < data + size;) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(data + size - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(data + size - p);
		lineno++;
		if ((len >= ZC_CONFIG_LINE_MAX || memchr(p, 0, len)) && !check_lines(msgs, mlen, bad, lineno))
			FUZZ_FAIL("line %d (%zu bytes%s) was not refused", lineno, len, memchr(p, 0, len) ? ", a NUL byte" : "");
		p = nl ? nl + 1 : data + size;
	}
}

/* check_ranges — every value within what zc_config_set accepts. */
static void check_ranges(const struct zc_config *c)
{
	long bytes[] = {c->min_bytes_tcp, c->min_bytes_pipe, c->min_bytes_file};
	for (int i = 0; i < 3; i++)
		if (bytes[i] < 0 || bytes[i] > 1L << 30) FUZZ_FAIL("a byte count out of range: %ld", bytes[i]);
	if (c->guard_min_bytes < 4096 || c->guard_min_bytes > 1L << 30) FUZZ_FAIL("guard_min_bytes %ld", c->guard_min_bytes);
	if (c->defer_min_bytes < 8192 || c->defer_min_bytes > 1L << 30) FUZZ_FAIL("defer_min_bytes %ld", c->defer_min_bytes);
	if (c->align_min_bytes && (c->align_min_bytes < 8192 || c->align_min_bytes > 1L << 30)) FUZZ_FAIL("align_min_bytes %ld", c->align_min_bytes);
	if ((unsigned)c->mode > ZC_MODE_AUTO || (unsigned)c->lease > ZC_LEASE_OFF || (unsigned)c->log_level > 3)
		FUZZ_FAIL("a word key out of range: mode %d lease %d log_level %d", c->mode, c->lease, c->log_level);
	if ((unsigned)c->unix_sockets > 1 || (unsigned)c->inherit > 1 || (unsigned)c->stack_buffers > 1)
		FUZZ_FAIL("a boolean that is neither 0 nor 1");
	if (c->lease_signal < SIGRTMIN || c->lease_signal > SIGRTMAX) FUZZ_FAIL("lease_signal %d", c->lease_signal);
	if (!memchr(c->log_file, 0, sizeof c->log_file) || !memchr(c->stats_file, 0, sizeof c->stats_file))
		FUZZ_FAIL("a path without its NUL");
}

/* check_round_trip — what the file set reads back as text that is accepted again, silently. */
static void check_round_trip(const struct zc_config *c)
{
	struct zc_config d;
	zc_config_defaults(&d);
	for (int i = 0; i < zc_config_nkeys; i++) {
		char v[300];
		if (c->origin[i] != ZC_ORIGIN_FILE) continue;
		zc_config_get(c, zc_config_keys[i].name, v, sizeof v);
		if (zc_config_set(&d, zc_config_keys[i].name, v, "round trip", out_fd) < 0)
			FUZZ_FAIL("%s = '%s' was set from the file but is refused as text", zc_config_keys[i].name, v);
	}
	if (messages()) FUZZ_FAIL("the round trip printed: %s", out);
}

/* fuzz_one — one input through zc_config_parse_buf and every check above. */
static void fuzz_one(const uint8_t *data, size_t size)
{
	struct zc_config c;
	if (out_fd < 0) {
		zc_real_resolve();
		out_fd = memfd_create("zc-fuzz-messages", MFD_CLOEXEC);
		if (out_fd < 0) FUZZ_FAIL("memfd_create");
	}
	zc_config_defaults(&c);
	int bad = zc_config_parse_buf(&c, (const char *)data, size, FUZZ_PATH, out_fd);
	size_t mlen = messages();
	if (bad < 0) FUZZ_FAIL("%d bad lines", bad);
	check_unreadable(data, size, out, mlen, bad);
	check_ranges(&c);
	check_round_trip(&c);
}

#ifdef ZC_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);
	return 0;
}
#else

/* Seed lines the mutations start from: every key, valid and bad, and the shapes that broke it. */
static const char *const seeds[] = {
	"mode = eager", "mode = off", "mode=fast", "min_bytes_tcp = 262144", "min_bytes_pipe = 64K",
	"min_bytes_file = 1M", "min_bytes_tcp = 18014398509481984K", "unix_sockets = on", "inherit = no",
	"stack_buffers = TRUE", "lease = prefer", "lease = maybe", "log_level = debug", "log_file = /tmp/zc.log",
	"stats_file = /tmp/zc.%p.json", "lease_signal = SIGRTMAX-2", "lease_signal = SIGRTMIN+99999999999999999999",
	"lease_signal = SIGRTMAX-9223372036854775808", "lease_signal = 40", "guard_min_bytes = 4K", "# comment",
	"   ", "key without equals", "= value", "unknown = 1", "mode = off # trailing", "mode\t=\toff\r",
	"min_bytes_tcp = 0000000000000000000000000000000000000000000000000000000000000001M",
};

/* rnd — xorshift64*: reproducible from ZC_FUZZ_SEED. */
static uint64_t rnd_state;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ULL;
}

/* append — bytes onto the input, within FUZZ_MAX. */
static size_t append(uint8_t *buf, size_t n, const void *p, size_t len)
{
	if (len > FUZZ_MAX - n) len = FUZZ_MAX - n;
	memcpy(buf + n, p, len);
	return n + len;
}

/* mutate — one random edit: flip, insert a special byte, repeat a run (long lines), cut, splice a seed. */
static size_t mutate(uint8_t *buf, size_t n)
{
	static const uint8_t special[] = {0, '\n', '=', '#', ' ', '\r', 0xff, 'K', 'M', '+', '-', '9'};
	size_t at = n ? rnd() % (n + 1) : 0;
	switch (rnd() % 5) {
	case 0:
		if (n) buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
		return n;
	case 1:
		if (n >= FUZZ_MAX) return n;
		memmove(buf + at + 1, buf + at, n - at);
		buf[at] = special[rnd() % sizeof special];
		return n + 1;
	case 2: { /* a run of one byte, often long enough to cross ZC_CONFIG_LINE_MAX */
		size_t len = rnd() % 2 ? rnd() % 64 : 900 + rnd() % 300;
		uint8_t ch = rnd() % 2 ? '0' : buf[n ? rnd() % n : 0];
		if (len > FUZZ_MAX - n) len = FUZZ_MAX - n;
		memmove(buf + at + len, buf + at, n - at);
		memset(buf + at, ch, len);
		return n + len;
	}
	case 3: {
		size_t len = n - at ? rnd() % (n - at) : 0;
		memmove(buf + at, buf + at + len, n - at - len);
		return n - len;
	}
	default: {
		const char *s = seeds[rnd() % (sizeof seeds / sizeof seeds[0])];
		size_t len = strlen(s);
		if (len > FUZZ_MAX - n) return n;
		memmove(buf + at + len, buf + at, n - at);
		memcpy(buf + at, s, len);
		return n + len;
	}
	}
}

/* one_input — a few seed lines, then a few mutations. */
static size_t one_input(uint8_t *buf)
{
	size_t n = 0;
	for (int k = 1 + (int)(rnd() % 6); k > 0; k--) {
		const char *s = seeds[rnd() % (sizeof seeds / sizeof seeds[0])];
		n = append(buf, n, s, strlen(s));
		n = append(buf, n, "\n", rnd() % 8 ? 1 : 0);
	}
	for (int k = (int)(rnd() % 8); k > 0; k--) n = mutate(buf, n);
	return n;
}

static const uint8_t *cur_buf; /* the input under test, saved when a check fails */
static size_t cur_n;
static long cur_i;

/* save_input — the failing input, for a replay under a debugger or the libFuzzer build. */
static void save_input(void)
{
	FILE *f = fopen("/tmp/zc-config-fuzz.bin", "wb");
	if (f) fwrite(cur_buf, 1, cur_n, f), fclose(f);
	cr_log_error("config fuzz: input %ld saved to /tmp/zc-config-fuzz.bin (replay: ZC_FUZZ_SEED as above)", cur_i);
}

Test(config_fuzz, mutated_input_keeps_every_promise, .timeout = 300)
{
	static uint8_t buf[FUZZ_MAX + 1];
	const char *it = getenv("ZC_FUZZ_ITERS"), *sd = getenv("ZC_FUZZ_SEED");
	long iters = it && *it ? atol(it) : 50000;
	uint64_t seed = sd && *sd ? strtoull(sd, NULL, 0) : 0x7a637368696dULL;
	for (long i = 0; i < iters; i++) {
		rnd_state = seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL + 1;
		cur_buf = buf, cur_n = one_input(buf), cur_i = i;
		fuzz_one(buf, cur_n);
	}
	cr_log_info("config fuzz: %ld inputs from seed %#llx", iters, (unsigned long long)seed);
}
#endif
