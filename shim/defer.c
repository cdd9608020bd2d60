/* defer.c — a deferred read returns what read would return, moves the file offset as read would,
 * and copies only the unaligned head and tail; the interior stays absent until something touches
 * it (fault.c fills it) or a write sends it from the file (rewrite.c). Only whole reads are
 * deferred: a read that would come back short (the end of the file) is an ordinary read. */
#include "defer.h"
#include "detect.h"
#include "fdtab.h"
#include "real.h"
#include "shim.h"
#include "stats.h"

#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>

#define PAGE 4096UL
#define CARRIES 64 /* slots by descriptor number: the files a server streams at once */

/* pread_all — exactly n bytes at off, or 0 (the file ends before: a short read). */
static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	return syscall(SYS_pread64, fd, buf, n, off) == (ssize_t)n;
}

/* carry — the file's bytes just after a deferred read's tail, read with that tail in one call: a
 * copy loop's next read into the same malloc'd buffer needs them as its head, which then costs a
 * memcpy instead of a pread. They stay the file's bytes while the descriptor (gen) keeps its read
 * lease: a lease is never granted again to a generation once broken (lease.c), and every open for
 * writing or truncation breaks it first. A slot busy in another thread is simply not used. */
static struct carry {
	int busy, fd;
	uint64_t gen;
	off_t off;  /* the file offset of data[0] */
	size_t len; /* bytes held */
	char data[PAGE];
} carries[CARRIES];

static struct carry *carry_lock(int fd)
{
	struct carry *c = &carries[(unsigned)fd % CARRIES];
	return __atomic_exchange_n(&c->busy, 1, __ATOMIC_ACQUIRE) ? NULL : c;
}

static void carry_unlock(struct carry *c)
{
	__atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
}

/* carry_take — the n bytes at off of fd (generation gen) into b from the slot; 0 if it lacks them. */
static int carry_take(int fd, uint64_t gen, char *b, size_t n, off_t off)
{
	struct carry *c = carry_lock(fd);
	int hit = c && c->fd == fd && c->gen == gen && c->len && off >= c->off && off + (off_t)n <= c->off + (off_t)c->len;
	if (hit) memcpy(b, c->data + (off - c->off), n), zc_count(ZC_deferred_heads_carried, 1);
	if (c) carry_unlock(c);
	return hit;
}

/* read_tail — the tail's n bytes at off into b, and up to next bytes after them into the slot (the
 * head of a next read into the same buffer); 0 if the file ends before the tail does. */
static int read_tail(int fd, uint64_t gen, char *b, size_t n, off_t off, size_t next)
{
	struct carry *c = next ? carry_lock(fd) : NULL;
	if (!c) return pread_all(fd, b, n, off);
	struct iovec v[2] = {{b, n}, {c->data, next}};
	ssize_t r = syscall(SYS_preadv, fd, v, 2, (long)off, 0L); /* (lo, hi) halves of the offset */
	int ok = r >= (ssize_t)n;
	c->fd = fd, c->gen = gen, c->off = off + (off_t)n, c->len = ok ? (size_t)r - n : 0;
	carry_unlock(c);
	return ok;
}

/* position — for read(): moves the offset past the n bytes in one relative lseek; returns the
 * offset the read started at, or -1 with the offset as it was. */
static off_t position(int fd, size_t n)
{
	off_t end = zc_real.lseek64(fd, (off_t)n, SEEK_CUR);
	return end < 0 ? -1 : end - (off_t)n;
}

ssize_t zc_defer_read(int fd, void *buf, size_t n, off_t pos, uint64_t gen, off_t size)
{
	char *b = buf;
	char *lo = (char *)(((uintptr_t)b + PAGE - 1) & ~(PAGE - 1)), *hi = (char *)(((uintptr_t)b + n) & ~(PAGE - 1));
	size_t head = (size_t)(lo - b), tail = (size_t)(b + n - hi);
	uint64_t id;
	if (hi <= lo) return ZC_DEFER_DECLINED;
	/* the interior will come from the shim's duplicate of the file the table knows: fd must still
	 * name it (an fclose or a raw close and a new open reuse numbers unseen). The lease lives on
	 * the open file description the table leased: another one has none (cheaper than fstat, and
	 * the size is the table's: a held lease keeps every writer out) */
	if (zc_raw_fcntl(fd, F_GETLEASE, 0) != F_RDLCK) {
		zc_fdtab_revalidate(fd, gen); /* forgets a stale entry: the next read classifies afresh */
		return ZC_DEFER_DECLINED;
	}
	off_t before = pos >= 0 ? pos : position(fd, n);
	if (before < 0) return ZC_DEFER_DECLINED;
	int s = -1, src = -1;
	if (size < before + (off_t)n) goto declined;
	/* the head from the last read's carry, taken before this read's tail refills the slot */
	if (head && !carry_take(fd, gen, b, head, before) && !pread_all(fd, b, head, before)) goto declined;
	if (tail && !read_tail(fd, gen, hi, tail, before + (hi - b), head)) goto declined;
	if ((src = zc_detect_source(fd, gen)) < 0) {
		zc_count(ZC_fb_table_full, 1);
		goto declined;
	}
	if ((s = zc_detect_defer_begin(buf, n, &id)) < 0) {
		zc_detect_source_put(src);
		zc_count((enum zc_counter)-s, 1);
		goto declined; /* head and tail hold what the ordinary read writes there again */
	}
	if (zc_detect_defer_commit(s, id, buf, n, fd, gen, before, src) < 0) {
		/* the pages are present now, with the old bytes: read the new ones for real */
		if (syscall(SYS_pread64, fd, lo, (size_t)(hi - lo), before + (lo - b)) != hi - lo) goto declined;
		return (ssize_t)n;
	}
	zc_count(ZC_records_created, 1);
	zc_count(ZC_deferred_reads, 1);
	zc_count(ZC_deferred_bytes, (uint64_t)(hi - lo));
	return (ssize_t)n;
declined:
	if (pos < 0) zc_real.lseek64(fd, before, SEEK_SET); /* the ordinary read starts where read would */
	return ZC_DEFER_DECLINED;
}
