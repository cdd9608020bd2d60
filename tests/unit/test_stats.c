/* test_stats.c — shim/stats.c: counter names, the JSON every test reads (each counter once, with
 * its value; a buffer too small is refused, never overrun), stats_file with %p and the exec
 * suffix (never through a symlink), the live memfd and the child's reset. */
#include <criterion/criterion.h>

#include "config.h"
#include "log.h"
#include "real.h"
#include "stats.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static void setup(void)
{
	zc_real_resolve();
	zc_config_defaults(&zc_cfg);
	zc_stats_init();
}

TestSuite(stats, .init = setup);

/* json_value — the number after "name": in the JSON text, -1 if absent; *count: occurrences */
static long long json_value(const char *json, const char *name, int *count)
{
	char key[96];
	long long v = -1;
	snprintf(key, sizeof key, "\"%s\": ", name);
	*count = 0;
	for (const char *p = json; (p = strstr(p, key)); p += strlen(key)) {
		(*count)++;
		v = strtoll(p + strlen(key), NULL, 10);
	}
	return v;
}

Test(stats, counter_names_are_unique_lowercase_identifiers)
{
	for (int i = 0; i < ZC_NCOUNTERS; i++) {
		const char *n = zc_counter_names[i];
		cr_assert(n && *n, "counter %d has no name", i);
		for (const char *c = n; *c; c++) cr_assert(islower((unsigned char)*c) || *c == '_' || isdigit((unsigned char)*c), "%s", n);
		for (int j = 0; j < i; j++) cr_assert_str_neq(n, zc_counter_names[j], "duplicate name");
	}
	cr_assert_str_eq(zc_counter_names[ZC_calls_read], "calls_read");
	cr_assert_str_eq(zc_counter_names[ZC_rw_sendfile_bytes], "rw_sendfile_bytes");
}

Test(stats, init_zeroes_and_writes_the_header)
{
	zc_count(ZC_fb_small, 3);
	zc_stats_init();
	cr_assert_eq(zc_stats->magic, ZC_STATS_MAGIC);
	cr_assert_eq(zc_stats->ncounters, (uint32_t)ZC_NCOUNTERS);
	cr_assert_eq(zc_stats->pid, (int32_t)getpid());
	for (int i = 0; i < ZC_NCOUNTERS; i++) cr_assert_eq(zc_stats->v[i], 0, "%s", zc_counter_names[i]);
}

Test(stats, json_has_every_counter_once_with_its_value)
{
	for (int i = 0; i < ZC_NCOUNTERS; i++) zc_count((enum zc_counter)i, (uint64_t)i * 1000003u + 7);
	zc_count(ZC_rw_splice_bytes, 1ULL << 40); /* beyond 32 bits */
	char json[16384];
	int len = zc_stats_format_json(json, sizeof json);
	cr_assert_gt(len, 0);
	cr_assert_eq((size_t)len, strlen(json));
	cr_assert_eq(json[0], '{');
	cr_assert(!strcmp(json + len - 2, "}\n"), "does not end with }: %s", json + len - 8);
	int c;
	for (int i = 0; i < ZC_NCOUNTERS; i++) {
		long long want = (long long)i * 1000003 + 7 + (i == ZC_rw_splice_bytes ? (1LL << 40) : 0);
		cr_assert_eq(json_value(json, zc_counter_names[i], &c), want, "%s", zc_counter_names[i]);
		cr_assert_eq(c, 1, "%s appears %d times", zc_counter_names[i], c);
	}
	cr_assert_eq(json_value(json, "pid", &c), getpid());
	cr_assert(strstr(json, "\"mode\": \"auto\""), "%s", json);
	/* one counter a line, the last without a comma (valid JSON) */
	char last[96];
	snprintf(last, sizeof last, "\"%s\": %llu\n", zc_counter_names[ZC_NCOUNTERS - 1],
		 (unsigned long long)(ZC_NCOUNTERS - 1) * 1000003 + 7);
	cr_assert(strstr(json, last), "last counter line: %s", json);
}

Test(stats, json_too_small_is_refused_and_not_overrun)
{
	char full[16384];
	int len = zc_stats_format_json(full, sizeof full);
	cr_assert_gt(len, 0);
	for (size_t cap = 16; cap <= (size_t)len; cap += 97) {
		char *b = malloc(cap + 64);
		memset(b, 0x5a, cap + 64);
		cr_assert_eq(zc_stats_format_json(b, cap), -1, "cap %zu of %d accepted", cap, len);
		for (size_t k = cap; k < cap + 64; k++) cr_assert_eq((unsigned char)b[k], 0x5a, "cap %zu: byte %zu written", cap, k);
		free(b);
	}
	char *b = malloc((size_t)len + 2);
	cr_assert_eq(zc_stats_format_json(b, (size_t)len + 2), len, "a buffer with room is refused");
	free(b);
}

/* read_all — a whole small file as text */
static char *read_all(const char *path)
{
	static char buf[16384];
	int fd = open(path, O_RDONLY);
	if (fd < 0) return NULL;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

Test(stats, dump_expands_pid_and_appends_the_suffix)
{
	char dir[] = "/tmp/zc_stats.XXXXXX", path[256], json[16384];
	cr_assert(mkdtemp(dir));
	snprintf(zc_cfg.stats_file, sizeof zc_cfg.stats_file, "%s/st.%%p.json", dir);
	zc_count(ZC_rw_sendfile, 5);
	zc_stats_dump("");
	zc_stats_dump(".exec");
	zc_stats_format_json(json, sizeof json);
	snprintf(path, sizeof path, "%s/st.%d.json", dir, (int)getpid());
	char *got = read_all(path);
	cr_assert(got, "%s not written", path);
	cr_assert_str_eq(got, json);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	snprintf(path, sizeof path, "%s/st.%d.json.exec", dir, (int)getpid());
	cr_assert(read_all(path), "%s not written", path);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	zc_cfg.stats_file[0] = 0;
}

Test(stats, dump_without_stats_file_writes_nothing_and_never_follows_a_symlink)
{
	char dir[] = "/tmp/zc_stats.XXXXXX", link[256], target[256];
	cr_assert(mkdtemp(dir));
	zc_cfg.stats_file[0] = 0;
	zc_stats_dump(""); /* nothing configured: nothing to check but that it returns */
	snprintf(target, sizeof target, "%s/target", dir);
	snprintf(link, sizeof link, "%s/st.json", dir);
	int fd = open(target, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "keep", 4), 4);
	close(fd);
	cr_assert_eq(symlink(target, link), 0);
	snprintf(zc_cfg.stats_file, sizeof zc_cfg.stats_file, "%s", link);
	zc_log_set(ZC_LOG_ERROR, 2);
	zc_stats_dump("");
	zc_log_set(ZC_LOG_WARN, 2);
	cr_assert_str_eq(read_all(target), "keep", "the dump wrote through a symlink");
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	zc_cfg.stats_file[0] = 0;
}

/* memfd_fd — the descriptor of this process's zcshim-stats memfd, -1 if none */
static int memfd_fd(void)
{
	for (int fd = 0; fd < 65536; fd++) {
		char p[64], l[128];
		snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(p, l, sizeof l - 1);
		if (n <= 0) continue;
		l[n] = 0;
		if (strstr(l, "memfd:" ZC_STATS_MEMFD)) return fd;
	}
	return -1;
}

Test(stats, publish_moves_the_counters_into_a_high_cloexec_memfd)
{
	zc_count(ZC_calls_write, 42);
	zc_stats_publish();
	int fd = memfd_fd();
	cr_assert_geq(fd, 0, "no memfd named " ZC_STATS_MEMFD);
	cr_assert_gt(fd, 255, "the memfd sits at %d, where the program's own descriptors go", fd);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "not close-on-exec");
	zc_count(ZC_calls_write, 1); /* counts after publishing land in the memfd */
	struct zc_stats seen;
	cr_assert_eq(pread(fd, &seen, sizeof seen, 0), (ssize_t)sizeof seen);
	cr_assert_eq(seen.magic, ZC_STATS_MAGIC);
	cr_assert_eq(seen.pid, (int32_t)getpid());
	cr_assert_eq(seen.row[zc_stat_row - 1][ZC_calls_write], 43, "this thread counts in a row of its own");
	zc_stat_fold(&seen);
	cr_assert_eq(seen.v[ZC_calls_write], 43);
	/* a child's reset: zero counters, a memfd of its own (the parent's descriptor closed) */
	zc_stats_reset();
	cr_assert_eq(zc_stat_total(zc_stats, ZC_calls_write), 0);
	int fd2 = memfd_fd();
	cr_assert_geq(fd2, 0, "the reset left no memfd");
	cr_assert_eq(pread(fd2, &seen, sizeof seen, 0), (ssize_t)sizeof seen);
	zc_stat_fold(&seen);
	cr_assert_eq(seen.v[ZC_calls_write], 0);
}

/* more threads than rows, and a signal handler counting in the middle of the main thread's counts:
 * every add is in the total (rows are one thread's each; the rest use locked adds) */
#define COUNTERS_THREADS (ZC_STAT_ROWS + 8)
static void *count_many(void *arg)
{
	(void)arg;
	for (int k = 0; k < 20000; k++) zc_count(ZC_calls_read, 1);
	return NULL;
}

/* an atomic add: SIGALRM goes to any thread, and two handlers can run at once (a plain ++ lost
 * one under ASan in CI, and the test blamed the counters) */
static int handled;
static void count_in_handler(int sig)
{
	(void)sig;
	zc_count(ZC_calls_read, 1);
	__atomic_fetch_add(&handled, 1, __ATOMIC_RELAXED);
}

Test(stats, every_thread_and_handler_counts_exactly_with_more_threads_than_rows)
{
	pthread_t t[COUNTERS_THREADS];
	struct sigaction sa = {.sa_handler = count_in_handler}, old;
	uint64_t before = zc_stat_total(zc_stats, ZC_calls_read);
	__atomic_store_n(&handled, 0, __ATOMIC_RELAXED);
	cr_assert_eq(sigaction(SIGALRM, &sa, &old), 0);
	struct itimerval every = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &every, NULL);
	for (int k = 0; k < COUNTERS_THREADS; k++) cr_assert_eq(pthread_create(&t[k], NULL, count_many, NULL), 0);
	uint64_t mine = 0;
	for (int k = 0; k < 2000000; k++) zc_count(ZC_calls_read, 1), mine++;
	for (int k = 0; k < COUNTERS_THREADS; k++) pthread_join(t[k], NULL);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	int in_handler = __atomic_load_n(&handled, __ATOMIC_RELAXED);
	uint64_t total = zc_stat_total(zc_stats, ZC_calls_read) - before, made = mine + 20000ULL * COUNTERS_THREADS + in_handler;
	cr_assert_eq(total, made, "%lu counted, %lu made (%d in the handler)", (unsigned long)total, (unsigned long)made,
		     in_handler);
	cr_assert_gt(in_handler, 0, "the handler never ran: nothing was tested against it");
}
