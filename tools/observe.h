/* observe.h — the cost model of `mode = observe`: CPU seconds per GiB that `auto` saves by
 * destination kind and chunk bucket, loaded from a costs file or built in, and the estimate of
 * what a program would save from its obs_* counters (zcshim run --observe, zcshim bench). */
#ifndef ZC_TOOLS_OBSERVE_H
#define ZC_TOOLS_OBSERVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stats.h"

/* Destination kinds and chunk buckets, in the order of the shim's obs_* counters. */
enum zc_observe_kind { ZC_OBS_TCP, ZC_OBS_PIPE, ZC_OBS_FILE, ZC_OBS_NKINDS };
enum zc_observe_bucket { ZC_OBS_4K, ZC_OBS_16K, ZC_OBS_64K, ZC_OBS_256K, ZC_OBS_1M, ZC_OBS_NBUCKETS };
_Static_assert((int)ZC_OBS_NKINDS == (int)ZC_OBS_NKIND && (int)ZC_OBS_NBUCKETS == (int)ZC_OBS_NBUCKET, "the shim's obs_* counters");

extern const char *const zc_observe_kind_names[ZC_OBS_NKINDS];     /* "tcp", "pipe", "file" */
extern const char *const zc_observe_bucket_names[ZC_OBS_NBUCKETS]; /* "4k" … "1m" */

/* A cost model: saving[kind][bucket] in CPU seconds per GiB moved in the kernel instead of through
 * the program's buffer; an entry that is not known is not guessed (known = 0). */
struct zc_observe_model {
	double saving[ZC_OBS_NKINDS][ZC_OBS_NBUCKETS];
	char known[ZC_OBS_NKINDS][ZC_OBS_NBUCKETS];
	char note[ZC_OBS_NKINDS][ZC_OBS_NBUCKETS][96]; /* the entry's source text, "" if none */
	char origin[4200];                             /* "FILE" or "built-in table, measured DATE" */
};

/* zc_observe_bucket_of — the bucket of a write of n file bytes: <16K 4k, <64K 16k, <256K 64k,
 * <1M 256k, else 1m (the shim's rule). */
enum zc_observe_bucket zc_observe_bucket_of(uint64_t n);
/* zc_observe_builtin — the table measured on the project machine (observe.c says how and when). */
void zc_observe_builtin(struct zc_observe_model *m);
/* zc_observe_load — the entries of a costs file ("KIND BUCKET SECONDS_PER_GIB [source text]" lines,
 * '#' comments); each bad line is named on err (FILE:LINE, the value, what is accepted) and left
 * out. Returns the number of bad lines, or -1 with a sentence in why when the file cannot be read. */
int zc_observe_load(struct zc_observe_model *m, const char *path, FILE *err, char *why, size_t why_cap);
/* zc_observe_write — a costs file of m's known entries under a '#' header (may hold newlines);
 * 0 or -1 with errno. */
int zc_observe_write(const struct zc_observe_model *m, const char *path, const char *header);
/* zc_observe_bytes — obs_KIND_BUCKET of counters (indexed like zc_counter_names); 0 when this shim
 * has no such counter. */
uint64_t zc_observe_bytes(const uint64_t *counters, enum zc_observe_kind k, enum zc_observe_bucket b);
/* zc_observe_total — every obs_* byte: what auto would have moved in the kernel. */
uint64_t zc_observe_total(const uint64_t *counters);
/* zc_observe_estimate — the CPU seconds auto would save: Σ obs bytes × saving per GiB over the
 * known entries. With out, prints one line per bucket that has bytes (bytes, s/GiB, seconds, or
 * "unknown"); *unknown (may be NULL) gets the bytes whose saving the model does not know. */
double zc_observe_estimate(const uint64_t *counters, const struct zc_observe_model *m, FILE *out,
			   uint64_t *unknown);

#endif
