/* bench_report.c — what `zcshim bench` reports: medians and ratios per case and variant, the
 * table on stdout, the JSON file with every raw figure, and the gnuplot chart. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

const char *const zc_bench_variant_names[ZC_BENCH_NVARIANTS] = {"plain", "shim", "native"};

/* cpu_per_gib — server CPU seconds per GiB moved in one run. */
static double cpu_per_gib(const struct zc_bench_result *r)
{
	return r->bytes ? r->cpu_s / ((double)r->bytes / GIB) : 0;
}

/* mb_per_s — throughput of one run in MB/s (10^6 bytes). */
static double mb_per_s(const struct zc_bench_result *r)
{
	return r->wall_s > 0 ? (double)r->bytes / r->wall_s / 1e6 : 0;
}

/* cmp_double — qsort order for doubles. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* stats3 — median, min and max of n values (sorted in place); all -1 when n is 0. */
static void stats3(double *v, int n, double *med, double *lo, double *hi)
{
	if (n == 0) {
		*med = *lo = *hi = -1;
		return;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*lo = v[0];
	*hi = v[n - 1];
}

/* summarize_one — the summary of one case and variant over its successful rounds. */
static int summarize_one(const struct zc_bench_result *rs, int nr, const struct zc_bench_case *c,
			 enum zc_bench_variant v, struct zc_bench_summary *s)
{
	double *cpu = calloc((size_t)nr + 1, sizeof(double)), *mbs = calloc((size_t)nr + 1, sizeof(double)),
	       *share = calloc((size_t)nr + 1, sizeof(double)), lo, hi;
	int n = 0, ns = 0, any = 0;
	memset(s, 0, sizeof(*s));
	s->c = c, s->variant = v;
	for (int i = 0; cpu && mbs && share && i < nr; i++) {
		if (rs[i].c != c || rs[i].variant != v)
			continue;
		any = 1;
		if (!rs[i].ok) {
			s->failed++;
			continue;
		}
		cpu[n] = cpu_per_gib(&rs[i]);
		mbs[n++] = mb_per_s(&rs[i]);
		if (rs[i].kernel_share >= 0)
			share[ns++] = rs[i].kernel_share;
	}
	s->n = n;
	stats3(cpu, n, &s->cpu_med, &s->cpu_min, &s->cpu_max);
	stats3(mbs, n, &s->mbs_med, &s->mbs_min, &s->mbs_max);
	stats3(share, ns, &s->share_med, &lo, &hi);
	s->cpu_ratio = s->mbs_ratio = -1;
	free(cpu), free(mbs), free(share);
	return any;
}

/* zc_bench_summarize — one summary per (case, variant) present, cases in run order, with the
 * ratios against the same case's plain variant. */
void zc_bench_summarize(const struct zc_bench_result *rs, int nr, struct zc_bench_summary *out,
			int *nout)
{
	int n = 0;
	for (int i = 0; i < nr; i++) {
		int seen = 0;
		for (int j = 0; j < n; j++)
			seen |= out[j].c == rs[i].c;
		if (seen)
			continue;
		int plain = n;
		for (int v = 0; v < ZC_BENCH_NVARIANTS; v++)
			if (summarize_one(rs, nr, rs[i].c, (enum zc_bench_variant)v, &out[n]))
				n++;
		for (int j = plain; j < n && out[plain].variant == ZC_BENCH_PLAIN; j++) {
			if (out[plain].cpu_med > 0 && out[j].cpu_med >= 0)
				out[j].cpu_ratio = out[j].cpu_med / out[plain].cpu_med;
			if (out[plain].mbs_med > 0 && out[j].mbs_med >= 0)
				out[j].mbs_ratio = out[j].mbs_med / out[plain].mbs_med;
		}
	}
	*nout = n;
}

/* zc_bench_print_table — the human-readable results on stdout. */
void zc_bench_print_table(const struct zc_bench_summary *s, int n)
{
	char cpu[48], share[16], ratio[32], fails[24];
	printf("%-26s %-7s %-27s %9s %13s  %s\n", "scenario", "variant", "CPU s/GiB median (min-max)",
	       "MB/s med", "kernel-share", "ratio vs plain (CPU, MB/s)");
	for (int i = 0; i < n; i++) {
		const struct zc_bench_summary *x = &s[i];
		snprintf(fails, sizeof(fails), x->failed ? "  (%d FAILED)" : "", x->failed);
		if (x->n == 0) {
			printf("%-26s %-7s %-27s %9s %13s %s\n", i && s[i - 1].c == x->c ? "" : x->c->name,
			       zc_bench_variant_names[x->variant], "-", "-", "-", fails);
			continue;
		}
		snprintf(cpu, sizeof(cpu), "%.3f (%.3f-%.3f)", x->cpu_med, x->cpu_min, x->cpu_max);
		if (x->share_med >= 0)
			snprintf(share, sizeof(share), "%.1f%%", 100 * x->share_med);
		else
			snprintf(share, sizeof(share), "-");
		if (x->cpu_ratio >= 0)
			snprintf(ratio, sizeof(ratio), "%.2f, %.2f", x->cpu_ratio, x->mbs_ratio);
		else
			snprintf(ratio, sizeof(ratio), "-");
		printf("%-26s %-7s %-27s %9.0f %13s  %s%s\n", i && s[i - 1].c == x->c ? "" : x->c->name,
		       zc_bench_variant_names[x->variant], cpu, x->mbs_med, share, ratio, fails);
	}
}

/* zc_bench_print_reasons — for each shim run set that left bytes to the original calls, the
 * counters that say why (the shim's fb_* fallbacks, summed over rounds), biggest first. */
void zc_bench_print_reasons(const struct zc_bench_result *rs, int nr)
{
	int header = 0;
	for (int i = 0; i < nr; i++) {
		if (rs[i].variant != ZC_BENCH_SHIM || rs[i].round != 1 || rs[i].kernel_share >= 0.95) continue;
		struct zc_bench_counters sum = {0};
		for (int j = 0; j < nr; j++) {
			if (rs[j].c != rs[i].c || rs[j].variant != ZC_BENCH_SHIM) continue;
			for (int k = 0; k < rs[j].counters.n; k++) {
				if (strncmp(rs[j].counters.name[k], "fb_", 3)) continue;
				int m = 0;
				while (m < sum.n && strcmp(sum.name[m], rs[j].counters.name[k])) m++;
				if (m == sum.n && sum.n < ZC_BENCH_MAX_COUNTERS) snprintf(sum.name[sum.n++], 40, "%s", rs[j].counters.name[k]);
				if (m < sum.n) sum.value[m] += rs[j].counters.value[k];
			}
		}
		if (!header++) printf("\nwhy the shim left bytes to the original calls (fallback counters, all rounds):\n");
		printf("  %-24s", rs[i].c->name);
		for (int shown = 0; shown < 3; shown++) {
			int best = -1;
			for (int m = 0; m < sum.n; m++)
				if (sum.value[m] && (best < 0 || sum.value[m] > sum.value[best])) best = m;
			if (best < 0) break;
			printf("%s %s %llu", shown ? "," : "", sum.name[best] + 3, (unsigned long long)sum.value[best]);
			sum.value[best] = 0;
		}
		printf("\n");
	}
	if (header)
		printf("  (small: below guard_min_bytes or min_bytes_*; probation: first chunk of a file; "
		       "stack_buffer: see stack_buffers in zcshim.conf)\n");
}

/* json_str — writes s as a JSON string literal. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* json_num — writes a number, or null when negative (unknown). */
static void json_num(FILE *f, double v)
{
	if (v < 0)
		fputs("null", f);
	else
		fprintf(f, "%.6g", v);
}

/* cpu_model — the "model name" line of /proc/cpuinfo. */
static void cpu_model(char *out, size_t cap)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "re");
	snprintf(out, cap, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon) {
			colon[strcspn(colon, "\n")] = 0;
			snprintf(out, cap, "%s", colon + 1 + (colon[1] == ' '));
			break;
		}
	}
	if (f)
		fclose(f);
}

/* json_machine — the "machine" object: uname, CPUs, model, date. */
static void json_machine(FILE *f)
{
	struct utsname u;
	char model[256], date[32], un[sizeof(u) + 8];
	time_t now = time(NULL);
	uname(&u);
	snprintf(un, sizeof(un), "%s %s %s %s", u.sysname, u.release, u.version, u.machine);
	cpu_model(model, sizeof(model));
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	fputs("  \"machine\": {\"uname\": ", f);
	json_str(f, un);
	fprintf(f, ", \"nproc\": %ld, \"cpu_model\": ", sysconf(_SC_NPROCESSORS_ONLN));
	json_str(f, model);
	fputs(", \"date\": ", f);
	json_str(f, date);
	fputs("},\n", f);
}

/* json_run — one raw run with its shim counters. */
static void json_run(FILE *f, const struct zc_bench_result *r)
{
	fputs("    {\"scenario\": ", f);
	json_str(f, r->c->sc->name);
	fputs(", \"case\": ", f);
	json_str(f, r->c->name);
	fprintf(f, ", \"chunk\": %zu, \"variant\": \"%s\", \"round\": %d, \"ok\": %s, \"error\": ",
		r->c->chunk, zc_bench_variant_names[r->variant], r->round, r->ok ? "true" : "false");
	json_str(f, r->error);
	fprintf(f, ",\n     \"bytes\": %llu, \"wall_s\": %.6f, \"server_cpu_s\": %.6f, ",
		(unsigned long long)r->bytes, r->wall_s, r->cpu_s);
	fputs("\"cpu_s_per_gib\": ", f);
	json_num(f, r->bytes ? cpu_per_gib(r) : -1);
	fputs(", \"mb_per_s\": ", f);
	json_num(f, r->bytes ? mb_per_s(r) : -1);
	fprintf(f, ",\n     \"payload_check\": \"%s\", \"payload_ok\": %s, \"sha256\": ",
		r->check ? r->check : "none", r->payload_ok ? "true" : "false");
	json_str(f, r->sha);
	fprintf(f, ", \"samples\": %llu, \"bad_samples\": %llu, \"kernel_share\": ",
		(unsigned long long)r->samples, (unsigned long long)r->bad_samples);
	json_num(f, r->kernel_share);
	fprintf(f, ",\n     \"stats_files\": %d, \"counters\": {", r->counters.files);
	for (int i = 0; i < r->counters.n; i++)
		fprintf(f, "%s\"%s\": %llu", i ? ", " : "", r->counters.name[i],
			(unsigned long long)r->counters.value[i]);
	fputs("}}", f);
}

/* json_summary — one summary row. */
static void json_summary(FILE *f, const struct zc_bench_summary *s)
{
	fputs("    {\"case\": ", f);
	json_str(f, s->c->name);
	fprintf(f, ", \"variant\": \"%s\", \"runs_ok\": %d, \"runs_failed\": %d",
		zc_bench_variant_names[s->variant], s->n, s->failed);
	const char *names[] = {"cpu_s_per_gib_median", "cpu_s_per_gib_min", "cpu_s_per_gib_max",
			       "mb_per_s_median", "mb_per_s_min", "mb_per_s_max",
			       "kernel_share_median", "cpu_ratio_vs_plain", "mb_per_s_ratio_vs_plain"};
	double vals[] = {s->cpu_med, s->cpu_min, s->cpu_max, s->mbs_med, s->mbs_min, s->mbs_max,
			 s->share_med, s->cpu_ratio, s->mbs_ratio};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		fprintf(f, ", \"%s\": ", names[i]);
		json_num(f, vals[i]);
	}
	fputs("}", f);
}

/* zc_bench_write_json — the whole result file; 0 or -1. */
int zc_bench_write_json(const char *path, const struct zc_bench_env *env,
			const struct zc_bench_result *rs, int nr, const struct zc_bench_summary *s,
			int ns, const struct zc_bench_skip *skips, int nskips, int rounds)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	fputs("{\n", f);
	json_machine(f);
	fprintf(f, "  \"config\": {\"file_size\": %llu, \"file_sha256\": \"%s\", \"echo_size\": %llu, "
		   "\"echo_sha256\": \"%s\", \"rounds\": %d, \"shim\": ",
		(unsigned long long)env->size, env->sha, (unsigned long long)env->echo_size,
		env->echo_sha, rounds);
	json_str(f, env->lib);
	fputs(", \"shim_env\": \"ZCSHIM_MODE=eager\"},\n  \"skipped\": [", f);
	for (int i = 0; i < nskips; i++) {
		fprintf(f, "%s{\"scenario\": ", i ? ", " : "");
		json_str(f, skips[i].scenario);
		fputs(", \"reason\": ", f);
		json_str(f, skips[i].reason);
		fputs("}", f);
	}
	fputs("],\n  \"runs\": [\n", f);
	for (int i = 0; i < nr; i++) {
		json_run(f, &rs[i]);
		fputs(i + 1 < nr ? ",\n" : "\n", f);
	}
	fputs("  ],\n  \"summary\": [\n", f);
	for (int i = 0; i < ns; i++) {
		json_summary(f, &s[i]);
		fputs(i + 1 < ns ? ",\n" : "\n", f);
	}
	fputs("  ]\n}\n", f);
	return fclose(f) == 0 ? 0 : -1;
}

static const char PLOT_HEAD[] =
	"set terminal svg size 1100,960 dynamic noenhanced background rgb 'white'\n"
	"set output '%s'\n"
	"set multiplot layout 2,1\n"
	"set title 'zcshim bench: server CPU seconds per GiB served (median, bars: min-max; lower is better)'\n"
	"set ylabel 'CPU s/GiB'\n"
	"set style data histogram\n"
	"set style histogram errorbars gap 1 lw 1\n"
	"set style fill solid 0.75 border -1\n"
	"set xtics rotate by -30 nomirror\nset bmargin 7\n"
	"set yrange [0:*]\nset grid ytics\nset key top right\n"
	"plot ";

static const char PLOT_MBS[] =
	"set title 'throughput, MB/s (median; higher is better)'\n"
	"set ylabel 'MB/s'\n"
	"set style histogram clustered gap 1\n"
	"plot ";

/* plot_series — one bar series per variant that has data; col(v) is its first data column. */
static size_t plot_series(char *out, size_t cap, const char *dat, const struct zc_bench_summary *s, int n,
			  int errorbars)
{
	static const char *const titles[] = {"plain", "shim (eager)", "native"};
	size_t len = 0;
	int series = 0;
	for (int v = 0; v < ZC_BENCH_NVARIANTS && len < cap; v++) {
		int any = 0;
		for (int i = 0; i < n; i++)
			any |= (int)s[i].variant == v && s[i].n > 0;
		if (!any)
			continue;
		if (errorbars)
			len += (size_t)snprintf(out + len, cap - len, "%s'%s' using %d:%d:%d%s title '%s'",
						series ? ", " : "", dat, 2 + 3 * v, 3 + 3 * v, 4 + 3 * v,
						series ? "" : ":xtic(1)", titles[v]);
		else
			len += (size_t)snprintf(out + len, cap - len, "%s'%s' using %d%s title '%s'", series ? ", " : "",
						dat, 2 + 3 * ZC_BENCH_NVARIANTS + v, series ? "" : ":xtic(1)", titles[v]);
		series++;
	}
	return series ? len : 0;
}

/* plot_script — the gnuplot script: CPU per GiB (with min-max bars) above, throughput below. */
static int plot_script(char *out, size_t cap, const char *svg, const char *dat,
		       const struct zc_bench_summary *s, int n)
{
	size_t len = (size_t)snprintf(out, cap, PLOT_HEAD, svg), k;
	if (len >= cap || !(k = plot_series(out + len, cap - len, dat, s, n, 1)))
		return -1;
	len += k;
	len += (size_t)snprintf(out + len, cap - len, "\n%s", PLOT_MBS);
	if (len >= cap || !(k = plot_series(out + len, cap - len, dat, s, n, 0)))
		return -1;
	len += k;
	len += (size_t)snprintf(out + len, cap - len, "\nunset multiplot\n");
	return len < cap ? 0 : -1;
}

/* plot_data — one row per case: label, CPU median/min/max for plain, shim, native, then their
 * MB/s medians (NaN where a variant has no run). */
static int plot_data(const char *path, const struct zc_bench_summary *s, int n)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	for (int i = 0; i < n; i++) {
		if (i > 0 && s[i - 1].c == s[i].c)
			continue;
		fprintf(f, "\"%s\"", s[i].c->name);
		for (int v = 0; v < ZC_BENCH_NVARIANTS; v++) {
			const struct zc_bench_summary *x = NULL;
			for (int j = i; j < n && s[j].c == s[i].c; j++)
				if ((int)s[j].variant == v && s[j].n > 0)
					x = &s[j];
			if (x)
				fprintf(f, " %.6f %.6f %.6f", x->cpu_med, x->cpu_min, x->cpu_max);
			else
				fputs(" NaN NaN NaN", f);
		}
		for (int v = 0; v < ZC_BENCH_NVARIANTS; v++) {
			const struct zc_bench_summary *x = NULL;
			for (int j = i; j < n && s[j].c == s[i].c; j++)
				if ((int)s[j].variant == v && s[j].n > 0)
					x = &s[j];
			fprintf(f, x ? " %.1f" : " NaN", x ? x->mbs_med : 0.0);
		}
		fputc('\n', f);
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* zc_bench_plot — renders the SVG with gnuplot; 0 done, 1 skipped (no gnuplot), 2 skipped
 * (no successful run), -1 failed. */
int zc_bench_plot(const char *path, const struct zc_bench_env *env,
		  const struct zc_bench_summary *s, int n)
{
	char exe[PATH_MAX], dat[PATH_MAX + 8], gp[PATH_MAX + 16], script[4 * PATH_MAX + 2048];
	int status;
	int any = 0;
	for (int i = 0; i < n; i++)
		any |= s[i].n > 0;
	if (!any)
		return 2;
	if (zc_bench_find_exe("gnuplot", exe, sizeof(exe)) < 0)
		return 1;
	snprintf(dat, sizeof(dat), "%s.dat", path);
	snprintf(gp, sizeof(gp), "%s/plot.gp", env->tmp);
	if (plot_script(script, sizeof(script), path, dat, s, n) < 0 || plot_data(dat, s, n) < 0 ||
	    zc_bench_write_file(gp, script) < 0)
		return -1;
	char *argv[] = {exe, gp, NULL};
	struct zc_bench_spawn sp = {.argv = argv, .in = -1, .out = -1, .err = 2};
	pid_t pid = zc_bench_spawn(&sp);
	if (pid < 0 || zc_bench_wait(pid, 60000, &status, NULL) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
