/* hints.h — the fallback reason that cost the most bytes, and what to do about it. */
#ifndef ZC_TOOLS_HINTS_H
#define ZC_TOOLS_HINTS_H

#include "stats.h"

#include <stdint.h>
#include <stdio.h>

/* The fb_* counter whose writes passed the most bytes through (ZC_NCOUNTERS: no fallback at all). */
enum zc_counter zc_hint_reason(const uint64_t *v);
/* The hint for one fb_* reason; NULL for anything else. */
const char *zc_hint_text(enum zc_counter reason);
/* "  hint (reason: N writes, B bytes passed through):" and what to do; nothing without a fallback
 * that passed at least a tenth of the bytes written. */
void zc_hint_print(FILE *out, const uint64_t *v);

#endif
