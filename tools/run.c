/* run.c — `zcshim run`: runs a program with the shim preloaded and summarises every process's counters. */
#include "cmds.h"
#include "hints.h"
#include "observe.h"
#include "stats.h"
#include "stats_json.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char run_usage[] =
	"usage: zcshim run [--mode off|eager|deferred|auto|observe] [--stats FILE] [--lease require|prefer|off] [--keep-cap-lease] [--quiet]\n"
	"                  [--observe [--costs FILE]] -- CMD [ARGS...]\n";

static pid_t child_pid;

/* forward — the launcher passes termination requests on to the program. */
static void forward(int sig)
{
	if (child_pid > 0) kill(child_pid, sig);
}

/* add_file — adds one process's JSON counters into sum; returns 1 if it was a stats file. */
static int add_file(const char *path, uint64_t *sum)
{
	uint64_t v[ZC_NCOUNTERS];
	char err[PATH_MAX + 128];
	int n = zc_stats_json_read(path, v, NULL, 0, err, sizeof err);
	if (n < 0) {
		fprintf(stderr, "zcshim: %s; its counters are left out\n", err);
		return 0;
	}
	for (int i = 0; i < ZC_NCOUNTERS; i++)
		sum[i] += v[i];
	return n > 0;
}

/* human — bytes as B/KiB/MiB/GiB. */
static const char *human(uint64_t b, char *buf, size_t cap)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int k = 0;
	while (v >= 1024 && k < 4) v /= 1024, k++;
	snprintf(buf, cap, k ? "%.1f %s" : "%.0f %s", v, u[k]);
	return buf;
}

/* summary — what a user needs to answer "did it work, and if not, why not?". */
static void summary(const uint64_t *s, int procs)
{
	char a[32], b[32], c[32];
	uint64_t kb = zc_kernel_bytes(s), all = zc_written_bytes(s);
	fprintf(stderr, "zcshim: %d program%s reported\n", procs, procs == 1 ? "" : "s");
	fprintf(stderr, "  moved by the kernel: %s of %s written (%.1f%%)\n", human(kb, a, sizeof a), human(all, b, sizeof b),
		all ? 100.0 * (double)kb / (double)all : 0.0);
	fprintf(stderr, "    sendfile %lu calls %s, splice %lu calls %s, copy_file_range %lu calls %s\n",
		(unsigned long)s[ZC_rw_sendfile], human(s[ZC_rw_sendfile_bytes], a, sizeof a), (unsigned long)s[ZC_rw_splice],
		human(s[ZC_rw_splice_bytes], b, sizeof b), (unsigned long)s[ZC_rw_copy_file_range],
		human(s[ZC_rw_copy_file_range_bytes], c, sizeof c));
	fprintf(stderr, "  passed through: %s; finished from the buffer after a short source: %s\n",
		human(s[ZC_bytes_passthrough], a, sizeof a), human(s[ZC_bytes_from_buffer], b, sizeof b));
	fprintf(stderr, "  calls seen: read %lu, pread %lu, write %lu, writev %lu, send %lu, sendmsg %lu\n",
		(unsigned long)s[ZC_calls_read], (unsigned long)s[ZC_calls_pread], (unsigned long)s[ZC_calls_write],
		(unsigned long)s[ZC_calls_writev], (unsigned long)s[ZC_calls_send], (unsigned long)s[ZC_calls_sendmsg]);
	fprintf(stderr, "  buffers guarded by: %s\n",
		s[ZC_guard_none] ? "nothing (no userfaultfd write-protection here: see the log line; nothing was rewritten)"
		: s[ZC_guard_uffd_user] && !s[ZC_guard_uffd] ? "userfaultfd write-protection (user mode only)"
		: s[ZC_guard_uffd] ? "userfaultfd write-protection" : "(not needed: no read was recorded)");
	fprintf(stderr, "  reads not copied (deferred): %lu, %s left for the kernel; filled later: %lu (%lu by a touch)\n",
		(unsigned long)s[ZC_deferred_reads], human(s[ZC_deferred_bytes], a, sizeof a), (unsigned long)s[ZC_materialized],
		(unsigned long)s[ZC_materialized_fault]);
	if (s[ZC_defer_unavailable])
		fprintf(stderr, "  deferral unavailable for %lu reads: no full userfaultfd (root, or read access to "
			"/dev/userfaultfd); they were copied as in eager mode\n", (unsigned long)s[ZC_defer_unavailable]);
	fprintf(stderr, "  leases: granted %lu, denied %lu, busy %lu (a writer had the file open), broken %lu\n",
		(unsigned long)s[ZC_lease_granted], (unsigned long)s[ZC_lease_denied], (unsigned long)s[ZC_lease_busy],
		(unsigned long)s[ZC_lease_broken]);
	if (s[ZC_cap_lease_kept] || s[ZC_cap_lease_failed])
		fprintf(stderr, "  CAP_LEASE kept alone across %lu changes of user id (not kept: %lu); other threads that "
				"lost every capability then: %lu\n",
			(unsigned long)s[ZC_cap_lease_kept], (unsigned long)s[ZC_cap_lease_failed],
			(unsigned long)s[ZC_cap_lease_threads_lost]);
	fprintf(stderr, "  why writes were not rewritten:");
	int any = 0;
	for (int i = 0; i < ZC_NCOUNTERS; i++)
		if (!strncmp(zc_counter_names[i], "fb_", 3) && s[i])
			fprintf(stderr, "%s %s %lu", any++ ? "," : "", zc_counter_names[i] + 3, (unsigned long)s[i]);
	fprintf(stderr, "%s\n", any ? "" : " (none)");
	zc_hint_print(stderr, s);
}

/* observe_report — what `auto` would have moved in the kernel (the obs_* bytes, by kind and
 * bucket) and the CPU the cost model says it would save, against the program's own CPU (cpu_s:
 * its processes' user+system time, from the launcher's RUSAGE_CHILDREN). */
static void observe_report(const uint64_t *s, const struct zc_observe_model *m, double cpu_s)
{
	char a[32], b[32];
	uint64_t obs = zc_observe_total(s), unknown = 0, all = zc_written_bytes(s);
	fprintf(stderr, "observe: auto would have moved %s of %s in the kernel (%.1f%% of the bytes written)\n",
		human(obs, a, sizeof a), human(all, b, sizeof b), all ? 100.0 * (double)obs / (double)all : 0.0);
	double est = zc_observe_estimate(s, m, stderr, &unknown);
	fprintf(stderr, "  estimated CPU saving: %.3f s (%.1f%% of the program's CPU: %.3f s)%s\n", est,
		cpu_s > 0 ? 100.0 * est / cpu_s : 0.0, cpu_s, unknown ? "; more for the bytes of unknown saving" : "");
	fprintf(stderr, "  cost model: %s\n", m->origin);
}

/* write_json — the summed counters, same shape as one process's file. */
static int write_json(const char *path, const uint64_t *s, int procs)
{
	FILE *f = fopen(path, "w");
	if (!f) return -1;
	fprintf(f, "{\n  \"processes\": %d,\n  \"counters\": {\n", procs);
	for (int i = 0; i < ZC_NCOUNTERS; i++)
		fprintf(f, "    \"%s\": %lu%s\n", zc_counter_names[i], (unsigned long)s[i], i + 1 < ZC_NCOUNTERS ? "," : "");
	fprintf(f, "  }\n}\n");
	return fclose(f);
}

int zc_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {{"mode", 1, 0, 'm'}, {"stats", 1, 0, 's'}, {"lease", 1, 0, 'l'},
					     {"keep-cap-lease", 0, 0, 'k'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'},
					     {"observe", 0, 0, 'o'}, {"costs", 1, 0, 'C'}, {0, 0, 0, 0}};
	const char *stats_out = NULL, *costs = NULL;
	int quiet = 0, observe = 0, c;
	struct zc_observe_model model;
	char lib[PATH_MAX], dir[] = "/tmp/zcshim-run.XXXXXX", tmpl[PATH_MAX];
	optind = 1;
	while ((c = getopt_long(argc, argv, "+m:s:l:kqh", opts, NULL)) != -1) {
		switch (c) {
		case 'm': setenv("ZCSHIM_MODE", optarg, 1); observe = !strcmp(optarg, "observe"); break;
		case 'o': setenv("ZCSHIM_MODE", "observe", 1); observe = 1; break;
		case 'C': costs = optarg; break;
		case 'l': setenv("ZCSHIM_LEASE", optarg, 1); break;
		case 'k': setenv("ZCSHIM_KEEP_CAP_LEASE", "on", 1); break;
		case 's': stats_out = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(run_usage, stdout); return 0;
		default: fputs(run_usage, stderr); return 2;
		}
	}
	if (optind >= argc) {
		fputs(run_usage, stderr);
		return 2;
	}
	if (costs && !observe) {
		fprintf(stderr, "zcshim: --costs is the cost model of --observe\n");
		fputs(run_usage, stderr);
		return 2;
	}
	if (observe) {
		char why[PATH_MAX + 128];
		if (!costs)
			zc_observe_builtin(&model);
		else if (zc_observe_load(&model, costs, stderr, why, sizeof why) < 0) {
			fprintf(stderr, "zcshim: %s\n", why);
			return 2;
		}
	}
	if (zc_find_lib(lib, sizeof lib)) {
		fprintf(stderr, "zcshim: cannot find libzcshim.so next to %s\n", zc_self_dir());
		return 2;
	}
	if (!mkdtemp(dir)) {
		perror("zcshim: mkdtemp");
		return 2;
	}
	/* workers that drop privileges (nginx's "user nobody") must still be able to leave their file:
	 * sticky and unlistable, like a private /tmp; each file is created 0600 by its writer */
	if (geteuid() == 0) chmod(dir, 01733);
	snprintf(tmpl, sizeof tmpl, "%s/%%p.json", dir);
	setenv("ZCSHIM_STATS_FILE", tmpl, 1);
	const char *old = getenv("LD_PRELOAD");
	char *pre = malloc(strlen(lib) + (old ? strlen(old) : 0) + 2);
	sprintf(pre, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
	setenv("LD_PRELOAD", pre, 1);
	free(pre);

	child_pid = fork();
	if (child_pid == 0) {
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "zcshim: cannot run %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	signal(SIGINT, forward);
	signal(SIGTERM, forward);
	signal(SIGHUP, forward);
	int st = 0;
	while (waitpid(child_pid, &st, 0) < 0 && errno == EINTR)
		;

	uint64_t sum[ZC_NCOUNTERS] = {0};
	int procs = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char p[PATH_MAX];
		if (e->d_name[0] == '.') continue;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		procs += add_file(p, sum);
		unlink(p);
	}
	if (d) closedir(d);
	rmdir(dir);
	if (!quiet) summary(sum, procs);
	if (observe) {
		struct rusage ru;
		double cpu = getrusage(RUSAGE_CHILDREN, &ru) ? 0 :
			ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
		observe_report(sum, &model, cpu);
	}
	if (stats_out && write_json(stats_out, sum, procs)) fprintf(stderr, "zcshim: cannot write %s\n", stats_out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
