/* test_detect.c — the record table over the userfaultfd guard: recording a read, matching write
 * ranges (whole, sub-range, continuation), changes by the program or the kernel (interior pages
 * through the guard, the unaligned head and tail through the shadow copy), consumption, drops,
 * notes, a full table, threads, fork. Each test runs in its own process (Criterion). */
#include <criterion/criterion.h>

#include "config.h"
#include "detect.h"
#include "fdtab.h"
#include "guard.h"
#include "real.h"
#include "stats.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "source.h"

#define PG 4096UL
#define N (64 * 1024UL) /* a read of 64 KiB, at page + 16 as glibc hands out large buffers */

static void setup(void)
{
	zc_real_resolve();
	zc_stats_init();
	zc_config_defaults(&zc_cfg);
}

TestSuite(detect, .init = setup);

static const char *kind_name(int k)
{
	static const char *const n[] = {"NONE", "FILE", "CHANGED", "NOTE", "UNKNOWN"};
	return k >= 0 && k <= ZC_MATCH_UNKNOWN ? n[k] : "?";
}

static struct src src_file(size_t size)
{
	struct src s = source_file(size);
	return s;
}

/* buffer — len bytes at a page boundary + skew, with a spare page after; private anonymous memory
 * that is never unmapped while a record may point at it. */
static char *buffer(size_t len, size_t skew)
{
	size_t sz = (len + skew + 2 * PG) & ~(PG - 1);
	char *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	return p + skew;
}

/* interior — first byte of the page-aligned interior of a buffer. */
static char *interior(char *buf)
{
	return (char *)(((uintptr_t)buf + PG - 1) & ~(PG - 1));
}

/* fill — reads len bytes of the source at off into buf, as the program's read() did. */
static void fill(struct src s, char *buf, size_t len, off_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(s.fd, buf + got, len - got, off + (off_t)got);
		cr_assert_gt(r, 0);
		got += (size_t)r;
	}
}

/* rec_as — what the read wrapper does: prepare, read, record; the record must be made. */
static void rec_as(struct src s, char *buf, size_t len, off_t off, int stack)
{
	int r = zc_detect_prepare(buf, len);
	cr_assert_eq(r, 0, "zc_detect_prepare refused (%d = %s); guard: %s", r,
		     r > 0 && r < ZC_NCOUNTERS ? zc_counter_names[r] : "?", zc_guard_mechanism());
	fill(s, buf, len, off);
	r = zc_detect_record(buf, len, s.fd, s.gen, off, stack);
	cr_assert_eq(r, 0, "zc_detect_record refused (%d = %s)", r, r > 0 && r < ZC_NCOUNTERS ? zc_counter_names[r] : "?");
}

static void rec(struct src s, char *buf, size_t len, off_t off)
{
	rec_as(s, buf, len, off, 0);
}

static uint64_t stat_of(enum zc_counter c)
{
	return zc_stat_total(zc_stats, c);
}

static unsigned live(void)
{
	return __atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED);
}

/* poke — one store the compiler cannot drop or move. */
static void poke(char *p, char v)
{
	*(volatile char *)p = v;
}

static int match(const void *p, size_t n, struct zc_match *m)
{
	memset(m, 0xa5, sizeof *m);
	return zc_detect_match(p, n, m);
}

/* expect_file — [p, p+n) matches a clean record of s with this source offset and distance to its end. */
static struct zc_match expect_file(const void *p, size_t n, struct src s, off_t off, size_t to_end)
{
	struct zc_match m;
	int k = match(p, n, &m);
	cr_assert_eq(k, ZC_MATCH_FILE, "match(%p, %zu) = %s, expected FILE", p, n, kind_name(k));
	cr_assert_eq(m.src_fd, s.fd);
	cr_assert_eq(m.src_gen, s.gen);
	cr_assert_eq(m.off, off, "match(%p, %zu): off %ld, expected %ld", p, n, (long)m.off, (long)off);
	cr_assert_eq(m.to_end, to_end, "match(%p, %zu): to_end %zu, expected %zu", p, n, m.to_end, to_end);
	cr_assert_eq(m.stack, 0);
	return m;
}

static void expect_kind(const void *p, size_t n, int want)
{
	struct zc_match m;
	int k = match(p, n, &m);
	cr_assert_eq(k, want, "match(%p, %zu) = %s, expected %s", p, n, kind_name(k), kind_name(want));
}

/* ---- recording and matching ------------------------------------------------------------------ */

Test(detect, record_then_match_whole_range_and_sub_ranges)
{
	struct src s = src_file(2 * N);
	char *buf = buffer(N, 16);
	off_t o = 3 * (off_t)PG + 5;
	cr_assert_eq(live(), 0);
	rec(s, buf, N, o);
	cr_assert_eq(live(), 1);
	cr_assert_eq(stat_of(ZC_records_created), 1);
	for (size_t i = 0; i < N; i += 997) cr_assert_eq((unsigned char)buf[i], pattern((size_t)o + i));
	expect_file(buf, N, s, o, N);
	expect_file(buf, N, s, o, N); /* matching does not consume */
	expect_file(buf + 1000, 5000, s, o + 1000, N - 1000);                /* head into interior */
	expect_file(buf, 10, s, o, N);                                       /* head only */
	expect_file(interior(buf) + 3 * PG, PG, s, o + (interior(buf) - buf) + 3 * (off_t)PG,
		    N - (size_t)(interior(buf) - buf) - 3 * PG);             /* interior pages only */
	expect_file(buf + N - 8, 8, s, o + (off_t)N - 8, 8);                 /* tail only */
	expect_file(buf + N - 5000, 4000, s, o + (off_t)N - 5000, 5000);     /* interior into tail */
	expect_file(buf + 1, N - 2, s, o + 1, N - 1);
	cr_assert_eq(live(), 1);
	cr_assert_eq(stat_of(ZC_records_dirty), 0);
}

Test(detect, continuation_of_a_partial_write_matches)
{
	static const size_t ks[] = {1, 15, 16, 4080, 4081, 4096, 30000, N - PG, N - 17, N - 1};
	struct src s = src_file(N);
	char *buf = buffer(N, 16);
	rec(s, buf, N, 0);
	for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
		struct zc_match m = expect_file(buf + ks[j], N - ks[j], s, (off_t)ks[j], N - ks[j]);
		zc_detect_consumed(&m, 0); /* a write that sent nothing keeps the record */
	}
	cr_assert_eq(live(), 1);
}

Test(detect, ranges_outside_or_across_the_record_do_not_match_and_keep_it)
{
	struct src s = src_file(N);
	char *buf = buffer(N, 16);
	rec(s, buf, N, 0);
	expect_kind(buf + N - 10, 20, ZC_MATCH_NONE); /* crosses the end */
	expect_kind(buf, N + 1, ZC_MATCH_NONE);
	expect_kind(buf - 1, 10, ZC_MATCH_NONE); /* starts before */
	expect_kind(buf + N, 100, ZC_MATCH_NONE); /* just after */
	cr_assert_eq(live(), 1, "a miss must not drop the record");
	expect_file(buf, N, s, 0, N);
}

Test(detect, page_aligned_buffer_without_head_or_tail)
{
	struct src s = src_file(4 * PG);
	char *buf = buffer(2 * PG, 0);
	rec(s, buf, 2 * PG, (off_t)PG);
	expect_file(buf, 2 * PG, s, (off_t)PG, 2 * PG);
	poke(buf + PG, 'x');
	expect_kind(buf, 2 * PG, ZC_MATCH_CHANGED);
	/* less than a whole page: nothing to guard */
	char *small = buffer(PG, 16);
	cr_assert_eq(zc_detect_prepare(small, PG), ZC_fb_no_interior);
	cr_assert_eq(zc_detect_record(small, PG, s.fd, s.gen, 0, 0), ZC_fb_no_interior);
	cr_assert_eq(live(), 0);
}

/* ---- changes --------------------------------------------------------------------------------- */

Test(detect, store_into_the_interior_is_changed_and_retires_the_record)
{
	struct src s = src_file(N);
	char *buf = buffer(N, 16);
	rec(s, buf, N, 0);
	poke(interior(buf) + 5000, 'X');
	cr_assert_eq(buf[interior(buf) - buf + 5000], 'X', "the store must land");
	cr_assert_eq(live(), 1, "nothing happens until a write asks");
	expect_kind(buf, N, ZC_MATCH_CHANGED);
	cr_assert_eq(live(), 0, "a changed record is retired");
	cr_assert_eq(stat_of(ZC_records_dirty), 1);
	cr_assert_eq(stat_of(ZC_records_dropped), 1);
	expect_kind(buf, N, ZC_MATCH_NONE); /* gone: the next write is an ordinary one */
	cr_assert_eq(stat_of(ZC_records_dirty), 1);
	/* the next read records the buffer again and it is trusted again */
	rec(s, buf, N, 0);
	expect_file(buf, N, s, 0, N);
}

Test(detect, store_into_the_unaligned_head_is_changed_by_the_shadow_copy)
{
	struct src s = src_file(N);
	char *buf = buffer(N, 16);
	rec(s, buf, N, 0);
	buf[0] ^= 0x5a;
	expect_kind(buf, N, ZC_MATCH_CHANGED);
	cr_assert_eq(live(), 0);
	cr_assert_eq(stat_of(ZC_records_dirty), 1);

	/* the last head byte, next to the interior */
	rec(s, buf, N, 0);
	size_t h = (size_t)(interior(buf) - buf);
	buf[h - 1] ^= 1;
	expect_kind(buf + h - 1, 2, ZC_MATCH_CHANGED);
	cr_assert_eq(stat_of(ZC_records_dirty), 2);
}

Test(detect, store_into_the_unaligned_tail_is_changed_by_the_shadow_copy)
{
	struct src s = src_file(N);
	char *buf = buffer(N, 16);
	rec(s, buf, N, 0);
	buf[N - 1] ^= 0x5a;
	expect_kind(buf + PG, N - PG, ZC_MATCH_CHANGED);
	cr_assert_eq(live(), 0);
	/* the first tail byte, next to the interior */
	rec(s, buf, N, 0);
	char *hi = (char *)(((uintptr_t)buf + N) & ~(PG - 1));
	*hi ^= 1;
	expect_kind(hi, 1, ZC_MATCH_CHANGED);
	cr_assert_eq(stat_of(ZC_records_dirty), 2);
}

Test(detect, a_changed_head_byte_outside_the_write_or_put_back_is_not_a_change)
{
	struct src s = src_file(N);
	char *buf = buffer(N, 16);
	rec(s, buf, N, 0);
	buf[0] ^= 1;
	expect_file(buf + 1, N - 1, s, 1, N - 1); /* the continuation sends only unchanged bytes */
	buf[0] ^= 1;
	expect_file(buf, N, s, 0, N); /* the same byte again */
	cr_assert_eq(stat_of(ZC_records_dirty), 0);
}

Test(detect, store_into_a_page_outside_the_write_does_not_change_the_pages_written)
{
	struct src s = src_file(N);
	char *buf = buffer(N, 16);
	rec(s, buf, N, 0);
	char *in = interior(buf);
	poke(in + 10, 'Q'); /* first interior page */
	/* a write of the pages after it is still the file's bytes */
	off_t o2 = (in - buf) + 2 * (off_t)PG;
	expect_file(in + 2 * PG, N - (size_t)o2, s, o2, N - (size_t)o2);
	expect_file(in + PG, PG, s, (in - buf) + (off_t)PG, N - (size_t)(in - buf) - PG);
	expect_file(buf + N - 100, 100, s, (off_t)N - 100, 100);
	cr_assert_eq(live(), 1);
	cr_assert_eq(stat_of(ZC_records_dirty), 0);
	/* a write that includes the changed page is not */
	expect_kind(in, 2 * PG, ZC_MATCH_CHANGED);
	cr_assert_eq(live(), 0);
}

Test(detect, kernel_write_into_the_buffer_is_changed)
{
	struct src s = src_file(N), other = src_file(N);
	char *buf = buffer(N, 16);
	rec(s, buf, N, 0);
	/* a read the shim did not see (another library, a raw system call) overwrites part of it */
	cr_assert_eq(pread(other.fd, interior(buf) + 3 * PG, 100, 1), 100);
	expect_kind(buf, N, ZC_MATCH_CHANGED);
	/* recv likewise */
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	rec(s, buf, N, 0);
	cr_assert_eq(send(sv[0], "xyz", 3, 0), 3);
	cr_assert_eq(recv(sv[1], interior(buf) + PG, 3, 0), 3);
	expect_kind(buf, N, ZC_MATCH_CHANGED);
	cr_assert_eq(stat_of(ZC_records_dirty), 2);
	close(sv[0]);
	close(sv[1]);
}

Test(detect, memory_dropped_or_replaced_behind_the_table_is_changed)
{
	struct src s = src_file(N);
	char *buf = buffer(N, 16);
	rec(s, buf, N, 0);
	cr_assert_eq(madvise(interior(buf) + PG, PG, MADV_DONTNEED), 0); /* the allocator gave it back */
	expect_kind(buf, N, ZC_MATCH_CHANGED);
	rec(s, buf, N, 0);
	char *q = mmap(interior(buf) + 2 * PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	cr_assert_eq(q, interior(buf) + 2 * PG);
	expect_kind(buf, N, ZC_MATCH_CHANGED);
	cr_assert_eq(stat_of(ZC_records_dirty), 2);
	cr_assert_eq(live(), 0);
}

/* A buffer in shared memory can change without a write in this address space: it must not be
 * guarded, or the change must be seen; never a FILE match over bytes that are no longer the file's. */
Test(detect, shared_memory_buffer_changed_through_another_mapping_never_matches_as_file)
{
	struct src s = src_file(N);
	int mfd = memfd_create("zc_detect", 0);
	cr_assert_geq(mfd, 0);
	cr_assert_eq(ftruncate(mfd, (off_t)(N + 2 * PG)), 0);
	char *a = mmap(NULL, N + 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	char *b = mmap(NULL, N + 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	cr_assert_neq(a, MAP_FAILED);
	cr_assert_neq(b, MAP_FAILED);
	char *buf = a + 16;
	if (zc_detect_prepare(buf, N) != 0) return; /* refused: the read passes through */
	fill(s, buf, N, 0);
	if (zc_detect_record(buf, N, s.fd, s.gen, 0, 0) != 0) return;
	poke(b + 16 + 3 * PG, (char)~pattern(3 * PG)); /* another process sharing the buffer */
	cr_assert_neq((unsigned char)buf[3 * PG], pattern(3 * PG));
	struct zc_match m;
	int k = match(buf, N, &m);
	cr_assert_neq(k, ZC_MATCH_FILE, "a MAP_SHARED buffer was recorded and, after its bytes changed through another "
		      "mapping, still matches as FILE: the file's bytes would be sent instead of the buffer's");
}

/* ---- consumption and drops ---------------------------------------------------------------------- */

Test(detect, consumed_to_the_end_retires)
{
	struct src s = src_file(N);
	char *buf = buffer(N, 16);
	rec(s, buf, N, 0);
	struct zc_match m = expect_file(buf, N, s, 0, N);
	zc_detect_consumed(&m, N / 2); /* a short write keeps the record */
	cr_assert_eq(live(), 1);
	m = expect_file(buf + N / 2, N - N / 2, s, (off_t)(N / 2), N - N / 2); /* the program continues */
	zc_detect_consumed(&m, N - N / 2);
	cr_assert_eq(live(), 0);
	expect_kind(buf, N, ZC_MATCH_NONE);
	cr_assert_eq(stat_of(ZC_records_unused), 0, "a consumed record is not unused");
	cr_assert_eq(stat_of(ZC_records_dirty), 0);
	struct zc_fd_info i;
	cr_assert_eq(zc_fdtab_get(s.fd, &i), 0);
	cr_assert_eq(i.unused, 0);
}

Test(detect, stack_record_ends_with_the_write_that_used_it)
{
	struct src s = src_file(N);
	char *buf = buffer(N, 16); /* stands in for a stack buffer: only the flag matters here */
	rec_as(s, buf, N, 0, 1);
	struct zc_match m;
	cr_assert_eq(match(buf, N, &m), ZC_MATCH_FILE);
	cr_assert_eq(m.stack, 1);
	zc_detect_consumed(&m, 1000); /* even a partial send ends it */
	cr_assert_eq(live(), 0);
}

Test(detect, stale_match_never_consumes_a_reused_slot)
{
	struct src s = src_file(2 * N);
	char *a = buffer(N, 16), *b = buffer(N, 16);
	rec(s, a, N, 0);
	struct zc_match ma = expect_file(a, N, s, 0, N);
	zc_detect_drop_range(a, N);
	rec(s, b, N, (off_t)N); /* most likely the same slot */
	struct zc_match mb = expect_file(b, N, s, (off_t)N, N);
	cr_assert_eq(ma.slot, mb.slot, "the freed slot is the lowest free one");
	cr_assert_neq(ma.id, mb.id);
	zc_detect_consumed(&ma, N);
	cr_assert_eq(live(), 1, "a stale match consumed someone else's record");
	expect_file(b, N, s, (off_t)N, N);
}

Test(detect, drop_range_retires_overlapping_records_only)
{
	struct src s = src_file(2 * N + PG);
	char *big = buffer(2 * N, 16), *other = buffer(N, 16);
	rec(s, big, N, 0);
	rec(s, big + N, N, (off_t)N); /* adjacent: shares a page with the first, not a byte */
	rec(s, other, N, 0);
	cr_assert_eq(live(), 3);
	zc_detect_drop_range(other + N, 100); /* just after */
	zc_detect_drop_range(other - 100, 100); /* just before */
	cr_assert_eq(live(), 3);
	expect_kind(big + N - 100, 200, ZC_MATCH_NONE); /* spans both: no single record holds it */
	zc_detect_drop_range(big + N - 1, 2); /* the last byte of one, the first of the other */
	cr_assert_eq(live(), 1);
	expect_kind(big, N, ZC_MATCH_NONE);
	expect_kind(big + N, N, ZC_MATCH_NONE);
	expect_file(other, N, s, 0, N);
	cr_assert_eq(stat_of(ZC_records_dropped), 2);
	cr_assert_eq(stat_of(ZC_records_unused), 2, "guarded records retired before any write are unused");
	zc_detect_drop_range(other + N - 1, 1);
	cr_assert_eq(live(), 0);
	zc_detect_drop_range(other, N); /* nothing left: harmless */
	cr_assert_eq(live(), 0);
	cr_assert_eq(stat_of(ZC_records_dropped), 3);
}

Test(detect, drop_fd_retires_that_sources_records_and_notes)
{
	struct src a = src_file(N), b = src_file(N);
	char *a1 = buffer(N, 16), *a2 = buffer(N, 16), *b1 = buffer(N, 16);
	static char note[200];
	rec(a, a1, N, 0);
	rec(a, a2, N, 0);
	rec(b, b1, N, 0);
	zc_detect_note(note, sizeof note, a.fd, a.gen, ZC_fb_probation);
	cr_assert_eq(live(), 4);
	zc_detect_drop_fd(a.fd);
	cr_assert_eq(live(), 1);
	expect_kind(a1, N, ZC_MATCH_NONE);
	expect_kind(a2, N, ZC_MATCH_NONE);
	expect_kind(note, sizeof note, ZC_MATCH_NONE);
	expect_file(b1, N, b, 0, N);
	cr_assert_eq(stat_of(ZC_records_dropped), 3);
	cr_assert_eq(stat_of(ZC_records_unused), 2);
	struct zc_fd_info i;
	cr_assert_eq(zc_fdtab_get(a.fd, &i), 0);
	cr_assert_eq(i.unused, 2, "the source learns that two of its records died unused");
	zc_detect_drop_fd(a.fd); /* again: nothing left */
	zc_detect_drop_fd(b.fd);
	cr_assert_eq(live(), 0);
}

/* ---- notes and a full table -------------------------------------------------------------------- */

Test(detect, note_matches_as_a_note_with_its_reason)
{
	struct src s = src_file(N);
	char *buf = buffer(N, 16);
	zc_detect_note(buf, N, s.fd, s.gen, ZC_fb_lease_denied);
	cr_assert_eq(live(), 1);
	cr_assert_eq(stat_of(ZC_records_created), 0, "a note is not a record");
	struct zc_match m;
	cr_assert_eq(match(buf + 100, 1000, &m), ZC_MATCH_NOTE);
	cr_assert_eq(m.reason, ZC_fb_lease_denied);
	cr_assert_eq(m.src_fd, s.fd);
	cr_assert_eq(m.src_gen, s.gen);
	cr_assert_eq(live(), 1, "a note is not consumed by matching");
	expect_kind(buf + N - 10, 20, ZC_MATCH_NONE);
	/* a note replaces the records it overlaps */
	char *b2 = buffer(N, 16);
	rec(s, b2, N, 0);
	zc_detect_note(b2 + 100, 100, s.fd, s.gen, ZC_fb_small);
	cr_assert_eq(live(), 2);
	cr_assert_eq(match(b2 + 100, 100, &m), ZC_MATCH_NOTE);
	cr_assert_eq(m.reason, ZC_fb_small);
	expect_kind(b2, N, ZC_MATCH_NONE);
}

Test(detect, full_table_reuses_a_notes_slot_and_the_counts_stay_consistent)
{
	static char notes[ZC_MAX_RECORDS][64];
	struct src s = src_file(ZC_MAX_RECORDS * PG);
	char *pages = buffer(ZC_MAX_RECORDS * PG, 0);
	cr_assert_eq(zc_detect_prepare(pages, ZC_MAX_RECORDS * PG), 0);
	fill(s, pages, ZC_MAX_RECORDS * PG, 0);
	for (int k = 0; k < ZC_MAX_RECORDS; k++) zc_detect_note(notes[k], sizeof notes[k], s.fd, s.gen, ZC_fb_probation);
	cr_assert_eq(live(), ZC_MAX_RECORDS, "the table is full of notes");
	zc_detect_note(pages, 64, s.fd, s.gen, ZC_fb_small); /* one more note: no room, no wrap */
	cr_assert_eq(live(), ZC_MAX_RECORDS);
	/* every record takes a note's slot */
	for (int k = 0; k < ZC_MAX_RECORDS; k++) {
		int r = zc_detect_record(pages + (size_t)k * PG, PG, s.fd, s.gen, (off_t)(k * PG), 0);
		cr_assert_eq(r, 0, "record %d refused (%s)", k, r > 0 && r < ZC_NCOUNTERS ? zc_counter_names[r] : "?");
		cr_assert_eq(live(), ZC_MAX_RECORDS, "record %d: live %u", k, live());
	}
	cr_assert_eq(stat_of(ZC_records_created), ZC_MAX_RECORDS);
	for (int k = 0; k < ZC_MAX_RECORDS; k += 97) expect_kind(notes[k], 64, ZC_MATCH_NONE);
	for (int k = 0; k < ZC_MAX_RECORDS; k += 97) expect_file(pages + (size_t)k * PG, PG, s, (off_t)(k * PG), PG);
	/* full of records: a record and a note are refused, nothing is evicted */
	char *extra = buffer(2 * PG, 0);
	cr_assert_eq(zc_detect_prepare(extra, 2 * PG), 0);
	fill(s, extra, 2 * PG, 0);
	cr_assert_eq(zc_detect_record(extra, 2 * PG, s.fd, s.gen, 0, 0), ZC_fb_table_full);
	zc_detect_note(notes[0], 64, s.fd, s.gen, ZC_fb_probation);
	cr_assert_eq(live(), ZC_MAX_RECORDS);
	cr_assert_eq(stat_of(ZC_records_created), ZC_MAX_RECORDS);
	/* retire them every way there is: changed, consumed, dropped */
	uint64_t dropped0 = stat_of(ZC_records_dropped);
	poke(pages + 5 * PG, 1);
	expect_kind(pages + 5 * PG, PG, ZC_MATCH_CHANGED);
	struct zc_match m = expect_file(pages + 6 * PG, PG, s, 6 * (off_t)PG, PG);
	zc_detect_consumed(&m, PG);
	cr_assert_eq(live(), ZC_MAX_RECORDS - 2);
	zc_detect_drop_range(pages, ZC_MAX_RECORDS * PG);
	cr_assert_eq(live(), 0, "live %u after every record was retired", live());
	cr_assert_eq(stat_of(ZC_records_dirty), 1);
	cr_assert_eq(stat_of(ZC_records_dropped) - dropped0, 1 + (ZC_MAX_RECORDS - 2));
	/* records retired unused: at most those dropped (one drop reports at most UNUSED_MAX of them to
	 * the step-down, detect.c, and the counter follows it) */
	cr_assert_geq(stat_of(ZC_records_unused), 1);
	cr_assert_leq(stat_of(ZC_records_unused), ZC_MAX_RECORDS - 2);
	zc_detect_drop_range(pages, ZC_MAX_RECORDS * PG);
	zc_detect_drop_fd(s.fd);
	cr_assert_eq(live(), 0, "live wrapped to %u", live());
	/* and the table works again from empty */
	rec(s, extra, 2 * PG, 0);
	cr_assert_eq(live(), 1);
}

/* ---- threads ----------------------------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 1500

struct worker {
	struct src s;
	char *buf[2];
	unsigned long bad; /* first failure: round * 16 + what, 0 if none */
};

static pthread_barrier_t go;

/* worker — one copy loop: read into a buffer, sometimes change it, sometimes lose it, write. */
static void *worker(void *a)
{
	struct worker *w = a;
	pthread_barrier_wait(&go);
	for (unsigned long r = 1; r <= ROUNDS && !w->bad; r++) {
		char *b = w->buf[r & 1];
		size_t len = 3 * PG;
		off_t off = (off_t)((r % 5) * PG);
		if (zc_detect_prepare(b, len)) { w->bad = r * 16 + 1; break; }
		if (pread(w->s.fd, b, len, off) != (ssize_t)len) { w->bad = r * 16 + 2; break; }
		if (zc_detect_record(b, len, w->s.fd, w->s.gen, off, 0)) { w->bad = r * 16 + 3; break; }
		struct zc_match m;
		int k;
		switch (r % 4) {
		case 0: /* sent in two writes */
			if (zc_detect_match(b, len, &m) != ZC_MATCH_FILE || m.off != off) { w->bad = r * 16 + 4; break; }
			zc_detect_consumed(&m, PG);
			k = zc_detect_match(b + PG, len - PG, &m);
			if (k != ZC_MATCH_FILE || m.off != off + (off_t)PG || m.to_end != len - PG) { w->bad = r * 16 + 5; break; }
			zc_detect_consumed(&m, len - PG);
			break;
		case 1: /* changed in the interior */
			poke(b + PG + 8, 'c');
			if (zc_detect_match(b, len, &m) != ZC_MATCH_CHANGED) w->bad = r * 16 + 6;
			break;
		case 2: /* changed in the head */
			b[0] ^= 1;
			if (zc_detect_match(b, len, &m) != ZC_MATCH_CHANGED) w->bad = r * 16 + 7;
			break;
		case 3: /* the buffer is freed before any write; the other one stays live meanwhile */
			zc_detect_drop_range(b, len);
			if (zc_detect_match(b, len, &m) != ZC_MATCH_NONE) w->bad = r * 16 + 8;
			break;
		}
	}
	zc_detect_drop_range(w->buf[0], 3 * PG);
	zc_detect_drop_range(w->buf[1], 3 * PG);
	return NULL;
}

static volatile int sampling;
static unsigned max_seen;

static void *sampler(void *a)
{
	(void)a;
	while (__atomic_load_n(&sampling, __ATOMIC_ACQUIRE)) {
		unsigned v = live();
		if (v > max_seen) max_seen = v;
	}
	return NULL;
}

Test(detect, four_threads_recording_and_matching_keep_live_consistent)
{
	struct worker w[THREADS];
	pthread_t t[THREADS], smp;
	pthread_barrier_init(&go, NULL, THREADS);
	for (int k = 0; k < THREADS; k++) {
		w[k] = (struct worker){.s = src_file(8 * PG)};
		w[k].buf[0] = buffer(3 * PG, 0);
		w[k].buf[1] = buffer(3 * PG, 0);
	}
	sampling = 1;
	cr_assert_eq(pthread_create(&smp, NULL, sampler, NULL), 0);
	for (int k = 0; k < THREADS; k++) cr_assert_eq(pthread_create(&t[k], NULL, worker, &w[k]), 0);
	for (int k = 0; k < THREADS; k++) pthread_join(t[k], NULL);
	__atomic_store_n(&sampling, 0, __ATOMIC_RELEASE);
	pthread_join(smp, NULL);
	for (int k = 0; k < THREADS; k++)
		cr_assert_eq(w[k].bad, 0, "thread %d: round %lu, step %lu failed", k, w[k].bad / 16, w[k].bad % 16);
	cr_assert_eq(live(), 0, "live %u after every thread retired its records", live());
	cr_assert_leq(max_seen, 2 * THREADS, "live reached %u with at most %d records in flight", max_seen, 2 * THREADS);
	uint64_t created = stat_of(ZC_records_created);
	cr_assert_eq(created, (uint64_t)THREADS * ROUNDS);
	/* rounds 1 and 2 of every 4 are changes; every record is accounted for exactly once */
	cr_assert_eq(stat_of(ZC_records_dirty), (uint64_t)THREADS * (ROUNDS / 2));
}

/* ---- fork ------------------------------------------------------------------------------------------ */

/* child_checks — in the forked child after the pthread_atfork hooks: the number of the first failed check. */
static int child_checks(struct src s, char *a, char *b, char *note, char *c)
{
	struct zc_match m;
	if (live() != 1) return 1; /* the note only */
	if (zc_detect_match(a, N, &m) != ZC_MATCH_NONE) return 2;
	if (zc_detect_match(b, N, &m) != ZC_MATCH_NONE) return 3;
	if (zc_detect_match(note, 100, &m) != ZC_MATCH_NOTE || m.reason != ZC_fb_probation) return 4;
	/* the child records on its own */
	if (zc_detect_prepare(c, N)) return 5;
	if (pread(s.fd, c, N, 0) != (ssize_t)N) return 6;
	if (zc_detect_record(c, N, s.fd, s.gen, 0, 0)) return 7;
	if (zc_detect_match(c, N, &m) != ZC_MATCH_FILE || m.to_end != N) return 8;
	poke(interior(c) + PG, 'k');
	if (zc_detect_match(c, N, &m) != ZC_MATCH_CHANGED) return 9;
	if (live() != 1) return 10;
	return 0;
}

Test(detect, forked_child_keeps_notes_and_loses_guarded_records)
{
	struct src s = src_file(N);
	char *a = buffer(N, 16), *b = buffer(N, 16), *c = buffer(N, 16);
	static char note[200];
	rec(s, a, N, 0);
	zc_detect_note(note, sizeof note, s.fd, s.gen, ZC_fb_probation);
	rec(s, b, N, 0);
	cr_assert_eq(live(), 3);
	pid_t p = fork(); /* no prepare hook: nothing is locked across fork */
	if (p == 0) {
		zc_detect_atfork_child();
		zc_guard_atfork_child();
		_exit(child_checks(s, a, b, note, c));
	}
	cr_assert_geq(p, 0);
	int st;
	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFEXITED(st), "the child died: status %#x", st);
	cr_assert_eq(WEXITSTATUS(st), 0, "child check %d failed", WEXITSTATUS(st));
	/* the parent's table is as it was */
	cr_assert_eq(live(), 3);
	expect_file(a, N, s, 0, N);
	expect_file(b, N, s, 0, N);
	expect_kind(note, 100, ZC_MATCH_NOTE);
	poke(interior(b), 'p');
	expect_kind(b, N, ZC_MATCH_CHANGED);
}
