/* bench_report.c — what `zcshim bench` reports: medians and ratios per case and variant, the
 * table on stdout, the JSON file with every raw figure, and the gnuplot chart. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

const char *const zc_bench_variant_names[ZC_BENCH_NVARIANTS] = {
	"plain", "eager", "deferred", "auto", "observe", "default", "floor", "native"};

/* zc_bench_is_shim — whether variant v runs under the shim. */
int zc_bench_is_shim(enum zc_bench_variant v)
{
	return v >= ZC_BENCH_EAGER && v <= ZC_BENCH_DEFAULT;
}

/* zc_bench_variant_mode — the ZCSHIM_MODE value of a shim variant; NULL for the default variant
 * (left unset) and for variants without the shim. */
const char *zc_bench_variant_mode(enum zc_bench_variant v)
{
	return zc_bench_is_shim(v) && v != ZC_BENCH_DEFAULT ? zc_bench_variant_names[v] : NULL;
}

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

/* set_label — the variant's display name; the default variant names the mode its runs reported
 * (the shim's default can change), or says it is the default when no run reported one. */
static void set_label(const struct zc_bench_result *rs, int nr, struct zc_bench_summary *s)
{
	const char *mode = NULL;
	for (int i = 0; i < nr && !mode; i++)
		if (rs[i].c == s->c && rs[i].variant == s->variant && rs[i].counters.mode[0])
			mode = rs[i].counters.mode;
	if (s->variant != ZC_BENCH_DEFAULT)
		snprintf(s->label, sizeof(s->label), "%s", zc_bench_variant_names[s->variant]);
	else if (mode)
		snprintf(s->label, sizeof(s->label), "default (%s)", mode);
	else
		snprintf(s->label, sizeof(s->label), "shim (default mode)");
}

/* ratio — a/b of two medians; -1 when either is unknown or b is 0. */
static double ratio(double a, double b)
{
	return a >= 0 && b > 0 ? a / b : -1;
}

/* set_ratios — the ratios of one case's summaries (out[first..end)) to its plain variant, and
 * of its shim and floor variants to its native variant. */
static void set_ratios(struct zc_bench_summary *out, int first, int end)
{
	const struct zc_bench_summary *plain = NULL, *native = NULL;
	for (int j = first; j < end; j++) {
		plain = out[j].variant == ZC_BENCH_PLAIN ? &out[j] : plain;
		native = out[j].variant == ZC_BENCH_NATIVE ? &out[j] : native;
	}
	for (int j = first; j < end; j++) {
		struct zc_bench_summary *x = &out[j];
		x->cpu_ratio = plain ? ratio(x->cpu_med, plain->cpu_med) : -1;
		x->mbs_ratio = plain ? ratio(x->mbs_med, plain->mbs_med) : -1;
		x->cpu_vs_native = x->mbs_vs_native = -1;
		if (native && (zc_bench_is_shim(x->variant) || x->variant == ZC_BENCH_FLOOR)) {
			x->cpu_vs_native = ratio(x->cpu_med, native->cpu_med);
			x->mbs_vs_native = ratio(x->mbs_med, native->mbs_med);
		}
	}
}

/* zc_bench_summarize — one summary per (case, variant) present, cases in run order and variants
 * in the run's order, with the ratios to plain and to native. */
void zc_bench_summarize(const struct zc_bench_env *env, const struct zc_bench_result *rs, int nr,
			struct zc_bench_summary *out, int *nout)
{
	int n = 0;
	for (int i = 0; i < nr; i++) {
		int seen = 0;
		for (int j = 0; j < n; j++)
			seen |= out[j].c == rs[i].c;
		if (seen)
			continue;
		int first = n;
		for (int k = 0; k < env->nvariants; k++)
			if (summarize_one(rs, nr, rs[i].c, env->variants[k], &out[n]))
				set_label(rs, nr, &out[n++]);
		set_ratios(out, first, n);
	}
	*nout = n;
}

/* label_width — the widest variant label, at least as wide as the column's header. */
static int label_width(const struct zc_bench_summary *s, int n)
{
	int w = 7;
	for (int i = 0; i < n; i++)
		w = (int)strlen(s[i].label) > w ? (int)strlen(s[i].label) : w;
	return w;
}

/* fmt_ratio — "x.xx" (one ratio) or "x.xx, y.yy" (CPU, MB/s), "-" when unknown. */
static void fmt_ratio(char *out, size_t cap, double cpu, double mbs, int both)
{
	if (cpu < 0)
		snprintf(out, cap, "-");
	else if (both)
		snprintf(out, cap, "%.2f, %.2f", cpu, mbs);
	else
		snprintf(out, cap, "%.2f", cpu);
}

/* zc_bench_print_table — the human-readable results on stdout: medians, kernel share, ratios
 * to plain (CPU, MB/s) and the shim variants' CPU ratio to native. */
void zc_bench_print_table(const struct zc_bench_summary *s, int n)
{
	char cpu[48], share[16], vs_plain[32], vs_native[16], fails[24];
	int w = label_width(s, n);
	printf("%-26s %-*s %-27s %9s %13s  %-26s  %s\n", "scenario", w, "variant",
	       "CPU s/GiB median (min-max)", "MB/s med", "kernel-share", "ratio vs plain (CPU, MB/s)",
	       "CPU vs native");
	for (int i = 0; i < n; i++) {
		const struct zc_bench_summary *x = &s[i];
		const char *name = i && s[i - 1].c == x->c ? "" : x->c->name;
		snprintf(fails, sizeof(fails), x->failed ? "  (%d FAILED)" : "", x->failed);
		if (x->n == 0) {
			printf("%-26s %-*s %-27s %9s %13s  %-26s  %s%s\n", name, w, x->label, "-", "-", "-",
			       "-", "-", fails);
			continue;
		}
		snprintf(cpu, sizeof(cpu), "%.3f (%.3f-%.3f)", x->cpu_med, x->cpu_min, x->cpu_max);
		if (x->share_med >= 0)
			snprintf(share, sizeof(share), "%.1f%%", 100 * x->share_med);
		else
			snprintf(share, sizeof(share), "-");
		fmt_ratio(vs_plain, sizeof(vs_plain), x->cpu_ratio, x->mbs_ratio, 1);
		fmt_ratio(vs_native, sizeof(vs_native), x->cpu_vs_native, x->mbs_vs_native, 0);
		printf("%-26s %-*s %-27s %9.0f %13s  %-26s  %s%s\n", name, w, x->label, cpu, x->mbs_med,
		       share, vs_plain, vs_native, fails);
	}
}

/* sum_fallbacks — the fb_* counters of every run of one case and variant, summed. */
static void sum_fallbacks(const struct zc_bench_result *rs, int nr, const struct zc_bench_summary *x,
			  struct zc_bench_counters *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (int j = 0; j < nr; j++) {
		if (rs[j].c != x->c || rs[j].variant != x->variant)
			continue;
		for (int k = 0; k < rs[j].counters.n; k++) {
			const char *name = rs[j].counters.name[k];
			int m = 0;
			if (strncmp(name, "fb_", 3))
				continue;
			while (m < sum->n && strcmp(sum->name[m], name))
				m++;
			if (m == sum->n && sum->n < ZC_BENCH_MAX_COUNTERS)
				snprintf(sum->name[sum->n++], sizeof(sum->name[0]), "%s", name);
			if (m < sum->n)
				sum->value[m] += rs[j].counters.value[k];
		}
	}
}

/* print_top3 — the three biggest counters of sum (emptied as they are printed), without "fb_". */
static void print_top3(struct zc_bench_counters *sum)
{
	for (int shown = 0; shown < 3; shown++) {
		int best = -1;
		for (int m = 0; m < sum->n; m++)
			if (sum->value[m] && (best < 0 || sum->value[m] > sum->value[best]))
				best = m;
		if (best < 0)
			break;
		printf("%s %s %llu", shown ? "," : "", sum->name[best] + 3,
		       (unsigned long long)sum->value[best]);
		sum->value[best] = 0;
	}
}

/* zc_bench_print_reasons — for each shim variant of a case that left bytes to the original
 * calls, the counters that say why (the shim's fb_* fallbacks, summed over rounds), biggest first. */
void zc_bench_print_reasons(const struct zc_bench_result *rs, int nr,
			    const struct zc_bench_summary *s, int ns)
{
	int header = 0;
	char what[96];
	for (int i = 0; i < ns; i++) {
		struct zc_bench_counters sum;
		/* observe leaves every byte to the original calls: its own section says why (bench_observe.c) */
		if (!zc_bench_is_shim(s[i].variant) || s[i].variant == ZC_BENCH_OBSERVE ||
		    (s[i].n > 0 && s[i].share_med >= 0.95))
			continue;
		if (!header++)
			printf("\nwhy the shim left bytes to the original calls (fallback counters, all rounds):\n");
		snprintf(what, sizeof(what), "%s %s", s[i].c->name, s[i].label);
		printf("  %-34s", what);
		sum_fallbacks(rs, nr, &s[i], &sum);
		print_top3(&sum);
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
	fprintf(f, ",\n     \"bytes\": %llu, \"wall_s\": %.6f, \"server_cpu_s\": %.6f, \"cpu_method\": \"%s\", ",
		(unsigned long long)r->bytes, r->wall_s, r->cpu_s, r->cpu_method ? r->cpu_method : "none");
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
	fputs(",\n     \"shim_mode\": ", f);
	if (r->counters.mode[0])
		json_str(f, r->counters.mode);
	else
		fputs("null", f);
	fprintf(f, ", \"stats_files\": %d, \"counters\": {", r->counters.files);
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
	fprintf(f, ", \"variant\": \"%s\", \"label\": ", zc_bench_variant_names[s->variant]);
	json_str(f, s->label);
	fprintf(f, ", \"runs_ok\": %d, \"runs_failed\": %d", s->n, s->failed);
	const char *names[] = {"cpu_s_per_gib_median", "cpu_s_per_gib_min", "cpu_s_per_gib_max",
			       "mb_per_s_median", "mb_per_s_min", "mb_per_s_max",
			       "kernel_share_median", "cpu_ratio_vs_plain", "mb_per_s_ratio_vs_plain",
			       "cpu_ratio_vs_native", "mb_per_s_ratio_vs_native"};
	double vals[] = {s->cpu_med, s->cpu_min, s->cpu_max, s->mbs_med, s->mbs_min, s->mbs_max,
			 s->share_med, s->cpu_ratio, s->mbs_ratio, s->cpu_vs_native, s->mbs_vs_native};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		fprintf(f, ", \"%s\": ", names[i]);
		json_num(f, vals[i]);
	}
	if (s->variant == ZC_BENCH_OBSERVE) {
		const char *on[] = {"estimate_s_per_gib", "measured_s_per_gib", "ratio", "observed_share",
				    "unknown_share"};
		double ov[] = {s->obs_est, s->obs_measured, s->obs_ratio, s->obs_share, s->obs_unknown};
		fputs(",\n     \"observe\": {", f);
		for (size_t i = 0; i < sizeof(ov) / sizeof(ov[0]); i++) {
			fprintf(f, "\"%s\": ", on[i]);
			if (isnan(ov[i]))
				fputs("null, ", f);
			else
				fprintf(f, "%.6g, ", ov[i]);
		}
		fputs("\"model\": ", f);
		json_str(f, s->obs_model);
		fputs("}", f);
	}
	fputs("}", f);
}

/* json_shim_env — ", "shim_env": {VARIANT: "ZCSHIM_MODE=...", ...}" for the shim variants run;
 * "" for the default variant, which leaves ZCSHIM_MODE unset. */
static void json_shim_env(FILE *f, const struct zc_bench_env *env)
{
	int n = 0;
	fputs(", \"shim_env\": {", f);
	for (int k = 0; k < env->nvariants; k++) {
		const char *mode = zc_bench_variant_mode(env->variants[k]);
		if (!zc_bench_is_shim(env->variants[k]))
			continue;
		fprintf(f, "%s\"%s\": \"", n++ ? ", " : "", zc_bench_variant_names[env->variants[k]]);
		if (mode)
			fprintf(f, "ZCSHIM_MODE=%s", mode);
		fputc('"', f);
	}
	fputc('}', f);
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
	json_shim_env(f, env);
	fputs("},\n  \"skipped\": [", f);
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

/* variant_title — the label of variant v's first summary with data; NULL if it has none. */
static const char *variant_title(const struct zc_bench_summary *s, int n, enum zc_bench_variant v)
{
	for (int i = 0; i < n; i++)
		if (s[i].variant == v && s[i].n > 0)
			return s[i].label;
	return NULL;
}

/* plot_series — one bar series per variant that has data, in run order; variant k's CPU
 * figures are data columns 2+3k..4+3k and its MB/s median column 2+3*nvariants+k. */
static size_t plot_series(char *out, size_t cap, const char *dat, const struct zc_bench_env *env,
			  const struct zc_bench_summary *s, int n, int errorbars)
{
	size_t len = 0;
	int series = 0;
	for (int k = 0; k < env->nvariants && len < cap; k++) {
		const char *title = variant_title(s, n, env->variants[k]);
		if (!title)
			continue;
		if (errorbars)
			len += (size_t)snprintf(out + len, cap - len, "%s'%s' using %d:%d:%d%s title '%s'",
						series ? ", " : "", dat, 2 + 3 * k, 3 + 3 * k, 4 + 3 * k,
						series ? "" : ":xtic(1)", title);
		else
			len += (size_t)snprintf(out + len, cap - len, "%s'%s' using %d%s title '%s'", series ? ", " : "",
						dat, 2 + 3 * env->nvariants + k, series ? "" : ":xtic(1)", title);
		series++;
	}
	return series ? len : 0;
}

/* plot_script — the gnuplot script: CPU per GiB (with min-max bars) above, throughput below. */
static int plot_script(char *out, size_t cap, const char *svg, const char *dat,
		       const struct zc_bench_env *env, const struct zc_bench_summary *s, int n)
{
	size_t len = (size_t)snprintf(out, cap, PLOT_HEAD, svg), k;
	if (len >= cap || !(k = plot_series(out + len, cap - len, dat, env, s, n, 1)))
		return -1;
	len += k;
	len += (size_t)snprintf(out + len, cap - len, "\n%s", PLOT_MBS);
	if (len >= cap || !(k = plot_series(out + len, cap - len, dat, env, s, n, 0)))
		return -1;
	len += k;
	len += (size_t)snprintf(out + len, cap - len, "\nunset multiplot\n");
	return len < cap ? 0 : -1;
}

/* case_variant — the summary of s[i]'s case for variant v, if it has data; NULL if not. */
static const struct zc_bench_summary *case_variant(const struct zc_bench_summary *s, int n, int i,
						   enum zc_bench_variant v)
{
	for (int j = i; j < n && s[j].c == s[i].c; j++)
		if (s[j].variant == v && s[j].n > 0)
			return &s[j];
	return NULL;
}

/* plot_data — one row per case: label, CPU median/min/max of each variant in run order, then
 * their MB/s medians (NaN where a variant has no run). */
static int plot_data(const char *path, const struct zc_bench_env *env,
		     const struct zc_bench_summary *s, int n)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	for (int i = 0; i < n; i++) {
		if (i > 0 && s[i - 1].c == s[i].c)
			continue;
		fprintf(f, "\"%s\"", s[i].c->name);
		for (int k = 0; k < env->nvariants; k++) {
			const struct zc_bench_summary *x = case_variant(s, n, i, env->variants[k]);
			if (x)
				fprintf(f, " %.6f %.6f %.6f", x->cpu_med, x->cpu_min, x->cpu_max);
			else
				fputs(" NaN NaN NaN", f);
		}
		for (int k = 0; k < env->nvariants; k++) {
			const struct zc_bench_summary *x = case_variant(s, n, i, env->variants[k]);
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
	/* the data file is named twice per variant, the SVG once */
	char exe[PATH_MAX], dat[PATH_MAX + 8], gp[PATH_MAX + 16],
		script[(2 * ZC_BENCH_NVARIANTS + 2) * PATH_MAX + 2048];
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
	if (plot_script(script, sizeof(script), path, dat, env, s, n) < 0 ||
	    plot_data(dat, env, s, n) < 0 ||
	    zc_bench_write_file(gp, script) < 0)
		return -1;
	char *argv[] = {exe, gp, NULL};
	struct zc_bench_spawn sp = {.argv = argv, .in = -1, .out = -1, .err = 2};
	pid_t pid = zc_bench_spawn(&sp);
	if (pid < 0 || zc_bench_wait(pid, 60000, &status, NULL) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
