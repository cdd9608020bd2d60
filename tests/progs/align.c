/* align.c — where malloc puts large buffers (tests/e2e/test_align.sh): for each SIZE, mallocs it,
 * writes every byte, and prints "size SIZE offset OFF" (the address modulo 4096); then grows the
 * first buffer with realloc to twice its size, checks its bytes, and frees everything.
 * usage: align SIZE... (K and M suffixes) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t parse(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end == 'K') v <<= 10, end++;
	else if (*end == 'M') v <<= 20, end++;
	return *end ? 0 : (size_t)v;
}

int main(int argc, char **argv)
{
	char *p[16];
	size_t n[16];
	int k = argc - 1;
	if (k < 1 || k > 16) return fprintf(stderr, "usage: align SIZE...\n"), 2;
	for (int i = 0; i < k; i++) {
		if (!(n[i] = parse(argv[i + 1]))) return fprintf(stderr, "align: bad size %s\n", argv[i + 1]), 2;
		if (!(p[i] = malloc(n[i]))) return perror("malloc"), 1;
		memset(p[i], 'a' + i, n[i]);
		printf("size %zu offset %lu\n", n[i], (unsigned long)((uintptr_t)p[i] % 4096));
	}
	char *q = realloc(p[0], 2 * n[0]);
	if (!q) return perror("realloc"), 1;
	for (size_t j = 0; j < n[0]; j++)
		if (q[j] != 'a') return fprintf(stderr, "align: realloc lost byte %zu\n", j), 1;
	p[0] = q;
	for (int i = 0; i < k; i++) free(p[i]);
	printf("done\n");
	return 0;
}
