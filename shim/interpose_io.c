/* interpose_io.c — exported read-side and write-side libc names; the hot path of the shim. */
#include "config.h"
#include "defer.h"
#include "detect.h"
#include "fdtab.h"
#include "interpose.h"
#include "mapping.h"
#include "policy.h"
#include "real.h"
#include "rewrite.h"
#include "shim.h"
#include "stats.h"
#include "wgate.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/uio.h>

/* Names libc's headers declare only in fortified or internal builds. */
extern void __chk_fail(void) __attribute__((noreturn));
ssize_t __read(int fd, void *buf, size_t n);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread64(int fd, void *buf, size_t n, off_t pos);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t pos, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t pos, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *a, socklen_t *al);
ssize_t __write(int fd, const void *buf, size_t n);
ssize_t __pwrite64(int fd, const void *buf, size_t n, off_t pos);
ssize_t __send(int fd, const void *buf, size_t n, int flags);

#define MAXIOV 16 /* vectors the shim inspects; longer ones pass through untouched */

/* pending — an error a rewrite consumed on this descriptor, due now (rewrite.c keep_socket_error). */
static int pending(int fd)
{
	return __atomic_load_n(&zc_fdtab_pending, __ATOMIC_RELAXED) ? zc_fdtab_take_pending(fd) : 0;
}

/* record — after a successful read: this buffer now holds bytes [off, off+len) of fd. */
static void record(int fd, uint64_t gen, void *buf, size_t len, off_t off, int stack)
{
	if (len < zc_min_record) return;
	int why = zc_detect_record(buf, len, fd, gen, off, stack);
	if (why) zc_count((enum zc_counter)why, 1);
}

/* raw_read — the original read or pread (pos >= 0); a raw system call before resolution. */
static ssize_t raw_read(int fd, void *buf, size_t n, off_t pos)
{
	if (pos < 0) return zc_real.read ? zc_real.read(fd, buf, n) : zc_raw_read(fd, buf, n);
	return zc_real.pread64 ? zc_real.pread64(fd, buf, n, pos) : syscall(SYS_pread64, fd, buf, n, pos);
}

/* do_read — read or pread (pos >= 0), recording file data. Runs entered. Never inlined: read_call's
 * common path then needs no frame of its size (38 instructions per call instead of 49). */
static __attribute__((noinline)) ssize_t do_read(int fd, void *buf, size_t n, off_t pos, enum zc_counter call)
{
	int saved = errno, e = pending(fd);
	zc_count(call, 1);
	if (e) return errno = e, -1;
	uint32_t epoch = zc_fdtab_epoch(fd); /* the number as the plan below sees it */
	struct zc_read_plan p = n < zc_min_record ? (struct zc_read_plan){0} : zc_policy_read(fd, buf, n);
	if (p.action == ZC_READ_DEFER) {
		/* the buffer's old record is its own business there: a reused one costs nothing. Several
		 * calls on fd, kept whole against a close or dup2 onto it (else an ordinary read) */
		ssize_t r = ZC_DEFER_DECLINED;
		if (zc_fdtab_read_begin(fd, epoch)) {
			r = zc_defer_read(fd, buf, n, pos, p.gen, p.size);
			zc_fdtab_read_end(fd);
		}
		errno = saved;
		if (r != ZC_DEFER_DECLINED) return r;
		p.action = ZC_READ_RECORD;
	}
	kernel_writes(buf, n);
	if (p.action == ZC_READ_RECORD && (p.why = zc_detect_prepare(buf, n))) p.action = ZC_READ_NOTE;
	errno = saved;
	if (p.action != ZC_READ_RECORD) {
		ssize_t r = raw_read(fd, buf, n, pos);
		/* /proc reads come back a page at a time: note them whatever their size */
		if (p.action == ZC_READ_NOTE && (r >= (ssize_t)zc_min_record || (p.why == ZC_fb_proc_source && r > 0))) {
			saved = errno;
			zc_detect_note(buf, (size_t)r, fd, p.gen, p.why);
			errno = saved;
		}
		return r;
	}
	off_t before = pos;
	if (pos < 0 && (before = zc_real.lseek64(fd, 0, SEEK_CUR)) < 0) {
		errno = saved;
		return raw_read(fd, buf, n, pos);
	}
	ssize_t r = raw_read(fd, buf, n, pos);
	if (r <= 0) return r;
	saved = errno;
	/* the offset must have moved by exactly r: else another thread read the same descriptor */
	if (pos >= 0 || zc_real.lseek64(fd, 0, SEEK_CUR) == before + r) record(fd, p.gen, buf, (size_t)r, before, p.stack);
	errno = saved;
	return r;
}

/* matchable — a write could match something: a record (detect.c) or a followed file mapping. */
static inline int matchable(void)
{
	return __atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED) || __atomic_load_n(&zc_map_live, __ATOMIC_RELAXED);
}

/* quiet — nothing recorded and no error kept: a small read or any write has nothing to look at. */
static inline int quiet(void)
{
	return !matchable() && !__atomic_load_n(&zc_fdtab_pending, __ATOMIC_RELAXED);
}

/* unrecorded — why a write of one buffer that matched no record passes: a quick note's reason,
 * else no_record (write's quiet path: nothing built unless this thread made a quick note). */
static enum zc_counter unrecorded(const void *p, size_t n)
{
	if (zc_cfg.mode == ZC_MODE_OFF) return ZC_fb_mode_off;
	if (!zc_detect_quick_live) return ZC_fb_no_record;
	return zc_detect_quick_reason(p, n) ?: ZC_fb_no_record;
}

/* unrecorded_req — unrecorded for a whole request: the first of its buffers with a quick note. A
 * program's vector is copied in as zc_rewrite copies it (it may be unreadable: then no_record). */
static enum zc_counter unrecorded_req(const struct zc_wreq *w)
{
	struct iovec v[MAXIOV];
	struct msghdr h;
	const struct iovec *src = w->uiov;
	size_t cnt = w->iovcnt > 0 ? (size_t)w->iovcnt : 0;
	if (w->iov || zc_cfg.mode == ZC_MODE_OFF || !zc_detect_quick_live)
		return unrecorded(w->iov ? w->iov->iov_base : NULL, w->iov ? w->iov->iov_len : 0);
	if (w->call == ZC_CALL_SENDMSG) {
		if (zc_copy_in(&h, w->msg, sizeof h) < 0) return ZC_fb_no_record;
		src = h.msg_iov, cnt = h.msg_iovlen;
	}
	if (cnt > MAXIOV) cnt = MAXIOV; /* the rest is not looked at, as zc_rewrite passes such a call */
	if (!src || !cnt || zc_copy_in(v, src, cnt * sizeof *v) < 0) return ZC_fb_no_record;
	return zc_detect_quick_reason_iov(v, cnt) ?: ZC_fb_no_record;
}

/* steady_read — a read of a steady source that the policy would note again is counted and done: the
 * reason is noted on this thread, nothing else; any other read goes through do_read, entered. Not
 * inlined, as do_read: read_call's common path keeps its small frame. */
static __attribute__((noinline)) ssize_t steady_read(int fd, void *buf, size_t n, off_t pos, enum zc_counter call)
{
	int why = zc_fdtab_steady(fd);
	if (!why || !zc_policy_steady(why, buf, n) || __atomic_load_n(&zc_fdtab_pending, __ATOMIC_RELAXED)) {
		enter();
		ssize_t r = do_read(fd, buf, n, pos, call);
		leave();
		return r;
	}
	zc_count(call, 1);
	if (why == ZC_fb_stack_buffer) zc_count(ZC_records_skipped_stack, 1); /* as the policy counts it */
	zc_count(ZC_records_skipped_steady, 1);
	enter();
	kernel_writes(buf, n);
	leave();
	ssize_t r = raw_read(fd, buf, n, pos);
	if (r >= (ssize_t)zc_min_record) zc_detect_quick_note(buf, (size_t)r, why); /* as do_read notes */
	return r;
}

/* read_call — read or pread: the common small read with nothing recorded is counted and done;
 * anything else goes through do_read, entered. */
static ssize_t read_call(int fd, void *buf, size_t n, off_t pos, enum zc_counter call)
{
	if (n < zc_min_record && quiet()) {
		zc_count(call, 1);
		return raw_read(fd, buf, n, pos);
	}
	return steady_read(fd, buf, n, pos, call);
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (!zc_active()) return raw_read(fd, buf, n, -1);
	return read_call(fd, buf, n, -1, ZC_calls_read);
}

EXPORT ssize_t __read(int fd, void *buf, size_t n) __attribute__((alias("read")));

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen) __chk_fail();
	return read(fd, buf, n);
}

EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t pos)
{
	if (!zc_active() || pos < 0)
		return zc_real.pread64 ? zc_real.pread64(fd, buf, n, pos) : syscall(SYS_pread64, fd, buf, n, pos);
	return read_call(fd, buf, n, pos, ZC_calls_pread);
}

EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t pos) __attribute__((alias("pread64")));
EXPORT ssize_t __pread64(int fd, void *buf, size_t n, off_t pos) __attribute__((alias("pread64")));

EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t pos, size_t buflen)
{
	if (n > buflen) __chk_fail();
	return pread64(fd, buf, n, pos);
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t pos, size_t buflen) __attribute__((alias("__pread64_chk")));

/* raw_readv — the original readv or preadv (pos >= 0). */
static ssize_t raw_readv(int fd, const struct iovec *iov, int cnt, off_t pos)
{
	if (pos < 0) return zc_real.readv ? zc_real.readv(fd, iov, cnt) : syscall(SYS_readv, fd, iov, cnt);
	return zc_real.preadv64 ? zc_real.preadv64(fd, iov, cnt, pos) : syscall(SYS_preadv, fd, iov, cnt, pos, 0);
}

/* do_readv — readv/preadv: each iovec that received file bytes becomes its own record (or note).
 * The vector is read through the kernel first: a bad one is the call's EFAULT, not our crash. */
static ssize_t do_readv(int fd, const struct iovec *uiov, int cnt, off_t pos)
{
	struct iovec iov[MAXIOV];
	struct zc_read_plan p = {0};
	int saved = errno;
	size_t want = 0;
	zc_count(ZC_calls_readv, 1);
	if (cnt <= 0 || cnt > MAXIOV || zc_copy_in(iov, uiov, (size_t)cnt * sizeof *iov) < 0) {
		errno = saved;
		return raw_readv(fd, uiov, cnt, pos); /* records there die by the guard, not by us */
	}
	for (int k = 0; k < cnt; k++) kernel_writes(iov[k].iov_base, iov[k].iov_len), want += iov[k].iov_len;
	if (want >= zc_min_record) p = zc_policy_read(fd, iov[0].iov_base, want);
	if (p.action == ZC_READ_DEFER) p.action = ZC_READ_RECORD; /* vectors are copied, guarded eagerly */
	for (int k = 0; p.action == ZC_READ_RECORD && k < cnt; k++)
		if (iov[k].iov_len >= zc_min_record) zc_detect_prepare(iov[k].iov_base, iov[k].iov_len);
	off_t before = pos;
	if (p.action == ZC_READ_RECORD && pos < 0 && (before = zc_real.lseek64(fd, 0, SEEK_CUR)) < 0) p.action = ZC_READ_PLAIN;
	errno = saved;
	ssize_t r = raw_readv(fd, uiov, cnt, pos);
	if (r <= 0 || p.action == ZC_READ_PLAIN) return r;
	saved = errno;
	if (p.action == ZC_READ_NOTE || pos >= 0 || zc_real.lseek64(fd, 0, SEEK_CUR) == before + r) {
		size_t left = (size_t)r;
		off_t off = before;
		for (int k = 0; k < cnt && left; k++) {
			size_t got = iov[k].iov_len < left ? iov[k].iov_len : left;
			if (p.action == ZC_READ_RECORD) record(fd, p.gen, iov[k].iov_base, got, off, zc_policy_on_stack(iov[k].iov_base));
			else if (got >= zc_min_record) zc_detect_note(iov[k].iov_base, got, fd, p.gen, p.why);
			off += (off_t)got, left -= got;
		}
	}
	errno = saved;
	return r;
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	if (!zc_active()) return raw_readv(fd, iov, cnt, -1);
	enter();
	ssize_t r = do_readv(fd, iov, cnt, -1);
	leave();
	return r;
}

EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t pos)
{
	if (!zc_active() || pos < 0)
		return zc_real.preadv64 ? zc_real.preadv64(fd, iov, cnt, pos) : syscall(SYS_preadv, fd, iov, cnt, pos, 0);
	enter();
	ssize_t r = do_readv(fd, iov, cnt, pos);
	leave();
	return r;
}

EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t pos) __attribute__((alias("preadv64")));

/* drop_iov — the kernel will fill these buffers: records there end (a vector too long to copy
 * in is left to the guard, which sees every store). Entered. */
static void drop_iov(const struct iovec *uiov, size_t cnt)
{
	struct iovec iov[MAXIOV];
	if (cnt > MAXIOV || zc_copy_in(iov, uiov, cnt * sizeof *iov) < 0) return;
	for (size_t k = 0; k < cnt; k++) kernel_writes(iov[k].iov_base, iov[k].iov_len);
}

/* Without flags preadv2 is readv (pos -1: the file position) or preadv; with them (RWF_NOWAIT may
 * read less, RWF_HIPRI...) nothing is recorded, only what the buffers held is dropped. */
EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off_t pos, int flags)
{
	if (!flags) return pos == -1 ? readv(fd, iov, cnt) : preadv64(fd, iov, cnt, pos);
	if (zc_active()) {
		int saved = errno;
		enter();
		zc_count(ZC_calls_readv, 1);
		if (cnt > 0) drop_iov(iov, (size_t)cnt);
		leave();
		errno = saved;
	}
	if (zc_real.preadv64v2) return zc_real.preadv64v2(fd, iov, cnt, pos, flags);
	return syscall(SYS_preadv2, fd, iov, cnt, (long)pos, (long)((unsigned long long)pos >> 32), flags);
}

EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t pos, int flags) __attribute__((alias("preadv64v2")));

/* recv_gate — receives write into the buffer too: records there die first; returns an error a
 * rewrite kept for this socket (pending), due now instead of the receive. */
static int recv_gate(int fd, void *buf, size_t n)
{
	if (!zc_active()) return 0;
	enter();
	int e = pending(fd);
	zc_count(ZC_calls_recv, 1), kernel_writes(buf, n);
	leave();
	return e;
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	int e = recv_gate(fd, buf, n);
	if (e) return errno = e, -1;
	return zc_real.recv ? zc_real.recv(fd, buf, n, flags) : syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al)
{
	int e = recv_gate(fd, buf, n);
	if (e) return errno = e, -1;
	return zc_real.recvfrom ? zc_real.recvfrom(fd, buf, n, flags, a, al) : syscall(SYS_recvfrom, fd, buf, n, flags, a, al);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen) __chk_fail();
	return recv(fd, buf, n, flags);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *a, socklen_t *al)
{
	if (n > buflen) __chk_fail();
	return recvfrom(fd, buf, n, flags, a, al);
}

/* drop_msg — the buffers of one message header the kernel will fill. Entered. */
static void drop_msg(const struct msghdr *m)
{
	struct msghdr h;
	if (zc_copy_in(&h, m, sizeof h) == 0) drop_iov(h.msg_iov, h.msg_iovlen);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	if (zc_active()) {
		enter();
		int saved = errno;
		zc_count(ZC_calls_recv, 1);
		drop_msg(m);
		int e = pending(fd);
		errno = saved;
		leave();
		if (e) return errno = e, -1;
	}
	return zc_real.recvmsg ? zc_real.recvmsg(fd, m, flags) : syscall(SYS_recvmsg, fd, m, flags);
}

#define MAXMSG 64 /* messages of a recvmmsg whose buffers are dropped; beyond, the guard sees them */

EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags, struct timespec *t)
{
	if (zc_active()) {
		enter();
		int saved = errno;
		zc_count(ZC_calls_recv, 1);
		for (unsigned int i = 0; i < vlen && i < MAXMSG; i++) drop_msg(&v[i].msg_hdr);
		int e = pending(fd);
		errno = saved;
		leave();
		if (e) return errno = e, -1;
	}
	return zc_real.recvmmsg ? zc_real.recvmmsg(fd, v, vlen, flags, t) : (int)syscall(SYS_recvmmsg, fd, v, vlen, flags, t);
}

/* ---- the write side: six libc names, one path ------------------------------------------------ */

/* The original call, exactly as the program made it (raw system call before resolution). */
static ssize_t original(const struct zc_wreq *w)
{
	const struct iovec *v = w->iov;
	switch (w->call) {
	case ZC_CALL_WRITE: return zc_real.write ? zc_real.write(w->fd, v->iov_base, v->iov_len) : zc_raw_write(w->fd, v->iov_base, v->iov_len);
	case ZC_CALL_PWRITE:
		return zc_real.pwrite64 ? zc_real.pwrite64(w->fd, v->iov_base, v->iov_len, w->pos)
					: syscall(SYS_pwrite64, w->fd, v->iov_base, v->iov_len, w->pos);
	case ZC_CALL_WRITEV: return zc_real.writev ? zc_real.writev(w->fd, w->uiov, w->iovcnt) : syscall(SYS_writev, w->fd, w->uiov, w->iovcnt);
	case ZC_CALL_SEND:
		if (zc_real.sendto) return zc_real.sendto(w->fd, v->iov_base, v->iov_len, w->flags, w->addr, w->alen);
		return syscall(SYS_sendto, w->fd, v->iov_base, v->iov_len, w->flags, w->addr, w->alen);
	default: return zc_real.sendmsg ? zc_real.sendmsg(w->fd, w->msg, w->flags) : syscall(SYS_sendmsg, w->fd, w->msg, w->flags);
	}
}

static const enum zc_counter call_counter[] = {
	[ZC_CALL_WRITE] = ZC_calls_write, [ZC_CALL_PWRITE] = ZC_calls_pwrite, [ZC_CALL_WRITEV] = ZC_calls_writev,
	[ZC_CALL_SEND] = ZC_calls_send, [ZC_CALL_SENDMSG] = ZC_calls_sendmsg,
};

/* do_write — counts, tries the rewrite when records exist, else (or when it declines) the original.
 * errno: the rewrite's failure as the original would set it; untouched by a success or a decline. */
static ssize_t do_write(struct zc_wreq *w)
{
	if (!zc_active()) {
		/* a handler's write inside the shim's work, or before load: counted in flight all the
		 * same, so it waits for another thread's split as it would for the socket's lock */
		int g = zc_wgate_enter(w->fd);
		ssize_t r = original(w);
		zc_wgate_leave(w->fd, g);
		return r;
	}
	enter();
	zc_count(call_counter[w->call], 1);
	ssize_t r = ZC_PASS;
	int g = zc_wgate_enter(w->fd), e = pending(w->fd);
	if (e) {
		zc_wgate_leave(w->fd, g);
		leave();
		return errno = e, -1; /* what write reports after the count that a rewrite returned */
	}
	if (!matchable()) {
		zc_fallback(unrecorded_req(w));
	} else {
		int saved = errno;
		r = zc_rewrite(w);
		if (r == ZC_PASS || r >= 0) errno = saved;
		else errno = (int)-r, r = -1;
	}
	if (r == ZC_PASS) {
		kernel_reads(w->iov ? w->iov->iov_base : NULL, w->iov ? w->iov->iov_len : 0);
		r = original(w);
		if (r > 0) zc_count(ZC_bytes_passthrough, (uint64_t)r);
		zc_fallback_bytes(r > 0 ? (uint64_t)r : 0);
		zc_observe_done(r); /* observe mode: what auto would have moved of it */
	}
	zc_wgate_leave(w->fd, g);
	leave();
	return r;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (zc_active() && quiet()) { /* nothing can match: counted, then the original */
		zc_count(ZC_calls_write, 1);
		zc_fallback(unrecorded(buf, n));
		int g = zc_wgate_enter(fd); /* another thread may be splitting a write to fd (wgate.c) */
		ssize_t r = zc_real.write ? zc_real.write(fd, buf, n) : zc_raw_write(fd, buf, n);
		zc_wgate_leave(fd, g);
		if (r > 0) zc_count(ZC_bytes_passthrough, (uint64_t)r);
		zc_fallback_bytes(r > 0 ? (uint64_t)r : 0);
		return r;
	}
	struct iovec v = {(void *)buf, n};
	return do_write(&(struct zc_wreq){.fd = fd, .call = ZC_CALL_WRITE, .iov = &v, .iovcnt = 1});
}

EXPORT ssize_t __write(int fd, const void *buf, size_t n) __attribute__((alias("write")));

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t pos)
{
	struct iovec v = {(void *)buf, n};
	return do_write(&(struct zc_wreq){.fd = fd, .call = ZC_CALL_PWRITE, .iov = &v, .iovcnt = 1, .pos = pos});
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t pos) __attribute__((alias("pwrite64")));
EXPORT ssize_t __pwrite64(int fd, const void *buf, size_t n, off_t pos) __attribute__((alias("pwrite64")));

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	return do_write(&(struct zc_wreq){.fd = fd, .call = ZC_CALL_WRITEV, .uiov = iov, .iovcnt = cnt});
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	struct iovec v = {(void *)buf, n};
	return do_write(&(struct zc_wreq){.fd = fd, .call = ZC_CALL_SEND, .iov = &v, .iovcnt = 1, .flags = flags});
}

EXPORT ssize_t __send(int fd, const void *buf, size_t n, int flags) __attribute__((alias("send")));

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t al)
{
	struct iovec v = {(void *)buf, n};
	return do_write(&(struct zc_wreq){.fd = fd, .call = ZC_CALL_SEND, .iov = &v, .iovcnt = 1, .flags = flags, .addr = a, .alen = al});
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	return do_write(&(struct zc_wreq){.fd = fd, .call = ZC_CALL_SENDMSG, .msg = m, .flags = flags});
}

/* ---- write-side names the engine does not rewrite: the original call, counted ------------------ */

/* pass_begin — counts the call and notes its writer (a socket's second writer must be known before
 * a rewrite splits it); a socket error a rewrite consumed is due now: returned as an errno value. */
static int pass_begin(int fd, enum zc_counter c, int sock)
{
	if (!zc_active()) return 0;
	int saved = errno, e = 0;
	enter();
	zc_count(c, 1);
	if (sock) e = pending(fd);
	if (matchable()) zc_fdtab_note_writer(fd, zc_tid());
	leave();
	errno = saved;
	return e;
}

/* gate — the write-side call on fd counted in flight (wgate.c), when the shim is at work here. */
static int gate(int fd)
{
	return zc_active() ? zc_wgate_enter(fd) : 0;
}

/* pass_end — the bytes the original call moved, counted as passed through. */
static ssize_t pass_end(ssize_t r)
{
	if (r > 0 && zc_active()) zc_count(ZC_bytes_passthrough, (uint64_t)r);
	return r;
}

/* pwritev writes at a position: no socket (ESPIPE), no pending error to report. */
EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t pos)
{
	pass_begin(fd, ZC_calls_writev, 0);
	return pass_end(zc_real.pwritev64 ? zc_real.pwritev64(fd, iov, cnt, pos) : syscall(SYS_pwritev, fd, iov, cnt, (long)pos, 0L));
}

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t pos) __attribute__((alias("pwritev64")));

/* Without flags at the file position pwritev2 is writev, rewritten like it. */
EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t pos, int flags)
{
	if (pos == -1 && !flags) return writev(fd, iov, cnt);
	int e = pass_begin(fd, ZC_calls_writev, pos == -1);
	if (e) return errno = e, -1;
	int g = gate(fd);
	ssize_t r = zc_real.pwritev64v2 ? zc_real.pwritev64v2(fd, iov, cnt, pos, flags)
					: syscall(SYS_pwritev2, fd, iov, cnt, (long)pos, (long)((unsigned long long)pos >> 32), flags);
	zc_wgate_leave(fd, g);
	return pass_end(r);
}

EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t pos, int flags) __attribute__((alias("pwritev64v2")));

EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags)
{
	int e = pass_begin(fd, ZC_calls_sendmsg, 1);
	if (e) return errno = e, -1;
	int g = gate(fd);
	int r = zc_real.sendmmsg ? zc_real.sendmmsg(fd, v, vlen, flags) : (int)syscall(SYS_sendmmsg, fd, v, vlen, flags);
	zc_wgate_leave(fd, g);
	for (int i = 0; i < r; i++) pass_end(v[i].msg_len); /* the kernel just wrote them */
	return r;
}

/* The program's own zero-copy calls pass through, counted. */
EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t n)
{
	if (zc_active()) zc_count(ZC_calls_sendfile, 1);
	int g = gate(out);
	ssize_t r = zc_real.sendfile64 ? zc_real.sendfile64(out, in, off, n) : syscall(SYS_sendfile, out, in, off, n);
	zc_wgate_leave(out, g);
	return r;
}

EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n) __attribute__((alias("sendfile64")));

EXPORT ssize_t splice(int in, off_t *inoff, int out, off_t *outoff, size_t n, unsigned int fl)
{
	if (zc_active()) zc_count(ZC_calls_splice, 1);
	int g = gate(out);
	ssize_t r = zc_real.splice ? zc_real.splice(in, inoff, out, outoff, n, fl) : syscall(SYS_splice, in, inoff, out, outoff, n, fl);
	zc_wgate_leave(out, g);
	return r;
}

EXPORT ssize_t copy_file_range(int in, off_t *inoff, int out, off_t *outoff, size_t n, unsigned int fl)
{
	if (zc_active()) zc_count(ZC_calls_copy_file_range, 1);
	return zc_real.copy_file_range ? zc_real.copy_file_range(in, inoff, out, outoff, n, fl)
				       : syscall(SYS_copy_file_range, in, inoff, out, outoff, n, fl);
}
