/* edges_asan.c — built with -fsanitize=address (Makefile): copies FILE to stdout with read()+write()
 * through a malloc'd buffer and frees it, under the shim with libasan first, or after it
 * (tests/e2e/test_edges.sh). ASan's allocator owns every pointer: none may reach glibc's free. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) return fprintf(stderr, "usage: edges_asan FILE\n"), 2;
	int fd = open(argv[1], O_RDONLY);
	char *buf = malloc(1 << 16);
	ssize_t n;
	if (fd < 0 || !buf) return perror("setup"), 3;
	while ((n = read(fd, buf, 1 << 16)) > 0)
		for (ssize_t k = 0, w; k < n; k += w)
			if ((w = write(1, buf + k, (size_t)(n - k))) < 0) return perror("write"), 1;
	buf = realloc(buf, 1 << 17);
	free(buf);
	return n < 0;
}
