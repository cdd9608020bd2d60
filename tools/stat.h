/* stat.h — live counters of processes under the shim: read by stat.c, exposed for Prometheus by stat_prom.c. */
#ifndef ZC_TOOLS_STAT_H
#define ZC_TOOLS_STAT_H

#include "stats.h"

#include <stddef.h>

/* A snapshot of one process's counters from its memfd; 0, or -1 (with one line on stderr when loud). */
int zc_stat_load(int pid, struct zc_stats *out, int loud);
/* The process's name as the kernel holds it (up to 15 bytes, any of them but NUL; "" if gone). */
void zc_stat_comm(int pid, char *out, size_t cap);
/* Calls fn for every process under the shim whose counters this user may read; returns how many. */
int zc_stat_each(void (*fn)(int pid, const struct zc_stats *s, void *arg), void *arg);
/* `zcshim stat --prometheus [PID...]`: the text exposition format 0.0.4; returns the exit status. */
int zc_stat_prometheus(int npids, char *const *pids);

#endif
