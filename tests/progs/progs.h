/* progs.h — small helpers the test programs share (each program is one .c file that includes this). */
#ifndef ZC_PROGS_H
#define ZC_PROGS_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/size.h"

/* progs_size — a non-negative byte count with an optional K/M/G/T suffix (shim/size.h, the
 * parser the shim and the tool use); -1 if malformed or above LLONG_MAX. */
static inline long long progs_size(const char *s)
{
	uint64_t v;
	if (zc_size_parse(s, ZC_SIZE_ALL, &v) || v > (uint64_t)LLONG_MAX) return -1;
	return (long long)v;
}

/* progs_die — "PROG: what: strerror(errno)" on stderr, exit 1. */
static inline void progs_die(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

#endif
