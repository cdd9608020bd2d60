/* observe.c — the cost model of `mode = observe`: a table of CPU seconds per GiB that `auto`
 * saves, by destination kind and chunk bucket, read from a costs file or built in, and the
 * estimate of a program's saving from the obs_* bytes the shim counted. */
#include "observe.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GIB (1024.0 * 1024.0 * 1024.0)
/* a value outside this range is a typo (copying 1 GiB costs a fraction of a second) */
#define SAVING_LIMIT 100.0

const char *const zc_observe_kind_names[ZC_OBS_NKINDS] = {"tcp", "pipe", "file"};
const char *const zc_observe_bucket_names[ZC_OBS_NBUCKETS] = {"4k", "16k", "64k", "256k", "1m"};

/* The built-in table, measured on the project machine (2 CPUs, "AMD EPYC", Linux 6.18, a shared
 * virtual machine) on 2026-12-03 with
 *     build/zcshim bench --scenarios builtin-tcp-read,builtin-pipe --chunks 64K,256K,1M \
 *         --modes auto,observe --rounds 3
 * (256 MiB payload), which wrote these figures to build/bench/costs.txt: each entry is the
 * server's CPU per GiB plain minus under auto (medians of 3 rounds), per GiB auto moved in the
 * kernel. Server CPU s/GiB, plain -> auto:
 *     tcp  64K 0.3938 -> 0.1762   256K 0.3167 -> 0.1249   1M 0.3510 -> 0.1371
 *     pipe 64K 0.5408 -> 0.4177   256K 0.4490 -> 0.2494   1M 0.4626 -> 0.2781
 * An earlier run the same day gave tcp 64k 0.395, 256k 0.236, 1m 0.241 and pipe 64k 0.277, 256k
 * 0.263, 1m 0.144: on this machine one entry is good to about a factor of two; measure your own
 * (the bench's costs.txt, `zcshim run --observe --costs`). The 16k bucket (16K up to 64K) since
 * defer_min_bytes is 32K, measured on 2026-12-05 with --chunks 32K, the same way:
 *     tcp  32K 0.3189 -> 0.1145   pipe 32K 0.4575 -> 0.2129
 * Below 32K auto moves nothing by default (4k unknown), and file copies (copy_file_range) have no
 * bench scenario: unknown, not guessed. */
static const struct {
	enum zc_observe_kind kind;
	enum zc_observe_bucket bucket;
	double saving;
	const char *note;
} builtin[] = {
	{ZC_OBS_TCP, ZC_OBS_16K, 0.2045, "builtin-tcp-read/32K: plain 0.3189 - auto 0.1145 s/GiB (2026-12-05)"},
	{ZC_OBS_TCP, ZC_OBS_64K, 0.2176, "builtin-tcp-read/64K: plain 0.3938 - auto 0.1762 s/GiB"},
	{ZC_OBS_TCP, ZC_OBS_256K, 0.1920, "builtin-tcp-read/256K: plain 0.3167 - auto 0.1249 s/GiB"},
	{ZC_OBS_TCP, ZC_OBS_1M, 0.2147, "builtin-tcp-read/1M: plain 0.3510 - auto 0.1371 s/GiB"},
	{ZC_OBS_PIPE, ZC_OBS_16K, 0.2446, "builtin-pipe/32K: plain 0.4575 - auto 0.2129 s/GiB (2026-12-05)"},
	{ZC_OBS_PIPE, ZC_OBS_64K, 0.1231, "builtin-pipe/64K: plain 0.5408 - auto 0.4177 s/GiB"},
	{ZC_OBS_PIPE, ZC_OBS_256K, 0.1998, "builtin-pipe/256K: plain 0.4490 - auto 0.2494 s/GiB"},
	{ZC_OBS_PIPE, ZC_OBS_1M, 0.1852, "builtin-pipe/1M: plain 0.4626 - auto 0.2781 s/GiB"},
};
static const char builtin_date[] = "2026-12-03 (16k: 2026-12-05) on a 2-CPU AMD EPYC (zcshim bench)";

enum zc_observe_bucket zc_observe_bucket_of(uint64_t n)
{
	return (enum zc_observe_bucket)zc_obs_bucket(n); /* the shim's rule, stats.h */
}

/* set — one known entry of m. */
static void set(struct zc_observe_model *m, int k, int b, double v, const char *note)
{
	m->saving[k][b] = v;
	m->known[k][b] = 1;
	snprintf(m->note[k][b], sizeof(m->note[k][b]), "%s", note ? note : "");
}

void zc_observe_builtin(struct zc_observe_model *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		set(m, builtin[i].kind, builtin[i].bucket, builtin[i].saving, builtin[i].note);
	snprintf(m->origin, sizeof(m->origin), "built-in table, measured %s", builtin_date);
}

/* lookup — the index of name in list (n entries, either case), or -1. */
static int lookup(const char *const *list, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcasecmp(list[i], name))
			return i;
	return -1;
}

/* parse_line — one entry of a costs file into m; NULL when done (or a blank/comment line), else
 * the complaint (what was wrong and what is accepted) in buf. */
static const char *parse_line(struct zc_observe_model *m, char *line, char *buf, size_t cap)
{
	char *save = NULL, *kind, *bucket, *val, *end, *rest;
	double v;
	int k, b;

	line[strcspn(line, "\r\n")] = 0;
	line += strspn(line, " \t");
	if (!*line || *line == '#')
		return NULL;
	kind = strtok_r(line, " \t", &save);
	bucket = strtok_r(NULL, " \t", &save);
	val = strtok_r(NULL, " \t", &save);
	rest = save ? save + strspn(save, " \t") : NULL;
	if (!bucket || !val) {
		snprintf(buf, cap, "expected 'KIND BUCKET SECONDS_PER_GIB [source text]'");
		return buf;
	}
	if ((k = lookup(zc_observe_kind_names, ZC_OBS_NKINDS, kind)) < 0) {
		snprintf(buf, cap, "bad kind '%.40s' (accepted: tcp, pipe, file)", kind);
		return buf;
	}
	if ((b = lookup(zc_observe_bucket_names, ZC_OBS_NBUCKETS, bucket)) < 0) {
		snprintf(buf, cap, "bad bucket '%.40s' (accepted: 4k, 16k, 64k, 256k, 1m)", bucket);
		return buf;
	}
	errno = 0;
	v = strtod(val, &end);
	if (errno || end == val || *end || !isfinite(v) || fabs(v) > SAVING_LIMIT) {
		snprintf(buf, cap, "bad value '%.40s' for %s %s (accepted: CPU seconds per GiB, a number "
			 "from -%.0f to %.0f)", val, zc_observe_kind_names[k], zc_observe_bucket_names[b],
			 SAVING_LIMIT, SAVING_LIMIT);
		return buf;
	}
	set(m, k, b, v, rest);
	return NULL;
}

int zc_observe_load(struct zc_observe_model *m, const char *path, FILE *err, char *why, size_t why_cap)
{
	char line[1024], msg[256];
	int bad = 0, no = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(why, why_cap, "cannot read the costs file %s: %s", path, strerror(errno));
		return -1;
	}
	memset(m, 0, sizeof(*m));
	snprintf(m->origin, sizeof(m->origin), "%s", path);
	while (fgets(line, sizeof(line), f)) {
		const char *what;
		no++;
		if ((what = parse_line(m, line, msg, sizeof(msg)))) {
			if (err)
				fprintf(err, "zcshim: %s:%d: %s; line ignored\n", path, no, what);
			bad++;
		}
	}
	if (ferror(f)) {
		snprintf(why, why_cap, "cannot read the costs file %s: %s", path, strerror(EIO));
		fclose(f);
		return -1;
	}
	fclose(f);
	return bad;
}

int zc_observe_write(const struct zc_observe_model *m, const char *path, const char *header)
{
	FILE *f = fopen(path, "we");
	const char *p = header;

	if (!f)
		return -1;
	while (p && *p) {
		size_t n = strcspn(p, "\n");
		fprintf(f, "# %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
	fprintf(f, "# KIND BUCKET SECONDS_PER_GIB [source text]\n");
	for (int k = 0; k < ZC_OBS_NKINDS; k++)
		for (int b = 0; b < ZC_OBS_NBUCKETS; b++)
			if (m->known[k][b])
				fprintf(f, "%s %s %.4f%s%s\n", zc_observe_kind_names[k], zc_observe_bucket_names[b],
					m->saving[k][b], m->note[k][b][0] ? " " : "", m->note[k][b]);
	return fclose(f) ? -1 : 0;
}

uint64_t zc_observe_bytes(const uint64_t *counters, enum zc_observe_kind k, enum zc_observe_bucket b)
{
	return counters[zc_obs_counter(k, b)];
}

uint64_t zc_observe_total(const uint64_t *counters)
{
	uint64_t t = 0;
	for (int k = 0; k < ZC_OBS_NKINDS; k++)
		for (int b = 0; b < ZC_OBS_NBUCKETS; b++)
			t += zc_observe_bytes(counters, k, b);
	return t;
}

/* mib — bytes in MiB for the breakdown. */
static double mib(uint64_t n)
{
	return (double)n / (1024.0 * 1024.0);
}

double zc_observe_estimate(const uint64_t *counters, const struct zc_observe_model *m, FILE *out,
			   uint64_t *unknown)
{
	double total = 0;
	uint64_t unk = 0;

	for (int k = 0; k < ZC_OBS_NKINDS; k++)
		for (int b = 0; b < ZC_OBS_NBUCKETS; b++) {
			uint64_t n = zc_observe_bytes(counters, k, b);
			if (!n)
				continue;
			if (!m->known[k][b]) {
				unk += n;
				if (out)
					fprintf(out, "    %-4s %-4s %10.1f MiB  x  unknown s/GiB (not in the model)\n",
						zc_observe_kind_names[k], zc_observe_bucket_names[b], mib(n));
				continue;
			}
			double s = (double)n / GIB * m->saving[k][b];
			total += s;
			if (out)
				fprintf(out, "    %-4s %-4s %10.1f MiB  x %7.4f s/GiB = %.4f s\n",
					zc_observe_kind_names[k], zc_observe_bucket_names[b], mib(n),
					m->saving[k][b], s);
		}
	if (out && unk)
		fprintf(out, "    saving unknown for %.1f MiB (no entry in the model for their kind and size)\n",
			mib(unk));
	if (unknown)
		*unknown = unk;
	return total;
}
