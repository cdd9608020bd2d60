/* stat.c — `zcshim stat [PID]`: live counters of processes running under the shim. */
#include "cmds.h"
#include "hints.h"
#include "stat.h"
#include "stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char stat_usage[] = "usage: zcshim stat [--watch SECONDS] [PID]\n"
				  "       zcshim stat --prometheus [PID...]\n";

/* zc_stat_comm — the process's name from /proc, whole: a newline inside it is kept, only the
 * kernel's trailing one is dropped (the Prometheus output escapes it). */
void zc_stat_comm(int pid, char *out, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/comm", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : read(fd, out, cap - 1);
	if (fd >= 0) close(fd);
	if (n < 0) n = 0;
	if (n > 0 && out[n - 1] == '\n') n--;
	out[n] = 0;
}

/* comm — the name for a table line: cut at a newline, as a terminal line must be. */
static void comm(int pid, char *out, size_t cap)
{
	zc_stat_comm(pid, out, cap);
	out[strcspn(out, "\n")] = 0;
}

/* find_memfd — the path /proc/PID/fd/N of the shim's counters memfd; 0, or -errno. */
static int find_memfd(int pid, char *path, size_t cap)
{
	char dir[32], link[256];
	snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
	DIR *d = opendir(dir);
	if (!d) return -errno;
	struct dirent *e;
	int found = -ENOENT;
	while (found && (e = readdir(d))) {
		if (e->d_name[0] == '.') continue;
		if ((size_t)snprintf(path, cap, "%s/%.*s", dir, 200, e->d_name) >= cap) continue;
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n <= 0) continue;
		link[n] = 0;
		if (!strncmp(link, "/memfd:" ZC_STATS_MEMFD, strlen("/memfd:" ZC_STATS_MEMFD))) found = 0;
	}
	closedir(d);
	return found;
}

/* zc_stat_load — a snapshot of one process's counters; 0, or -1 with a reason on stderr when loud. */
int zc_stat_load(int pid, struct zc_stats *out, int loud)
{
	char path[320];
	int err = find_memfd(pid, path, sizeof path), fd = -1;
	if (!err && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) err = -errno;
	if (err) {
		if (loud)
			fprintf(stderr, "zcshim stat: no live counters for pid %d: %s\n", pid,
				err == -EACCES || err == -EPERM ? "it belongs to another user (run as that user or root)"
				: err == -ENOENT && kill(pid, 0) == 0 ? "it does not run under the shim (or mode = off)"
								     : "no such process");
		return -1;
	}
	/* pread, not mmap: the target may shrink its memfd at any moment, and a mapping past the end
	 * raises SIGBUS in this tool; a short read is just "no counters" */
	ssize_t got = pread(fd, out, sizeof *out, 0);
	close(fd);
	if (got != (ssize_t)sizeof *out) {
		if (loud) fprintf(stderr, "zcshim stat: pid %d: its counters file is %s\n", pid, got < 0 ? strerror(errno) : "too short");
		return -1;
	}
	if (out->magic != ZC_STATS_MAGIC || out->ncounters != ZC_NCOUNTERS) {
		if (loud) fprintf(stderr, "zcshim stat: pid %d runs another version of the shim\n", pid);
		return -1;
	}
	zc_stat_fold(out); /* every thread's row into the totals */
	return 0;
}

/* zc_stat_each — fn for every process under the shim whose descriptors this user may read. */
int zc_stat_each(void (*fn)(int pid, const struct zc_stats *s, void *arg), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	if (!d) return -1;
	while ((e = readdir(d))) {
		int pid = atoi(e->d_name);
		struct zc_stats s;
		if (pid <= 0 || zc_stat_load(pid, &s, 0)) continue;
		fn(pid, &s, arg);
		n++;
	}
	closedir(d);
	return n;
}

/* row — one line of the table that `zcshim stat` prints without a PID. */
static void row(int pid, const struct zc_stats *s, void *arg)
{
	char name[32];
	(void)arg;
	comm(pid, name, sizeof name);
	printf("%-8d %-16s %12lu %14lu %12lu\n", pid, name,
	       (unsigned long)(s->v[ZC_rw_sendfile] + s->v[ZC_rw_splice] + s->v[ZC_rw_copy_file_range]),
	       (unsigned long)zc_kernel_bytes(s->v),
	       (unsigned long)s->v[ZC_bytes_passthrough]);
}

/* list — every process under the shim whose descriptors this user may read. */
static int list(void)
{
	printf("%-8s %-16s %12s %14s %12s\n", "PID", "COMMAND", "REWRITES", "KERNEL BYTES", "PASSED");
	int n = zc_stat_each(row, NULL);
	if (n < 0) {
		perror("zcshim stat: /proc");
		return 1;
	}
	if (!n) printf("(no process under the shim is visible to this user)\n");
	return 0;
}

/* show — every non-zero counter of one process, grouped by prefix. */
static void show(int pid, const struct zc_stats *s)
{
	char name[32];
	comm(pid, name, sizeof name);
	printf("pid %d (%s)\n", pid, name);
	const char *groups[][2] = {{"rw_", "rewrites"}, {"bytes_", "bytes"}, {"calls_", "calls seen"},
				   {"fb_", "fallbacks (original call ran)"}, {"lease_", "leases"}, {"records_", "records"},
				   {"guard_", "write detection (guard)"}, {"peer_", "errors kept for the next call"}};
	for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
		int shown = 0;
		for (int i = 0; i < ZC_NCOUNTERS; i++) {
			if (strncmp(zc_counter_names[i], groups[g][0], strlen(groups[g][0])) || !s->v[i]) continue;
			if (!shown++) printf("  %s:\n", groups[g][1]);
			printf("    %-26s %lu\n", zc_counter_names[i], (unsigned long)s->v[i]);
		}
	}
	zc_hint_print(stdout, s->v);
}

int zc_cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {{"watch", 1, 0, 'w'}, {"prometheus", 0, 0, 'p'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	double watch = 0;
	int c, prom = 0;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			watch = strtod(optarg, &end);
			if (*end || watch <= 0) {
				fprintf(stderr, "zcshim stat: --watch wants a positive number of seconds, not '%s'\n%s", optarg, stat_usage);
				return 2;
			}
			break;
		case 'p': prom = 1; break;
		case 'h': fputs(stat_usage, stdout); return 0;
		default: fputs(stat_usage, stderr); return 2;
		}
	}
	/* a scrape is one snapshot: the collector or timer repeats it, not --watch */
	if (prom && watch > 0) {
		fprintf(stderr, "zcshim stat: --prometheus prints one snapshot; repeat it from a timer instead of --watch\n%s", stat_usage);
		return 2;
	}
	if (prom) return zc_stat_prometheus(argc - optind, argv + optind);
	if (optind + 1 < argc) {
		fputs(stat_usage, stderr);
		return 2;
	}
	if (optind == argc) return list();
	int pid = (int)strtol(argv[optind], &end, 10);
	if (*end || pid <= 0) {
		fprintf(stderr, "zcshim stat: '%s' is not a process id\n%s", argv[optind], stat_usage);
		return 2;
	}
	struct zc_stats s;
	do {
		if (zc_stat_load(pid, &s, 1)) return 1;
		show(pid, &s);
		fflush(stdout);
		if (watch > 0) usleep((useconds_t)(watch * 1e6));
	} while (watch > 0);
	return 0;
}
