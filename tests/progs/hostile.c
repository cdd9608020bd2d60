/* hostile.c — small programs that do legal but hostile things around a read()+write() copy loop:
 * worker threads with every signal blocked, signal handlers that write, another process opening the
 * source, a peer that resets, blocking calls that must return early, protection changed by the
 * program, the program's own SIGSEGV dispositions, bad iovec pointers, worker-thread buffers.
 * Used by tests/e2e/test_hostile.sh (issue 7, "Contract breaches" 1-9), which runs each case without
 * and with the shim and compares the transcripts, exit statuses and bytes.
 *
 * usage: hostile CASE [options]
 *   --log PATH      transcript (below)            --src PATH     source file
 *   --src2 PATH     a second file (map-fixed-file) --out PATH    output file (file destinations)
 *   --chunk N[KM]   bytes per read (default 64K)   --passes N     passes over the source (default 1)
 *   --variant V     the case's variant (below)     --port N       TCP destination on 127.0.0.1
 *   --port-file P   (reset-recv) where the port is written
 *   --bytes N[KM]   (reset-recv, pipe-reader) bytes to read before closing / stopping
 *   --sigpipe ignore|default                       --deadline S   the program gives up after S s
 *                                                                 (exit 4, "exit 4 DEADLINE"; 30)
 *   --seconds S     (sigwrite) how long to copy (default 5)
 * Cases (issue 7 item in brackets); the destination is stdout unless said otherwise:
 *   blocked-worker [1]  a worker thread with every signal blocked (and a sigwait thread) copies,
 *                       changing one byte of every odd chunk
 *   sigwrite [2]        a SIGUSR1 handler writes to a self-pipe; a timer sends SIGUSR1 every
 *                       50 us (at 10 us the program alone livelocked now and then here, ~28000
 *                       handled a second either way; at 25 us it did under a loaded CI run, 2
 *                       runs of about 25) while the program copies to --out (each
 *                       pass from its start) for --seconds, changing every odd chunk; only
 *                       unusual results are logged
 *   modify [3]          copies --passes times (reopening the source), changing every chunk
 *   opener [3]          (helper) opens --src for writing (and closes it) every 200 us until
 *                       SIGTERM; logs how many opens it made
 *   reset [4]           copies to TCP --port until a write fails (the peer resets)
 *   reset-recv [4]      (helper) accepts one connection, reads --bytes slowly, closes unread
 *   eintr-read [5a]     a read from an empty pipe, SIGALRM after 1 s; variant: siginterrupt-signal
 *                       (siginterrupt first), signal-siginterrupt, sigaction (no SA_RESTART)
 *   alarm-write [5b]    1 MiB chunks; alarm(1) before the write of chunk 1 (siginterrupt-0: 2); the program stops
 *                       after the first short write. Variant: the handler's way in, sigaction
 *                       (SA_RESTART, the default) | signal | norestart | siginterrupt-0 |
 *                       vfork-reset | raw
 *   pipe-reader [5b]    (helper) stdin to --out: reads --bytes, stops until the writer is gone,
 *                       then drains the rest
 *   prot [6]            copies; on chunks 3, 5, 7...: variant mprotect-rw | mprotect-none-rw |
 *                       mprotect-rwx (each then fills most of the buffer) | map-fixed-anon |
 *                       map-fixed-file (a new mapping, left as it is), then the write
 *   segv [7]            the program's own SIGSEGV: variant ign-before | ign-after | sigset |
 *                       bsd_signal | sysv_signal | raw | sigaction | resethand | selfcheck | two-threads
 *   iov [8]             variant readv | preadv | writev | pwritev | sendmsg: after a copy loop,
 *                       with a chunk still recorded, the call with bad iovec arrays (one line each)
 *   nonblock-wait       copies to a non-blocking TCP --port (64 KiB SO_SNDBUF, a slow reader) and
 *                       waits for room after EAGAIN as servers do: variant epoll-et (edge-triggered
 *                       epoll, as nginx) | poll | select | retry (sleeps 1 ms, no wait); a wait that
 *                       times out (10 s) ends the program: "exit 1 ETIMEDOUT"
 *   sndbuf-grow         copies to a non-blocking TCP socket whose peer (this process) reads
 *                       nothing until the first EAGAIN; then grows SO_SNDBUF by a quarter (room,
 *                       but not poll's POLLOUT) and writes again: write takes bytes. Then the peer
 *                       drains into --out and the copy ends
 *   worker-bufs [9]     a worker thread copies through a buffer: variant main-mmap | main-malloc |
 *                       hole-mmap | hole-malloc | arena
 *
 * Transcript, one line per event, written with raw syscalls so the shim never sees them:
 *   "r ASKED RETURNED ERRNO"        every read of the copy loop
 *   "w ASKED RETURNED ERRNO"        every write of the copy loop
 *   other lines name what the case did and saw; "# ..." lines are informational, never compared
 *   "exit N [ERRNO]"                the program's final status (none: killed by a signal)
 * Exit status: 0 done, 1 a call failed (named on the exit line), 2 bad options, 3 setup failed,
 * 4 the deadline passed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "progs.h"
#include "transcript.h"

#define HIGH_FD 500 /* the transcript lives here, out of the program's numbering */
#define PAGE 4096

static struct {
	const char *log, *src, *src2, *out, *variant, *port_file;
	size_t chunk;
	long passes, bytes, deadline, seconds;
	int port, sigpipe_ignore;
} O = {.chunk = 65536, .passes = 1, .deadline = 30, .seconds = 5, .variant = ""};

/* finish — the exit line, then exit. */
static void finish(int status, int err)
{
	if (err) tlog("exit %d %s", status, ename(err));
	else tlog("exit %d", status);
	exit(status);
}

static void die_setup(const char *what)
{
	int e = errno;
	tlog("# setup failed: %s: %s", what, strerror(e));
	errno = e;
	fprintf(stderr, "hostile: %s: %s\n", what, strerror(e));
	tlog("exit 3");
	exit(3);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* sleep_us — sleeps even when signals keep interrupting. */
static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* block_all — every signal blocked in the calling thread. */
static void block_all(void)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
}


/* ---- the copy loop --------------------------------------------------------------------------- */

static void *map_buffer(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) die_setup("mmap buffer");
	return p;
}

static int open_src(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) die_setup(path);
	return fd;
}

/* logged_read — one read, transcribed. */
static ssize_t logged_read(int fd, char *buf, size_t n)
{
	ssize_t r = read(fd, buf, n);
	int e = r < 0 ? errno : 0;
	tlog("r %zu %zd %s", n, r, ename(e));
	errno = e;
	return r;
}

/* write_all — writes [buf, buf+n), each call transcribed; EINTR and partial counts continue.
 * Returns 0, or -1 with errno. */
static int write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, buf, n);
		int e = r < 0 ? errno : 0;
		tlog("w %zu %zd %s", n, r, ename(e));
		if (r < 0 && e == EINTR) continue;
		if (r <= 0) {
			errno = r < 0 ? e : EIO;
			return -1;
		}
		buf += r, n -= (size_t)r;
	}
	return 0;
}

/* hook — what the program does to chunk k (got bytes in buf) between its read and its write */
typedef void (*hook_fn)(long k, char *buf, size_t got);

/* copy — src to dst in O.chunk reads until EOF; a failed write ends the program (exit line). */
static long copy(int src, int dst, char *buf, hook_fn hook, long k0)
{
	long k = k0;
	for (;;) {
		ssize_t got = logged_read(src, buf, O.chunk);
		if (got < 0) finish(1, errno);
		if (got == 0) return k;
		if (hook) hook(k, buf, (size_t)got);
		if (write_all(dst, buf, (size_t)got) < 0) finish(1, errno);
		k++;
	}
}

/* flip_odd — a store to one byte of every odd chunk (the even ones stay untouched) */
static void flip_odd(long k, char *buf, size_t got)
{
	if (k % 2 == 0) return;
	buf[got / 2] ^= 0x5a;
	tlog("mod %ld", k);
}

static void flip_all(long k, char *buf, size_t got)
{
	buf[got / 2] ^= 0x5a;
	buf[got / 3] ^= 0x33;
	(void)k;
}

/* ---- 1: a worker thread with every signal blocked ------------------------------------------ */

static void *sigwait_thread(void *a)
{
	sigset_t *set = a;
	int sig;
	for (;;)
		if (sigwait(set, &sig) == 0) tlog("# sigwait got %d", sig);
	return NULL;
}

static void *bw_worker(void *a)
{
	(void)a;
	int src = open_src(O.src);
	char *buf = map_buffer(O.chunk);
	long n = copy(src, 1, buf, flip_odd, 0);
	tlog("chunks %ld", n);
	return NULL;
}

static void case_blocked_worker(void)
{
	static sigset_t set;
	pthread_t s, w;
	block_all(); /* as servers do: before any thread exists, so every thread inherits it */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP), sigaddset(&set, SIGTERM), sigaddset(&set, SIGINT);
	if (pthread_create(&s, NULL, sigwait_thread, &set)) die_setup("pthread_create");
	if (pthread_create(&w, NULL, bw_worker, NULL)) die_setup("pthread_create");
	pthread_join(w, NULL);
	finish(0, 0);
}

/* ---- 2: a signal handler that writes to a self-pipe, at a high rate ------------------------ */

static int self_pipe[2];
static volatile sig_atomic_t usr1_count;

static void on_usr1(int sig)
{
	int e = errno;
	(void)sig;
	usr1_count++;
	if (write(self_pipe[1], "x", 1) < 0 && errno != EAGAIN) tlog("self-pipe write failed: %s", ename(errno));
	errno = e;
}

/* usr1_timer — SIGUSR1 to this thread every us microseconds: a timer interrupt lands anywhere in
 * the thread's code, the shim's included (a sending thread would hit mostly system call exits) */
static void usr1_timer(long us)
{
	struct sigevent ev;
	timer_t t;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGUSR1;
	ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	struct itimerspec it = {{0, us * 1000}, {0, us * 1000}};
	if (timer_create(CLOCK_MONOTONIC, &ev, &t) < 0 || timer_settime(t, 0, &it, NULL) < 0) die_setup("timer");
}

/* quiet_copy — one pass of copy() that transcribes only what differs from a full read and a full
 * write (a long run stays readable); returns the chunks copied */
static long quiet_copy(int src, int dst, char *buf, hook_fn hook)
{
	long k = 0;
	for (;;) {
		ssize_t got = read(src, buf, O.chunk);
		int e = got < 0 ? errno : 0;
		if (got == 0) return k;
		if (got != (ssize_t)O.chunk) tlog("r %zu %zd %s", O.chunk, got, ename(e));
		if (got < 0) finish(1, e);
		if (hook) hook(k, buf, (size_t)got);
		for (size_t off = 0; off < (size_t)got;) {
			ssize_t r = write(dst, buf + off, (size_t)got - off);
			e = r < 0 ? errno : 0;
			if (r != got) tlog("w %zu %zd %s", (size_t)got - off, r, ename(e));
			if (r < 0 && e == EINTR) continue;
			if (r <= 0) finish(1, r < 0 ? e : EIO);
			off += (size_t)r;
		}
		k++;
	}
}

/* flip_odd_quiet — flip_odd without the transcript line */
static void flip_odd_quiet(long k, char *buf, size_t got)
{
	if (k % 2) buf[got / 2] ^= 0x5a;
}

/* case_sigwrite — passes over the source for --seconds, each one rewriting --out from its
 * start (the file ends as one pass); the transcript is the same whatever the number of passes */
static void case_sigwrite(void)
{
	struct sigaction sa;
	char drain[256];
	if (!O.out) die_setup("--out needed");
	if (pipe2(self_pipe, O_NONBLOCK | O_CLOEXEC) < 0) die_setup("pipe2");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0) die_setup("sigaction");
	int src = open_src(O.src);
	int dst = open(O.out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (dst < 0) die_setup(O.out);
	char *buf = map_buffer(O.chunk);
	usr1_timer(50);
	long k = 0, p = 0, t0 = now_ms();
	for (; p < 3 || now_ms() - t0 < O.seconds * 1000L; p++) {
		if (lseek(src, 0, SEEK_SET) != 0 || lseek(dst, 0, SEEK_SET) != 0) die_setup("lseek");
		k += quiet_copy(src, dst, buf, flip_odd_quiet);
		while (read(self_pipe[0], drain, sizeof drain) > 0) {}
	}
	signal(SIGUSR1, SIG_IGN);
	tlog("# %ld passes, %ld chunks in %ld ms, %d SIGUSR1 handled", p, k, now_ms() - t0, (int)usr1_count);
	tlog("signals handled: %s", usr1_count > 0 ? "yes" : "no");
	finish(0, 0);
}

/* ---- 3: another process opens the source for writing while the program changes its buffers ---- */

static void case_modify(void)
{
	char *buf = map_buffer(O.chunk);
	long k = 0;
	for (long p = 0; p < O.passes; p++) {
		int src = open_src(O.src); /* a new open each pass: a new lease to break */
		k = copy(src, 1, buf, flip_all, k);
		close(src);
	}
	tlog("chunks %ld", k);
	finish(0, 0);
}

static volatile sig_atomic_t opener_stop;
static void on_term(int sig)
{
	(void)sig;
	opener_stop = 1;
}

/* case_opener — opens the source for writing (and closes it) every 200 us until SIGTERM */
static void case_opener(void)
{
	struct sigaction sa;
	long opens = 0, slowest = 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	while (!opener_stop) {
		long t0 = now_ms();
		int fd = open(O.src, O_WRONLY);
		if (fd < 0 && errno == EINTR) continue;
		if (fd < 0) die_setup("open for writing");
		close(fd);
		opens++;
		if (now_ms() - t0 > slowest) slowest = now_ms() - t0;
		sleep_us(200);
	}
	tlog("opens %ld slowest_ms %ld", opens, slowest);
	finish(0, 0);
}

/* ---- 4: the peer resets ------------------------------------------------------------------- */

static void case_reset(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)O.port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 65536;
	signal(SIGPIPE, O.sigpipe_ignore ? SIG_IGN : SIG_DFL);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0) die_setup("socket");
	if (setsockopt(s, SOL_SOCKET, SO_SNDBUF, &one, sizeof one) < 0) die_setup("SO_SNDBUF");
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) die_setup("connect");
	int src = open_src(O.src);
	char *buf = map_buffer(O.chunk);
	long k = copy(src, s, buf, NULL, 0);
	tlog("chunks %ld", k);
	finish(0, 0);
}

/* case_reset_recv — accepts one connection, reads --bytes slowly (so the sender is blocked in a
 * write), then closes with data unread: the kernel answers the sender with a reset */
static void case_reset_recv(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int rcv = 65536;
	char tmp[4096], buf[16384];
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv) < 0) die_setup("socket");
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0) die_setup("bind/listen");
	if (getsockname(l, (struct sockaddr *)&a, &al) < 0) die_setup("getsockname");
	snprintf(tmp, sizeof tmp, "%s.tmp", O.port_file);
	FILE *f = fopen(tmp, "w");
	if (!f) die_setup(tmp);
	fprintf(f, "%d\n", ntohs(a.sin_port));
	fclose(f);
	if (rename(tmp, O.port_file) < 0) die_setup("rename");
	int c = accept(l, NULL, NULL);
	if (c < 0) die_setup("accept");
	int out = open(O.out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0) die_setup(O.out);
	long got = 0;
	while (got < O.bytes) {
		size_t want = (size_t)(O.bytes - got) < sizeof buf ? (size_t)(O.bytes - got) : sizeof buf;
		ssize_t r = read(c, buf, want);
		if (r <= 0) break;
		raw_write_all(out, buf, (size_t)r);
		got += r;
		sleep_us(1000);
	}
	sleep_us(100000); /* let the sender fill both buffers again: data is surely unread */
	tlog("received %ld", got);
	close(c);
	finish(0, 0);
}

/* ---- a non-blocking sender that waits for room ------------------------------------------------ */

/* wait_room — the program's wait for POLLOUT after EAGAIN; 0, or -1 when 10 s pass without room. */
static int wait_room(int s, int ep)
{
	if (!strcmp(O.variant, "epoll-et")) {
		struct epoll_event ev;
		int n;
		while ((n = epoll_wait(ep, &ev, 1, 10000)) < 0 && errno == EINTR) {}
		return n == 1 ? 0 : -1;
	}
	if (!strcmp(O.variant, "poll")) {
		struct pollfd p = {.fd = s, .events = POLLOUT};
		return poll(&p, 1, 10000) == 1 ? 0 : -1;
	}
	if (!strcmp(O.variant, "select")) {
		fd_set w;
		struct timeval tv = {10, 0};
		FD_ZERO(&w);
		FD_SET(s, &w);
		return select(s + 1, NULL, &w, NULL, &tv) == 1 ? 0 : -1;
	}
	sleep_us(1000); /* retry */
	return 0;
}

/* nb_copy — the copy loop of a non-blocking sender to s, a malloc'd buffer of --chunk: after each
 * EAGAIN (counted in nb_eagains) on_eagain gets the unwritten rest of the chunk and returns the
 * bytes it wrote itself (0: none, write again), or -1 to end with ETIMEDOUT. Returns the chunks. */
static long nb_eagains;
typedef ssize_t (*eagain_fn)(int s, const char *rest, size_t left, long chunk);
static long nb_copy(int s, eagain_fn on_eagain)
{
	int src = open_src(O.src);
	char *buf = malloc(O.chunk);
	long k = 0;
	if (!buf) die_setup("malloc");
	for (;; k++) {
		ssize_t got = read(src, buf, O.chunk);
		if (got < 0) finish(1, errno);
		if (got == 0) return k;
		for (ssize_t done = 0; done < got;) {
			ssize_t r = write(s, buf + done, (size_t)(got - done));
			if (r < 0 && errno == EAGAIN) {
				nb_eagains++;
				r = on_eagain(s, buf + done, (size_t)(got - done), k);
				if (r < 0) finish(1, ETIMEDOUT);
			} else if (r <= 0) {
				finish(1, r < 0 ? errno : EIO);
			}
			done += r;
		}
	}
}

/* wait_or_stall — nonblock-wait's answer to EAGAIN: its wait for room, or the end when none came */
static int nb_ep = -1;
static ssize_t wait_or_stall(int s, const char *rest, size_t left, long chunk)
{
	(void)rest;
	if (!wait_room(s, nb_ep)) return 0;
	tlog("# stalled with %zu of chunk %ld left, %ld EAGAIN", left, chunk, nb_eagains);
	return -1;
}

/* case_nonblock_wait — the counts of a non-blocking write depend on timing: only the bytes, the
 * end and that EAGAIN was met are compared ("#" lines are not) */
static void case_nonblock_wait(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)O.port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int snd = 65536, ep = -1;
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(O.variant, "epoll-et") && strcmp(O.variant, "poll") && strcmp(O.variant, "select") && strcmp(O.variant, "retry"))
		die_setup("unknown variant");
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd) < 0) die_setup("socket");
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) die_setup("connect");
	if (fcntl(s, F_SETFL, O_NONBLOCK) < 0) die_setup("O_NONBLOCK");
	if (!strcmp(O.variant, "epoll-et")) {
		struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.fd = s};
		if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) < 0) die_setup("epoll");
	}
	nb_ep = ep;
	long k = nb_copy(s, wait_or_stall);
	tlog("chunks %ld", k);
	tlog("# eagain %ld", nb_eagains);
	close(s);
	finish(0, 0);
}

/* ---- a socket with some room, but less than poll's POLLOUT wants ---------------------------- */

/* drain — the receiving end of sndbuf-grow: everything until EOF into --out. */
static void *drain(void *a)
{
	int r = *(int *)a, out = open(O.out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char tmp[65536];
	ssize_t n;
	if (out < 0) die_setup(O.out);
	while ((n = read(r, tmp, sizeof tmp)) > 0) raw_write_all(out, tmp, (size_t)n);
	close(out);
	return NULL;
}

static int sbg_peer = -1;
static pthread_t sbg_drain;
/* grow_once — sndbuf-grow's answer to EAGAIN: the first time, grow SO_SNDBUF and write the rest
 * again, then let the peer drain; later ones wait for room with poll */
static ssize_t grow_once(int s, const char *rest, size_t left, long chunk)
{
	struct pollfd p = {.fd = s, .events = POLLOUT};
	int grown = 81920;
	if (nb_eagains > 1) return poll(&p, 1, 10000) == 1 ? 0 : -1;
	if (setsockopt(s, SOL_SOCKET, SO_SNDBUF, &grown, sizeof grown) < 0) die_setup("SO_SNDBUF");
	tlog("# full with %zu of chunk %ld left; after growing, poll says POLLOUT %d", left, chunk,
	     poll(&p, 1, 0) == 1 && (p.revents & POLLOUT));
	ssize_t w = write(s, rest, left);
	int e = errno;
	tlog("grown write %s", w > 0 ? "took bytes" : "EAGAIN");
	tlog("# grown write %ld errno %d", (long)w, w < 0 ? e : 0);
	if (pthread_create(&sbg_drain, NULL, drain, &sbg_peer)) die_setup("pthread_create");
	return w > 0 ? w : 0;
}

/* case_sndbuf_grow — a non-blocking TCP sender copies until EAGAIN (its peer, in this process,
 * reads nothing yet), then grows SO_SNDBUF by a quarter: the socket has room, but less than the
 * half of what is queued that poll wants for POLLOUT. write takes what fits; so must a rewritten
 * one ("grown write took bytes"). Then the peer reads everything and the copy finishes, waiting
 * for room with poll. Counts depend on the socket's accounting: "#" lines. */
static void case_sndbuf_grow(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int snd = 65536, rcv = 16384;
	signal(SIGPIPE, SIG_IGN);
	int l = socket(AF_INET, SOCK_STREAM, 0), s = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || s < 0 || setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv) < 0) die_setup("socket");
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&a, &al) < 0)
		die_setup("listen");
	if (setsockopt(s, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd) < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0)
		die_setup("connect");
	if ((sbg_peer = accept(l, NULL, NULL)) < 0 || fcntl(s, F_SETFL, O_NONBLOCK) < 0) die_setup("accept");
	long k = nb_copy(s, grow_once);
	if (!nb_eagains) die_setup("the socket never filled");
	tlog("chunks %ld", k);
	tlog("# eagain %ld", nb_eagains);
	close(s);
	pthread_join(sbg_drain, NULL);
	finish(0, 0);
}

/* ---- 5: blocking calls that must return early ---------------------------------------------- */

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void case_eintr_read(void)
{
	int p[2];
	if (!strcmp(O.variant, "siginterrupt-signal")) {
		siginterrupt(SIGALRM, 1);
		signal(SIGALRM, on_alarm);
	} else if (!strcmp(O.variant, "signal-siginterrupt")) {
		signal(SIGALRM, on_alarm);
		siginterrupt(SIGALRM, 1);
	} else if (!strcmp(O.variant, "sigaction")) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
	} else die_setup("unknown variant");
	if (pipe(p) < 0) die_setup("pipe");
	char *buf = map_buffer(O.chunk);
	alarm(1);
	long t0 = now_ms();
	logged_read(p[0], buf, O.chunk);
	tlog("# read returned after %ld ms", now_ms() - t0);
	tlog("alarms %d", (int)alarms);
	finish(0, 0);
}
#pragma GCC diagnostic pop

/* raw_restart_handler — on_alarm for SIGALRM with SA_RESTART, set by rt_sigaction itself (as a
 * runtime without libc would): glibc's restorer is read from SIGUSR2, set without SA_RESTART. */
static void raw_restart_handler(void)
{
	struct ksig {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} k;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	if (sigaction(SIGUSR2, &sa, NULL) < 0 || syscall(SYS_rt_sigaction, SIGUSR2, NULL, &k, sizeof k.mask) < 0)
		die_setup("sigaction SIGUSR2");
	k.flags |= SA_RESTART;
	if (syscall(SYS_rt_sigaction, SIGALRM, &k, NULL, sizeof k.mask) < 0) die_setup("rt_sigaction");
}

/* alarm_handler — SIGALRM's handler as --variant sets it: sigaction with SA_RESTART (the default),
 * signal (BSD: restarts), norestart (sigaction without SA_RESTART), siginterrupt-0 (norestart; after
 * chunk 1, whose write the shim split, siginterrupt(SIGALRM, 0) adds SA_RESTART; the alarm comes
 * in chunk 2), vfork-reset (sigaction; after chunk 1 a vfork child resets SIGALRM to SIG_DFL),
 * raw (rt_sigaction with SA_RESTART) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void alarm_handler(const char *v)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = !v || !strcmp(v, "sigaction") || !strcmp(v, "vfork-reset") ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	if (v && !strcmp(v, "signal")) {
		if (signal(SIGALRM, on_alarm) == SIG_ERR) die_setup("signal");
	} else if (v && !strcmp(v, "raw")) {
		raw_restart_handler();
	} else if (!v || !strcmp(v, "sigaction") || !strcmp(v, "vfork-reset") || !strcmp(v, "norestart") ||
		   !strcmp(v, "siginterrupt-0")) {
		if (sigaction(SIGALRM, &sa, NULL) < 0) die_setup("sigaction");
	} else die_setup("unknown variant");
}

/* after_whole — after the chunks written whole: siginterrupt-0 adds SA_RESTART to the handler;
 * vfork-reset has a vfork child reset SIGALRM to SIG_DFL (its own disposition, not the parent's) */
static void after_whole(const char *v)
{
	if (!strcmp(v, "siginterrupt-0")) {
		if (siginterrupt(SIGALRM, 0) < 0) die_setup("siginterrupt");
		return;
	}
	pid_t c = vfork();
	if (c == 0) {
		signal(SIGALRM, SIG_DFL);
		_exit(0);
	}
	if (c < 0 || waitpid(c, NULL, 0) != c) die_setup("vfork");
}

static void case_alarm_write(void)
{
	alarm_handler(O.variant);
	int whole = O.variant && (!strcmp(O.variant, "siginterrupt-0") || !strcmp(O.variant, "vfork-reset")) ? 2 : 1;
	int src = open_src(O.src);
	char *buf = map_buffer(O.chunk);
	for (long k = 0;; k++) {
		ssize_t got = logged_read(src, buf, O.chunk);
		if (got <= 0) finish(got < 0, got < 0 ? errno : 0);
		if (k < whole) { /* the first chunks go out whole: the reader takes all of them */
			if (write_all(1, buf, (size_t)got) < 0) finish(1, errno);
			if (k == whole - 1 && whole > 1) after_whole(O.variant);
			continue;
		}
		alarm(1); /* the reader has stopped: the write blocks until the alarm */
		long t0 = now_ms();
		ssize_t r = write(1, buf, (size_t)got);
		int e = r < 0 ? errno : 0;
		tlog("w %zd %zd %s", got, r, ename(e));
		tlog("# write returned after %ld ms", now_ms() - t0);
		tlog("alarms %d", (int)alarms);
		finish(r < 0, e);
	}
}
#pragma GCC diagnostic pop

/* case_pipe_reader — stdin to --out: --bytes, then nothing until the writer is gone, then the rest */
static void case_pipe_reader(void)
{
	char buf[65536];
	long got = 0;
	int out = open(O.out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0) die_setup(O.out);
	while (got < O.bytes) {
		size_t want = (size_t)(O.bytes - got) < sizeof buf ? (size_t)(O.bytes - got) : sizeof buf;
		ssize_t r = read(0, buf, want);
		if (r <= 0) break;
		raw_write_all(out, buf, (size_t)r);
		got += r;
	}
	for (;;) {
		struct pollfd p = {.fd = 0, .events = POLLIN};
		if (poll(&p, 1, 100) > 0 && (p.revents & (POLLHUP | POLLERR))) break;
		if (p.revents & POLLIN) sleep_us(10000);
	}
	for (ssize_t r; (r = read(0, buf, sizeof buf)) > 0;) raw_write_all(out, buf, (size_t)r);
	finish(0, 0);
}

/* ---- 6: the program changes the protection or the mapping of its buffer -------------------- */

static int src2_fd = -1;

static void prot_hook(long k, char *buf, size_t got)
{
	const char *v = O.variant;
	int r = 0;
	if (k < 3 || k % 2 == 0) return; /* chunks 1, 2, 4, 6... stay untouched: rewritten */
	if (!strcmp(v, "mprotect-rw")) r = mprotect(buf, O.chunk, PROT_READ | PROT_WRITE);
	else if (!strcmp(v, "mprotect-none-rw")) r = mprotect(buf, O.chunk, PROT_NONE) | mprotect(buf, O.chunk, PROT_READ | PROT_WRITE);
	else if (!strcmp(v, "mprotect-rwx")) r = mprotect(buf, O.chunk, PROT_READ | PROT_WRITE | PROT_EXEC);
	else if (!strcmp(v, "map-fixed-anon"))
		r = mmap(buf, O.chunk, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == buf ? 0 : -1;
	else if (!strcmp(v, "map-fixed-file"))
		r = mmap(buf, O.chunk, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE, src2_fd, 0) == buf ? 0 : -1;
	else die_setup("unknown variant");
	tlog("%s %ld %d", v, k, r);
	/* after a protection change the program fills the buffer itself; a new mapping is left as is */
	if (!strncmp(v, "mprotect", 8)) memset(buf + 128, 0xee, got - 256);
}

static void case_prot(void)
{
	if (!strcmp(O.variant, "map-fixed-file") && (src2_fd = open(O.src2 ? O.src2 : "", O_RDONLY)) < 0) die_setup("--src2");
	int src = open_src(O.src);
	char *buf = map_buffer(O.chunk);
	tlog("chunks %ld", copy(src, 1, buf, prot_hook, 0));
	finish(0, 0);
}

/* ---- 7: the program's own SIGSEGV dispositions ---------------------------------------------- */

static char *trap;        /* a PROT_NONE page the program touches on purpose */
static char *copy_buf;    /* the copy loop's buffer */
static char *altstack;    /* the program's alternate signal stack (selfcheck) */
#define ALTSTACK_SIZE (64 * 1024)
static volatile sig_atomic_t trap_faults, stray_faults;

/* fix_fault — the handler's repair: the trap page becomes writable; a fault anywhere else is stray
 * (the program never stores to protected memory but its trap page): logged, and repaired too so
 * the run goes on and the difference shows in the transcript and the output */
static void fix_fault(void *addr, int have_addr)
{
	if (have_addr ? (char *)addr >= trap && (char *)addr < trap + PAGE : !stray_faults && trap_faults == 0) {
		trap_faults++;
		mprotect(trap, PAGE, PROT_READ | PROT_WRITE);
		return;
	}
	stray_faults++;
	tlog("stray SIGSEGV%s", have_addr && (char *)addr >= copy_buf && (char *)addr < copy_buf + O.chunk ? " in the copy buffer" : "");
	mprotect(copy_buf, O.chunk, PROT_READ | PROT_WRITE);
	if (stray_faults > 100) finish(5, 0);
}

static void on_segv_plain(int sig)
{
	(void)sig;
	fix_fault(NULL, 0);
}

static void on_segv_info(int sig, siginfo_t *si, void *ctx)
{
	(void)sig, (void)ctx;
	fix_fault(si->si_addr, 1);
}

/* on_segv_check — reports what a handler installed with SA_ONSTACK, sa_mask {SIGUSR2} and no
 * SA_NODEFER must see: its own alternate stack, SIGSEGV and SIGUSR2 blocked, the fault's details */
static void on_segv_check(int sig, siginfo_t *si, void *ctx)
{
	sigset_t cur;
	stack_t ss;
	char here;
	(void)sig, (void)ctx;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	sigaltstack(NULL, &ss);
	tlog("handler: on own altstack %s, SS_ONSTACK %s, SIGSEGV blocked %s, SIGUSR2 blocked %s, SIGUSR1 blocked %s, "
	     "si_code %s, addr %s",
	     &here >= altstack && &here < altstack + ALTSTACK_SIZE ? "yes" : "no", ss.ss_flags & SS_ONSTACK ? "yes" : "no",
	     sigismember(&cur, SIGSEGV) ? "yes" : "no", sigismember(&cur, SIGUSR2) ? "yes" : "no",
	     sigismember(&cur, SIGUSR1) ? "yes" : "no", si->si_code == SEGV_ACCERR ? "SEGV_ACCERR" : "other",
	     (char *)si->si_addr == trap ? "trap" : "other");
	fix_fault(si->si_addr, 1);
}

#ifdef __x86_64__
/* the return path of a handler installed with the raw system call (glibc's is not exported) */
void hostile_restore_rt(void);
__asm__(".text\n.globl hostile_restore_rt\n.type hostile_restore_rt,@function\n"
	"hostile_restore_rt:\n\tmov $15, %rax\n\tsyscall\n\thlt\n");
#endif

struct ksigaction { /* the kernel's struct sigaction (x86_64, arm64) */
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
};

/* kernel_handler — the SIGSEGV action as the kernel has it: "dfl", "ign", "ours" or "other" */
static const char *kernel_handler(void *ours)
{
	struct ksigaction k;
	if (syscall(SYS_rt_sigaction, SIGSEGV, NULL, &k, 8) < 0) return "error";
	if (k.handler == (void *)SIG_DFL) return "dfl";
	if (k.handler == (void *)SIG_IGN) return "ign";
	return k.handler == ours ? "ours" : "other";
}

/* libc_handler — the same, as sigaction() reports it */
static const char *libc_handler(void *ours)
{
	struct sigaction a;
	if (sigaction(SIGSEGV, NULL, &a) < 0) return "error";
	void *h = (a.sa_flags & SA_SIGINFO) ? (void *)a.sa_sigaction : (void *)a.sa_handler;
	if (h == (void *)SIG_DFL) return "dfl";
	if (h == (void *)SIG_IGN) return "ign";
	return h == ours ? "ours" : "other";
}

static void report_disposition(void *ours)
{
	tlog("disposition: sigaction %s, kernel %s", libc_handler(ours), kernel_handler(ours));
}

/* seg_pass — one pass over the source to stdout, a store into every odd chunk */
static void seg_pass(int src)
{
	static long k;
	if (lseek(src, 0, SEEK_SET) != 0) die_setup("lseek");
	k = copy(src, 1, copy_buf, flip_odd, k);
}

static void touch_trap(const char *what)
{
	tlog("touch %s", what);
	*(volatile char *)trap = 1;
	tlog("trap faults %d, stray faults %d", (int)trap_faults, (int)stray_faults);
}

static void two_thread_copy(void);
extern __sighandler_t bsd_signal(int sig, __sighandler_t h); /* exported by glibc, no longer declared */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void case_segv(void)
{
	const char *v = O.variant;
	struct sigaction sa;
	void *ours = NULL;
	trap = map_buffer(PAGE);
	if (mprotect(trap, PAGE, PROT_NONE) < 0) die_setup("mprotect trap");
	copy_buf = map_buffer(O.chunk);
	if (!strcmp(v, "two-threads")) {
		two_thread_copy(); /* both threads guard their first buffers at once */
		report_disposition(NULL);
		touch_trap("trap, default action"); /* killed by SIGSEGV */
		finish(0, 0);
	}
	int src = open_src(O.src);
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	if (!strcmp(v, "ign-before")) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGSEGV, &sa, NULL);
		seg_pass(src), seg_pass(src);
	} else if (!strcmp(v, "ign-after")) {
		seg_pass(src);
		signal(SIGSEGV, SIG_IGN);
		seg_pass(src);
	}
	if (!strncmp(v, "ign-", 4)) {
		for (int i = 0; i < 3; i++) tlog("raise %d", raise(SIGSEGV)); /* ignored: nothing happens */
		report_disposition(NULL);
		finish(0, 0);
	}
	seg_pass(src); /* first the shim guards buffers, then the program installs its handler */
	if (!strcmp(v, "sigset")) sigset(SIGSEGV, on_segv_plain), ours = (void *)on_segv_plain;
	else if (!strcmp(v, "bsd_signal")) bsd_signal(SIGSEGV, on_segv_plain), ours = (void *)on_segv_plain;
	else if (!strcmp(v, "sysv_signal")) sysv_signal(SIGSEGV, on_segv_plain), ours = (void *)on_segv_plain;
	else if (!strcmp(v, "sigaction") || !strcmp(v, "resethand")) {
		sa.sa_sigaction = on_segv_info;
		sa.sa_flags = SA_SIGINFO | (!strcmp(v, "resethand") ? SA_RESETHAND : 0);
		if (sigaction(SIGSEGV, &sa, NULL) < 0) die_setup("sigaction");
		ours = (void *)on_segv_info;
	} else if (!strcmp(v, "raw")) {
#ifdef __x86_64__
		struct ksigaction k = {(void *)on_segv_info, SA_SIGINFO | 0x04000000 /* SA_RESTORER */, (void *)hostile_restore_rt, 0};
		if (syscall(SYS_rt_sigaction, SIGSEGV, &k, NULL, 8) < 0) die_setup("rt_sigaction");
		ours = (void *)on_segv_info;
#else
		die_setup("raw rt_sigaction: x86_64 only");
#endif
	} else if (!strcmp(v, "selfcheck")) {
		stack_t ss = {.ss_sp = altstack = map_buffer(ALTSTACK_SIZE), .ss_size = ALTSTACK_SIZE};
		if (sigaltstack(&ss, NULL) < 0) die_setup("sigaltstack");
		sa.sa_sigaction = on_segv_check;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigaddset(&sa.sa_mask, SIGUSR2);
		if (sigaction(SIGSEGV, &sa, NULL) < 0) die_setup("sigaction");
		ours = (void *)on_segv_check;
	} else die_setup("unknown variant");
	report_disposition(ours);
	seg_pass(src); /* the shim's faults (if any) must not reach the program's handler */
	touch_trap("trap");
	report_disposition(ours);
	if (!strcmp(v, "resethand")) {
		mprotect(trap, PAGE, PROT_NONE);
		touch_trap("trap again, default action now"); /* killed by SIGSEGV */
	}
	finish(0, 0);
}
#pragma GCC diagnostic pop

static pthread_barrier_t barrier;

/* tt_drain — discards what a copy thread writes to its pipe */
static void *tt_drain(void *a)
{
	char buf[4096];
	int fd = (int)(intptr_t)a;
	while (read(fd, buf, sizeof buf) > 0) {}
	return NULL;
}

/* tt_copy — chunk 0 (proves the copy loop), then all threads read chunk 1 together: first guards */
static void *tt_copy(void *a)
{
	int dst = (int)(intptr_t)a;
	int src = open_src(O.src);
	char *buf = map_buffer(O.chunk);
	for (int k = 0; k < 4; k++) {
		if (k == 1) pthread_barrier_wait(&barrier);
		ssize_t got = read(src, buf, O.chunk);
		if (got <= 0 || write_all(dst, buf, (size_t)got) < 0) finish(1, got < 0 ? errno : EIO);
	}
	close(src);
	return NULL;
}

static void two_thread_copy(void)
{
	pthread_t t[2], d[2];
	int p[2][2];
	pthread_barrier_init(&barrier, NULL, 2);
	for (int i = 0; i < 2; i++) {
		if (pipe(p[i]) < 0) die_setup("pipe");
		pthread_create(&d[i], NULL, tt_drain, (void *)(intptr_t)p[i][0]);
		pthread_create(&t[i], NULL, tt_copy, (void *)(intptr_t)p[i][1]);
	}
	for (int i = 0; i < 2; i++) pthread_join(t[i], NULL), close(p[i][1]), pthread_join(d[i], NULL);
}

/* ---- 8: bad iovec arrays ----------------------------------------------------------------- */

/* iov_call — the variant's call with (iov, cnt); its result and errno, and the source offset */
static void iov_call(const char *what, int src, int pw, int out, int sock, struct iovec *iov, int cnt)
{
	const char *v = O.variant;
	ssize_t r;
	if (!strcmp(v, "readv")) r = readv(src, iov, cnt);
	else if (!strcmp(v, "preadv")) r = preadv(src, iov, cnt, 0);
	else if (!strcmp(v, "writev")) r = writev(pw, iov, cnt);
	else if (!strcmp(v, "pwritev")) r = pwritev(out, iov, cnt, 0);
	else if (!strcmp(v, "sendmsg")) {
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
		r = sendmsg(sock, &m, MSG_DONTWAIT);
	} else die_setup("unknown variant");
	int e = r < 0 ? errno : 0;
	tlog("%s %s %d: %zd %s, source at %lld", v, what, cnt, r, ename(e), (long long)lseek(src, 0, SEEK_CUR));
}

static void case_iov(void)
{
	int pp[2], sv[2];
	int src = open_src(O.src);
	if (!O.out) die_setup("--out needed");
	int out = open(O.out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0 || pipe(pp) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die_setup("setup");
	copy_buf = map_buffer(O.chunk);
	/* good page, then an inaccessible one: an iovec array that runs off the end of its memory */
	char *pages = map_buffer(2 * PAGE);
	if (mprotect(pages + PAGE, PAGE, PROT_NONE) < 0) die_setup("mprotect");
	struct iovec *edge = (struct iovec *)(pages + PAGE) - 256; /* 256 entries fit, the rest do not */
	for (int i = 0; i < 256; i++) edge[i] = (struct iovec){copy_buf, 16};
	/* a copy loop first: the source is proven, and the last chunk read stays recorded (guarded) */
	for (int k = 0; k < 3; k++) {
		ssize_t got = logged_read(src, copy_buf, O.chunk);
		if (got <= 0) finish(1, got < 0 ? errno : EIO);
		if (k < 2 && write_all(1, copy_buf, (size_t)got) < 0) finish(1, errno);
	}
	struct iovec one[2] = {{pages + PAGE, O.chunk}, {copy_buf, O.chunk}};
	struct iovec huge[2] = {{copy_buf, O.chunk}, {copy_buf, SIZE_MAX / 2 + 10}};
	iov_call("iov-pointer-inaccessible", src, pp[1], out, sv[0], (struct iovec *)(pages + PAGE), 2);
	iov_call("iov-pointer-invalid", src, pp[1], out, sv[0], (struct iovec *)16, 2);
	iov_call("iov-array-crosses-into-inaccessible", src, pp[1], out, sv[0], edge, 2000);
	iov_call("iov-array-crosses-into-inaccessible", src, pp[1], out, sv[0], edge, 1000);
	iov_call("iov-base-inaccessible", src, pp[1], out, sv[0], one, 1);
	iov_call("iov-len-negative", src, pp[1], out, sv[0], huge, 2);
	iov_call("iov-count-negative", src, pp[1], out, sv[0], one, -1);
	if (write_all(1, copy_buf, O.chunk) < 0) finish(1, errno); /* the recorded chunk goes out */
	finish(0, 0);
}

/* ---- 9: a worker thread's heap and mmap buffers are not stack buffers -------------------------- */

static char *wb_buf;

static void *wb_worker(void *a)
{
	const char *v = O.variant;
	char here;
	(void)a;
	pthread_barrier_wait(&barrier); /* the main thread has made its hole (hole-*) */
	if (!strcmp(v, "hole-mmap")) wb_buf = map_buffer(O.chunk + PAGE);
	else if (!strcmp(v, "hole-malloc") || !strcmp(v, "arena")) {
		wb_buf = malloc(!strcmp(v, "arena") ? O.chunk : 1 << 20);
		if (!wb_buf) die_setup("malloc");
	}
	tlog("# buffer %p, worker stack near %p", (void *)wb_buf, (void *)&here);
	int src = open_src(O.src);
	tlog("chunks %ld", copy(src, 1, wb_buf, NULL, 0));
	return NULL;
}

static void case_worker_bufs(void)
{
	const char *v = O.variant;
	pthread_t w;
	void *hole = NULL;
	pthread_barrier_init(&barrier, NULL, 2);
	if (!strcmp(v, "main-mmap")) wb_buf = map_buffer(O.chunk);
	else if (!strcmp(v, "main-malloc") && !(wb_buf = malloc(1 << 20))) die_setup("malloc");
	else if (!strncmp(v, "hole-", 5)) hole = map_buffer(4 << 20); /* the worker's stack goes below */
	else if (strcmp(v, "arena") && strcmp(v, "main-malloc")) die_setup("unknown variant");
	if (pthread_create(&w, NULL, wb_worker, NULL)) die_setup("pthread_create");
	if (hole) munmap(hole, 4 << 20); /* a free range above the worker's stack: its mmaps land there */
	pthread_barrier_wait(&barrier);
	pthread_join(w, NULL);
	finish(0, 0);
}

/* ---- main ------------------------------------------------------------------------------- */

static void usage(const char *why)
{
	fprintf(stderr, "hostile: %s (see the source's header for usage)\n", why);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"log", 1, 0, 'l'}, {"src", 1, 0, 's'}, {"src2", 1, 0, 'S'}, {"out", 1, 0, 'o'},
		{"chunk", 1, 0, 'c'}, {"passes", 1, 0, 'p'}, {"variant", 1, 0, 'v'}, {"port", 1, 0, 'P'},
		{"port-file", 1, 0, 'f'}, {"bytes", 1, 0, 'b'}, {"sigpipe", 1, 0, 'g'}, {"deadline", 1, 0, 'd'}, {"seconds", 1, 0, 't'},
		{0, 0, 0, 0}};
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {{"blocked-worker", case_blocked_worker}, {"sigwrite", case_sigwrite}, {"modify", case_modify},
		     {"opener", case_opener}, {"reset", case_reset}, {"reset-recv", case_reset_recv},
		     {"eintr-read", case_eintr_read}, {"alarm-write", case_alarm_write}, {"pipe-reader", case_pipe_reader},
		     {"nonblock-wait", case_nonblock_wait}, {"sndbuf-grow", case_sndbuf_grow}, {"prot", case_prot}, {"segv", case_segv}, {"iov", case_iov}, {"worker-bufs", case_worker_bufs}};
	int c;
	long long v;
	if (argc < 2) usage("no case");
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': O.log = optarg; break;
		case 's': O.src = optarg; break;
		case 'S': O.src2 = optarg; break;
		case 'o': O.out = optarg; break;
		case 'v': O.variant = optarg; break;
		case 'f': O.port_file = optarg; break;
		case 'g': O.sigpipe_ignore = !strcmp(optarg, "ignore"); break;
		case 'c': case 'p': case 'P': case 'b': case 'd': case 't':
			if ((v = progs_size(optarg)) <= 0) usage("bad number");
			if (c == 'c') O.chunk = (size_t)v;
			else if (c == 'p') O.passes = (long)v;
			else if (c == 'P') O.port = (int)v;
			else if (c == 'b') O.bytes = (long)v;
			else if (c == 't') O.seconds = (long)v;
			else O.deadline = (long)v;
			break;
		default: usage("bad option");
		}
	}
	if (O.log) {
		int fd = (int)syscall(SYS_openat, AT_FDCWD, O.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) progs_die("hostile", O.log);
		log_fd = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, HIGH_FD);
		syscall(SYS_close, fd);
	}
	tlog("# pid %d case %s %s", (int)getpid(), argv[1], O.variant);
	if (start_watchdog(O.deadline)) die_setup("pthread_create watchdog");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (!strcmp(argv[1], cases[i].name)) cases[i].fn();
	usage("unknown case");
}
