/* test_detect.c — the record table: recording a read into a guarded buffer, matching write ranges
 * (whole, sub-range, continuation, across the end), several records in flight, the write fault on
 * the protected interior, head/tail changes, drops, consumption and the live count. */
#include <criterion/criterion.h>

#include "config.h"
#include "detect.h"
#include "fdtab.h"
#include "guard.h"
#include "real.h"
#include "stats.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096UL
#define N (256 * 1024UL) /* the read size of the brief: 256 KiB at page + 16 */

static void setup(void)
{
	zc_real_resolve();
	zc_stats_init();
	zc_config_defaults(&zc_cfg);
	zc_guard_init();
}

TestSuite(detect, .init = setup);

/* pattern — the byte at source offset o. */
static unsigned char pattern(size_t o)
{
	return (unsigned char)(o * 131 + (o >> 9) * 7 + 1);
}

/* src_file — an unlinked temporary file of size bytes of pattern(). */
static int src_file(size_t size)
{
	char path[] = "/tmp/zc_detect.XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	unsigned char *b = malloc(size);
	for (size_t i = 0; i < size; i++) b[i] = pattern(i);
	cr_assert_eq(write(fd, b, size), (ssize_t)size);
	free(b);
	return fd;
}

/* buffer — len bytes at a page boundary + skew, with a spare page after (malloc'd, never freed
 * while a record may point at it). */
static char *buffer(size_t len, size_t skew)
{
	void *base = NULL;
	cr_assert_eq(posix_memalign(&base, PG, len + skew + PG), 0);
	return (char *)base + skew;
}

/* fill — reads len bytes of the source at off into buf, as the program's read() did. */
static void fill(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, off + (off_t)got);
		cr_assert_gt(r, 0);
		got += (size_t)r;
	}
}

/* rec — fill and record; the record must be made. */
static void rec(int fd, char *buf, size_t len, off_t off)
{
	fill(fd, buf, len, off);
	int r = zc_detect_record(buf, len, fd, 1000 + (uint64_t)fd, off, 0);
	cr_assert_eq(r, 0, "zc_detect_record refused (%d = %s)", r, r > 0 && r < ZC_NCOUNTERS ? zc_counter_names[r] : "?");
}

/* stat_of — current value of one counter. */
static uint64_t stat_of(enum zc_counter c)
{
	return __atomic_load_n(&zc_stats->v[c], __ATOMIC_RELAXED);
}

/* prot_of — the "rwx" permissions of the mapping that holds addr, from /proc/self/maps. */
static void prot_of(const void *addr, char out[4])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	uintptr_t a = (uintptr_t)addr;
	strcpy(out, "???");
	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi) {
			memcpy(out, perms, 3);
			out[3] = 0;
			break;
		}
	}
	fclose(f);
}

/* assert_prot — the page holding addr has the permissions want. */
static void assert_prot(const void *addr, const char *want, const char *what)
{
	char p[4];
	prot_of(addr, p);
	cr_assert_str_eq(p, want, "%s: page at %p is %s, expected %s", what, addr, p, want);
}

/* interior — first byte of the page-aligned interior of [buf, buf+len). */
static char *interior(char *buf)
{
	return (char *)(((uintptr_t)buf + PG - 1) & ~(PG - 1));
}

/* poke — one store the compiler cannot drop or move. */
static void poke(char *p, char v)
{
	*(volatile char *)p = v;
}

/* expect_match — [p, p+n) matches a record of fd with this source offset and distance to its end. */
static void expect_match(const void *p, size_t n, int fd, off_t off, size_t to_end)
{
	struct zc_match m;
	memset(&m, 0, sizeof m);
	int r = zc_detect_match(p, n, &m);
	cr_assert_eq(r, 1, "match(%p, %zu) = %d, expected 1", p, n, r);
	cr_assert_eq(m.src_fd, fd);
	cr_assert_eq(m.src_gen, 1000 + (uint64_t)fd);
	cr_assert_eq(m.off, off, "match(%p, %zu): off %ld, expected %ld", p, n, (long)m.off, (long)off);
	cr_assert_eq(m.to_end, to_end, "match(%p, %zu): to_end %zu, expected %zu", p, n, m.to_end, to_end);
}

/* expect_no_match — no record holds [p, p+n). */
static void expect_no_match(const void *p, size_t n)
{
	struct zc_match m;
	int r = zc_detect_match(p, n, &m);
	cr_assert_eq(r, 0, "match(%p, %zu) = %d, expected 0 (no record)", p, n, r);
}

/* expect_dirty — a record holds [p, p+n) but the program changed it. */
static void expect_dirty(const void *p, size_t n)
{
	struct zc_match m;
	int r = zc_detect_match(p, n, &m);
	cr_assert_eq(r, -1, "match(%p, %zu) = %d, expected -1 (dirty)", p, n, r);
}

/* ---- recording ----------------------------------------------------------------------- */

Test(detect, record_guards_the_interior_only)
{
	int fd = src_file(N + PG);
	char *buf = buffer(N, 16);
	cr_assert_eq(zc_detect_live, 0);
	rec(fd, buf, N, 0);
	cr_assert_eq(zc_detect_live, 1);
	cr_assert_eq(stat_of(ZC_records_created), 1);
	assert_prot(interior(buf), "r--", "interior start");
	assert_prot(buf + N - PG - 1, "r--", "interior end");
	assert_prot(buf, "rw-", "unaligned head page");
	assert_prot(buf + N - 1, "rw-", "unaligned tail page");
	/* the bytes are the source's */
	for (size_t i = 0; i < N; i += 997) cr_assert_eq((unsigned char)buf[i], pattern(i));
}

Test(detect, buffers_without_a_whole_page_are_not_recorded)
{
	int fd = src_file(4 * PG);
	char *buf = buffer(2 * PG, 16);
	fill(fd, buf, PG, 0);
	cr_assert_eq(zc_detect_record(buf, PG, fd, 1, 0, 0), ZC_fb_no_interior);
	cr_assert_eq(zc_detect_record(buf, 100, fd, 1, 0, 0), ZC_fb_no_interior);
	cr_assert_eq(zc_detect_live, 0);
	expect_no_match(buf, 100);
	/* page aligned, exactly one page: all interior, no head or tail */
	char *al = buffer(PG, 0);
	rec(fd, al, PG, 0);
	cr_assert_eq(zc_detect_live, 1);
	assert_prot(al, "r--", "single page");
	expect_match(al, PG, fd, 0, PG);
}

/* ---- matching ------------------------------------------------------------------------ */

Test(detect, match_whole_range)
{
	int fd = src_file(2 * N);
	char *buf = buffer(N, 16);
	rec(fd, buf, N, 12345);
	expect_match(buf, N, fd, 12345, N);
	expect_match(buf, N, fd, 12345, N); /* matching does not consume */
	cr_assert_eq(zc_detect_live, 1);
}

Test(detect, match_sub_ranges)
{
	int fd = src_file(2 * N);
	char *buf = buffer(N, 16);
	off_t o = 3 * (off_t)PG;
	rec(fd, buf, N, o);
	expect_match(buf + 1000, 5000, fd, o + 1000, N - 1000);    /* head into interior */
	expect_match(buf, 10, fd, o, N);                          /* head only */
	expect_match(buf + 3 * PG, PG, fd, o + 3 * (off_t)PG, N - 3 * PG); /* interior only */
	expect_match(buf + N - 8, 8, fd, o + (off_t)N - 8, 8);    /* tail only */
	expect_match(buf + N - 5000, 4000, fd, o + (off_t)N - 5000, 5000); /* interior into tail */
	expect_match(buf + 1, N - 2, fd, o + 1, N - 1);
}

Test(detect, match_continuations_of_a_partial_write)
{
	static const size_t ks[] = {1, 15, 4080, 4081, 4096, 65536, 100000, N - PG, N - 17, N - 1};
	int fd = src_file(N);
	char *buf = buffer(N, 16);
	rec(fd, buf, N, 0);
	for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) expect_match(buf + ks[j], N - ks[j], fd, (off_t)ks[j], N - ks[j]);
}

Test(detect, ranges_outside_or_across_the_record_do_not_match)
{
	int fd = src_file(N + PG);
	char *buf = buffer(N, 16);
	rec(fd, buf, N, 0);
	expect_no_match(buf + N - 10, 20); /* crosses the end */
	expect_no_match(buf, N + 1);
	expect_no_match(buf - 1, 10); /* starts before */
	expect_no_match(buf - 1, N + 2);
	expect_no_match(buf + N, 100); /* just after */
	cr_assert_eq(zc_detect_live, 1, "a miss must not drop the record");
	expect_match(buf, N, fd, 0, N);
}

Test(detect, two_records_in_flight)
{
	int fa = src_file(2 * N), fb = src_file(2 * N);
	char *a = buffer(N, 16), *b = buffer(N, 16);
	rec(fa, a, N, 0);
	rec(fb, b, N, (off_t)N);
	cr_assert_eq(zc_detect_live, 2);
	expect_match(a, N, fa, 0, N);
	expect_match(b, N, fb, (off_t)N, N);
	expect_match(a + 100, 50, fa, 100, N - 100);
	expect_match(b + 100, 50, fb, (off_t)N + 100, N - 100);
}

Test(detect, adjacent_records_share_a_page_but_not_a_match)
{
	int fd = src_file(2 * N + PG);
	char *big = buffer(2 * N, 16);
	char *a = big, *b = big + N;
	rec(fd, a, N, 0);
	rec(fd, b, N, (off_t)N);
	cr_assert_eq(zc_detect_live, 2, "adjacent, non-overlapping records must both live");
	expect_match(a, N, fd, 0, N);
	expect_match(b, N, fd, (off_t)N, N);
	expect_no_match(a + N - 100, 200); /* spans both: no single record holds it */
	/* a fault in b's interior dirties b only */
	uint64_t f0 = stat_of(ZC_faults_handled);
	poke(interior(b) + 10, 'z');
	cr_assert_eq(stat_of(ZC_faults_handled), f0 + 1);
	expect_match(a, N, fd, 0, N);
	expect_dirty(b, N);
	cr_assert_eq(zc_detect_live, 1);
	assert_prot(interior(a), "r--", "a stays guarded");
}

Test(detect, many_records_in_flight)
{
	enum { K = 200 };
	const size_t len = 3 * PG;
	int fd = src_file(K * len);
	char *bufs[K];
	for (int k = 0; k < K; k++) {
		bufs[k] = buffer(len, 16 + (size_t)k % 64);
		rec(fd, bufs[k], len, (off_t)(k * len));
		cr_assert_eq(zc_detect_live, (unsigned)k + 1);
	}
	for (int k = K - 1; k >= 0; k--) {
		expect_match(bufs[k], len, fd, (off_t)(k * len), len);
		expect_match(bufs[k] + len / 2, len / 4, fd, (off_t)(k * len + len / 2), len - len / 2);
	}
	/* drop every other one; the rest still match at the right offsets */
	for (int k = 0; k < K; k += 2) zc_detect_drop_range(bufs[k], len, 1);
	cr_assert_eq(zc_detect_live, K / 2);
	for (int k = 0; k < K; k++) {
		if (k % 2) expect_match(bufs[k], len, fd, (off_t)(k * len), len);
		else expect_no_match(bufs[k], len);
	}
	/* and new records reuse the freed slots */
	for (int k = 0; k < K; k += 2) rec(fd, bufs[k], len, (off_t)(k * len));
	cr_assert_eq(zc_detect_live, K);
	for (int k = 0; k < K; k++) expect_match(bufs[k], len, fd, (off_t)(k * len), len);
}

Test(detect, full_table_is_a_fallback)
{
	const size_t len = 2 * PG;
	int fd = src_file(len);
	char *bufs[ZC_MAX_RECORDS + 1];
	for (int k = 0; k < ZC_MAX_RECORDS; k++) {
		bufs[k] = buffer(len, 0);
		cr_assert_eq(zc_detect_record(bufs[k], len, fd, 1, 0, 0), 0, "record %d", k);
	}
	cr_assert_eq(zc_detect_live, ZC_MAX_RECORDS);
	bufs[ZC_MAX_RECORDS] = buffer(len, 0);
	cr_assert_eq(zc_detect_record(bufs[ZC_MAX_RECORDS], len, fd, 1, 0, 0), ZC_fb_table_full);
	cr_assert_eq(zc_detect_live, ZC_MAX_RECORDS);
	assert_prot(bufs[ZC_MAX_RECORDS], "rw-", "a refused record leaves the buffer writable");
	poke(bufs[ZC_MAX_RECORDS] + 10, 1);
}

Test(detect, notes_explain_a_fallback_and_give_way_to_records)
{
	const size_t len = 2 * PG;
	int fd = src_file(len);
	static char notes[ZC_MAX_RECORDS][64];
	for (int k = 0; k < ZC_MAX_RECORDS; k++) zc_detect_note(notes[k], sizeof notes[k], fd, 1, ZC_fb_probation);
	cr_assert_eq(zc_detect_live, ZC_MAX_RECORDS, "the table is full of notes");
	struct zc_match m;
	cr_assert_eq(zc_detect_match(notes[7], 64, &m), 2, "a note matches as an explanation");
	cr_assert_eq(m.reason, ZC_fb_probation);
	char *buf = buffer(len, 0);
	rec(fd, buf, len, 0); /* a record takes a note's slot */
	cr_assert_eq(zc_detect_live, ZC_MAX_RECORDS);
	assert_prot(buf, "r--", "the record is guarded");
	expect_match(buf, len, fd, 0, len);
}

/* ---- changes by the program ---------------------------------------------------------- */

Test(detect, write_into_interior_is_handled_and_makes_the_record_dirty)
{
	int fd = src_file(N);
	char *buf = buffer(N, 16);
	rec(fd, buf, N, 0);
	char *in = interior(buf) + 5000;
	uint64_t f0 = stat_of(ZC_faults_handled), c0 = stat_of(ZC_faults_chained);
	poke(in, 'X'); /* SIGSEGV: the guard lifts the protection and the store is retried */
	cr_assert_eq(*in, 'X', "the program's store must land");
	cr_assert_eq(stat_of(ZC_faults_handled), f0 + 1);
	cr_assert_eq(stat_of(ZC_faults_chained), c0);
	assert_prot(interior(buf), "rw-", "after the fault");
	poke(in + PG, 'Y'); /* no second fault: the whole interior is writable */
	cr_assert_eq(stat_of(ZC_faults_handled), f0 + 1);
	cr_assert_eq(zc_detect_live, 1, "dirty records live until matched or dropped");
	expect_dirty(buf, N);
	cr_assert_eq(stat_of(ZC_records_dirty), 1);
	cr_assert_eq(zc_detect_live, 0);
	expect_no_match(buf, N); /* gone: the next write is an ordinary one */
}

Test(detect, write_into_interior_dirties_any_range_of_the_record)
{
	int fd = src_file(N);
	char *buf = buffer(N, 16);
	rec(fd, buf, N, 0);
	poke(interior(buf) + 3 * PG, 'Q');
	/* even a range that does not include the changed byte: the record is no longer trusted */
	expect_dirty(buf + N - 100, 100);
	expect_no_match(buf, 100);
}

Test(detect, head_or_tail_change_is_detected)
{
	int fd = src_file(N);
	char *buf = buffer(N, 16);
	rec(fd, buf, N, 0);
	uint64_t f0 = stat_of(ZC_faults_handled);
	buf[0] ^= 0x5a; /* the head page is not protected: no fault */
	cr_assert_eq(stat_of(ZC_faults_handled), f0);
	expect_dirty(buf, N);
	cr_assert_eq(zc_detect_live, 0);
	/* the record is gone and its interior writable again, without a fault */
	poke(interior(buf) + 1, 'w');
	cr_assert_eq(stat_of(ZC_faults_handled), f0);

	char *b2 = buffer(N, 16);
	rec(fd, b2, N, 0);
	b2[N - 1] ^= 0x5a; /* last tail byte */
	expect_dirty(b2 + 4096, N - 4096);
	cr_assert_eq(zc_detect_live, 0);

	char *b3 = buffer(N, 16);
	rec(fd, b3, N, 0);
	b3[interior(b3) - b3 - 1] ^= 1; /* last head byte, next to the interior */
	expect_dirty(b3, N);
}

Test(detect, head_change_outside_the_sent_range_is_not_a_mismatch)
{
	int fd = src_file(N);
	char *buf = buffer(N, 16);
	rec(fd, buf, N, 0);
	buf[0] ^= 1;
	/* a continuation past the changed byte sends only unchanged bytes */
	expect_match(buf + 1, N - 1, fd, 1, N - 1);
	/* a changed byte that was put back is the same byte */
	buf[0] ^= 1;
	expect_match(buf, N, fd, 0, N);
}

/* ---- drops and consumption ----------------------------------------------------------- */

Test(detect, drop_range_kills_overlapping_records_only)
{
	int fd = src_file(N);
	char *buf = buffer(N, 16);
	rec(fd, buf, N, 0);
	zc_detect_drop_range(buf + N, 100, 1); /* just after */
	zc_detect_drop_range(buf - 100, 100, 1); /* just before */
	cr_assert_eq(zc_detect_live, 1);
	expect_match(buf, N, fd, 0, N);
	zc_detect_drop_range(buf + N - 1, 100, 1); /* last byte */
	cr_assert_eq(zc_detect_live, 0);
	expect_no_match(buf, N);
	assert_prot(interior(buf), "rw-", "dropped with unprotect");
	uint64_t f0 = stat_of(ZC_faults_handled);
	poke(interior(buf) + 7, 1);
	cr_assert_eq(stat_of(ZC_faults_handled), f0);
	cr_assert_eq(stat_of(ZC_records_dropped), 1);
}

Test(detect, drop_range_over_several_records)
{
	int fd = src_file(2 * N + PG);
	char *big = buffer(2 * N + PG, 16);
	char *other = buffer(N, 16);
	rec(fd, big, N, 0);
	rec(fd, big + N, N, (off_t)N);
	rec(fd, other, N, 0);
	zc_detect_drop_range(big + N - 1, 2, 1); /* touches both adjacent records */
	cr_assert_eq(zc_detect_live, 1);
	expect_no_match(big, N);
	expect_no_match(big + N, N);
	expect_match(other, N, fd, 0, N);
}

Test(detect, recording_over_a_record_replaces_it)
{
	int fd = src_file(2 * N);
	char *buf = buffer(N, 16);
	uint64_t g = 1000 + (uint64_t)fd;
	rec(fd, buf, N, 0);
	/* zc_detect_record itself retires any record it overlaps (bytes not refilled: not needed here) */
	cr_assert_eq(zc_detect_record(buf, N, fd, g, (off_t)N, 0), 0);
	cr_assert_eq(zc_detect_live, 1);
	expect_match(buf, N, fd, (off_t)N, N);
	cr_assert_eq(zc_detect_record(buf + 100, N / 2, fd, g, 7, 0), 0); /* shorter, at an offset into it */
	cr_assert_eq(zc_detect_live, 1);
	expect_match(buf + 100, N / 2, fd, 7, N / 2);
	expect_no_match(buf, N);
	uint64_t f0 = stat_of(ZC_faults_handled);
	poke(buf + N - 200, 1); /* beyond the new record: writable again */
	cr_assert_eq(stat_of(ZC_faults_handled), f0);
	/* the read wrapper's order for the next read into the buffer: drop, read, record */
	zc_detect_drop_range(buf, N, 1);
	cr_assert_eq(zc_detect_live, 0);
	rec(fd, buf, N, (off_t)N);
	expect_match(buf, N, fd, (off_t)N, N);
	for (size_t i = 0; i < N; i += 4099) cr_assert_eq((unsigned char)buf[i], pattern(N + i));
}

Test(detect, drop_fd_kills_that_sources_records)
{
	int fa = src_file(N), fb = src_file(N);
	char *a1 = buffer(N, 16), *a2 = buffer(N, 16), *b = buffer(N, 16);
	rec(fa, a1, N, 0);
	rec(fa, a2, N, 0);
	rec(fb, b, N, 0);
	zc_detect_drop_fd(fa);
	cr_assert_eq(zc_detect_live, 1);
	expect_no_match(a1, N);
	expect_no_match(a2, N);
	expect_match(b, N, fb, 0, N);
	assert_prot(interior(a1), "rw-", "a1 after drop_fd");
	assert_prot(interior(a2), "rw-", "a2 after drop_fd");
	uint64_t f0 = stat_of(ZC_faults_handled);
	poke(interior(a1), 1);
	poke(interior(a2), 1);
	cr_assert_eq(stat_of(ZC_faults_handled), f0);
	zc_detect_drop_fd(fa); /* again: nothing left */
	zc_detect_drop_fd(fb);
	cr_assert_eq(zc_detect_live, 0);
}

Test(detect, drop_fd_kills_a_dirty_record_too)
{
	int fd = src_file(N);
	char *buf = buffer(N, 16);
	rec(fd, buf, N, 0);
	poke(interior(buf), 1);
	zc_detect_drop_fd(fd);
	cr_assert_eq(zc_detect_live, 0);
	expect_no_match(buf, N);
}

Test(detect, consumed_to_the_end_drops_and_unguards)
{
	int fd = src_file(N);
	char *buf = buffer(N, 16);
	rec(fd, buf, N, 0);
	struct zc_match m;
	cr_assert_eq(zc_detect_match(buf, N, &m), 1);
	zc_detect_consumed(&m, N / 2); /* a partial send keeps the record */
	cr_assert_eq(zc_detect_live, 1);
	assert_prot(interior(buf), "r--", "after a partial send");
	expect_match(buf + N / 2, N - N / 2, fd, (off_t)(N / 2), N - N / 2);
	zc_detect_consumed(&m, N);
	cr_assert_eq(zc_detect_live, 0);
	expect_no_match(buf, N);
	assert_prot(interior(buf), "rw-", "after the last byte was sent");
	uint64_t f0 = stat_of(ZC_faults_handled);
	poke(interior(buf) + 123, 'k');
	poke(buf + N - PG - 1, 'k');
	cr_assert_eq(stat_of(ZC_faults_handled), f0, "the interior must be writable without a fault");
	cr_assert_eq(stat_of(ZC_records_unused), 0, "a consumed record is not unused");
}

Test(detect, consumed_continuation_to_the_end_drops)
{
	int fd = src_file(N);
	char *buf = buffer(N, 16);
	rec(fd, buf, N, 0);
	struct zc_match m;
	cr_assert_eq(zc_detect_match(buf, N, &m), 1);
	zc_detect_consumed(&m, 100000); /* short write */
	cr_assert_eq(zc_detect_live, 1);
	cr_assert_eq(zc_detect_match(buf + 100000, N - 100000, &m), 1); /* the program continues */
	cr_assert_eq(m.to_end, N - 100000);
	zc_detect_consumed(&m, N - 100000);
	cr_assert_eq(zc_detect_live, 0);
	assert_prot(interior(buf), "rw-", "continuation consumed");
}

Test(detect, stale_match_never_consumes_a_reused_slot)
{
	int fd = src_file(2 * N);
	char *a = buffer(N, 16), *b = buffer(N, 16);
	rec(fd, a, N, 0);
	struct zc_match ma;
	cr_assert_eq(zc_detect_match(a, N, &ma), 1);
	zc_detect_drop_range(a, N, 1);
	rec(fd, b, N, (off_t)N); /* most likely the same slot */
	struct zc_match mb;
	cr_assert_eq(zc_detect_match(b, N, &mb), 1);
	cr_assert_neq(ma.id, mb.id);
	zc_detect_consumed(&ma, N);
	cr_assert_eq(zc_detect_live, 1, "a stale match consumed someone else's record");
	expect_match(b, N, fd, (off_t)N, N);
	assert_prot(interior(b), "r--", "b still guarded");
}

Test(detect, live_counts_records)
{
	int fd = src_file(N);
	char *a = buffer(N, 16), *b = buffer(N, 16), *c = buffer(N, 16);
	cr_assert_eq(zc_detect_live, 0);
	rec(fd, a, N, 0);
	rec(fd, b, N, 0);
	rec(fd, c, N, 0);
	cr_assert_eq(zc_detect_live, 3);
	struct zc_match m;
	cr_assert_eq(zc_detect_match(b, N, &m), 1);
	zc_detect_consumed(&m, N);
	cr_assert_eq(zc_detect_live, 2);
	zc_detect_drop_range(a, 1, 1);
	cr_assert_eq(zc_detect_live, 1);
	c[0] ^= 1;
	expect_dirty(c, N);
	cr_assert_eq(zc_detect_live, 0);
	zc_detect_drop_range(a, N, 1); /* nothing left: harmless */
	zc_detect_drop_fd(fd);
	cr_assert_eq(zc_detect_live, 0);
	cr_assert_eq(stat_of(ZC_records_created), 3);
}

Test(detect, stack_record_ends_with_the_write_that_used_it)
{
	int fd = src_file(N);
	char *buf = buffer(N, 16); /* stands in for a stack buffer: only the flag matters here */
	fill(fd, buf, N, 0);
	cr_assert_eq(zc_detect_record(buf, N, fd, 1000 + (uint64_t)fd, 0, 1), 0);
	struct zc_match m;
	cr_assert_eq(zc_detect_match(buf, N, &m), 1);
	cr_assert_eq(m.stack, 1);
	zc_detect_consumed(&m, 1000); /* even a partial send ends it */
	cr_assert_eq(zc_detect_live, 0);
	assert_prot(interior(buf), "rw-", "stack record after its write");
	/* a heap record under the same partial send stays */
	rec(fd, buf, N, 0);
	cr_assert_eq(zc_detect_match(buf, N, &m), 1);
	cr_assert_eq(m.stack, 0);
	zc_detect_consumed(&m, 1000);
	cr_assert_eq(zc_detect_live, 1);
}

/* A record the program changed counts as dirty, the same way whether the change was in the
 * guarded interior (fault) or in the shadowed head: the unused count (step-down) agrees. */
Test(detect, dirty_records_count_the_same_way_head_or_interior)
{
	int fa = src_file(N), fb = src_file(N);
	struct zc_fd_info ia, ib;
	cr_assert_eq(zc_fdtab_get(fa, &ia), 0);
	cr_assert_eq(zc_fdtab_get(fb, &ib), 0);
	char *a = buffer(N, 16), *b = buffer(N, 16);
	fill(fa, a, N, 0);
	fill(fb, b, N, 0);
	cr_assert_eq(zc_detect_record(a, N, fa, ia.gen, 0, 0), 0);
	cr_assert_eq(zc_detect_record(b, N, fb, ib.gen, 0, 0), 0);
	a[0] ^= 1;                /* head */
	poke(interior(b) + 9, 1); /* interior */
	struct zc_match m;
	cr_assert_eq(zc_detect_match(a, N, &m), -1);
	cr_assert_eq(zc_detect_match(b, N, &m), -1);
	cr_assert_eq(stat_of(ZC_records_dirty), 2);
	cr_assert_eq(zc_fdtab_get(fa, &ia), 0);
	cr_assert_eq(zc_fdtab_get(fb, &ib), 0);
	cr_assert_eq(ia.unused, ib.unused, "head-dirty counts %d unused, interior-dirty %d", ia.unused, ib.unused);
	cr_assert_eq(stat_of(ZC_records_unused), 0, "a dirty record is not an unused clean one (records_unused = %lu)",
		     (unsigned long)stat_of(ZC_records_unused));
}
