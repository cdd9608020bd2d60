/* interpose_io.c — exported read-side and write-side libc names; the hot path of the shim. */
#include "config.h"
#include "detect.h"
#include "fdtab.h"
#include "lease.h"
#include "real.h"
#include "rewrite.h"
#include "shim.h"
#include "stats.h"

#include <fcntl.h>
#include <sys/sendfile.h>

#define EXPORT __attribute__((visibility("default")))

extern void __chk_fail(void) __attribute__((noreturn));
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t pos, size_t buflen);

/* on_stack — the buffer lies in the calling thread's stack, above our frame (callers' frames). */
static int on_stack(const void *p)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	return (uintptr_t)p >= sp && (uintptr_t)p < sp + (8UL << 20);
}

/* may_record — a read from fd into a buffer may leave a record; takes the lease first if needed.
 * *stack: the buffer is on the stack (guarded only with stack_buffers = on, see zcshim.conf).
 * Returns 1: record; 0: nothing to remember; else the fallback counter a note should carry. */
static int may_record(int fd, const void *buf, size_t n, uint64_t *gen, int *stack)
{
	struct zc_fd_info i;
	if (zc_cfg.mode == ZC_MODE_OFF || n < zc_min_record) return 0;
	int kind = zc_fdtab_kind(fd);
	if (kind == ZC_FD_PROC) return ZC_fb_proc_source; /* sizes lie and sendfile refuses: say so */
	if (kind != ZC_FD_FILE) return 0;
	*stack = on_stack(buf);
	if (*stack && !zc_cfg.stack_buffers) {
		zc_count(ZC_records_skipped_stack, 1);
		return ZC_fb_stack_buffer;
	}
	/* the table copy below is the slow part: only files get that far */
	if (zc_fdtab_get(fd, &i) < 0 || (i.flags & O_DIRECT) || i.unused >= 8) return 0;
	*gen = i.gen;
	/* below guard_min_bytes a protect/unprotect pair costs more than the copy it saves */
	if ((long)n < zc_cfg.guard_min_bytes) return ZC_fb_small;
	/* guard only sources whose bytes were seen going out: files read for parsing stay untouched */
	if (!i.proven_min) return ZC_fb_probation;
	/* and only reads big enough for the destination their copy loop writes to */
	if ((long)n < i.proven_min) return ZC_fb_small;
	zc_depth++;
	int ls = zc_lease_prepare(fd, i.gen, i.lease);
	zc_depth--;
	if (ls == ZC_LS_BROKEN) return ZC_fb_lease_broken;
	if (ls == ZC_LS_INHERITED) return ZC_fb_lease_inherited;
	if (ls == ZC_LS_DENIED && zc_cfg.lease == ZC_LEASE_REQUIRE) return ZC_fb_lease_denied;
	return 1;
}

/* record — after a successful read: this buffer now holds bytes [off, off+len) of fd. */
static void record(int fd, uint64_t gen, void *buf, size_t len, off_t off, int stack)
{
	if (len < zc_min_record) return;
	zc_depth++;
	int why = zc_detect_record(buf, len, fd, gen, off, stack);
	if (why) zc_count((enum zc_counter)why, 1);
	zc_depth--;
}

/* note — remembers why the bytes just read will not be rewritten (errno kept). */
static void note(void *buf, size_t len, int fd, uint64_t gen, int reason)
{
	int saved = errno;
	zc_detect_note(buf, len, fd, gen, reason);
	errno = saved;
}

/* do_read — read or pread (pos >= 0), recording file data. */
static ssize_t do_read(int fd, void *buf, size_t n, off_t pos, enum zc_counter call)
{
	uint64_t gen = 0;
	int stack;
	zc_count(call, 1);
	if (__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) zc_detect_drop_range(buf, n, 1); /* the kernel writes there */
	int may = n < zc_min_record ? 0 : may_record(fd, buf, n, &gen, &stack);
	if (may != 1) {
		ssize_t r = pos < 0 ? zc_real.read(fd, buf, n) : zc_real.pread64(fd, buf, n, pos);
		/* /proc reads come back a page at a time: note them whatever their size */
		if (may && (r >= (ssize_t)zc_min_record || (may == ZC_fb_proc_source && r > 0))) note(buf, (size_t)r, fd, gen, may);
		return r;
	}
	int saved = errno;
	off_t before = pos;
	if (pos < 0 && (before = zc_real.lseek64 ? zc_real.lseek64(fd, 0, SEEK_CUR) : -1) < 0) {
		errno = saved;
		return zc_real.read(fd, buf, n);
	}
	ssize_t r = pos < 0 ? zc_real.read(fd, buf, n) : zc_real.pread64(fd, buf, n, pos);
	if (r <= 0) return r;
	saved = errno;
	/* the offset must have moved by exactly r: else another thread read the same descriptor */
	if (pos >= 0 || zc_real.lseek64(fd, 0, SEEK_CUR) == before + r) record(fd, gen, buf, (size_t)r, before, stack);
	errno = saved;
	return r;
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (!zc_active()) return zc_real.read ? zc_real.read(fd, buf, n) : zc_raw_read(fd, buf, n);
	return do_read(fd, buf, n, -1, ZC_calls_read);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen) __chk_fail();
	return read(fd, buf, n);
}

EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t pos)
{
	if (!zc_active() || pos < 0)
		return zc_real.pread64 ? zc_real.pread64(fd, buf, n, pos) : syscall(SYS_pread64, fd, buf, n, pos);
	return do_read(fd, buf, n, pos, ZC_calls_pread);
}

EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t pos) __attribute__((alias("pread64")));

EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t pos, size_t buflen)
{
	if (n > buflen) __chk_fail();
	return pread64(fd, buf, n, pos);
}

/* do_readv — readv/preadv: each iovec that received file bytes becomes its own record (or note). */
static ssize_t do_readv(int fd, const struct iovec *iov, int cnt, off_t pos)
{
	uint64_t gen = 0;
	int stack, may = 0;
	size_t want = 0;
	zc_count(ZC_calls_readv, 1);
	for (int k = 0; k < cnt; k++) zc_detect_drop_range(iov[k].iov_base, iov[k].iov_len, 1), want += iov[k].iov_len;
	if (cnt >= 1 && want >= zc_min_record) may = may_record(fd, iov[0].iov_base, want, &gen, &stack);
	int saved = errno;
	off_t before = pos;
	if (may == 1 && pos < 0 && (before = zc_real.lseek64(fd, 0, SEEK_CUR)) < 0) may = 0;
	errno = saved;
	ssize_t r = pos < 0 ? zc_real.readv(fd, iov, cnt) : zc_real.preadv64(fd, iov, cnt, pos);
	if (r <= 0 || !may) return r;
	saved = errno;
	if (may != 1 || pos >= 0 || zc_real.lseek64(fd, 0, SEEK_CUR) == before + r) {
		size_t left = (size_t)r;
		off_t off = before;
		for (int k = 0; k < cnt && left; k++) {
			size_t got = iov[k].iov_len < left ? iov[k].iov_len : left;
			if (may == 1) record(fd, gen, iov[k].iov_base, got, off, on_stack(iov[k].iov_base));
			else if (got >= zc_min_record) zc_detect_note(iov[k].iov_base, got, fd, gen, may);
			off += (off_t)got, left -= got;
		}
	}
	errno = saved;
	return r;
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	if (!zc_active() || cnt < 0) return zc_real.readv ? zc_real.readv(fd, iov, cnt) : syscall(SYS_readv, fd, iov, cnt);
	return do_readv(fd, iov, cnt, -1);
}

EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t pos)
{
	if (!zc_active() || cnt < 0 || pos < 0) return zc_real.preadv64(fd, iov, cnt, pos);
	return do_readv(fd, iov, cnt, pos);
}

EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t pos) __attribute__((alias("preadv64")));

/* Receives write into the buffer too: records there die first. */
EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	if (zc_active()) zc_count(ZC_calls_recv, 1), zc_detect_drop_range(buf, n, 1);
	return zc_real.recv(fd, buf, n, flags);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al)
{
	if (zc_active()) zc_count(ZC_calls_recv, 1), zc_detect_drop_range(buf, n, 1);
	return zc_real.recvfrom(fd, buf, n, flags, a, al);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	if (zc_active()) {
		zc_count(ZC_calls_recv, 1);
		for (size_t k = 0; m && k < m->msg_iovlen; k++) zc_detect_drop_range(m->msg_iov[k].iov_base, m->msg_iov[k].iov_len, 1);
	}
	return zc_real.recvmsg(fd, m, flags);
}

/* passed — counts the bytes an original call moved. */
static ssize_t passed(ssize_t r)
{
	if (r > 0) zc_count(ZC_bytes_passthrough, (uint64_t)r);
	return r;
}

/* no_records — the common case: nothing was recorded, so nothing can match; one counter, no work. */
static inline int no_records(void)
{
	if (__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) return 0;
	zc_count(zc_cfg.mode == ZC_MODE_OFF ? ZC_fb_mode_off : ZC_fb_no_record, 1);
	return 1;
}

/* try_rewrite — ZC_PASS, or the rewritten call's result with errno set as the original would. */
static ssize_t try_rewrite(const struct zc_wreq *w)
{
	if (no_records()) return ZC_PASS;
	int saved = errno;
	zc_depth++;
	ssize_t r = zc_rewrite(w);
	zc_depth--;
	if (r == ZC_PASS) errno = saved;
	else if (r < 0) errno = (int)-r, r = -1;
	else errno = saved; /* success leaves errno as it was */
	return r;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (!zc_active()) return zc_real.write ? zc_real.write(fd, buf, n) : zc_raw_write(fd, buf, n);
	zc_count(ZC_calls_write, 1);
	if (no_records()) return passed(zc_real.write(fd, buf, n));
	struct iovec v = {(void *)buf, n};
	struct zc_wreq w = {.fd = fd, .call = ZC_CALL_WRITE, .iov = &v, .iovcnt = 1};
	ssize_t r = try_rewrite(&w);
	return r != ZC_PASS ? r : passed(zc_real.write(fd, buf, n));
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t pos)
{
	if (!zc_active()) return zc_real.pwrite64(fd, buf, n, pos);
	zc_count(ZC_calls_pwrite, 1);
	struct iovec v = {(void *)buf, n};
	struct zc_wreq w = {.fd = fd, .call = ZC_CALL_PWRITE, .iov = &v, .iovcnt = 1, .pos = pos};
	ssize_t r = pos < 0 ? ZC_PASS : try_rewrite(&w);
	return r != ZC_PASS ? r : passed(zc_real.pwrite64(fd, buf, n, pos));
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t pos) __attribute__((alias("pwrite64")));

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (!zc_active()) return zc_real.writev ? zc_real.writev(fd, iov, cnt) : syscall(SYS_writev, fd, iov, cnt);
	zc_count(ZC_calls_writev, 1);
	struct zc_wreq w = {.fd = fd, .call = ZC_CALL_WRITEV, .iov = iov, .iovcnt = cnt};
	ssize_t r = try_rewrite(&w);
	return r != ZC_PASS ? r : passed(zc_real.writev(fd, iov, cnt));
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	if (!zc_active()) return zc_real.send(fd, buf, n, flags);
	zc_count(ZC_calls_send, 1);
	struct iovec v = {(void *)buf, n};
	struct zc_wreq w = {.fd = fd, .call = ZC_CALL_SEND, .iov = &v, .iovcnt = 1, .flags = flags};
	ssize_t r = try_rewrite(&w);
	return r != ZC_PASS ? r : passed(zc_real.send(fd, buf, n, flags));
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t al)
{
	if (!zc_active()) return zc_real.sendto(fd, buf, n, flags, a, al);
	zc_count(ZC_calls_send, 1);
	struct iovec v = {(void *)buf, n};
	struct zc_wreq w = {.fd = fd, .call = ZC_CALL_SEND, .iov = &v, .iovcnt = 1, .flags = flags};
	ssize_t r = a ? ZC_PASS : try_rewrite(&w); /* an address: leave the protocol to decide */
	return r != ZC_PASS ? r : passed(zc_real.sendto(fd, buf, n, flags, a, al));
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	if (!zc_active()) return zc_real.sendmsg(fd, m, flags);
	zc_count(ZC_calls_sendmsg, 1);
	ssize_t r = ZC_PASS;
	if (m && !m->msg_name && !m->msg_controllen && m->msg_iovlen <= 1024) {
		struct zc_wreq w = {.fd = fd, .call = ZC_CALL_SENDMSG, .iov = m->msg_iov, .iovcnt = (int)m->msg_iovlen, .flags = flags};
		r = try_rewrite(&w);
	}
	return r != ZC_PASS ? r : passed(zc_real.sendmsg(fd, m, flags));
}

/* The program's own zero-copy calls pass through, counted. */
EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t n)
{
	if (zc_active()) zc_count(ZC_calls_sendfile, 1);
	return zc_real.sendfile64(out, in, off, n);
}

EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n) __attribute__((alias("sendfile64")));

EXPORT ssize_t splice(int in, off_t *inoff, int out, off_t *outoff, size_t n, unsigned int fl)
{
	if (zc_active()) zc_count(ZC_calls_splice, 1);
	return zc_real.splice(in, inoff, out, outoff, n, fl);
}

EXPORT ssize_t copy_file_range(int in, off_t *inoff, int out, off_t *outoff, size_t n, unsigned int fl)
{
	if (zc_active()) zc_count(ZC_calls_copy_file_range, 1);
	return zc_real.copy_file_range(in, inoff, out, outoff, n, fl);
}
