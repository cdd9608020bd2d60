/* progs.h — small helpers the test programs share (each program is one .c file that includes this). */
#ifndef ZC_PROGS_H
#define ZC_PROGS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* progs_size — a non-negative byte count with an optional K/M/G suffix; -1 if malformed. */
static inline long long progs_size(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0) return -1;
	if (*end == 'K' || *end == 'k') v <<= 10, end++;
	else if (*end == 'M' || *end == 'm') v <<= 20, end++;
	else if (*end == 'G' || *end == 'g') v <<= 30, end++;
	return *end ? -1 : v;
}

/* progs_die — "PROG: what: strerror(errno)" on stderr, exit 1. */
static inline void progs_die(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

#endif
