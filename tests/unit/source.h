/* source.h — a real source file for unit tests (test_detect, test_rewrite): open, unlinked, filled
 * with pattern() bytes, and known to the descriptor table. Needs Criterion, fdtab.h, stdlib, unistd. */
#ifndef ZC_TEST_SOURCE_H
#define ZC_TEST_SOURCE_H

/* pattern — the byte at source offset o. */
static inline unsigned char pattern(size_t o)
{
	return (unsigned char)(o * 131 + (o >> 9) * 7 + 1);
}

struct src {
	int fd;
	uint64_t gen;
};

/* source_file — size bytes of pattern(), with the generation the descriptor table gave them. */
static inline struct src source_file(size_t size)
{
	char path[] = "/tmp/zc_unit_src.XXXXXX";
	struct src s;
	s.fd = mkstemp(path);
	cr_assert_geq(s.fd, 0);
	unlink(path);
	unsigned char *b = malloc(size);
	cr_assert_not_null(b);
	for (size_t i = 0; i < size; i++) b[i] = pattern(i);
	cr_assert_eq(pwrite(s.fd, b, size, 0), (ssize_t)size);
	free(b);
	struct zc_fd_info i;
	cr_assert_eq(zc_fdtab_get(s.fd, &i), 0);
	cr_assert_eq(i.kind, ZC_FD_FILE);
	cr_assert_neq(i.gen, 0);
	s.gen = i.gen;
	return s;
}

#endif
