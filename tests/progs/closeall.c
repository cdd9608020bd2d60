/* closeall.c — a daemon that closes "every" descriptor in the middle of its copy loop, as
 * daemonize() code does (tests/e2e/test_edges.sh): the shim's own descriptors (counters, guard)
 * must survive it, and the program must see what it would see without the shim.
 *
 * usage: closeall loop|range --src PATH     copies PATH to stdout in 64 KiB chunks; after 4
 * chunks closes 3 up to the descriptor limit one by one (loop) or with close_range(3, ~0U) (range), reopens PATH at
 * the same offset and copies the rest; prints "closed N ebadf M" on stderr (loop: how many close
 * calls succeeded and how many said EBADF). */
#include "progs.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <unistd.h>

#define C 65536

static void copy(int src, char *buf, int chunks)
{
	for (int i = 0; chunks == 0 || i < chunks; i++) {
		ssize_t r = read(src, buf, C);
		if (r < 0) progs_die("closeall", "read");
		if (r == 0) return;
		for (ssize_t o = 0; o < r;) {
			ssize_t w = write(1, buf + o, (size_t)(r - o));
			if (w <= 0) progs_die("closeall", "write");
			o += w;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[2], "--src")) progs_die("closeall", "usage: closeall loop|range --src PATH");
	char *buf = malloc(C);
	int src = open(argv[3], O_RDONLY), closed = 0, ebadf = 0;
	if (src < 0 || !buf) progs_die("closeall", "source");
	copy(src, buf, 4);
	off_t at = lseek(src, 0, SEEK_CUR);
	if (!strcmp(argv[1], "range")) {
		if (close_range(3, ~0U, 0) < 0) progs_die("closeall", "close_range");
	} else {
		long max = sysconf(_SC_OPEN_MAX); /* as daemons do: up to the descriptor limit */
		if (max < 0 || max > (1L << 20)) max = 1L << 20;
		for (int fd = 3; fd < max; fd++) close(fd) == 0 ? closed++ : errno == EBADF ? ebadf++ : 0;
	}
	if ((src = open(argv[3], O_RDONLY)) < 0 || lseek(src, at, SEEK_SET) != at) progs_die("closeall", "reopen");
	copy(src, buf, 0);
	fprintf(stderr, "closed %d ebadf %d\n", closed, ebadf);
	return 0;
}
