/* defer.c — a deferred read returns what read would return, moves the file offset as read would,
 * and copies only the unaligned head and tail; the interior stays absent until something touches
 * it (fault.c fills it) or a write sends it from the file (rewrite.c). Only whole reads are
 * deferred: a read that would come back short (the end of the file) is an ordinary read. */
#include "defer.h"
#include "detect.h"
#include "real.h"
#include "shim.h"
#include "stats.h"

#include <sys/stat.h>

#define PAGE 4096UL

/* pread_all — exactly n bytes at off, or 0 (the file ends before: a short read). */
static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	return syscall(SYS_pread64, fd, buf, n, off) == (ssize_t)n;
}

ssize_t zc_defer_read(int fd, void *buf, size_t n, off_t pos, uint64_t gen)
{
	char *b = buf;
	char *lo = (char *)(((uintptr_t)b + PAGE - 1) & ~(PAGE - 1)), *hi = (char *)(((uintptr_t)b + n) & ~(PAGE - 1));
	off_t before = pos;
	if (hi <= lo) return ZC_DEFER_DECLINED;
	if (pos < 0 && (before = zc_real.lseek64(fd, 0, SEEK_CUR)) < 0) return ZC_DEFER_DECLINED;
	/* the tail first: a full tail proves the file holds all n bytes (without it, fstat says) */
	size_t head = (size_t)(lo - b), tail = (size_t)(b + n - hi);
	struct stat st;
	if (tail ? !pread_all(fd, hi, tail, before + (hi - b))
		 : syscall(SYS_fstat, fd, &st) < 0 || st.st_size < before + (off_t)n)
		return ZC_DEFER_DECLINED;
	if (head && !pread_all(fd, b, head, before)) return ZC_DEFER_DECLINED;
	uint64_t id;
	int src = zc_detect_source(fd, gen);
	if (src < 0) {
		zc_count(ZC_fb_table_full, 1);
		return ZC_DEFER_DECLINED;
	}
	int s = zc_detect_defer_begin(buf, n, &id);
	if (s < 0) {
		zc_detect_source_put(src);
		zc_count((enum zc_counter)-s, 1);
		return ZC_DEFER_DECLINED; /* head and tail hold what the ordinary read writes there again */
	}
	zc_detect_defer_commit(s, id, buf, n, fd, gen, before, src);
	if (pos < 0) zc_real.lseek64(fd, before + (off_t)n, SEEK_SET);
	zc_count(ZC_records_created, 1);
	zc_count(ZC_deferred_reads, 1);
	zc_count(ZC_deferred_bytes, (uint64_t)(hi - lo));
	return (ssize_t)n;
}
