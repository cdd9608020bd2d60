/* progs.h — small helpers the test programs share (each program is one .c file that includes this). */
#ifndef ZC_PROGS_H
#define ZC_PROGS_H

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* progs_connect — connect through signals: an interrupted connect goes on in the kernel, so wait
 * for it (poll, restarted) and take its result from SO_ERROR. */
static inline int progs_connect(int fd, const struct sockaddr_in *a)
{
	if (connect(fd, (const struct sockaddr *)a, sizeof *a) == 0) return 0;
	if (errno != EINTR) return -1;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR) return -1;
	int err = 0;
	socklen_t l = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0) return -1;
	return err ? (errno = err, -1) : 0;
}

/* progs_write_all — n bytes to fd, through EINTR and partial counts; -1 on any other error. */
static inline int progs_write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR) continue;
		if (k <= 0) return -1;
		p = (const char *)p + k, n -= (size_t)k;
	}
	return 0;
}

/* progs_word — the 8-byte word at offset off of word file number `file`: it names both, so a piece
 * sent from another file, or from another offset, shows (mapfiles, repoint) */
static inline uint64_t progs_word(int file, size_t off)
{
	return (uint64_t)file << 40 | off;
}

/* progs_word_file — writes path: size bytes (a multiple of 8) of file number `file`'s words. */
static inline void progs_word_file(const char *prog, const char *path, int file, size_t size)
{
	uint64_t *b = malloc(size);
	FILE *f = fopen(path, "w");
	if (!b || !f) progs_die(prog, path);
	for (size_t k = 0; k < size / 8; k++) b[k] = progs_word(file, k * 8);
	if (fwrite(b, 1, size, f) != size || fclose(f) != 0) progs_die(prog, path);
	free(b);
}

#endif
