/* state.c — the few process-wide variables every layer reads (see shim.h). */
#include "shim.h"

int zc_on;
__thread int zc_depth;
__thread pid_t zc_tid_cache;
size_t zc_min_record;
