/* stats_json.h — reads one stats file the shim writes (shim/stats.c, zc_stats_format_json) with
 * json-c: the counters by name into an array indexed like zc_counter_names, and the mode. */
#ifndef ZC_STATS_JSON_H
#define ZC_STATS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

/* zc_stats_json_read — parses the file at path: {"pid": N, "mode": "…", "counters": {"name": N, …}}.
 * Fills v (zeroed first) from the counters whose names zc_counter_names lists (others are
 * ignored: a newer shim may count more), and mode with "mode" ("" when absent; mode may be NULL).
 * Returns the number of known counters found, or -1 with a sentence in err when the file cannot
 * be read or is not such an object (bad JSON, no "counters" object, a count that is not an integer
 * 0..2^64-1). */
int zc_stats_json_read(const char *path, uint64_t v[ZC_NCOUNTERS], char *mode, size_t mode_cap,
		       char *err, size_t err_cap);

#endif
