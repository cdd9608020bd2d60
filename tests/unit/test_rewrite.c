/* test_rewrite.c — the rewrite engine against real descriptors: a recorded buffer written to a
 * pipe (splice), a TCP socket (sendfile) or a regular file (copy_file_range), with write()'s exact
 * return value, errno, bytes, file offsets and SIGPIPE; headers before file data; continuations;
 * a source truncated between the read and the write; full and closed pipes; a reset peer; bad
 * vectors; flags and destination kinds that must pass through; the policy's thresholds.
 * Each test runs in its own process (Criterion); SIGPIPE is blocked wherever it may be raised. */
#include <criterion/criterion.h>

#include "config.h"
#include "detect.h"
#include "fdtab.h"
#include "guard.h"
#include "lease.h"
#include "policy.h"
#include "real.h"
#include "rewrite.h"
#include "stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "source.h"

/* The write wrapper itself (write, writev, send...), for what only it promises: errno untouched by a
 * rewrite that succeeds. Its names stand in for libc's in this test program; while zc_on is 0 (all
 * but one test) every one of them is the original call. */
#include "interpose_io.c"

#define PG 4096UL
#define N (64 * 1024UL) /* a read of 64 KiB, at page + 16 as glibc hands out large buffers */
#define ERRNO_MARK 4242 /* errno before a call: a success must leave it so */

static void setup(void)
{
	zc_real_resolve();
	zc_stats_init();
	zc_config_defaults(&zc_cfg);
	zc_cfg.mode = ZC_MODE_EAGER;
	zc_cfg.lease = ZC_LEASE_OFF; /* test_lease.c covers leases: here every source is NOT_NEEDED */
	zc_cfg.min_bytes_tcp = 16384;
}

TestSuite(rewrite, .init = setup);

static uint64_t stat_of(enum zc_counter c)
{
	return zc_stat_total(zc_stats, c);
}

static const char *ret_name(ssize_t r)
{
	static char b[64];
	if (r == ZC_PASS) return "ZC_PASS";
	if (r < 0) snprintf(b, sizeof b, "-%s", strerror((int)-r));
	else snprintf(b, sizeof b, "%zd", r);
	return b;
}

/* check_pattern — b[0..n) holds the source bytes from offset off. */
static void check_pattern(const char *b, size_t n, size_t off, const char *what)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq((unsigned char)b[i], pattern(off + i), "%s: byte %zu is %#x, expected %#x", what, i,
			     (unsigned char)b[i], pattern(off + i));
}

/* src_file — an open, unlinked regular file of pattern() bytes, known to the table, lease not needed. */
static struct src src_file(size_t size)
{
	struct src s = source_file(size);
	cr_assert_eq(zc_lease_prepare(s.fd, s.gen, ZC_LS_NONE), ZC_LS_NOT_NEEDED);
	return s;
}

/* dst_file — an empty unlinked regular file opened with flags (O_RDWR and more). */
static int dst_file(int flags)
{
	char path[] = "/tmp/zc_rewrite_dst.XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	int fd2 = open(path, flags);
	cr_assert_geq(fd2, 0);
	close(fd);
	unlink(path);
	return fd2;
}

/* buffer — len bytes at a page boundary + skew, private anonymous memory never unmapped. */
static char *buffer(size_t len, size_t skew)
{
	size_t sz = (len + skew + 2 * PG) & ~(PG - 1);
	char *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	return p + skew;
}

/* rec — what the read wrapper does: prepare, read len bytes at off, record. */
static void rec(struct src s, char *buf, size_t len, off_t off)
{
	int r = zc_detect_prepare(buf, len);
	cr_assert_eq(r, 0, "zc_detect_prepare refused (%s); guard: %s", r > 0 && r < ZC_NCOUNTERS ? zc_counter_names[r] : "?",
		     zc_guard_mechanism());
	size_t got = 0;
	while (got < len) {
		ssize_t k = pread(s.fd, buf + got, len - got, off + (off_t)got);
		cr_assert_gt(k, 0);
		got += (size_t)k;
	}
	r = zc_detect_record(buf, len, s.fd, s.gen, off, 0);
	cr_assert_eq(r, 0, "zc_detect_record refused (%s)", r > 0 && r < ZC_NCOUNTERS ? zc_counter_names[r] : "?");
}

/* recorded — a source of size bytes and a buffer holding its first len bytes, recorded. */
static char *recorded(struct src *s, size_t size, size_t len)
{
	*s = src_file(size);
	char *buf = buffer(len, 16);
	rec(*s, buf, len, 0);
	return buf;
}

/* call — one request through zc_rewrite. */
static ssize_t call(int fd, int kind, const void *p, size_t n, int flags, off_t pos)
{
	struct iovec v = {(void *)p, n};
	struct zc_wreq w = {.fd = fd, .call = kind, .iov = &v, .iovcnt = 1, .flags = flags, .pos = pos};
	return zc_rewrite(&w);
}

static ssize_t rw(int fd, const void *p, size_t n)
{
	return call(fd, ZC_CALL_WRITE, p, n, 0, 0);
}

/* xclose — close as the close wrapper does it: the number no longer names what was classified. */
static void xclose(int fd)
{
	zc_fdtab_forget(fd);
	zc_detect_drop_fd(fd);
	close(fd);
}

/* big_pipe — a pipe that holds 1 MiB, so a blocking splice of a few chunks never waits. */
static void big_pipe(int p[2], int flags)
{
	cr_assert_eq(pipe2(p, flags), 0);
	cr_assert_geq(fcntl(p[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
}

/* read_exact — n bytes from fd (a pipe or socket that holds them already or soon). */
static void read_exact(int fd, char *out, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, out + got, n - got);
		cr_assert_gt(r, 0, "read after %zu of %zu bytes: %zd (%s)", got, n, r, strerror(errno));
		got += (size_t)r;
	}
}

/* tcp_pair — a connected loopback pair; buf > 0 shrinks both buffers before the connection. */
static void tcp_pair(int *snd, int *rcv, int buf)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(l, 0);
	if (buf) cr_assert_eq(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf), 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	cr_assert_eq(listen(l, 1), 0);
	*snd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(*snd, 0);
	if (buf) cr_assert_eq(setsockopt(*snd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf), 0);
	cr_assert_eq(connect(*snd, (struct sockaddr *)&a, sizeof a), 0);
	*rcv = accept(l, NULL, NULL);
	cr_assert_geq(*rcv, 0);
	close(l);
	struct zc_fd_info i;
	cr_assert_eq(zc_fdtab_get(*snd, &i), 0);
	cr_assert_eq(i.kind, ZC_FD_TCP);
}

/* drain — a thread reading a socket to EOF: what the peer received. */
struct drain {
	int fd;
	char *out;
	size_t cap, got;
	pthread_t t;
};

static void *drain_main(void *a)
{
	struct drain *d = a;
	for (;;) {
		ssize_t r = read(d->fd, d->out + d->got, d->cap - d->got);
		if (r <= 0) break;
		d->got += (size_t)r;
		if (d->got == d->cap) {
			char extra;
			if (read(d->fd, &extra, 1) == 1) d->got++; /* more than expected: say so */
			break;
		}
	}
	return NULL;
}

static void drain_start(struct drain *d, int fd, size_t cap)
{
	*d = (struct drain){.fd = fd, .cap = cap, .out = malloc(cap)};
	cr_assert_not_null(d->out);
	cr_assert_eq(pthread_create(&d->t, NULL, drain_main, d), 0);
}

/* drain_end — the sender shuts down its side; the bytes the peer got. */
static size_t drain_end(struct drain *d, int snd)
{
	shutdown(snd, SHUT_WR);
	pthread_join(d->t, NULL);
	return d->got;
}

static void block_sigpipe(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
}

static int sigpipe_pending(void)
{
	sigset_t p;
	cr_assert_eq(sigpending(&p), 0);
	return sigismember(&p, SIGPIPE);
}

/* take_sigpipe — consumes a pending SIGPIPE: 1 if there was one. */
static int take_sigpipe(void)
{
	sigset_t s;
	struct timespec zero = {0, 0};
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	return sigtimedwait(&s, NULL, &zero) == SIGPIPE;
}

/* ---- one kernel call per destination kind ------------------------------------------------------ */

Test(rewrite, recorded_buffer_to_a_pipe_becomes_splice)
{
	struct src s;
	char *buf = recorded(&s, N, N);
	int p[2];
	big_pipe(p, 0);
	ssize_t r = rw(p[1], buf, N);
	cr_assert_eq(r, (ssize_t)N, "write to a pipe returned %s", ret_name(r));
	cr_assert_eq(stat_of(ZC_rw_splice), 1);
	cr_assert_eq(stat_of(ZC_rw_splice_bytes), N);
	cr_assert_eq(stat_of(ZC_rw_sendfile) + stat_of(ZC_rw_copy_file_range), 0);
	cr_assert_eq(stat_of(ZC_bytes_from_buffer), 0);
	char *out = malloc(N);
	read_exact(p[0], out, N);
	check_pattern(out, N, 0, "pipe");
	int left = -1;
	cr_assert_eq(ioctl(p[0], FIONREAD, &left), 0);
	cr_assert_eq(left, 0, "%d bytes more than written", left);
	cr_assert_eq(lseek(s.fd, 0, SEEK_CUR), 0, "the source's offset moved");
	cr_assert_eq(zc_detect_live, 0, "a record consumed to its end is retired");
}

Test(rewrite, recorded_buffer_to_a_tcp_socket_becomes_sendfile)
{
	struct src s;
	char *buf = recorded(&s, N, N);
	int a, b;
	struct drain d;
	tcp_pair(&a, &b, 0);
	drain_start(&d, b, 2 * N);
	ssize_t r = rw(a, buf, N);
	cr_assert_eq(r, (ssize_t)N, "write to TCP returned %s", ret_name(r));
	cr_assert_eq(stat_of(ZC_rw_sendfile), 1);
	cr_assert_eq(stat_of(ZC_rw_sendfile_bytes), N);
	cr_assert_eq(stat_of(ZC_rw_splice) + stat_of(ZC_rw_copy_file_range), 0);
	cr_assert_eq(drain_end(&d, a), N);
	check_pattern(d.out, N, 0, "peer");
}

Test(rewrite, recorded_buffer_to_a_file_is_copy_file_range_at_the_file_position)
{
	struct src s;
	char *buf = recorded(&s, 2 * N, N);
	int dst = dst_file(O_RDWR);
	cr_assert_eq(write(dst, "0123456789", 10), 10);
	ssize_t r = rw(dst, buf, N);
	cr_assert_eq(r, (ssize_t)N, "write to a file returned %s", ret_name(r));
	cr_assert_eq(stat_of(ZC_rw_copy_file_range), 1);
	cr_assert_eq(stat_of(ZC_rw_copy_file_range_bytes), N);
	cr_assert_eq(lseek(dst, 0, SEEK_CUR), 10 + (off_t)N, "the destination's offset must move by n, as write's");
	cr_assert_eq(lseek(s.fd, 0, SEEK_CUR), 0, "the source's offset moved");
	struct stat st;
	cr_assert_eq(fstat(dst, &st), 0);
	cr_assert_eq(st.st_size, 10 + (off_t)N);
	char *out = malloc(N + 10);
	cr_assert_eq(pread(dst, out, N + 10, 0), (ssize_t)N + 10);
	cr_assert_eq(memcmp(out, "0123456789", 10), 0);
	check_pattern(out + 10, N, 0, "file");
}

Test(rewrite, pwrite_of_a_recorded_buffer_lands_at_its_position_and_keeps_the_offset)
{
	struct src s = src_file(2 * N);
	char *buf = buffer(N, 16);
	rec(s, buf, N, (off_t)N); /* the second half of the source */
	int dst = dst_file(O_RDWR);
	cr_assert_eq(write(dst, "abc", 3), 3);
	const off_t at = 3 * (off_t)PG + 7;
	ssize_t r = call(dst, ZC_CALL_PWRITE, buf, N, 0, at);
	cr_assert_eq(r, (ssize_t)N, "pwrite returned %s", ret_name(r));
	cr_assert_eq(stat_of(ZC_rw_copy_file_range), 1);
	cr_assert_eq(lseek(dst, 0, SEEK_CUR), 3, "pwrite must not move the file offset");
	char *out = malloc(N);
	cr_assert_eq(pread(dst, out, N, at), (ssize_t)N);
	check_pattern(out, N, N, "pwrite");
	char gap[8];
	cr_assert_eq(pread(dst, gap, sizeof gap, at - 8), 8);
	for (int k = 0; k < 8; k++) cr_assert_eq(gap[k], 0, "byte %d before the position was written", k);
}

Test(rewrite, append_destination_passes_through)
{
	struct src s;
	char *buf = recorded(&s, N, N);
	int dst = dst_file(O_RDWR | O_APPEND);
	cr_assert_eq(rw(dst, buf, N), ZC_PASS);
	cr_assert_eq(stat_of(ZC_fb_append), 1);
	cr_assert_eq(stat_of(ZC_rw_copy_file_range) + stat_of(ZC_rw_sendfile), 0);
	struct stat st;
	cr_assert_eq(fstat(dst, &st), 0);
	cr_assert_eq(st.st_size, 0, "a pass-through wrote nothing itself");
	/* pwrite too: on Linux an O_APPEND file appends whatever the position */
	cr_assert_eq(call(dst, ZC_CALL_PWRITE, buf, N, 0, 0), ZC_PASS);
	cr_assert_eq(stat_of(ZC_fb_append), 2);
	/* the record is intact for the write that runs instead */
	struct zc_match m;
	cr_assert_eq(zc_detect_match(buf, N, &m), ZC_MATCH_FILE);
}

/* zc_rewrite may change errno on its way (its SIGPIPE bookkeeping); the wrapper that calls it owes
 * the program write()'s errno: untouched by a success, the error of a failure. */
Test(rewrite, write_wrapper_leaves_errno_untouched_on_success)
{
	struct src s;
	char *buf = recorded(&s, 2 * N, 2 * N);
	int p[2], a, b, dst = dst_file(O_RDWR);
	struct drain d;
	big_pipe(p, 0);
	tcp_pair(&a, &b, 0);
	drain_start(&d, b, N + 16);
	ssize_t r[3];
	int e[3];
	zc_on = 1;
	errno = ERRNO_MARK;
	r[0] = write(p[1], buf, N / 2);
	e[0] = errno;
	errno = ERRNO_MARK;
	r[1] = send(a, buf + N / 2, N / 2, MSG_NOSIGNAL);
	e[1] = errno;
	errno = ERRNO_MARK;
	r[2] = write(dst, buf + N, N);
	e[2] = errno;
	zc_on = 0;
	cr_assert_eq(stat_of(ZC_rw_splice), 1);
	cr_assert_eq(stat_of(ZC_rw_sendfile), 1);
	cr_assert_eq(stat_of(ZC_rw_copy_file_range), 1);
	static const char *const what[] = {"write to a pipe", "send to TCP", "write to a file"};
	for (int k = 0; k < 3; k++) {
		cr_assert_eq(r[k], (ssize_t)(k == 2 ? N : N / 2), "%s returned %zd", what[k], r[k]);
		cr_assert_eq(e[k], ERRNO_MARK, "%s: errno %d (%s) after a success", what[k], e[k], strerror(e[k]));
	}
	cr_assert_eq(drain_end(&d, a), N / 2);
	check_pattern(d.out, N / 2, N / 2, "send");
	/* a failure sets it */
	int q[2];
	cr_assert_eq(pipe2(q, O_NONBLOCK), 0);
	char page[PG] = {0};
	while (write(q[1], page, PG) == (ssize_t)PG) continue;
	rec(s, buf, N, 0);
	zc_on = 1;
	errno = ERRNO_MARK;
	ssize_t f = write(q[1], buf, N);
	int fe = errno;
	zc_on = 0;
	cr_assert_eq(f, -1);
	cr_assert_eq(fe, EAGAIN, "errno %d after a full pipe", fe);
}

/* ---- the buffer and the request ---------------------------------------------------------------- */

Test(rewrite, buffer_changed_after_the_read_passes_as_dirty)
{
	struct src s;
	char *buf = recorded(&s, N, N);
	int p[2];
	big_pipe(p, 0);
	*(volatile char *)(buf + 5 * PG) ^= 0x55;
	cr_assert_eq(rw(p[1], buf, N), ZC_PASS);
	cr_assert_eq(stat_of(ZC_fb_dirty), 1);
	cr_assert_eq(stat_of(ZC_rw_splice), 0);
	int q = -1;
	cr_assert_eq(ioctl(p[0], FIONREAD, &q), 0);
	cr_assert_eq(q, 0, "a pass-through sent bytes itself");
	/* a change in the unaligned head too */
	rec(s, buf, N, 0);
	buf[3] ^= 1;
	cr_assert_eq(rw(p[1], buf, N), ZC_PASS);
	cr_assert_eq(stat_of(ZC_fb_dirty), 2);
}

Test(rewrite, header_and_file_writev_to_tcp_go_out_in_order)
{
	static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n";
	const size_t hl = sizeof hdr - 1;
	struct src s;
	char *buf = recorded(&s, N, N);
	int a, b;
	struct drain d;
	tcp_pair(&a, &b, 0);
	drain_start(&d, b, hl + N + 16);
	struct iovec v[2] = {{(void *)hdr, hl}, {buf, N}};
	struct zc_wreq w = {.fd = a, .call = ZC_CALL_WRITEV, .uiov = v, .iovcnt = 2};
	ssize_t r = zc_rewrite(&w);
	cr_assert_eq(r, (ssize_t)(hl + N), "writev returned %s", ret_name(r));
	cr_assert_eq(stat_of(ZC_rw_sendfile), 1);
	cr_assert_eq(stat_of(ZC_rw_sendfile_bytes), N);
	cr_assert_eq(stat_of(ZC_bytes_passthrough), hl);
	cr_assert_eq(drain_end(&d, a), hl + N, "the peer got %zu bytes", d.got);
	cr_assert_eq(memcmp(d.out, hdr, hl), 0, "the header must come first");
	check_pattern(d.out + hl, N, 0, "body");
}

Test(rewrite, sendmsg_of_header_file_trailer_to_tcp_keeps_order)
{
	static const char hdr[] = "chunk-header\r\n", trl[] = "\r\n0\r\n\r\n";
	struct src s;
	char *buf = recorded(&s, N, N);
	int a, b;
	struct drain d;
	tcp_pair(&a, &b, 0);
	const size_t hl = sizeof hdr - 1, tl = sizeof trl - 1;
	drain_start(&d, b, hl + N + tl + 16);
	struct iovec v[3] = {{(void *)hdr, hl}, {buf, N}, {(void *)trl, tl}};
	struct msghdr m = {.msg_iov = v, .msg_iovlen = 3};
	struct zc_wreq w = {.fd = a, .call = ZC_CALL_SENDMSG, .msg = &m, .flags = MSG_NOSIGNAL};
	ssize_t r = zc_rewrite(&w);
	cr_assert_eq(r, (ssize_t)(hl + N + tl), "sendmsg returned %s", ret_name(r));
	cr_assert_eq(stat_of(ZC_rw_sendfile), 1);
	cr_assert_eq(drain_end(&d, a), hl + N + tl);
	cr_assert_eq(memcmp(d.out, hdr, hl), 0);
	check_pattern(d.out + hl, N, 0, "body");
	cr_assert_eq(memcmp(d.out + hl + N, trl, tl), 0, "the trailer must come last");
}

Test(rewrite, write_continuing_a_partial_write_is_matched)
{
	static const size_t ks[] = {5000, 16 + 4 * PG, N - 8 * PG + 3};
	for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
		struct src s;
		char *buf = recorded(&s, N, N);
		int p[2];
		big_pipe(p, 0);
		size_t k = ks[j];
		/* the program wrote the first k bytes itself (a short write), then continues */
		cr_assert_eq(write(p[1], buf, k), (ssize_t)k);
		uint64_t before = stat_of(ZC_rw_splice);
		ssize_t r = rw(p[1], buf + k, N - k);
		cr_assert_eq(r, (ssize_t)(N - k), "continuation at %zu returned %s", k, ret_name(r));
		cr_assert_eq(stat_of(ZC_rw_splice), before + 1, "continuation at %zu was not rewritten", k);
		char *out = malloc(N);
		read_exact(p[0], out, N);
		check_pattern(out, N, 0, "continued");
		free(out);
		cr_assert_eq(zc_detect_live, 0);
		xclose(p[0]); /* no close wrapper here: the table must hear of it */
		xclose(p[1]);
	}
}

Test(rewrite, two_rewrites_of_one_buffer_in_halves)
{
	struct src s;
	char *buf = recorded(&s, N, N);
	int a, b;
	struct drain d;
	tcp_pair(&a, &b, 0);
	drain_start(&d, b, N + 16);
	const size_t k = N / 2 + 100;
	cr_assert_eq(rw(a, buf, k), (ssize_t)k);
	cr_assert_eq(zc_detect_live, 1, "a record sent in part stays");
	cr_assert_eq(rw(a, buf + k, N - k), (ssize_t)(N - k));
	cr_assert_eq(stat_of(ZC_rw_sendfile), 2);
	cr_assert_eq(drain_end(&d, a), N);
	check_pattern(d.out, N, 0, "halves");
}

Test(rewrite, source_truncated_between_read_and_write_finishes_from_the_buffer)
{
	struct src s;
	char *buf = recorded(&s, N, N);
	int a, b;
	struct drain d;
	tcp_pair(&a, &b, 0);
	drain_start(&d, b, N + 16);
	cr_assert_eq(ftruncate(s.fd, (off_t)(N / 2)), 0);
	ssize_t r = rw(a, buf, N);
	cr_assert_eq(r, (ssize_t)N, "write after truncation returned %s", ret_name(r));
	cr_assert_eq(stat_of(ZC_rw_sendfile_bytes), N / 2);
	cr_assert_eq(stat_of(ZC_bytes_from_buffer), N / 2);
	cr_assert_eq(drain_end(&d, a), N, "the peer got %zu bytes", d.got);
	check_pattern(d.out, N, 0, "peer after truncation");
}

Test(rewrite, source_truncated_then_pwrite_to_a_file_finishes_at_the_right_place)
{
	struct src s;
	char *buf = recorded(&s, N, N);
	int dst = dst_file(O_RDWR);
	cr_assert_eq(ftruncate(s.fd, (off_t)(N / 4 + 100)), 0);
	const off_t at = 1000;
	ssize_t r = call(dst, ZC_CALL_PWRITE, buf, N, 0, at);
	cr_assert_eq(r, (ssize_t)N, "pwrite after truncation returned %s", ret_name(r));
	cr_assert_eq(stat_of(ZC_bytes_from_buffer), N - (N / 4 + 100));
	cr_assert_eq(lseek(dst, 0, SEEK_CUR), 0);
	char *out = malloc(N);
	cr_assert_eq(pread(dst, out, N, at), (ssize_t)N);
	check_pattern(out, N, 0, "pwrite after truncation");
	struct stat st;
	cr_assert_eq(fstat(dst, &st), 0);
	cr_assert_eq(st.st_size, at + (off_t)N);
}

/* ---- full, closed and reset destinations -------------------------------------------------------- */

Test(rewrite, nonblocking_full_pipe_gives_eagain_then_a_partial_count)
{
	struct src s;
	char *buf = recorded(&s, N, N);
	int p[2];
	cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
	char page[PG];
	memset(page, 'f', sizeof page);
	size_t filled = 0;
	while (write(p[1], page, sizeof page) == (ssize_t)sizeof page) filled += PG;
	cr_assert_eq(errno, EAGAIN);
	ssize_t r = rw(p[1], buf, N);
	cr_assert_eq(r, -EAGAIN, "write to a full non-blocking pipe returned %s", ret_name(r));
	cr_assert_eq(stat_of(ZC_rw_splice_bytes), 0);
	cr_assert_eq(zc_detect_live, 1, "nothing was sent: the record stays");
	/* room for four pages */
	char *out = malloc(filled + N);
	read_exact(p[0], out, 4 * PG);
	r = rw(p[1], buf, N);
	cr_assert_gt(r, 0, "write with room for 4 pages returned %s", ret_name(r));
	cr_assert_lt(r, (ssize_t)N);
	cr_assert_eq(stat_of(ZC_rw_splice_bytes), (uint64_t)r);
	read_exact(p[0], out, filled - 4 * PG);
	for (size_t i = 0; i < filled - 4 * PG; i++) cr_assert_eq(out[i], 'f');
	read_exact(p[0], out, (size_t)r);
	check_pattern(out, (size_t)r, 0, "partial");
	/* and the program continues with the rest */
	size_t k = (size_t)r;
	ssize_t r2 = rw(p[1], buf + k, N - k);
	cr_assert_gt(r2, 0, "the continuation returned %s", ret_name(r2));
	read_exact(p[0], out, (size_t)r2);
	check_pattern(out, (size_t)r2, k, "continuation");
}

Test(rewrite, pipe_without_reader_is_epipe_with_one_sigpipe)
{
	block_sigpipe();
	struct src s;
	char *buf = recorded(&s, N, N);
	int p[2];
	big_pipe(p, 0);
	close(p[0]);
	cr_assert_not(sigpipe_pending());
	ssize_t r = rw(p[1], buf, N);
	cr_assert_eq(r, -EPIPE, "write to a pipe without reader returned %s", ret_name(r));
	cr_assert(take_sigpipe(), "write raises SIGPIPE: the rewrite must too");
	cr_assert_not(sigpipe_pending(), "SIGPIPE pending twice");
	cr_assert_eq(stat_of(ZC_rw_splice), 0);
	/* the program's mask is as it was: SIGPIPE still blocked */
	sigset_t now;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	cr_assert(sigismember(&now, SIGPIPE));
}

Test(rewrite, socket_shut_for_writing_is_epipe_and_sigpipe_only_without_msg_nosignal)
{
	block_sigpipe();
	struct src s;
	char *buf = recorded(&s, N, N);
	int a, b;
	tcp_pair(&a, &b, 0);
	cr_assert_eq(shutdown(a, SHUT_WR), 0);
	ssize_t r = call(a, ZC_CALL_SEND, buf, N, MSG_NOSIGNAL, 0);
	cr_assert_eq(r, -EPIPE, "send(MSG_NOSIGNAL) on a shut socket returned %s", ret_name(r));
	cr_assert_not(sigpipe_pending(), "send with MSG_NOSIGNAL raised SIGPIPE");
	r = rw(a, buf, N);
	cr_assert_eq(r, -EPIPE, "write on a shut socket returned %s", ret_name(r));
	cr_assert(take_sigpipe(), "write on a shut socket raises SIGPIPE");
	cr_assert_not(sigpipe_pending());
	/* sendmsg with MSG_NOSIGNAL: same as send */
	struct iovec v = {buf, N};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	struct zc_wreq w = {.fd = a, .call = ZC_CALL_SENDMSG, .msg = &m, .flags = MSG_NOSIGNAL};
	cr_assert_eq(zc_rewrite(&w), -EPIPE);
	cr_assert_not(sigpipe_pending(), "sendmsg with MSG_NOSIGNAL raised SIGPIPE");
}

/* A blocked sendfile, a peer that resets: sendfile comes back with a partial count and the error
 * consumed; write would return the count and report ECONNRESET on the next call. */
struct sender {
	int fd;
	char *buf;
	size_t n;
	ssize_t r;
	int sigpipe;
	volatile int done;
};

static void *sender_main(void *a)
{
	struct sender *x = a;
	x->r = rw(x->fd, x->buf, x->n);
	sigset_t p;
	sigpending(&p);
	x->sigpipe = sigismember(&p, SIGPIPE);
	__atomic_store_n(&x->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int outq(int fd)
{
	int q = 0;
	ioctl(fd, TIOCOUTQ, &q);
	return q;
}

Test(rewrite, reset_peer_after_a_partial_sendfile_reports_econnreset_on_the_next_call)
{
	block_sigpipe();
	const size_t big = 4UL << 20;
	struct src s;
	char *buf = recorded(&s, big, big);
	int a, b;
	tcp_pair(&a, &b, 32 * 1024);
	struct sender x = {.fd = a, .buf = buf, .n = big};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, sender_main, &x), 0);
	/* until both buffers are full and the send queue stops growing */
	int last = -1, same = 0;
	for (int k = 0; k < 500 && same < 10; k++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		int q = outq(a);
		same = q == last && q > 0 ? same + 1 : 0;
		last = q;
	}
	cr_assert_not(__atomic_load_n(&x.done, __ATOMIC_ACQUIRE), "4 MiB went through 32 KiB buffers unread");
	struct linger lg = {1, 0};
	cr_assert_eq(setsockopt(b, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	close(b); /* unread data: a reset */
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	cr_assert_eq(pthread_timedjoin_np(t, NULL, &dl), 0, "the sender is still blocked 5 s after the reset");
	cr_assert_gt(x.r, 0, "the partial sendfile returned %s: write returns the count first", ret_name(x.r));
	cr_assert_lt(x.r, (ssize_t)big);
	cr_assert_eq(stat_of(ZC_rw_sendfile_bytes), (uint64_t)x.r);
	cr_assert_not(x.sigpipe, "a reset raises no SIGPIPE in write");
	cr_assert_eq(stat_of(ZC_peer_error_kept), 1);
	cr_assert_eq(zc_fdtab_pending, 1);
	int e = zc_fdtab_take_pending(a);
	cr_assert_eq(e, ECONNRESET, "the next call must report ECONNRESET, not %d (%s)", e, strerror(e));
	cr_assert_eq(zc_fdtab_take_pending(a), 0, "ECONNRESET reported twice");
	cr_assert_eq(zc_fdtab_pending, 0);
}

/* write() to a pipe whose reader goes away after part of the data went in returns the partial
 * count and raises SIGPIPE all the same (fs/pipe.c pipe_write: send_sig before "if (!ret) ret =
 * -EPIPE"); a socket returns the count silently. The rewrite must do what the pipe does. */
Test(rewrite, pipe_reader_gone_after_a_partial_write_returns_the_count_with_sigpipe)
{
	block_sigpipe();
	struct src s;
	char *buf = recorded(&s, N, N);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(fcntl(p[1], F_SETPIPE_SZ, (int)PG), (int)PG);
	struct sender x = {.fd = p[1], .buf = buf, .n = N};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, sender_main, &x), 0);
	struct timespec ts = {0, 200 * 1000 * 1000};
	nanosleep(&ts, NULL);
	cr_assert_not(__atomic_load_n(&x.done, __ATOMIC_ACQUIRE), "64 KiB went into a one-page pipe unread");
	close(p[0]);
	pthread_join(t, NULL);
	cr_assert_gt(x.r, 0, "the reader left after a partial write: write returns the count, not %s", ret_name(x.r));
	cr_assert_lt(x.r, (ssize_t)N);
	cr_assert_eq(stat_of(ZC_rw_splice_bytes), (uint64_t)x.r);
	cr_assert(x.sigpipe, "write(2) to a pipe whose reader left raises SIGPIPE even after a partial count (returned %zd); "
		  "the rewrite returned the count but took the SIGPIPE away", x.r);
}

/* ---- what passes through ------------------------------------------------------------------------- */

Test(rewrite, bad_vector_pointers_pass_without_a_crash)
{
	struct src s;
	char *buf = recorded(&s, N, N);
	int a, b;
	tcp_pair(&a, &b, 0);
	char *none = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(none, MAP_FAILED);
	struct zc_wreq w = {.fd = a, .call = ZC_CALL_WRITEV, .uiov = (const struct iovec *)none, .iovcnt = 2};
	cr_assert_eq(zc_rewrite(&w), ZC_PASS);
	w.uiov = (const struct iovec *)(uintptr_t)8;
	cr_assert_eq(zc_rewrite(&w), ZC_PASS);
	/* a vector that starts readable and runs into the unreadable page */
	struct iovec *edge = (struct iovec *)(none - sizeof(struct iovec));
	char *before = mmap(none - PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (before == none - PG) {
		*edge = (struct iovec){buf, N};
		w.uiov = edge;
		cr_assert_eq(zc_rewrite(&w), ZC_PASS);
	}
	struct zc_wreq m = {.fd = a, .call = ZC_CALL_SENDMSG, .msg = (const struct msghdr *)none};
	cr_assert_eq(zc_rewrite(&m), ZC_PASS);
	struct msghdr h = {.msg_iov = (struct iovec *)none, .msg_iovlen = 1};
	m.msg = &h;
	cr_assert_eq(zc_rewrite(&m), ZC_PASS);
	cr_assert_eq(stat_of(ZC_rw_sendfile), 0);
	cr_assert_eq(zc_detect_live, 1);
}

Test(rewrite, flags_other_than_msg_nosignal_pass)
{
	static const int flags[] = {MSG_DONTWAIT, MSG_MORE, MSG_OOB, MSG_NOSIGNAL | MSG_EOR};
	struct src s;
	char *buf = recorded(&s, N, N);
	int a, b;
	tcp_pair(&a, &b, 0);
	for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
		cr_assert_eq(call(a, ZC_CALL_SEND, buf, N, flags[k], 0), ZC_PASS, "flags %#x", flags[k]);
		cr_assert_eq(stat_of(ZC_fb_flags), k + 1);
	}
	/* sendto with an address: the protocol decides */
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct iovec v = {buf, N};
	struct zc_wreq w = {.fd = a, .call = ZC_CALL_SEND, .iov = &v, .iovcnt = 1, .addr = (struct sockaddr *)&sa, .alen = sizeof sa};
	cr_assert_eq(zc_rewrite(&w), ZC_PASS);
	cr_assert_eq(stat_of(ZC_rw_sendfile), 0);
	/* MSG_NOSIGNAL alone is rewritten */
	struct drain d;
	drain_start(&d, b, N + 16);
	cr_assert_eq(call(a, ZC_CALL_SEND, buf, N, MSG_NOSIGNAL, 0), (ssize_t)N);
	cr_assert_eq(stat_of(ZC_rw_sendfile), 1);
	cr_assert_eq(drain_end(&d, a), N);
	check_pattern(d.out, N, 0, "send");
}

/* send and sendmsg need a socket: on a pipe or a file the original call fails with ENOTSOCK and
 * writes nothing. A rewrite that splices there anyway breaks the contract. */
Test(rewrite, send_on_a_pipe_or_a_file_is_not_rewritten)
{
	struct src s;
	char *buf = recorded(&s, 2 * N, N);
	int p[2];
	big_pipe(p, 0);
	ssize_t r = call(p[1], ZC_CALL_SEND, buf, N, 0, 0);
	int q = -1;
	cr_assert_eq(ioctl(p[0], FIONREAD, &q), 0);
	cr_assert(r == ZC_PASS || r == -ENOTSOCK, "send() on a pipe returned %s; the original call fails with ENOTSOCK", ret_name(r));
	cr_assert_eq(q, 0, "send() on a pipe put %d bytes into it; the original call writes nothing", q);
	int dst = dst_file(O_RDWR);
	r = call(dst, ZC_CALL_SEND, buf, N, 0, 0);
	struct stat st;
	cr_assert_eq(fstat(dst, &st), 0);
	cr_assert(r == ZC_PASS || r == -ENOTSOCK, "send() on a file returned %s; the original call fails with ENOTSOCK", ret_name(r));
	cr_assert_eq(st.st_size, 0, "send() on a file wrote %ld bytes", (long)st.st_size);
}

Test(rewrite, small_transfers_pass)
{
	struct src s;
	char *buf = recorded(&s, N, N);
	int p[2];
	big_pipe(p, 0);
	cr_assert_eq(rw(p[1], buf, PIPE_BUF), ZC_PASS, "a pipe write of PIPE_BUF bytes is atomic: never rewritten");
	cr_assert_eq(stat_of(ZC_fb_small), 1);
	int a, b;
	tcp_pair(&a, &b, 0);
	cr_assert_eq(rw(a, buf, 16383), ZC_PASS);
	cr_assert_eq(stat_of(ZC_fb_small), 2);
	int dst = dst_file(O_RDWR);
	cr_assert_eq(rw(dst, buf, N - 1), ZC_PASS);
	cr_assert_eq(stat_of(ZC_fb_small), 3);
	cr_assert_eq(stat_of(ZC_rw_splice) + stat_of(ZC_rw_sendfile) + stat_of(ZC_rw_copy_file_range), 0);
	/* no record at all */
	static char plain[N];
	cr_assert_eq(rw(p[1], plain, N), ZC_PASS);
	cr_assert_eq(stat_of(ZC_fb_no_record), 1);
}

/* ---- policy --------------------------------------------------------------------------------------- */

Test(rewrite, policy_min_bytes_per_kind)
{
	zc_cfg.min_bytes_tcp = 1000;
	zc_cfg.min_bytes_pipe = 8192;
	zc_cfg.min_bytes_file = 3000;
	zc_cfg.unix_sockets = 0;
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_TCP), 1000);
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_PIPE), 8192);
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_FILE), 3000);
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_UNIX), -1);
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_PROC), -1);
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_OTHER), -1);
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_UNKNOWN), -1);
	zc_cfg.unix_sockets = 1;
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_UNIX), 1000, "AF_UNIX follows the TCP threshold");
	/* pipe writes of at most PIPE_BUF are atomic: never below PIPE_BUF + 1 */
	zc_cfg.min_bytes_pipe = 0;
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_PIPE), PIPE_BUF + 1);
	zc_cfg.min_bytes_pipe = PIPE_BUF;
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_PIPE), PIPE_BUF + 1);
	/* the shipped defaults */
	zc_config_defaults(&zc_cfg);
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_TCP), 262144);
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_PIPE), 4097);
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_FILE), 65536);
	cr_assert_eq(zc_policy_min_bytes(ZC_FD_UNIX), -1);
}

Test(rewrite, policy_dest_rules)
{
	struct iovec v = {NULL, 0};
	struct zc_wreq w = {.call = ZC_CALL_WRITE, .iov = &v, .iovcnt = 1};
	struct zc_fd_info d = {.kind = ZC_FD_TCP};
	cr_assert_eq(zc_policy_dest(&w, &d), 0);
	d.kind = ZC_FD_UNIX;
	cr_assert_eq(zc_policy_dest(&w, &d), ZC_fb_unix_socket);
	zc_cfg.unix_sockets = 1;
	cr_assert_eq(zc_policy_dest(&w, &d), 0);
	d.kind = ZC_FD_OTHER;
	cr_assert_eq(zc_policy_dest(&w, &d), ZC_fb_dest_kind);
	d.kind = ZC_FD_PIPE;
	w.call = ZC_CALL_PWRITE;
	cr_assert_eq(zc_policy_dest(&w, &d), ZC_fb_dest_kind);
	d.kind = ZC_FD_FILE;
	cr_assert_eq(zc_policy_dest(&w, &d), 0);
	w.call = ZC_CALL_SEND;
	d.kind = ZC_FD_TCP;
	w.flags = MSG_NOSIGNAL;
	cr_assert_eq(zc_policy_dest(&w, &d), 0);
	w.flags = MSG_DONTWAIT;
	cr_assert_eq(zc_policy_dest(&w, &d), ZC_fb_flags);
	zc_cfg.mode = ZC_MODE_OFF;
	w.flags = 0;
	cr_assert_eq(zc_policy_dest(&w, &d), ZC_fb_mode_off);
}

Test(rewrite, unix_socket_passes_unless_unix_sockets_is_on)
{
	struct src s;
	char *buf = recorded(&s, N, N);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct zc_fd_info i;
	cr_assert_eq(zc_fdtab_get(sv[0], &i), 0);
	cr_assert_eq(i.kind, ZC_FD_UNIX);
	cr_assert_eq(rw(sv[0], buf, N), ZC_PASS);
	cr_assert_eq(stat_of(ZC_fb_unix_socket), 1);
	cr_assert_eq(stat_of(ZC_rw_sendfile), 0);
	zc_cfg.unix_sockets = 1;
	struct drain d;
	drain_start(&d, sv[1], N + 16);
	ssize_t r = rw(sv[0], buf, N);
	cr_assert_eq(r, (ssize_t)N, "with unix_sockets on: %s", ret_name(r));
	cr_assert_eq(stat_of(ZC_rw_sendfile), 1);
	cr_assert_eq(drain_end(&d, sv[0]), N);
	check_pattern(d.out, N, 0, "unix peer");
	/* a datagram AF_UNIX socket is never a destination */
	int dg[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, dg), 0);
	rec(s, buf, N, 0);
	cr_assert_eq(rw(dg[0], buf, N), ZC_PASS);
	cr_assert_eq(stat_of(ZC_fb_dest_kind), 1);
}
