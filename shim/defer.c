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

#define PAGE 4096UL

/* pread_all — exactly n bytes at off, or 0 (the file ends before: a short read). */
static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	return syscall(SYS_pread64, fd, buf, n, off) == (ssize_t)n;
}

/* position — for read(): takes the head with read() itself and moves the offset past the n bytes in
 * one relative lseek (two calls where an absolute lseek before and after would need three); returns
 * the offset the read started at, or -1 with the offset as it was. */
static off_t position(int fd, char *b, size_t head, size_t n)
{
	ssize_t r = head ? syscall(SYS_read, fd, b, head) : 0;
	if (r != (ssize_t)head) {
		if (r > 0) zc_real.lseek64(fd, -r, SEEK_CUR);
		return -1;
	}
	off_t end = zc_real.lseek64(fd, (off_t)(n - head), SEEK_CUR);
	if (end < 0) {
		if (head) zc_real.lseek64(fd, -(off_t)head, SEEK_CUR);
		return -1;
	}
	return end - (off_t)n;
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
	off_t before = pos >= 0 ? pos : position(fd, b, head, n);
	if (before < 0) return ZC_DEFER_DECLINED;
	int s = -1, src = -1;
	if (size < before + (off_t)n || (tail && !pread_all(fd, hi, tail, before + (hi - b)))) goto declined;
	if (pos >= 0 && head && !pread_all(fd, b, head, before)) goto declined;
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
