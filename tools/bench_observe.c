/* bench_observe.c — the observe variant of `zcshim bench`: the cost model calibrated in the same
 * run (plain against auto of the builtin TCP and pipe servers), and for each observe row the
 * saving that model estimates from the obs_* bytes next to the saving measured between plain and
 * auto of the same case. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

/* counters_of — a run's counters as an array indexed like zc_counter_names. */
static void counters_of(const struct zc_bench_result *r, uint64_t v[ZC_NCOUNTERS])
{
	for (int i = 0; i < ZC_NCOUNTERS; i++)
		v[i] = zc_bench_counter(&r->counters, zc_counter_names[i]);
}

/* cmp_double — qsort order for doubles. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* median — of n values (sorted in place); NAN when n is 0. */
static double median(double *v, int n)
{
	if (n == 0)
		return NAN;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* row — the summary of s[i]'s case for variant v with successful runs; NULL if none. */
static const struct zc_bench_summary *row(const struct zc_bench_summary *s, int ns, int i,
					  enum zc_bench_variant v)
{
	int j = i;
	while (j > 0 && s[j - 1].c == s[i].c)
		j--;
	for (; j < ns && s[j].c == s[i].c; j++)
		if (s[j].variant == v && s[j].n > 0)
			return &s[j];
	return NULL;
}

/* kernel_fraction — median over the case's auto runs of the payload share auto moved in the kernel. */
static double kernel_fraction(const struct zc_bench_result *rs, int nr, const struct zc_bench_case *c)
{
	double *f = calloc((size_t)nr + 1, sizeof(double)), m;
	int n = 0;
	for (int i = 0; f && i < nr; i++) {
		const struct zc_bench_counters *k = &rs[i].counters;
		if (rs[i].c != c || rs[i].variant != ZC_BENCH_AUTO || !rs[i].ok || !rs[i].bytes)
			continue;
		f[n++] = (double)(zc_bench_counter(k, "rw_sendfile_bytes") + zc_bench_counter(k, "rw_splice_bytes") +
				  zc_bench_counter(k, "rw_copy_file_range_bytes")) / (double)rs[i].bytes;
	}
	m = median(f, n);
	free(f);
	return m;
}

/* calibrate — cal's entries from the plain and auto rows of builtin-tcp-read and builtin-pipe:
 * (plain - auto CPU per GiB of payload) / the share of the payload auto moved in the kernel. A case
 * where auto moved less than half the payload (4K: below min_bytes_tcp) gives no entry. */
static int calibrate(const struct zc_bench_result *rs, int nr, const struct zc_bench_summary *s, int ns,
		     struct zc_observe_model *cal)
{
	int n = 0;
	memset(cal, 0, sizeof(*cal));
	for (int i = 0; i < ns; i++) {
		const struct zc_bench_summary *plain = row(s, ns, i, ZC_BENCH_PLAIN);
		const char *sc = s[i].c->sc->name;
		int kind = !strcmp(sc, "builtin-tcp-read") ? ZC_OBS_TCP : !strcmp(sc, "builtin-pipe") ? ZC_OBS_PIPE : -1;
		if (s[i].variant != ZC_BENCH_AUTO || s[i].n == 0 || !plain || kind < 0)
			continue;
		double frac = kernel_fraction(rs, nr, s[i].c);
		if (!(frac >= 0.5))
			continue;
		int b = zc_observe_bucket_of(s[i].c->chunk);
		double v = (plain->cpu_med - s[i].cpu_med) / frac;
		char note[256];
		snprintf(note, sizeof(note), "%s: plain %.4f - auto %.4f s/GiB, %.1f%% in the kernel, %d round%s",
			 s[i].c->name, plain->cpu_med, s[i].cpu_med, 100 * frac, s[i].n, s[i].n == 1 ? "" : "s");
		cal->saving[kind][b] = v;
		cal->known[kind][b] = 1;
		snprintf(cal->note[kind][b], sizeof(cal->note[kind][b]), "%.95s", note);
		n++;
	}
	snprintf(cal->origin, sizeof(cal->origin), "this run's calibration");
	return n;
}

/* estimate_row — one observe summary: the median over its runs of the model's saving per GiB of
 * payload, the obs share and the unknown share; model names which model priced the bytes. */
static void estimate_row(const struct zc_bench_result *rs, int nr, struct zc_bench_summary *x,
			 const struct zc_observe_model *m)
{
	double *est = calloc((size_t)nr + 1, sizeof(double)), *share = calloc((size_t)nr + 1, sizeof(double)),
	       *unk = calloc((size_t)nr + 1, sizeof(double));
	uint64_t v[ZC_NCOUNTERS], unknown;
	int n = 0;
	for (int i = 0; est && share && unk && i < nr; i++) {
		if (rs[i].c != x->c || rs[i].variant != x->variant || !rs[i].ok || !rs[i].bytes)
			continue;
		counters_of(&rs[i], v);
		double payload_gib = (double)rs[i].bytes / GIB;
		est[n] = zc_observe_estimate(v, m, NULL, &unknown) / payload_gib;
		share[n] = (double)zc_observe_total(v) / (double)rs[i].bytes;
		unk[n++] = (double)unknown / (double)rs[i].bytes;
	}
	x->obs_est = median(est, n);
	x->obs_share = median(share, n);
	x->obs_unknown = median(unk, n);
	free(est), free(share), free(unk);
}

int zc_bench_observe(const struct zc_bench_result *rs, int nr, struct zc_bench_summary *s, int ns,
		     const struct zc_observe_model *base, struct zc_observe_model *cal)
{
	int ncal = calibrate(rs, nr, s, ns, cal);
	for (int i = 0; i < ns; i++) {
		struct zc_bench_summary *x = &s[i];
		const struct zc_bench_summary *plain = row(s, ns, i, ZC_BENCH_PLAIN), *aut = row(s, ns, i, ZC_BENCH_AUTO);
		x->obs_est = x->obs_measured = x->obs_ratio = x->obs_share = x->obs_unknown = NAN;
		x->obs_model[0] = 0;
		if (x->variant != ZC_BENCH_OBSERVE)
			continue;
		/* builtin scenarios: the saving per GiB this run measured (what the check of the byte
		 * classification needs); other servers: the model a user would have */
		if (ncal && !strncmp(x->c->sc->name, "builtin-", 8)) {
			struct zc_observe_model merged = *cal;
			int fill = 0;
			for (int k = 0; k < ZC_OBS_NKINDS; k++)
				for (int b = 0; b < ZC_OBS_NBUCKETS; b++)
					if (!merged.known[k][b] && base->known[k][b]) {
						merged.saving[k][b] = base->saving[k][b];
						merged.known[k][b] = 1;
						fill = 1;
					}
			estimate_row(rs, nr, x, &merged);
			snprintf(x->obs_model, sizeof(x->obs_model), "this run (plain - auto)%s%.100s",
				 fill ? ", else " : "", fill ? base->origin : "");
		} else {
			estimate_row(rs, nr, x, base);
			snprintf(x->obs_model, sizeof(x->obs_model), "%.150s", base->origin);
		}
		if (plain && aut)
			x->obs_measured = plain->cpu_med - aut->cpu_med;
		if (!isnan(x->obs_measured) && fabs(x->obs_measured) > 1e-9 && !isnan(x->obs_est))
			x->obs_ratio = x->obs_est / x->obs_measured;
	}
	return ncal;
}

/* fmt — a figure with the given format, "-" when unknown. */
static const char *fmt(char *buf, size_t cap, const char *f, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, f, v);
	return buf;
}

void zc_bench_print_observe(const struct zc_bench_summary *s, int ns)
{
	int header = 0;
	char a[24], b[24], c[24], d[24], e[24];
	for (int i = 0; i < ns; i++) {
		const struct zc_bench_summary *x = &s[i];
		if (x->variant != ZC_BENCH_OBSERVE || x->n == 0)
			continue;
		if (!header++)
			printf("\nobserve: the saving the cost model estimates from the bytes auto would move, next to the\n"
			       "saving measured in this run (server CPU s per GiB of payload, plain - auto medians)\n"
			       "  %-26s %9s %9s %6s %9s %8s  %s\n", "case", "estimate", "measured", "ratio",
			       "observed", "unknown", "model");
		printf("  %-26s %9s %9s %6s %9s %8s  %s\n", x->c->name, fmt(a, sizeof(a), "%.4f", x->obs_est),
		       fmt(b, sizeof(b), "%.4f", x->obs_measured), fmt(c, sizeof(c), "%.2f", x->obs_ratio),
		       fmt(d, sizeof(d), "%.1f%%", 100 * x->obs_share), fmt(e, sizeof(e), "%.1f%%", 100 * x->obs_unknown),
		       x->obs_model);
	}
	if (header)
		printf("  (observed: payload share auto would move in the kernel; unknown: share whose saving the model\n"
		       "  has no entry for, left out of the estimate; measured needs auto in --modes)\n");
}
