/* steady.c — a copy loop that becomes a steady stream of small chunks, then changes under the
 * shim's fast path (shim/interpose_io.c steady): the steady descriptor is closed and its number
 * reused by a file read in big chunks, and the same buffer is then filled from a socket. Writes
 * everything to stdout (a pipe): the test compares the bytes and the shim's counters.
 *
 * usage: steady SMALL_FILE BIG_FILE [SMALL_CHUNK [BIG_CHUNK]]
 *   1. SMALL_FILE in SMALL_CHUNK reads (16 KiB), each written at once, into one malloc'd buffer;
 *      after 61 of them the same descriptor goes on in BIG_CHUNK reads (a steady source grown up);
 *   2. it is closed and BIG_FILE opened on the same number (checked), copied in BIG_CHUNK (64 KiB);
 *   3. 16 KiB that came through a socketpair into the same buffer, written: no file behind it. */
#include "progs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* copy — fd to stdout in chunks of n through buf, of then after that many chunks; the bytes moved, or -1. */
static long copy(int fd, char *buf, size_t n, int after, size_t then)
{
	long total = 0;
	for (int k = 0;; k++) {
		ssize_t r = read(fd, buf, k < after ? n : then);
		if (r < 0) return -1;
		if (r == 0) return total;
		for (ssize_t done = 0; done < r;) {
			ssize_t w = write(1, buf + done, (size_t)(r - done));
			if (w <= 0) return -1;
			done += w;
		}
		total += r;
	}
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: steady SMALL_FILE BIG_FILE [SMALL_CHUNK [BIG_CHUNK]]\n");
		return 2;
	}
	size_t small = argc > 3 ? (size_t)progs_size(argv[3]) : 16384, big = argc > 4 ? (size_t)progs_size(argv[4]) : 65536;
	char *buf = malloc(big > small ? big : small);
	int fd = open(argv[1], O_RDONLY);
	if (!buf || fd < 0) return perror("steady: open"), 1;
	long a = copy(fd, buf, small, 61, big);
	close(fd);
	int fd2 = open(argv[2], O_RDONLY);
	if (fd2 != fd) return fprintf(stderr, "steady: %s opened as %d, not %d\n", argv[2], fd2, fd), 1;
	long b = copy(fd2, buf, big, 0, big);
	close(fd2);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return perror("steady: socketpair"), 1;
	memset(buf, 'x', small);
	if (write(sv[0], buf, small) != (ssize_t)small) return perror("steady: socket write"), 1;
	size_t got = 0;
	while (got < small) {
		ssize_t r = read(sv[1], buf + got, small - got);
		if (r <= 0) return perror("steady: socket read"), 1;
		got += (size_t)r;
	}
	if (write(1, buf, small) != (ssize_t)small) return perror("steady: write"), 1;
	fprintf(stderr, "steady: %ld + %ld + %zu bytes\n", a, b, small);
	return a < 0 || b < 0;
}
