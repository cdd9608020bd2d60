/* copyloop.c — a legacy-style copy program that writes a transcript of every call it makes, and
 * the TCP receiver it is tested against. Used by tests/e2e/test_copyloop.sh and test_faults.sh.
 *
 * usage: copyloop send --src PATH --dst tcp:PORT|stdout|file:PATH|append:PATH [options]
 *        copyloop recv --port-file PATH --out PATH [options]
 *
 * send options:
 *   --rd read|pread|readv|readv2     read call (readv2: two iovecs, halves of the chunk)
 *   --wr write|writev|send|send-nosignal|sendmsg|pwrite
 *   --chunk N[K|M]                   bytes asked per read (default 64K)
 *   --buf aligned|malloc|fresh|stack|alt|page16
 *        aligned: one page-aligned buffer; malloc: one malloc'd buffer reused; fresh: a new malloc
 *        per chunk, freed after its write; stack: a VLA; alt: two aligned buffers used in turn
 *        (like nginx); page16: page + 16 so the buffer has an unaligned head and tail
 *   --pair                           --buf alt with writev/sendmsg: two chunks read into the two
 *                                    buffers, then written by one call (nginx's output_buffers 2)
 *   --header TEXT [--header-every]   writev/sendmsg: a header iov before the data of the first
 *                                    (or every) chunk
 *   --nonblock                       O_NONBLOCK destination; EAGAIN -> poll(POLLOUT) and resend
 *                                    from where the partial write stopped
 *   --sndbuf N                       SO_SNDBUF before connect
 *   --threads 2 [--src2 PATH]        two threads, each with its own source and connection
 *   --fork                           each chunk is written by a child forked after the read
 *   --sigalrm-us N                   SIGALRM every N µs, handler installed without SA_RESTART
 *   --sigpipe ignore|default
 *   --log PATH                       the transcript (see below)
 *   --expect PATH                    every byte a write reported as written, in order
 *   --ctl PREFIX                     handshake files for the "handshake" fault
 *   --fault K:OP[:ARG]               before the write of chunk K (0-based); repeatable, in order:
 *        flip-all | flip-mid | flip-head | flip-tail   XOR 0x5a into every / the middle / the
 *                                                       first / the last byte of the chunk
 *        handshake          create PREFIX.ready.K, wait (30 s at most) for PREFIX.go.K
 *        sleep:MS
 *        close-reopen:PATH  close(src) then open(PATH): the number is reused
 *        fclose-reopen:PATH fclose(fdopen(src)) (a close the shim cannot see), then open(PATH)
 *        rawclose-reopen:PATH  syscall(SYS_close) then open(PATH)
 *        dup2:PATH | rawdup2:PATH   open PATH and dup2 it over src (libc / raw syscall)
 *        alarm:MS           one-shot SIGALRM MS ms later; the chunk's first write is timed
 *        fionbio            ioctl(FIONBIO) makes the destination non-blocking (a change the shim
 *                           does not see); EAGAIN is waited for from then on, as with --nonblock
 *
 * Transcript, one line per event, written with raw syscalls so the shim never sees them:
 *   "open src 3" / "open dst 4"                 descriptors as the program got them
 *   "r read 65536 65536 -"                       read-side call, requested, returned, errno
 *   "w writev 65600 -1 EAGAIN", "w poll 1 -"    write-side calls (timing dependent)
 *   "chunk 3 read=65536 sent=65600 src_pos=262144 dst_pos=-"   after every chunk
 *   "fault 3 flip-mid", "child 3 exit 0"
 *   "# ..."                                      informational, never compared ("# pid N" first)
 *   "exit 0" / "exit 1 EPIPE"                    the program's final status
 * With --threads every line starts with "t0 " or "t1 ".
 * Exit status: 0 done, 1 a call failed (named on the exit line), 2 bad options, 3 setup/timeout.
 *
 * recv options: --conns N (outputs PATH.0, PATH.1... when N > 1), --rate BYTES:MS (read at most
 * BYTES then sleep MS), --rcvbuf N, --close-after N (read N bytes, shutdown(SHUT_WR), close),
 * --stall AFTER:MS (after AFTER bytes stop reading for MS), --timeout S (default 60).
 * The chosen port is written to --port-file once listening. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "progs.h"

#define MAX_FAULTS 16
#define MAX_STACK_CHUNK (4u << 20)
#define HIGH_FD 500 /* the transcript and expect files live here, out of the program's numbering */

enum rd { RD_READ, RD_PREAD, RD_READV, RD_READV2 };
enum wr { WR_WRITE, WR_WRITEV, WR_SEND, WR_SEND_NOSIG, WR_SENDMSG, WR_PWRITE };
enum bufkind { BUF_ALIGNED, BUF_MALLOC, BUF_FRESH, BUF_STACK, BUF_ALT, BUF_PAGE16 };
enum dstkind { DST_TCP, DST_STDOUT, DST_FILE, DST_APPEND };

static const char *const rd_names[] = {"read", "pread", "readv", "readv2", NULL};
static const char *const wr_names[] = {"write", "writev", "send", "send-nosignal", "sendmsg", "pwrite", NULL};
static const char *const buf_names[] = {"aligned", "malloc", "fresh", "stack", "alt", "page16", NULL};

struct fault {
	long chunk;
	char op[32];
	const char *arg;
};

struct opts {
	const char *src, *src2, *dst_path, *log, *expect, *ctl, *header;
	enum rd rd;
	enum wr wr;
	enum bufkind buf;
	enum dstkind dst;
	int port, nonblock, sndbuf, threads, fork, header_every, sigpipe_ignore, pair;
	long sigalrm_us;
	size_t chunk;
	struct fault faults[MAX_FAULTS];
	int nfaults;
};

/* one copy loop: a source, a destination and the program's view of both */
struct ctx {
	int id;
	const char *src_path;
	int src, dst;
	off_t rpos, wpos; /* pread / pwrite positions, kept by the program */
	int expect_fd;
	int time_next_write;
};

static struct opts O;
static int log_fd = -1;
static volatile sig_atomic_t alarms;

/* ---- raw output: never seen by the shim --------------------------------------------------- */

/* raw_write_all — writes all of [p, p+n) to fd with the raw syscall. */
static void raw_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		long r = syscall(SYS_write, fd, c, n);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return;
		c += r, n -= (size_t)r;
	}
}

/* raw_open_high — opens path with raw syscalls and moves it above the program's numbers. */
static int raw_open_high(const char *path, int flags)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0644);
	if (fd < 0) return -1;
	int hi = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, HIGH_FD);
	syscall(SYS_close, fd);
	return hi;
}

/* tlog — one transcript line, prefixed with the thread when there are several. */
__attribute__((format(printf, 2, 3))) static void tlog(const struct ctx *c, const char *fmt, ...)
{
	char line[512];
	int n = 0;
	va_list ap;
	if (log_fd < 0) return;
	if (O.threads > 1 && c) n = snprintf(line, sizeof line, "t%d ", c->id);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
	line[n++] = '\n';
	raw_write_all(log_fd, line, (size_t)n);
}

/* ename — "EPIPE" for EPIPE; "-" for 0. */
static const char *ename(int e)
{
	const char *s;
	if (!e) return "-";
	s = strerrorname_np(e);
	return s ? s : "E?";
}

/* die_setup — setup failure: message on stderr, exit 3. */
static void die_setup(const char *what)
{
	fprintf(stderr, "copyloop: %s: %s\n", what, strerror(errno));
	exit(3);
}

/* usage — exit 2. */
static void usage(const char *why)
{
	fprintf(stderr, "copyloop: %s\nusage: copyloop send --src PATH --dst tcp:PORT|stdout|file:PATH|append:PATH "
			"[options] | copyloop recv --port-file PATH --out PATH [options] (see the source's header)\n",
		why);
	exit(2);
}

/* pick — index of s in names, or usage(). */
static int pick(const char *s, const char *const *names, const char *what)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(s, names[i])) return i;
	usage(what);
	return -1;
}

/* now_ms — monotonic milliseconds. */
static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* sleep_ms — sleeps ms even when signals keep interrupting. */
static void sleep_ms(long ms)
{
	long end = now_ms() + ms;
	for (long left = ms; left > 0; left = end - now_ms()) {
		struct timespec ts = {left / 1000, (left % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* ---- signals ---------------------------------------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* setup_signals — SIGALRM without SA_RESTART (EINTR reaches the program), SIGPIPE as asked. */
static void setup_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0) die_setup("sigaction SIGALRM");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = O.sigpipe_ignore ? SIG_IGN : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) < 0) die_setup("sigaction SIGPIPE");
	if (O.sigalrm_us > 0) {
		struct itimerval it = {{O.sigalrm_us / 1000000, O.sigalrm_us % 1000000},
				       {O.sigalrm_us / 1000000, O.sigalrm_us % 1000000}};
		if (setitimer(ITIMER_REAL, &it, NULL) < 0) die_setup("setitimer");
	}
}

/* ---- buffers -------------------------------------------------------------------------- */

/* aligned_alloc_or_die — page-aligned memory of n bytes plus slack. */
static char *aligned_alloc_or_die(size_t n)
{
	void *p;
	if (posix_memalign(&p, 4096, n + 8192)) die_setup("posix_memalign");
	return p;
}

/* ---- the write side -------------------------------------------------------------------- */

/* fail_exit — a call failed for good: the exit line names it. */
static void fail_exit(const struct ctx *c, int err)
{
	tlog(c, "exit 1 %s", ename(err));
	exit(1);
}

/* wait_writable — poll(POLLOUT) after EAGAIN; 20 s at most. */
static void wait_writable(const struct ctx *c)
{
	struct pollfd p = {.fd = c->dst, .events = POLLOUT};
	int r = poll(&p, 1, 20000);
	int e = r < 0 ? errno : 0;
	tlog(c, "w poll %d %s", r, ename(e));
	if (r == 0) {
		tlog(c, "# poll timed out");
		tlog(c, "exit 3 ETIMEDOUT");
		exit(3);
	}
}

/* one_write — the configured write call on the iovecs [iov, iov+cnt) (cnt >= 1). */
static ssize_t one_write(struct ctx *c, struct iovec *iov, int cnt)
{
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
	switch (O.wr) {
	case WR_WRITE: return write(c->dst, iov[0].iov_base, iov[0].iov_len);
	case WR_PWRITE: return pwrite(c->dst, iov[0].iov_base, iov[0].iov_len, c->wpos);
	case WR_SEND: return send(c->dst, iov[0].iov_base, iov[0].iov_len, 0);
	case WR_SEND_NOSIG: return send(c->dst, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
	case WR_WRITEV: return writev(c->dst, iov, cnt);
	default: return sendmsg(c->dst, &m, 0);
	}
}

/* send_chunk — writes the segments seg[0..nseg) completely, resending from the middle after a
 * partial write, EAGAIN or EINTR; returns the bytes written. Single-iovec calls get one segment
 * at a time, as a program using write() would. */
static size_t send_chunk(struct ctx *c, const struct iovec *seg, int nseg)
{
	size_t total = 0, off = 0;
	int multi = O.wr == WR_WRITEV || O.wr == WR_SENDMSG;
	for (int k = 0; k < nseg; k++) total += seg[k].iov_len;
	while (off < total) {
		struct iovec iov[4];
		int cnt = 0;
		size_t skip = off, want = 0;
		for (int k = 0; k < nseg; k++) {
			if (skip >= seg[k].iov_len) {
				skip -= seg[k].iov_len;
				continue;
			}
			iov[cnt++] = (struct iovec){(char *)seg[k].iov_base + skip, seg[k].iov_len - skip};
			want += seg[k].iov_len - skip;
			skip = 0;
			if (!multi) break;
		}
		long t0 = c->time_next_write ? now_ms() : 0;
		ssize_t r = one_write(c, iov, cnt);
		int e = r < 0 ? errno : 0;
		if (c->time_next_write) {
			tlog(c, "# timed write_ms=%ld ret=%zd alarms=%d", now_ms() - t0, r, (int)alarms);
			c->time_next_write = 0;
		}
		tlog(c, "w %s %zu %zd %s", wr_names[O.wr], want, r, ename(e));
		if (r < 0) {
			if (e == EINTR) continue;
			if (e == EAGAIN && O.nonblock) {
				wait_writable(c);
				continue;
			}
			fail_exit(c, e);
		}
		if (r == 0) {
			tlog(c, "# write returned 0");
			fail_exit(c, EIO);
		}
		/* the expected output: exactly the bytes the call reported, from the buffer as it is now */
		size_t left = (size_t)r;
		for (int k = 0; k < cnt && left; k++) {
			size_t n = iov[k].iov_len < left ? iov[k].iov_len : left;
			if (c->expect_fd >= 0) raw_write_all(c->expect_fd, iov[k].iov_base, n);
			left -= n;
		}
		off += (size_t)r;
		if (O.wr == WR_PWRITE) c->wpos += r;
	}
	return total;
}

/* ---- faults ------------------------------------------------------------------------------ */

/* reopen — opens path read-only; logs where it landed. */
static int reopen(const struct ctx *c, const char *path)
{
	int fd = open(path, O_RDONLY);
	tlog(c, "open reopened %d %s", fd, ename(fd < 0 ? errno : 0));
	if (fd < 0) fail_exit(c, errno);
	return fd;
}

/* handshake — tells the test script we are between the read and the write, waits for its go. */
static void handshake(const struct ctx *c, long k)
{
	char ready[512], go[512];
	if (!O.ctl) usage("handshake needs --ctl");
	snprintf(ready, sizeof ready, "%s.ready.%ld", O.ctl, k);
	snprintf(go, sizeof go, "%s.go.%ld", O.ctl, k);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) syscall(SYS_close, fd);
	long end = now_ms() + 30000;
	while (syscall(SYS_faccessat, AT_FDCWD, go, F_OK, 0) != 0) {
		if (now_ms() > end) {
			tlog(c, "# handshake %ld timed out", k);
			tlog(c, "exit 3 ETIMEDOUT");
			exit(3);
		}
		sleep_ms(2);
	}
}

/* run_faults — every fault registered for chunk k, in command-line order. */
static void run_faults(struct ctx *c, long k, char *buf, size_t n)
{
	for (int i = 0; i < O.nfaults; i++) {
		const struct fault *f = &O.faults[i];
		if (f->chunk != k) continue;
		tlog(c, "fault %ld %s", k, f->op);
		if (!strcmp(f->op, "flip-all")) {
			for (size_t j = 0; j < n; j++) buf[j] ^= 0x5a;
		} else if (!strcmp(f->op, "flip-mid")) {
			buf[n / 2] ^= 0x5a;
		} else if (!strcmp(f->op, "flip-head")) {
			buf[0] ^= 0x5a;
		} else if (!strcmp(f->op, "flip-tail")) {
			buf[n - 1] ^= 0x5a;
		} else if (!strcmp(f->op, "handshake")) {
			handshake(c, k);
		} else if (!strcmp(f->op, "sleep")) {
			sleep_ms(atol(f->arg));
		} else if (!strcmp(f->op, "close-reopen")) {
			close(c->src);
			c->src = reopen(c, f->arg);
		} else if (!strcmp(f->op, "fclose-reopen")) {
			FILE *fp = fdopen(c->src, "r");
			if (!fp) fail_exit(c, errno);
			fclose(fp);
			c->src = reopen(c, f->arg);
		} else if (!strcmp(f->op, "rawclose-reopen")) {
			syscall(SYS_close, c->src);
			c->src = reopen(c, f->arg);
		} else if (!strcmp(f->op, "dup2") || !strcmp(f->op, "rawdup2")) {
			int fd = open(f->arg, O_RDONLY);
			if (fd < 0) fail_exit(c, errno);
			int r = f->op[0] == 'r' ? (int)syscall(SYS_dup2, fd, c->src) : dup2(fd, c->src);
			tlog(c, "dup2 %d %s", r, ename(r < 0 ? errno : 0));
			if (f->op[0] == 'r') syscall(SYS_close, fd);
			else close(fd);
		} else if (!strcmp(f->op, "fionbio")) {
			int one = 1;
			if (ioctl(c->dst, FIONBIO, &one) < 0) fail_exit(c, errno);
			O.nonblock = 1;
		} else if (!strcmp(f->op, "alarm")) {
			struct itimerval it = {{0, 0}, {atol(f->arg) / 1000, (atol(f->arg) % 1000) * 1000}};
			setitimer(ITIMER_REAL, &it, NULL);
			c->time_next_write = 1;
		} else {
			usage("unknown fault");
		}
	}
}

/* ---- the read side ---------------------------------------------------------------------- */

/* do_read — the configured read call into buf; EINTR retried; -1 with errno on failure. */
static ssize_t do_read(struct ctx *c, char *buf, size_t n)
{
	for (;;) {
		ssize_t r;
		if (O.rd == RD_READ) {
			r = read(c->src, buf, n);
		} else if (O.rd == RD_PREAD) {
			r = pread(c->src, buf, n, c->rpos);
		} else {
			struct iovec v[2] = {{buf, O.rd == RD_READV2 ? n / 2 : n}, {buf + n / 2, n - n / 2}};
			r = readv(c->src, v, O.rd == RD_READV2 ? 2 : 1);
		}
		int e = r < 0 ? errno : 0;
		tlog(c, "r %s %zu %zd %s", rd_names[O.rd], n, r, ename(e));
		if (r < 0 && e == EINTR) continue;
		if (r > 0 && O.rd == RD_PREAD) c->rpos += r;
		errno = e;
		return r;
	}
}

/* pos — an fd's offset as lseek reports it, or "-" (ESPIPE). */
static const char *pos(int fd, char *out, size_t cap)
{
	off_t p = lseek(fd, 0, SEEK_CUR);
	if (p < 0) snprintf(out, cap, "-");
	else snprintf(out, cap, "%lld", (long long)p);
	return out;
}

/* write_in_child — the chunk is written by a child forked after the read (it sends the parent's
 * buffer, inherited); the parent waits for it. */
static void write_in_child(struct ctx *c, long k, const struct iovec *seg, int nseg)
{
	pid_t pid = fork();
	if (pid < 0) die_setup("fork");
	if (pid == 0) {
		send_chunk(c, seg, nseg);
		exit(0); /* exit, not _exit: the shim's destructor writes the child's counters */
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) die_setup("waitpid");
	if (WIFEXITED(st)) tlog(c, "child %ld exit %d", k, WEXITSTATUS(st));
	else tlog(c, "child %ld signal %d", k, WTERMSIG(st));
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		tlog(c, "exit 1 CHILD");
		exit(1);
	}
}

/* copy_loop — read a chunk, (faults), write it, until EOF. */
static void copy_loop(struct ctx *c)
{
	char stackbuf[O.buf == BUF_STACK ? O.chunk : 1];
	char *bufs[2] = {NULL, NULL};
	size_t hlen = O.header ? strlen(O.header) : 0;
	if (O.buf == BUF_ALIGNED || O.buf == BUF_ALT) bufs[0] = aligned_alloc_or_die(O.chunk);
	if (O.buf == BUF_ALT) bufs[1] = aligned_alloc_or_die(O.chunk);
	if (O.buf == BUF_MALLOC && !(bufs[0] = malloc(O.chunk))) die_setup("malloc");
	if (O.buf == BUF_PAGE16) bufs[0] = aligned_alloc_or_die(O.chunk) + 16;
	if (O.buf == BUF_STACK) bufs[0] = stackbuf;
	tlog(c, "# buffer %s at page offset %lu", buf_names[O.buf], (unsigned long)((uintptr_t)bufs[0] & 4095));

	for (long k = 0;; k++) {
		char *buf = O.buf == BUF_ALT && !O.pair ? bufs[k & 1] : bufs[0];
		if (O.buf == BUF_FRESH && !(buf = malloc(O.chunk))) die_setup("malloc");
		ssize_t n = do_read(c, buf, O.chunk);
		if (n < 0) fail_exit(c, errno);
		if (n == 0) {
			if (O.buf == BUF_FRESH) free(buf);
			break;
		}
		ssize_t n2 = 0;
		/* --pair: the second buffer's chunk goes out with the first, in the same call */
		if (O.pair && (size_t)n == O.chunk && (n2 = do_read(c, bufs[1], O.chunk)) < 0) fail_exit(c, errno);
		run_faults(c, k, buf, (size_t)n);
		struct iovec seg[4];
		int nseg = 0;
		if (hlen && (O.header_every || k == 0)) seg[nseg++] = (struct iovec){(void *)O.header, hlen};
		if (O.rd == RD_READV2 && (size_t)n > O.chunk / 2) {
			seg[nseg++] = (struct iovec){buf, O.chunk / 2};
			seg[nseg++] = (struct iovec){buf + O.chunk / 2, (size_t)n - O.chunk / 2};
		} else {
			seg[nseg++] = (struct iovec){buf, (size_t)n};
		}
		if (n2 > 0) seg[nseg++] = (struct iovec){bufs[1], (size_t)n2};
		n += n2;
		size_t sent = 0;
		if (O.fork) {
			write_in_child(c, k, seg, nseg);
			for (int i = 0; i < nseg; i++) sent += seg[i].iov_len;
		} else {
			sent = send_chunk(c, seg, nseg);
		}
		char sp[32], dp[32];
		tlog(c, "chunk %ld read=%zd sent=%zu src_pos=%s dst_pos=%s", k, n, sent, pos(c->src, sp, sizeof sp),
		     pos(c->dst, dp, sizeof dp));
		if (O.buf == BUF_FRESH) free(buf);
	}
}

/* ---- setup --------------------------------------------------------------------------- */

/* open_src — the source as the program opens it. */
static int open_src(const struct ctx *c, const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) die_setup(path);
	tlog(c, "open src %d", fd);
	return fd;
}

/* open_dst — connects or opens the destination. */
static int open_dst(const struct ctx *c)
{
	int fd;
	if (O.dst == DST_STDOUT) {
		fd = 1;
	} else if (O.dst == DST_FILE || O.dst == DST_APPEND) {
		fd = open(O.dst_path, O_WRONLY | O_CREAT | (O.dst == DST_APPEND ? O_APPEND : O_TRUNC), 0644);
		if (fd < 0) die_setup(O.dst_path);
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)O.port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) die_setup("socket");
		if (O.sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &O.sndbuf, sizeof O.sndbuf) < 0) die_setup("SO_SNDBUF");
		if (progs_connect(fd, &a) < 0) die_setup("connect");
	}
	if (O.nonblock && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die_setup("O_NONBLOCK");
	tlog(c, "open dst %d", fd);
	return fd;
}

/* thread_main — one copy loop per thread. */
static void *thread_main(void *arg)
{
	copy_loop(arg);
	return NULL;
}

/* parse_send — fills O; bad options exit 2. */
static void parse_send(int argc, char **argv)
{
	static const struct option lo[] = {
		{"src", 1, 0, 's'},     {"src2", 1, 0, 'S'},   {"dst", 1, 0, 'd'},        {"rd", 1, 0, 'r'},
		{"wr", 1, 0, 'w'},      {"chunk", 1, 0, 'c'},  {"buf", 1, 0, 'b'},        {"header", 1, 0, 'H'},
		{"header-every", 0, 0, 'E'}, {"nonblock", 0, 0, 'n'}, {"sndbuf", 1, 0, 'B'}, {"threads", 1, 0, 't'},
		{"fork", 0, 0, 'f'},    {"sigalrm-us", 1, 0, 'a'}, {"sigpipe", 1, 0, 'p'}, {"log", 1, 0, 'l'},
		{"expect", 1, 0, 'e'},  {"ctl", 1, 0, 'C'},    {"fault", 1, 0, 'F'},      {"pair", 0, 0, 'P'},
		{0, 0, 0, 0},
	};
	int ch;
	long long v;
	O.chunk = 65536;
	O.threads = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': O.src = optarg; break;
		case 'S': O.src2 = optarg; break;
		case 'd':
			if (!strncmp(optarg, "tcp:", 4)) O.dst = DST_TCP, O.port = atoi(optarg + 4);
			else if (!strcmp(optarg, "stdout")) O.dst = DST_STDOUT;
			else if (!strncmp(optarg, "file:", 5)) O.dst = DST_FILE, O.dst_path = optarg + 5;
			else if (!strncmp(optarg, "append:", 7)) O.dst = DST_APPEND, O.dst_path = optarg + 7;
			else usage("bad --dst");
			break;
		case 'r': O.rd = (enum rd)pick(optarg, rd_names, "bad --rd"); break;
		case 'w': O.wr = (enum wr)pick(optarg, wr_names, "bad --wr"); break;
		case 'c':
			if ((v = progs_size(optarg)) < 2 || v > (1LL << 30)) usage("bad --chunk");
			O.chunk = (size_t)v;
			break;
		case 'b': O.buf = (enum bufkind)pick(optarg, buf_names, "bad --buf"); break;
		case 'H': O.header = optarg; break;
		case 'E': O.header_every = 1; break;
		case 'n': O.nonblock = 1; break;
		case 'P': O.pair = 1; break;
		case 'B': O.sndbuf = (int)progs_size(optarg); break;
		case 't':
			O.threads = atoi(optarg);
			if (O.threads < 1 || O.threads > 2) usage("--threads is 1 or 2");
			break;
		case 'f': O.fork = 1; break;
		case 'a': O.sigalrm_us = atol(optarg); break;
		case 'p': O.sigpipe_ignore = !strcmp(optarg, "ignore"); break;
		case 'l': O.log = optarg; break;
		case 'e': O.expect = optarg; break;
		case 'C': O.ctl = optarg; break;
		case 'F': {
			struct fault *f = &O.faults[O.nfaults];
			char *colon;
			if (O.nfaults == MAX_FAULTS) usage("too many faults");
			f->chunk = strtol(optarg, &colon, 10);
			if (*colon != ':') usage("--fault K:OP[:ARG]");
			snprintf(f->op, sizeof f->op, "%s", colon + 1);
			char *c2 = strchr(f->op, ':');
			if (c2) *c2 = 0, f->arg = strchr(colon + 1, ':') + 1;
			O.nfaults++;
			break;
		}
		default: usage("bad option");
		}
	}
	if (optind != argc || !O.src) usage("--src is required");
	if (O.header && O.wr != WR_WRITEV && O.wr != WR_SENDMSG) usage("--header needs --wr writev or sendmsg");
	if (O.wr == WR_PWRITE && O.dst != DST_FILE) usage("--wr pwrite needs --dst file:PATH");
	if ((O.wr == WR_SEND || O.wr == WR_SEND_NOSIG || O.wr == WR_SENDMSG) && O.dst != DST_TCP)
		usage("send calls need --dst tcp:PORT");
	if (O.buf == BUF_STACK && O.chunk > MAX_STACK_CHUNK) usage("--buf stack: chunk at most 4M");
	if (O.pair && (O.buf != BUF_ALT || (O.wr != WR_WRITEV && O.wr != WR_SENDMSG) || O.rd == RD_READV2 || O.fork))
		usage("--pair needs --buf alt, --wr writev or sendmsg, no readv2, no --fork");
	if (O.threads > 1 && (O.dst != DST_TCP || O.fork)) usage("--threads needs tcp and no --fork");
}

/* main_send — the copy program. */
static int main_send(int argc, char **argv)
{
	parse_send(argc, argv);
	if (O.log && (log_fd = raw_open_high(O.log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND)) < 0) die_setup(O.log);
	setup_signals();
	tlog(NULL, "# pid %d", (int)getpid());
	struct ctx cs[2];
	for (int i = 0; i < O.threads; i++) {
		char path[512];
		cs[i] = (struct ctx){.id = i, .src_path = i && O.src2 ? O.src2 : O.src, .expect_fd = -1};
		if (O.expect) {
			if (O.threads > 1) snprintf(path, sizeof path, "%s.%d", O.expect, i);
			else snprintf(path, sizeof path, "%s", O.expect);
			if ((cs[i].expect_fd = raw_open_high(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND)) < 0) die_setup(path);
		}
		cs[i].src = open_src(&cs[i], cs[i].src_path);
		cs[i].dst = open_dst(&cs[i]);
	}
	if (O.threads == 1) {
		copy_loop(&cs[0]);
	} else {
		pthread_t t[2];
		for (int i = 0; i < O.threads; i++)
			if ((errno = pthread_create(&t[i], NULL, thread_main, &cs[i]))) die_setup("pthread_create");
		for (int i = 0; i < O.threads; i++) pthread_join(t[i], NULL);
	}
	for (int i = 0; i < O.threads; i++) {
		if (O.dst == DST_TCP) shutdown(cs[i].dst, SHUT_WR);
		if (cs[i].dst != 1) close(cs[i].dst);
		close(cs[i].src);
	}
	if (O.sigalrm_us > 0) {
		struct itimerval off = {{0, 0}, {0, 0}};
		setitimer(ITIMER_REAL, &off, NULL);
	}
	tlog(NULL, "# alarms=%d", (int)alarms);
	tlog(NULL, "exit 0");
	return 0;
}

/* ---- the receiver ------------------------------------------------------------------------ */

struct conn {
	int fd, out;
	long long got;
	int stalled, closed;
};

/* main_recv — accepts --conns connections and writes what each sends to its own file. */
static int main_recv(int argc, char **argv)
{
	static const struct option lo[] = {
		{"port-file", 1, 0, 'P'}, {"out", 1, 0, 'o'},   {"conns", 1, 0, 'n'}, {"rate", 1, 0, 'r'},
		{"rcvbuf", 1, 0, 'R'},    {"close-after", 1, 0, 'c'}, {"stall", 1, 0, 's'}, {"timeout", 1, 0, 't'},
		{0, 0, 0, 0},
	};
	const char *port_file = NULL, *out = NULL;
	int nconns = 1, rcvbuf = 0, ch, rate_ms = 0;
	long long rate_bytes = 0, close_after = -1, stall_after = -1;
	long stall_ms = 0, timeout_s = 60;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'P': port_file = optarg; break;
		case 'o': out = optarg; break;
		case 'n': nconns = atoi(optarg); break;
		case 'r': {
			char tmp[64];
			const char *colon = strchr(optarg, ':');
			snprintf(tmp, sizeof tmp, "%.*s", colon ? (int)(colon - optarg) : (int)strlen(optarg), optarg);
			rate_bytes = progs_size(tmp);
			rate_ms = colon ? atoi(colon + 1) : 0;
			if (rate_bytes < 1) usage("--rate BYTES:MS");
			break;
		}
		case 'R': rcvbuf = (int)progs_size(optarg); break;
		case 'c': close_after = progs_size(optarg); break;
		case 's':
			stall_after = atoll(optarg);
			stall_ms = strchr(optarg, ':') ? atol(strchr(optarg, ':') + 1) : 0;
			break;
		case 't': timeout_s = atol(optarg); break;
		default: usage("bad recv option");
		}
	}
	if (!port_file || !out || nconns < 1 || nconns > 8) usage("recv needs --port-file and --out");
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (rcvbuf) setsockopt(ls, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 16) < 0) die_setup("bind/listen");
	getsockname(ls, (struct sockaddr *)&a, &al);
	char tmp[600], num[16];
	snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
	FILE *pf = fopen(tmp, "w");
	if (!pf) die_setup(tmp);
	snprintf(num, sizeof num, "%d", ntohs(a.sin_port));
	fprintf(pf, "%s\n", num);
	fclose(pf);
	rename(tmp, port_file);

	struct conn cs[8];
	int accepted = 0, open_conns = 0;
	long deadline = now_ms() + timeout_s * 1000;
	static char buf[1 << 16];
	while (accepted < nconns || open_conns > 0) {
		struct pollfd p[9];
		int np = 0, map[9];
		if (accepted < nconns) p[np] = (struct pollfd){.fd = ls, .events = POLLIN}, map[np++] = -1;
		for (int i = 0; i < accepted; i++)
			if (!cs[i].closed) p[np] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN}, map[np++] = i;
		long left = deadline - now_ms();
		if (left <= 0) {
			fprintf(stderr, "copyloop recv: timed out\n");
			return 3;
		}
		if (poll(p, (nfds_t)np, (int)(left < 1000 ? left : 1000)) < 0 && errno != EINTR) die_setup("poll");
		for (int j = 0; j < np; j++) {
			if (!p[j].revents) continue;
			if (map[j] < 0) {
				int fd = accept(ls, NULL, NULL);
				if (fd < 0) continue;
				char path[600];
				if (nconns > 1) snprintf(path, sizeof path, "%s.%d", out, accepted);
				else snprintf(path, sizeof path, "%s", out);
				int of = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
				if (of < 0) die_setup(path);
				cs[accepted++] = (struct conn){.fd = fd, .out = of};
				open_conns++;
				continue;
			}
			struct conn *c = &cs[map[j]];
			size_t want = sizeof buf;
			if (rate_bytes > 0 && (size_t)rate_bytes < want) want = (size_t)rate_bytes;
			if (close_after >= 0 && (long long)want > close_after - c->got) want = (size_t)(close_after - c->got);
			if (stall_after >= 0 && !c->stalled && (long long)want > stall_after - c->got)
				want = (size_t)(stall_after - c->got);
			ssize_t r = want ? read(c->fd, buf, want) : 0;
			if (r < 0 && errno == EINTR) continue;
			if (r > 0) {
				if (write(c->out, buf, (size_t)r) != r) die_setup("write out");
				c->got += r;
			}
			int done_reading = r <= 0 && want > 0;
			if (close_after >= 0 && c->got >= close_after) {
				/* FIN first, then close with unread data (RST): the sender sees EPIPE */
				shutdown(c->fd, SHUT_WR);
				sleep_ms(20);
				done_reading = 1;
			}
			if (done_reading) {
				close(c->fd);
				close(c->out);
				c->closed = 1;
				open_conns--;
				continue;
			}
			if (stall_after >= 0 && !c->stalled && c->got >= stall_after) {
				c->stalled = 1;
				sleep_ms(stall_ms);
			}
			if (rate_ms > 0) sleep_ms(rate_ms);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) usage("send or recv?");
	if (!strcmp(argv[1], "send")) return main_send(argc - 1, argv + 1);
	if (!strcmp(argv[1], "recv")) return main_recv(argc - 1, argv + 1);
	usage("send or recv?");
	return 2;
}
