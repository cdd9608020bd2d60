/* deferred.c — read()+write() copy loops that do something hostile between the read and the write,
 * for the deferred mode (ZCSHIM_MODE=deferred: the page-aligned interior of a read's buffer is left
 * absent and filled on the first touch). Used by tests/e2e/test_deferred.sh, which runs every item
 * without and with the shim and compares the bytes written to stdout, the transcript and the status.
 *
 * usage: deferred ITEM [options]
 *   --log PATH       transcript (below)             --src PATH    source file (read in 64 KiB chunks)
 *   --src2 PATH      another file (partread, rawsys) --out PATH   a second output (fork: the children's)
 *   --variant V      the item's variant             --deadline S  give up after S s (exit 4; 30)
 * Items (the destination is stdout, a pipe in the test; the buffer is malloc(65536) unless said):
 *   hash        hash the buffer after each read, before its write
 *   touch3      variant read: load a head, an interior and a tail byte after each read;
 *               variant poke: change one interior byte of every odd chunk
 *   partread    odd chunks: variant read (read 10000 bytes of --src2 at buf+20000) or pread
 *               (pread 40000 bytes of --src2 at buf+12345), then the whole buffer is written
 *   recv        odd chunks: 5000 bytes through a socketpair into the buffer, variant recv | read |
 *               recvmsg (two pieces) | rawrecv (syscall recvfrom)
 *   thread      every chunk: a second thread hashes the buffer while the main thread writes it
 *   fork        odd chunks: fork between read and write; the child hashes the buffer and appends
 *               it to --out; the parent writes, then logs both hashes
 *   leasebreak  after chunk 3: another process (variant process) or thread (variant thread) opens
 *               --src for writing and overwrites chunks 2 and 3; then the buffer is written
 *   truncate    after chunk 3: another process truncates --src (variant mid: inside chunk 3;
 *               zero: to 0 bytes); then the buffer is written
 *   eof         the whole file with the buffer at malloc, page+1 and page+4095, by read and pread
 *   freeuse     odd chunks: free the buffer, malloc it again, then variant memset | peek (log and
 *               write what the new allocation holds, pages 1..14 only: never initialized, so
 *               indeterminate in C, yet the same in every run without the shim) | reread (read the
 *               next chunk into it); variant python: a fresh malloc per chunk, read, write, free
 *   mapfixed    mmap'd buffer; odd chunks: a new anonymous mapping over it, variant all | part
 *               (two middle pages) | rawall | rawpart (syscall mmap); then hash and write
 *   remap       mmap'd buffer; odd chunks: mremap, variant libc | raw (syscall) moves the whole buffer
 *               to another place (written from there) | part | rawpart: two middle pages out and back
 *   dontneed    mmap'd buffer; odd chunks: MADV_DONTNEED, variant all | part (two middle pages) |
 *               heap (the interior of a heap buffer 16 bytes into a page) | raw (syscall madvise);
 *               or a change of the mapping that only splits it: split (MADV_NOHUGEPAGE on two
 *               middle pages) | mlock (mlock of two middle pages); then hash and write
 *   exec        after chunk 3: variant self (exec this program, exec-child, with a string of the
 *               buffer as an argument; it continues from the inherited source descriptor) | true
 *               (exec /bin/true) | fail (an exec that fails with ENOENT, then another process
 *               overwrites chunk 3 in the file; the buffer is hashed and written)
 *   exec-child  (exec self) logs the argument's hash and the inherited offset, copies the rest
 *   shared      a MAP_SHARED anonymous buffer read by a child forked before the copy, after each
 *               read: the child's hash is logged (never deferred: only private memory is)
 *   many        --variant N: the source opened N times (N descriptors, as N connections of a server),
 *               read round-robin a chunk from each into that stream's own malloc'd buffer, each
 *               chunk written as it is read; the streams end together (logs "streams N")
 *   rawsys      odd chunks, the buffer given to a call the shim does not see: variant write
 *               (syscall write, instead of write) | vmsplice | pvread (process_vm_readv) | rawread
 *               (syscall read of 10000 bytes of --src2 into the buffer at +20000)
 *
 * Transcript, one line per event, written with raw system calls so the shim never sees them:
 *   "r K ASKED RETURNED ERRNO OFF"   read K of the copy loop and lseek(src, 0, SEEK_CUR) after it
 *   "w K ASKED RETURNED ERRNO"       every write call of chunk K
 *   other lines name what the item did and saw (hashes are 64-bit FNV-1a, hex);
 *   "# ..." lines are informational (addresses, durations), never compared
 *   "exit N [ERRNO]"                 the program's final status
 * Exit status: 0 done, 1 a call failed, 2 bad usage, 3 setup failed, 4 the deadline passed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
#define CHUNK 65536
#define HOOK_AT 3 /* the chunk single-shot items act on: deferred (chunk 0 only proves the loop) */

static struct {
	const char *log, *src, *src2, *out, *variant, *arg;
	long deadline;
	int fd;
} O = {.variant = "", .deadline = 30, .fd = -1};

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
	fprintf(stderr, "deferred: %s: %s\n", what, strerror(e));
	tlog("exit 3");
	exit(3);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* fnv — 64-bit FNV-1a of [p, p+n): a hash any difference in the bytes changes */
static unsigned long long fnv(const void *p, size_t n)
{
	const unsigned char *c = p;
	unsigned long long h = 0xcbf29ce484222325ULL;
	for (size_t k = 0; k < n; k++) h = (h ^ c[k]) * 0x100000001b3ULL;
	return h;
}


/* ---- buffers and files ------------------------------------------------------------------------ */

static char *heap_buffer(void)
{
	char *p = malloc(CHUNK); /* deliberately not page-aligned: a head and a tail around the interior */
	if (!p) die_setup("malloc");
	return p;
}

static char *map_buffer(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) die_setup("mmap buffer");
	return p;
}

static int open_or_die(const char *path, int flags)
{
	if (!path) errno = EINVAL, die_setup("a path option is missing");
	int fd = open(path, flags, 0644);
	if (fd < 0) die_setup(path);
	return fd;
}

/* ---- the copy loop ---------------------------------------------------------------------------- */

struct loop;
/* before: between the read and the write; returns 1 when it sent the chunk itself */
typedef int (*before_fn)(long k, struct loop *l, size_t got);
/* after: once the chunk is written */
typedef void (*after_fn)(long k, struct loop *l, size_t got);

struct loop {
	int src;
	char *buf;  /* a hook may replace it (freeuse) */
	int pread;  /* pread at pos instead of read */
	off_t pos;
	before_fn before;
	after_fn after;
	long k;     /* chunks so far: continues across loops of one program */
};

static ssize_t logged_read(long k, struct loop *l)
{
	ssize_t r = l->pread ? pread(l->src, l->buf, CHUNK, l->pos) : read(l->src, l->buf, CHUNK);
	int e = r < 0 ? errno : 0;
	off_t off = lseek(l->src, 0, SEEK_CUR);
	tlog("r %ld %d %zd %s %lld", k, CHUNK, r, ename(e), (long long)off);
	if (r > 0) l->pos += r;
	errno = e;
	return r;
}

/* write_all — [buf, buf+n) to fd, each call transcribed; partial counts and EINTR continue */
static int write_all(long k, int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, buf, n);
		int e = r < 0 ? errno : 0;
		tlog("w %ld %zu %zd %s", k, n, r, ename(e));
		if (r < 0 && e == EINTR) continue;
		if (r <= 0) return errno = r < 0 ? e : EIO, -1;
		buf += r, n -= (size_t)r;
	}
	return 0;
}

/* copy — the source to stdout until EOF, the hooks around every write */
static void copy(struct loop *l)
{
	for (;; l->k++) {
		ssize_t got = logged_read(l->k, l);
		if (got < 0) finish(1, errno);
		if (got == 0) return;
		if (l->before && l->before(l->k, l, (size_t)got)) continue;
		if (write_all(l->k, 1, l->buf, (size_t)got) < 0) finish(1, errno);
		if (l->after) l->after(l->k, l, (size_t)got);
	}
}

/* run_copy — one pass over --src through buf with the given hooks, then "chunks N" */
static void run_copy(char *buf, before_fn before, after_fn after)
{
	struct loop l = {.src = open_or_die(O.src, O_RDONLY), .buf = buf, .before = before, .after = after};
	copy(&l);
	tlog("chunks %ld", l.k);
	close(l.src);
}

static int odd(long k) { return k % 2 == 1; }

/* ---- a helper process, forked before the source is opened: it never holds it open, and no fork
 * happens between a read and its write (a fork fills deferred buffers, which would hide a missing
 * fill by a lease break). Commands go over a pipe; the answer says how long the call took. ---- */

enum { H_OVERWRITE = 1, H_TRUNCATE, H_QUIT };
struct hcmd { int op; long long off, len; };
struct hreply { int rc, err; long ms; };
static int hcmd_fd = -1, hreply_fd = -1;

/* overwrite — open --src for writing (this breaks a read lease) and put 0xa5 over [off, off+len) */
static struct hreply overwrite(long long off, long long len)
{
	struct hreply r = {0, 0, 0};
	long t0 = now_ms();
	int fd = open(O.src, O_WRONLY);
	if (fd < 0) return (struct hreply){-1, errno, now_ms() - t0};
	char *junk = malloc((size_t)len);
	memset(junk, 0xa5, (size_t)len);
	if (pwrite(fd, junk, (size_t)len, off) != len) r.rc = -1, r.err = errno ? errno : EIO;
	free(junk);
	close(fd);
	r.ms = now_ms() - t0;
	return r;
}

static struct hreply do_hcmd(const struct hcmd *c)
{
	if (c->op == H_OVERWRITE) return overwrite(c->off, c->len);
	long t0 = now_ms();
	int rc = truncate(O.src, c->len);
	return (struct hreply){rc, rc < 0 ? errno : 0, now_ms() - t0};
}

static void helper_start(void)
{
	int c[2], r[2];
	if (pipe(c) < 0 || pipe(r) < 0) die_setup("pipe");
	pid_t pid = fork();
	if (pid < 0) die_setup("fork helper");
	if (pid == 0) {
		struct hcmd cmd;
		close(c[1]), close(r[0]);
		while (read(c[0], &cmd, sizeof cmd) == sizeof cmd && cmd.op != H_QUIT) {
			struct hreply rep = do_hcmd(&cmd);
			if (write(r[1], &rep, sizeof rep) != sizeof rep) break;
		}
		_exit(0);
	}
	close(c[0]), close(r[1]);
	hcmd_fd = c[1], hreply_fd = r[0];
}

/* helper — one command, answered; logged as "helper OP rc errno" (its duration informational) */
static void helper(int op, long long off, long long len)
{
	struct hcmd c = {op, off, len};
	struct hreply rep = {-1, EIO, 0};
	if (write(hcmd_fd, &c, sizeof c) != sizeof c || read(hreply_fd, &rep, sizeof rep) != sizeof rep)
		die_setup("helper pipe");
	tlog("helper %s %d %s", op == H_OVERWRITE ? "overwrite" : "truncate", rep.rc, ename(rep.err));
	tlog("# helper took %ld ms", rep.ms);
}

static void helper_stop(void)
{
	struct hcmd c = {H_QUIT, 0, 0};
	if (write(hcmd_fd, &c, sizeof c) != sizeof c) die_setup("helper pipe");
	wait(NULL);
}

/* ---- 1: hash ----------------------------------------------------------------------------------- */

static int hash_before(long k, struct loop *l, size_t got)
{
	tlog("hash %ld %016llx whole %016llx", k, fnv(l->buf, got), fnv(l->buf, CHUNK));
	return 0;
}

static void item_hash(void)
{
	run_copy(heap_buffer(), hash_before, NULL);
}

/* ---- 2: touch3 ----------------------------------------------------------------------------------- */

static int touch_before(long k, struct loop *l, size_t got)
{
	volatile char *b = l->buf;
	if (!strcmp(O.variant, "read")) {
		tlog("touch %ld %02x %02x %02x", k, b[0] & 0xff, b[got / 2] & 0xff, b[got - 1] & 0xff);
	} else if (odd(k)) { /* poke: even chunks stay clean, for the shim to rewrite */
		b[got / 2] ^= 0x5a;
		tlog("poke %ld", k);
	}
	return 0;
}

static void item_touch3(void)
{
	if (strcmp(O.variant, "read") && strcmp(O.variant, "poke")) errno = EINVAL, die_setup("variant");
	run_copy(heap_buffer(), touch_before, NULL);
}

/* ---- 3: partread: another file read into part of a buffer holding a deferred chunk ------------------ */

static int src2_fd = -1;

static int partread_before(long k, struct loop *l, size_t got)
{
	ssize_t r;
	if (!odd(k) || got < 30000) return 0;
	if (!strcmp(O.variant, "pread")) r = pread(src2_fd, l->buf + 12345, got - 12345 < 40000 ? got - 12345 : 40000, 777 * k);
	else r = read(src2_fd, l->buf + 20000, 10000);
	int e = r < 0 ? errno : 0;
	tlog("partread %ld %zd %s", k, r, ename(e));
	if (r == 0) lseek(src2_fd, 0, SEEK_SET); /* the other file is shorter: around again */
	return 0;
}

static void item_partread(void)
{
	src2_fd = open_or_die(O.src2, O_RDONLY);
	run_copy(heap_buffer(), partread_before, NULL);
}

/* ---- 4: recv: a socket's bytes into part of a deferred buffer ------------------------------------- */

static int sv[2];

static int recv_before(long k, struct loop *l, size_t got)
{
	char msg[5000];
	ssize_t r;
	if (!odd(k) || got < 55000) return 0;
	for (size_t i = 0; i < sizeof msg; i++) msg[i] = (char)(k * 31 + i * 7);
	if (send(sv[1], msg, sizeof msg, 0) != sizeof msg) die_setup("send");
	char *at = l->buf + 30000;
	if (!strcmp(O.variant, "read")) {
		r = read(sv[0], at, sizeof msg);
	} else if (!strcmp(O.variant, "recvmsg")) {
		struct iovec iov[2] = {{at, 2000}, {l->buf + 50000, 3000}};
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
		r = recvmsg(sv[0], &m, MSG_WAITALL);
	} else if (!strcmp(O.variant, "rawrecv")) {
		r = syscall(SYS_recvfrom, sv[0], at, sizeof msg, MSG_WAITALL, NULL, NULL);
	} else {
		r = recv(sv[0], at, sizeof msg, MSG_WAITALL);
	}
	int e = r < 0 ? errno : 0;
	tlog("recv %ld %zd %s", k, r, ename(e));
	return 0;
}

static void item_recv(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die_setup("socketpair");
	run_copy(heap_buffer(), recv_before, NULL);
}

/* ---- 5: thread: another thread hashes the buffer while the owner writes it ---------------------- */

static pthread_barrier_t go, done;
static struct { const char *buf; size_t got; int stop; unsigned long long h; } shared;

static void *hasher(void *a)
{
	(void)a;
	for (;;) {
		pthread_barrier_wait(&go); /* the read has returned */
		if (shared.stop) return NULL;
		shared.h = fnv(shared.buf, shared.got); /* meanwhile the main thread is inside write */
		pthread_barrier_wait(&done);
	}
}

static int thread_before(long k, struct loop *l, size_t got)
{
	(void)k;
	shared.buf = l->buf, shared.got = got;
	pthread_barrier_wait(&go);
	return 0;
}

static void thread_after(long k, struct loop *l, size_t got)
{
	(void)l, (void)got;
	pthread_barrier_wait(&done); /* joined before the next read */
	tlog("thread %ld %016llx", k, shared.h);
}

static void item_thread(void)
{
	pthread_t t;
	pthread_barrier_init(&go, NULL, 2);
	pthread_barrier_init(&done, NULL, 2);
	if (pthread_create(&t, NULL, hasher, NULL)) die_setup("pthread_create");
	run_copy(heap_buffer(), thread_before, thread_after);
	shared.stop = 1;
	pthread_barrier_wait(&go);
	pthread_join(t, NULL);
}

/* ---- 6: fork between a read and its write ----------------------------------------------------- */

static pid_t fork_child = -1;
static int fork_pipe[2];

/* fork_before — the child hashes the buffer, appends it to --out, answers the hash and exits */
static int fork_before(long k, struct loop *l, size_t got)
{
	if (!odd(k)) return 0;
	if (pipe(fork_pipe) < 0) die_setup("pipe");
	fork_child = fork();
	if (fork_child < 0) die_setup("fork");
	if (fork_child == 0) {
		char line[32];
		int n = snprintf(line, sizeof line, "%016llx", fnv(l->buf, got));
		int out = open_or_die(O.out, O_WRONLY | O_APPEND | O_CREAT);
		for (size_t off = 0; off < got;) { /* not transcribed: the parent's lines would interleave */
			ssize_t w = write(out, l->buf + off, got - off);
			if (w <= 0) _exit(1);
			off += (size_t)w;
		}
		raw_write_all(fork_pipe[1], line, (size_t)n);
		_exit(0);
	}
	close(fork_pipe[1]);
	return 0;
}

static void fork_after(long k, struct loop *l, size_t got)
{
	char line[32] = "";
	int st = -1;
	if (!odd(k)) return;
	ssize_t n = read(fork_pipe[0], line, sizeof line - 1);
	line[n > 0 ? n : 0] = 0;
	close(fork_pipe[0]);
	waitpid(fork_child, &st, 0);
	tlog("child %ld %s status %d", k, line, st);
	tlog("parent %ld %016llx", k, fnv(l->buf, got));
}

static void item_fork(void)
{
	run_copy(heap_buffer(), fork_before, fork_after);
}

/* ---- 7: leasebreak: another writer of the source between the read and the write ---------------- */

static void *overwrite_thread(void *a)
{
	long long *off = a;
	struct hreply r = overwrite(off[0], off[1]);
	tlog("writer-thread %d %s", r.rc, ename(r.err));
	tlog("# writer thread took %ld ms", r.ms);
	return NULL;
}

/* leasebreak_before — chunks HOOK_AT-1 and HOOK_AT (one written already, maybe still in the pipe)
 * are overwritten in the file: the bytes written out must be the ones read */
static int leasebreak_before(long k, struct loop *l, size_t got)
{
	static long long range[2] = {(long long)(HOOK_AT - 1) * CHUNK, 2LL * CHUNK};
	(void)l, (void)got;
	if (k != HOOK_AT) return 0;
	if (!strcmp(O.variant, "thread")) {
		pthread_t t;
		if (pthread_create(&t, NULL, overwrite_thread, range)) die_setup("pthread_create");
		pthread_join(t, NULL);
	} else {
		helper(H_OVERWRITE, range[0], range[1]);
	}
	return 0;
}

static void hash_after_hook(long k, struct loop *l, size_t got)
{
	if (k == HOOK_AT) tlog("after %ld %016llx", k, fnv(l->buf, got));
}

static void item_leasebreak(void)
{
	if (strcmp(O.variant, "thread")) helper_start();
	run_copy(heap_buffer(), leasebreak_before, hash_after_hook);
	if (strcmp(O.variant, "thread")) helper_stop();
}

/* ---- 8: truncate the source between a read and its write --------------------------------------- */

static int truncate_before(long k, struct loop *l, size_t got)
{
	(void)l, (void)got;
	if (k == HOOK_AT) helper(H_TRUNCATE, 0, !strcmp(O.variant, "zero") ? 0 : (long long)HOOK_AT * CHUNK + 1000);
	return 0;
}

static void item_truncate(void)
{
	helper_start();
	run_copy(heap_buffer(), truncate_before, hash_after_hook);
	helper_stop();
}

/* ---- 9: eof: short last reads at every buffer placement, by read and by pread ------------------- */

static void item_eof(void)
{
	static const char *where[] = {"malloc", "page+1", "page+4095"};
	static const size_t shift[] = {0, 1, 4095};
	long k = 0;
	for (int p = 0; p < 2; p++)
		for (int w = 0; w < 3; w++) {
			char *region = w ? aligned_alloc(PAGE, CHUNK + 2 * PAGE) : NULL;
			struct loop l = {.src = open_or_die(O.src, O_RDONLY), .buf = w ? region + shift[w] : heap_buffer(),
					 .pread = p, .k = k};
			tlog("pass %s %s", where[w], p ? "pread" : "read");
			copy(&l);
			k = l.k;
			close(l.src);
			free(w ? region : l.buf);
		}
	tlog("chunks %ld", k);
}

/* ---- 10: freeuse: the buffer freed while it holds a deferred chunk ---------------------------- */

/* freeuse_before — odd chunks: free, malloc the same size, then the variant; the new allocation
 * (usually the same address) is what gets written */
static int freeuse_before(long k, struct loop *l, size_t got)
{
	if (!odd(k)) return 0;
	char *old = l->buf;
	free(old);
	l->buf = heap_buffer();
	tlog("# realloc'd %s", l->buf == old ? "at the same address" : "elsewhere");
	if (!strcmp(O.variant, "memset")) {
		memset(l->buf, (int)k, CHUNK);
	} else if (!strcmp(O.variant, "peek")) {
		/* what malloc handed back, as it is: only pages inside the interior in any run (the
		 * allocator's own words at the start depend on the heap's layout, which the shim changes) */
		got -= 2 * PAGE;
		tlog("peek %ld %016llx", k, fnv(l->buf + PAGE, got));
		if (write_all(k, 1, l->buf + PAGE, got) < 0) finish(1, errno);
		return 1;
	} else { /* reread: the next chunk into the new allocation, then written */
		l->k++;
		ssize_t r = logged_read(l->k, l);
		if (r < 0) finish(1, errno);
		if (r > 0 && write_all(l->k, 1, l->buf, (size_t)r) < 0) finish(1, errno);
		return 1;
	}
	if (write_all(k, 1, l->buf, got) < 0) finish(1, errno);
	return 1;
}

/* python_loop — python's f.read(n): a fresh object per chunk; the old one freed after its write */
static void python_loop(void)
{
	struct loop l = {.src = open_or_die(O.src, O_RDONLY)};
	for (;; l.k++) {
		l.buf = heap_buffer();
		ssize_t got = logged_read(l.k, &l);
		if (got < 0) finish(1, errno);
		if (got > 0 && write_all(l.k, 1, l.buf, (size_t)got) < 0) finish(1, errno);
		free(l.buf);
		if (got == 0) break;
	}
	tlog("chunks %ld", l.k);
}

static void item_freeuse(void)
{
	if (!strcmp(O.variant, "python")) python_loop();
	else run_copy(heap_buffer(), freeuse_before, NULL);
}

/* ---- 11: mapfixed: a new anonymous mapping over a buffer holding a deferred chunk --------------- */

static int mapfixed_before(long k, struct loop *l, size_t got)
{
	int part = strstr(O.variant, "part") != NULL, raw = !strncmp(O.variant, "raw", 3);
	char *at = part ? l->buf + 4 * PAGE : l->buf;
	size_t len = part ? 2 * PAGE : CHUNK;
	if (!odd(k)) return 0;
	int prot = PROT_READ | PROT_WRITE, fl = MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS;
	void *p = raw ? (void *)syscall(SYS_mmap, at, len, prot, fl, -1, 0) : mmap(at, len, prot, fl, -1, 0);
	tlog("mapfixed %ld %s", k, p == at ? "ok" : "FAILED");
	tlog("hash %ld %016llx", k, fnv(l->buf, got));
	return 0;
}

static void item_mapfixed(void)
{
	run_copy(map_buffer(CHUNK), mapfixed_before, NULL);
}

/* ---- 11b: remap: the buffer holding a deferred chunk moved by mremap (libc's or a raw one) ------- */

static char *spare; /* where two pages of the buffer move to and back from */

/* move — mremap(MAYMOVE | FIXED) of len bytes from a to b, libc's or the system call */
static int move(char *a, char *b, size_t len, int raw)
{
	int fl = MREMAP_MAYMOVE | MREMAP_FIXED;
	void *p = raw ? (void *)syscall(SYS_mremap, a, len, len, fl, b) : mremap(a, len, len, fl, b);
	return p == b ? 0 : -1;
}

static int remap_before(long k, struct loop *l, size_t got)
{
	int raw = !strncmp(O.variant, "raw", 3), r;
	if (!odd(k)) return 0;
	if (strstr(O.variant, "part")) { /* two middle pages out and back: the buffer stays where it is */
		char *mid = l->buf + 4 * PAGE;
		r = move(mid, spare, 2 * PAGE, raw);
		tlog("moved-out %ld %d hash %016llx", k, r, r ? 0ULL : fnv(spare, 2 * PAGE));
		r = r ? r : move(spare, mid, 2 * PAGE, raw);
		tlog("moved-back %ld %d", k, r);
	} else { /* the whole buffer to a new place of its own: written from there, and read into next */
		char *to = map_buffer(CHUNK);
		r = move(l->buf, to, CHUNK, raw);
		tlog("moved %ld %d", k, r);
		if (!r) l->buf = to; /* where it was is a hole now, never used again */
	}
	tlog("hash %ld %016llx", k, fnv(l->buf, got));
	return 0;
}

static void item_remap(void)
{
	spare = map_buffer(CHUNK);
	run_copy(map_buffer(CHUNK), remap_before, NULL);
}

/* ---- 12: dontneed: MADV_DONTNEED (and other changes of the mapping) on a deferred buffer ------- */

/* middle — two pages inside any 64 KiB buffer's interior, wherever the buffer starts */
static char *middle(char *b)
{
	return (char *)(((uintptr_t)b + 4 * PAGE) & ~(uintptr_t)(PAGE - 1));
}

static int dontneed_before(long k, struct loop *l, size_t got)
{
	const char *v = O.variant;
	char *b = l->buf, *at = b;
	size_t len = CHUNK;
	int r;
	if (!odd(k) || got < CHUNK) return 0;
	if (strcmp(v, "all") && strcmp(v, "raw")) at = middle(b), len = 2 * PAGE;
	if (!strcmp(v, "heap")) { /* the page-aligned interior of a heap buffer */
		at = b - 16 + PAGE;
		len = CHUNK - PAGE;
	}
	if (!strcmp(v, "raw")) r = (int)syscall(SYS_madvise, at, len, MADV_DONTNEED);
	else if (!strcmp(v, "split")) r = madvise(at, len, MADV_NOHUGEPAGE); /* splits the mapping, nothing else */
	else if (!strcmp(v, "mlock")) r = mlock(at, len); /* splits it, and faults the pages in */
	else r = madvise(at, len, MADV_DONTNEED);
	tlog("dontneed %ld %d %s", k, r, ename(r < 0 ? errno : 0));
	tlog("hash %ld %016llx", k, fnv(b, got));
	return 0;
}

static void item_dontneed(void)
{
	char *buf;
	if (!strcmp(O.variant, "heap")) { /* 16 bytes into a page, the same in every run */
		char *region = aligned_alloc(PAGE, CHUNK + PAGE);
		if (!region) die_setup("aligned_alloc");
		buf = region + 16;
	} else {
		buf = map_buffer(CHUNK);
	}
	run_copy(buf, dontneed_before, NULL);
}

/* ---- 13: exec with a deferred chunk outstanding ------------------------------------------------- */

static void exec_self(struct loop *l, size_t got)
{
	char fd[16];
	snprintf(fd, sizeof fd, "%d", l->src);
	l->buf[got - 1] = 0; /* a tail byte: the argument string ends inside the buffer */
	/* the kernel copies the string out of the buffer's interior: no touch by the program */
	char *argv[] = {"deferred", "exec-child", "--log", (char *)O.log, "--fd", fd, "--arg", l->buf + 2 * PAGE + 8, NULL};
	extern char **environ;
	execve("/proc/self/exe", argv, environ);
	finish(1, errno);
}

static int exec_before(long k, struct loop *l, size_t got)
{
	if (k != HOOK_AT) return 0;
	tlog("exec %s", O.variant);
	if (!strcmp(O.variant, "self")) exec_self(l, got);
	if (!strcmp(O.variant, "true")) {
		execl("/bin/true", "true", (char *)NULL);
		finish(1, errno);
	}
	/* fail: the exec comes back; then another process changes the chunk in the file */
	int r = execl("/nonexistent/deferred-exec", "x", (char *)NULL);
	tlog("exec-failed %d %s", r, ename(r < 0 ? errno : 0));
	helper(H_OVERWRITE, (long long)k * CHUNK, CHUNK);
	tlog("hash %ld %016llx", k, fnv(l->buf, got));
	return 0;
}

static void item_exec(void)
{
	int fail = !strcmp(O.variant, "fail");
	if (fail) helper_start();
	run_copy(heap_buffer(), exec_before, NULL);
	if (fail) helper_stop();
}

/* exec_child — the new image: the argument the kernel copied, the inherited offset, the rest */
static void item_exec_child(void)
{
	if (O.fd < 0 || !O.arg) errno = EINVAL, die_setup("--fd and --arg");
	tlog("child arg %zu %016llx", strlen(O.arg), fnv(O.arg, strlen(O.arg)));
	tlog("child offset %lld", (long long)lseek(O.fd, 0, SEEK_CUR));
	struct loop l = {.src = O.fd, .buf = heap_buffer(), .k = HOOK_AT + 1};
	copy(&l);
	tlog("chunks %ld", l.k);
}

/* ---- 14: rawsys: the buffer given to system calls the shim does not intercept ------------------ */

static int spare_pipe[2];
static char *scratch;

/* raw_send — syscall write of the whole chunk, each call transcribed */
static void raw_send(long k, const char *b, size_t n)
{
	while (n > 0) {
		ssize_t r = syscall(SYS_write, 1, b, n);
		int e = r < 0 ? errno : 0;
		tlog("rawwrite %ld %zu %zd %s", k, n, r, ename(e));
		if (r <= 0) finish(1, r < 0 ? e : EIO);
		b += r, n -= (size_t)r;
	}
}

/* through_pipe — vmsplice the buffer into a private pipe, read it back: the bytes the kernel took */
static void through_pipe(long k, const char *b, size_t got)
{
	struct iovec v = {(void *)b, got};
	ssize_t r = vmsplice(spare_pipe[1], &v, 1, 0);
	int e = r < 0 ? errno : 0;
	ssize_t back = r > 0 ? syscall(SYS_read, spare_pipe[0], scratch, (size_t)r) : 0;
	tlog("vmsplice %ld %zd %s %zd %016llx", k, r, ename(e), back, fnv(scratch, back > 0 ? (size_t)back : 0));
}

static int rawsys_before(long k, struct loop *l, size_t got)
{
	if (!odd(k)) return 0;
	const char *v = O.variant;
	if (!strcmp(v, "write")) {
		raw_send(k, l->buf, got);
		return 1;
	}
	if (!strcmp(v, "vmsplice")) through_pipe(k, l->buf, got);
	if (!strcmp(v, "pvread")) {
		struct iovec loc = {scratch, got}, rem = {l->buf, got};
		ssize_t r = process_vm_readv(getpid(), &loc, 1, &rem, 1, 0);
		tlog("pvread %ld %zd %s %016llx", k, r, ename(r < 0 ? errno : 0), fnv(scratch, r > 0 ? (size_t)r : 0));
	}
	if (!strcmp(v, "rawread") && got >= 30000) {
		ssize_t r = syscall(SYS_read, src2_fd, l->buf + 20000, 10000);
		tlog("rawread %ld %zd %s", k, r, ename(r < 0 ? errno : 0));
		if (r == 0) lseek(src2_fd, 0, SEEK_SET);
	}
	return 0;
}

static void item_rawsys(void)
{
	scratch = heap_buffer();
	if (pipe(spare_pipe) < 0 || fcntl(spare_pipe[1], F_SETPIPE_SZ, 1 << 20) < 0) die_setup("pipe");
	if (!strcmp(O.variant, "rawread")) src2_fd = open_or_die(O.src2, O_RDONLY);
	run_copy(heap_buffer(), rawsys_before, NULL);
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(const char *why)
{
	fprintf(stderr, "deferred: %s (see the source's header for usage)\n", why);
	exit(2);
}

static void open_log(void)
{
	int exec_child = O.fd >= 0; /* the new image of "exec self" adds to its parent's transcript */
	int fl = O_WRONLY | O_CREAT | O_CLOEXEC | (exec_child ? O_APPEND : O_TRUNC);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, O.log, fl, 0644);
	if (fd < 0) progs_die("deferred", O.log);
	log_fd = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, HIGH_FD);
	syscall(SYS_close, fd);
}

/* ---- 15: shared: a MAP_SHARED anonymous buffer, and a child forked before the copy that reads it
 * after each read (a deferred interior would be filled for this process only: the child would see
 * zeros). The child hashes what it sees, the parent logs it. ---------------------------------- */

static int shared_to_child[2], child_to_parent[2];
static char *shared_base;

/* shared_after — the next chunk goes to the other half: the first read of a half finds it
 * untouched (no page present: nothing but the mapping's kind says it is shared) */
static void shared_after(long k, struct loop *l, size_t got)
{
	(void)got;
	l->buf = shared_base + ((k + 1) % 2) * CHUNK;
}

static int shared_before(long k, struct loop *l, size_t got)
{
	long long h = 0;
	(void)l;
	size_t off = (size_t)(l->buf - shared_base);
	if (write(shared_to_child[1], &off, sizeof off) != sizeof off) finish(1, errno);
	if (write(shared_to_child[1], &got, sizeof got) != sizeof got) finish(1, errno);
	if (read(child_to_parent[0], &h, sizeof h) != sizeof h) finish(1, errno);
	tlog("child-hash %ld %016llx", k, (unsigned long long)h);
	return 0;
}

static void item_shared(void)
{
	char *buf = mmap(NULL, 2 * CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) die_setup("mmap shared");
	shared_base = buf;
	if (pipe(shared_to_child) || pipe(child_to_parent)) die_setup("pipe");
	pid_t pid = fork();
	if (pid < 0) die_setup("fork");
	if (pid == 0) {
		size_t off, got;
		close(shared_to_child[1]), close(child_to_parent[0]); /* EOF when the parent is done */
		while (read(shared_to_child[0], &off, sizeof off) == sizeof off &&
		       read(shared_to_child[0], &got, sizeof got) == sizeof got) {
			unsigned long long h = fnv(buf + off, got);
			if (write(child_to_parent[1], &h, sizeof h) != sizeof h) _exit(1);
		}
		_exit(0);
	}
	close(shared_to_child[0]), close(child_to_parent[1]);
	run_copy(buf, shared_before, shared_after);
	close(shared_to_child[1]);
	waitpid(pid, NULL, 0);
}

/* item_many — N streams at once: each deferred read needs its own source's duplicate */
static void item_many(void)
{
	int n = O.variant ? atoi(O.variant) : 0;
	if (n < 1 || n > 512) usage("many: --variant 1..512");
	struct loop *l = calloc((size_t)n, sizeof *l);
	if (!l) die_setup("calloc");
	for (int i = 0; i < n; i++) {
		l[i].src = open_or_die(O.src, O_RDONLY);
		if (!(l[i].buf = malloc(CHUNK))) die_setup("malloc");
	}
	for (int live = n; live > 0;) {
		live = 0;
		for (int i = 0; i < n; i++) {
			if (l[i].src < 0) continue;
			ssize_t got = logged_read(l[i].k, &l[i]);
			if (got < 0) finish(1, errno);
			if (got == 0) {
				close(l[i].src), l[i].src = -1;
				continue;
			}
			live++;
			if (write_all(l[i].k++, 1, l[i].buf, (size_t)got) < 0) finish(1, errno);
		}
	}
	tlog("streams %d", n);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"log", 1, 0, 'l'}, {"src", 1, 0, 's'}, {"src2", 1, 0, 'S'},
					     {"out", 1, 0, 'o'}, {"variant", 1, 0, 'v'}, {"deadline", 1, 0, 'd'},
					     {"fd", 1, 0, 'f'}, {"arg", 1, 0, 'a'}, {0, 0, 0, 0}};
	static const struct {
		const char *name;
		void (*fn)(void);
	} items[] = {{"hash", item_hash}, {"touch3", item_touch3}, {"partread", item_partread}, {"recv", item_recv},
		     {"thread", item_thread}, {"fork", item_fork}, {"leasebreak", item_leasebreak},
		     {"truncate", item_truncate}, {"eof", item_eof}, {"freeuse", item_freeuse},
		     {"mapfixed", item_mapfixed}, {"remap", item_remap}, {"dontneed", item_dontneed}, {"exec", item_exec},
		     {"exec-child", item_exec_child}, {"rawsys", item_rawsys}, {"shared", item_shared}, {"many", item_many}};
	int c;
	if (argc < 2) usage("no item");
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': O.log = optarg; break;
		case 's': O.src = optarg; break;
		case 'S': O.src2 = optarg; break;
		case 'o': O.out = optarg; break;
		case 'v': O.variant = optarg; break;
		case 'a': O.arg = optarg; break;
		case 'd': if ((O.deadline = progs_size(optarg)) <= 0) usage("bad --deadline"); break;
		case 'f': if ((O.fd = (int)progs_size(optarg)) < 0) usage("bad --fd"); break;
		default: usage("bad option");
		}
	}
	if (O.log) open_log();
	tlog("# pid %d item %s %s", (int)getpid(), argv[1], O.variant);
	if (start_watchdog(O.deadline)) die_setup("pthread_create watchdog");
	for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
		if (!strcmp(argv[1], items[i].name)) {
			items[i].fn();
			finish(0, 0);
		}
	usage("unknown item");
}
