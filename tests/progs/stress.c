/* stress.c — many legacy copy loops at once, under everything that can go wrong around them, and a
 * receiver that checks every byte. Used by tests/e2e/test_stress.sh (with and without the shim).
 *
 * usage: stress --dir DIR [options]
 *
 * THREADS sender threads each copy source files to their own TCP connection, one chunk at a time
 * (read or pread into a buffer, write or send out of it), in four styles (thread id mod 4):
 *   0 reuse   one malloc'd buffer for every chunk; read(); write()
 *   1 churn   a fresh buffer per chunk (free+malloc, or realloc to the new size); pread(); send()
 *   2 shared  one 64 KiB arena; each chunk lands at a random place in it, overlapping earlier
 *             chunks; sometimes two reads side by side and one write of both, or the two halves
 *             written second half first
 *   3 aligned a page-aligned buffer; read(); written in one to three pieces
 * In every style: 1 chunk in 8 has bytes changed between the read and the write (a random byte,
 * the first or the last); 1 in 8 is written in two calls (the second continues the first); a
 * source that reaches EOF (truncated by the mutator) is closed and opened again by its path.
 *
 * Around them:
 *   - a mutator process (forked before the threads start) that every MUTATE_MS truncates one
 *     source file to 0 bytes (opening it for writing: this breaks a read lease) and then either
 *     publishes new content by rename, or (--inplace) rewrites the same inode with new content.
 *     Truncation to 0 drops whole pages, so data already queued in a socket is never changed by
 *     it; an in-place rewrite changes what a later sendfile would read, which only a lease guards
 *     (with lease = off that is the documented trade-off, so test_stress.sh uses --inplace only
 *     with leases on).
 *   - a signal thread sending SIGUSR1 (SA_RESTART) and SIGUSR2 (no SA_RESTART: blocking writes may
 *     return short or fail with EINTR) every SIGNAL_US µs to a random sender thread, and one in
 *     four to the process; both handlers write() one byte to a non-blocking self-pipe, which a
 *     drain thread empties.
 *   - every FORK_EVERY chunks a sender forks and the child execs /bin/true (the parent waits).
 *   - --block-all: the last sender thread blocks every signal (pthread_sigmask of a full set), as
 *     worker threads of servers with a signal thread do; the signal thread spares it.
 *
 * Checking: each sender keeps a running hash of exactly the bytes its writes reported as written,
 * taken from the buffer as it was at the write (and, for 1 chunk in 4, checks that the write did
 * not change the buffer). The receiver, a forked process, hashes what each connection delivered.
 * Any difference in byte count or hash is reported and the exit status is 1.
 *
 * options: --threads N (8) --chunks N total (1000000) --min N[K] (8K) --max N[K] (16K)
 *          --files N (4) --file-size N[K|M] (2M) --mutate-ms N (10; 0: no mutator) --inplace
 *          --signal-us N (100; 0: no signals) --fork-every N (4000; 0: never) --block-all
 *          --seed N --timeout S (240: the program gives up and exits 3)
 * Output, on stdout: one "stress: ..." summary line; "MISMATCH ..." lines; exit 0 when every
 * connection received exactly what was sent, 1 on a difference, 2 bad options, 3 setup/timeout. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "progs.h"

#define MAXT 64
#define ARENA (64 * 1024)

/* ---- options ------------------------------------------------------------------------------- */
static int o_threads = 8, o_files = 4, o_mutate_ms = 10, o_inplace, o_signal_us = 100;
static long long o_chunks = 1000000, o_min = 8192, o_max = 16384, o_fsize = 2 << 20;
static long o_fork_every = 4000;
static int o_block_all, o_timeout = 240;
static unsigned long long o_seed = 1;
static const char *o_dir;

/* ---- stream hash: independent of how the stream is cut into calls -------------------------- */
struct sh {
	uint64_t h, n;
	uint8_t pend[8];
	unsigned np;
};
static void sh_word(struct sh *s, uint64_t w)
{
	s->h = (s->h ^ w) * 0x9E3779B97F4A7C15ULL;
	s->h ^= s->h >> 32;
}
static void sh_update(struct sh *s, const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t w;
	s->n += len;
	while (s->np && len) {
		s->pend[s->np++] = *b++, len--;
		if (s->np == 8) memcpy(&w, s->pend, 8), sh_word(s, w), s->np = 0;
	}
	for (; len >= 8; b += 8, len -= 8) memcpy(&w, b, 8), sh_word(s, w);
	while (len) s->pend[s->np++] = *b++, len--;
}
static uint64_t sh_final(const struct sh *s)
{
	struct sh t = *s;
	uint64_t w = 0;
	memcpy(&w, t.pend, t.np);
	sh_word(&t, w ^ ((uint64_t)t.np << 56));
	sh_word(&t, t.n);
	return t.h;
}
static uint64_t quick_hash(const void *p, size_t n)
{
	struct sh s = { 0x1234, 0, { 0 }, 0 };
	sh_update(&s, p, n);
	return sh_final(&s);
}

/* ---- small helpers ------------------------------------------------------------------------- */
static uint64_t rnd(uint64_t *st) /* xorshift64* */
{
	uint64_t x = *st;
	x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
	*st = x;
	return x * 0x2545F4914F6CDD1DULL;
}
static void fill_random(uint8_t *p, size_t n, uint64_t *st)
{
	size_t i;
	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t v = rnd(st);
		memcpy(p + i, &v, 8);
	}
	for (; i < n; i++) p[i] = (uint8_t)rnd(st);
}
static void die(const char *what)
{
	fprintf(stdout, "stress: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(3);
}
static void src_path(char *out, size_t sz, int i) { snprintf(out, sz, "%s/src.%d", o_dir, i); }
static void write_file_all(int fd, const uint8_t *p, size_t n)
{
	if (progs_write_all(fd, p, n) < 0) die("write source");
}
/* new content for source i, published by rename (a new inode; open descriptors keep the old one) */
static void publish(int i, uint8_t *tmp, uint64_t *st)
{
	char path[4096], t[4200];
	src_path(path, sizeof(path), i);
	snprintf(t, sizeof(t), "%s.tmp", path);
	fill_random(tmp, (size_t)o_fsize, st);
	int fd = open(t, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) die("create source");
	write_file_all(fd, tmp, (size_t)o_fsize);
	close(fd);
	if (rename(t, path) < 0) die("rename source");
}

/* ---- the mutator process ------------------------------------------------------------------- */
static void mutator(int stop_fd)
{
	uint64_t st = o_seed * 7919 + 17;
	uint8_t *tmp = malloc((size_t)o_fsize);
	long n = 0;
	if (!tmp) die("malloc");
	for (;;) {
		struct pollfd p = { stop_fd, POLLIN, 0 };
		if (poll(&p, 1, o_mutate_ms) != 0) break; /* the parent closed its end: stop */
		int i = (int)(rnd(&st) % (uint64_t)o_files);
		char path[4096];
		src_path(path, sizeof(path), i);
		int fd = open(path, O_WRONLY); /* breaks a read lease; blocks until it is given back */
		if (fd < 0) die("mutator open");
		if (ftruncate(fd, 0) < 0) die("mutator ftruncate");
		if (o_inplace && rnd(&st) % 2) {
			usleep(500);
			fill_random(tmp, (size_t)o_fsize, &st);
			write_file_all(fd, tmp, (size_t)o_fsize); /* the same inode, new bytes */
			close(fd);
		} else {
			close(fd);
			usleep(500);
			publish(i, tmp, &st);
		}
		n++;
	}
	printf("stress: mutator: mutations=%ld\n", n);
	free(tmp);
	exit(0);
}

/* ---- the receiver process ------------------------------------------------------------------ */
struct result {
	uint32_t id;
	uint64_t n, h;
};
static void receiver(int lfd, int res_fd)
{
	int nconn = o_threads, open_conns = 0, done = 0;
	struct pollfd pf[MAXT + 1];
	struct sh hs[MAXT];
	int idof[MAXT + 1], idlen[MAXT + 1];
	uint8_t idbuf[MAXT + 1][8];
	struct result res[MAXT];
	size_t bsz = 256 * 1024;
	uint8_t *buf = malloc(bsz);
	if (!buf) die("malloc");
	memset(hs, 0, sizeof(hs));
	pf[0] = (struct pollfd){ lfd, POLLIN, 0 };
	for (int i = 1; i <= nconn; i++) pf[i] = (struct pollfd){ -1, POLLIN, 0 }, idof[i] = -1, idlen[i] = 0;
	while (done < nconn) {
		int r = poll(pf, (nfds_t)nconn + 1, (o_timeout + 30) * 1000);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) die("receiver poll (timeout)");
		if (pf[0].revents && open_conns < nconn) {
			int c = accept(lfd, NULL, NULL);
			if (c < 0) die("accept");
			pf[++open_conns].fd = c;
			if (open_conns == nconn) pf[0].fd = -1;
		}
		for (int i = 1; i <= open_conns; i++) {
			if (pf[i].fd < 0 || !pf[i].revents) continue;
			ssize_t k = recv(pf[i].fd, buf, bsz, 0);
			if (k < 0 && errno == EINTR) continue;
			if (k < 0) die("recv");
			if (k == 0) {
				if (idof[i] < 0) die("connection closed before its id");
				close(pf[i].fd);
				pf[i].fd = -1;
				res[done++] = (struct result){ (uint32_t)idof[i], hs[idof[i]].n, sh_final(&hs[idof[i]]) };
				continue;
			}
			uint8_t *p = buf;
			while (idof[i] < 0 && k > 0) { /* the first 8 bytes name the sender */
				idbuf[i][idlen[i]++] = *p++, k--;
				if (idlen[i] == 8) {
					uint64_t id;
					memcpy(&id, idbuf[i], 8);
					if (id >= (uint64_t)nconn) { errno = EINVAL; die("bad connection id"); }
					idof[i] = (int)id;
				}
			}
			if (k > 0) sh_update(&hs[idof[i]], p, (size_t)k);
		}
	}
	if (write(res_fd, res, sizeof(res[0]) * (size_t)nconn) != (ssize_t)(sizeof(res[0]) * (size_t)nconn))
		die("write results");
	free(buf);
	exit(0);
}

/* ---- signals ------------------------------------------------------------------------------- */
static int selfpipe[2];
static atomic_long n_handled, n_sent, n_drained;
static atomic_int stop_aux;
static void on_signal(int sig)
{
	int e = errno;
	char c = (char)sig;
	ssize_t r = write(selfpipe[1], &c, 1); /* async-signal-safe; EAGAIN when full is fine */
	(void)r;
	atomic_fetch_add_explicit(&n_handled, 1, memory_order_relaxed);
	errno = e;
}
static void *drain_thread(void *arg)
{
	char b[4096];
	(void)arg;
	while (!atomic_load(&stop_aux)) {
		struct pollfd p = { selfpipe[0], POLLIN, 0 };
		if (poll(&p, 1, 100) > 0) {
			ssize_t k = read(selfpipe[0], b, sizeof(b));
			if (k > 0) atomic_fetch_add(&n_drained, k);
		}
	}
	return NULL;
}

/* ---- senders ------------------------------------------------------------------------------- */
struct sender {
	int id, style, fd, sock, file;
	off_t off;
	pthread_t pt;
	atomic_int running;
	uint64_t rs;
	struct sh hs;
	long long chunks, bytes, writes, partial, eintr, modified, reopens, forks;
	char err[256];
};
static struct sender snd[MAXT];
static int lport;

static void s_fail(struct sender *s, const char *what)
{
	if (!s->err[0]) snprintf(s->err, sizeof(s->err), "%s: %s", what, strerror(errno));
}
static void s_open(struct sender *s)
{
	char path[4096];
	src_path(path, sizeof(path), s->file);
	for (int tries = 0;; tries++) {
		s->fd = open(path, O_RDONLY);
		if (s->fd >= 0) break;
		if (errno != EINTR || tries > 1000) { s_fail(s, "open source"); return; }
	}
	s->off = 0;
	s->reopens++;
}
/* one chunk of at most n bytes from the source into p; 0 at EOF; the source is reopened (and, if
 * it is still empty, the next file taken) so the caller always gets data */
static ssize_t s_read(struct sender *s, void *p, size_t n)
{
	for (int empty = 0; !s->err[0];) {
		ssize_t r = s->style == 1 ? pread(s->fd, p, n, s->off) : read(s->fd, p, n);
		if (r < 0 && errno == EINTR) { s->eintr++; continue; }
		if (r < 0) { s_fail(s, "read"); return -1; }
		if (r > 0) { s->off += r; return r; }
		close(s->fd);
		if (++empty > 1) { /* reopened and still empty: being rewritten; try the next file */
			s->file = (s->file + 1) % o_files;
			usleep(200);
		}
		s_open(s);
	}
	return -1;
}
/* write n bytes of p, as a legacy server does: continue after a partial count, retry on EINTR */
static void s_write(struct sender *s, const uint8_t *p, size_t n)
{
	int use_send = s->style == 1;
	while (n && !s->err[0]) {
		ssize_t k = use_send ? send(s->sock, p, n, MSG_NOSIGNAL) : write(s->sock, p, n);
		s->writes++;
		if (k < 0 && errno == EINTR) { s->eintr++; continue; }
		if (k <= 0) { s_fail(s, "write"); return; }
		sh_update(&s->hs, p, (size_t)k); /* exactly the bytes the call reported, as they are now */
		if ((size_t)k < n) s->partial++;
		p += k, n -= (size_t)k;
	}
}
/* a write of one chunk, sometimes in two calls, sometimes checked for leaving the buffer alone */
static void s_out(struct sender *s, uint8_t *p, size_t n)
{
	uint64_t x = rnd(&s->rs);
	if (x % 8 == 0 && n > 0) { /* the program changes its buffer between read and write */
		size_t at = (x >> 8) % 3 == 0 ? 0 : (x >> 8) % 3 == 1 ? n - 1 : (size_t)((x >> 16) % n);
		p[at] ^= 0x5a;
		s->modified++;
	}
	uint64_t before = (x >> 4) % 4 == 0 ? quick_hash(p, n) : 0;
	if ((x >> 6) % 8 == 0 && n > 1) {
		size_t k = 1 + (size_t)((x >> 24) % (n - 1));
		s_write(s, p, k);
		s_write(s, p + k, n - k);
	} else {
		s_write(s, p, n);
	}
	if (before && quick_hash(p, n) != before && !s->err[0])
		snprintf(s->err, sizeof(s->err), "the buffer changed during a write of %zu bytes", n);
}
static void s_fork_exec(struct sender *s)
{
	pid_t c = fork();
	if (c < 0) { s_fail(s, "fork"); return; }
	if (c == 0) {
		char *argv[] = { (char *)"true", NULL };
		extern char **environ;
		execve("/bin/true", argv, environ);
		_exit(127);
	}
	int st;
	while (waitpid(c, &st, 0) < 0)
		if (errno != EINTR) { s_fail(s, "waitpid"); return; }
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(s->err, sizeof(s->err), "/bin/true child: status 0x%x", st);
		return;
	}
	s->forks++;
}

static size_t chunk_size(struct sender *s)
{
	return (size_t)(o_min + (long long)(rnd(&s->rs) % (uint64_t)(o_max - o_min + 1)));
}

static void *sender_thread(void *arg)
{
	struct sender *s = arg;
	long long todo = o_chunks / o_threads + (s->id < o_chunks % o_threads);
	uint8_t *buf = NULL;
	size_t cap = (size_t)o_max;
	if (o_block_all && s->id == o_threads - 1) {
		sigset_t all;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, NULL);
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)lport),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	s->sock = socket(AF_INET, SOCK_STREAM, 0);
	if (s->sock < 0 || progs_connect(s->sock, &a) < 0) { s_fail(s, "connect"); goto out; }
	uint64_t id = (uint64_t)s->id;
	if (progs_write_all(s->sock, &id, 8) < 0) { s_fail(s, "write id"); goto out; } /* signals come already */
	s_open(s);
	s->reopens = 0;
	if (s->style == 0) buf = malloc(cap);
	if (s->style == 2) buf = malloc(ARENA);
	if (s->style == 3 && posix_memalign((void **)&buf, 4096, cap + 4096)) buf = NULL;
	if (s->style != 1 && !buf) { s_fail(s, "malloc"); goto out; }
	for (long long c = 0; c < todo && !s->err[0]; c++) {
		size_t n = chunk_size(s);
		uint64_t x = rnd(&s->rs);
		ssize_t r;
		switch (s->style) {
		case 0:
			if ((r = s_read(s, buf, n)) > 0) s_out(s, buf, (size_t)r);
			break;
		case 1: /* a buffer of the chunk's size, new each time */
			if (x % 2) {
				free(buf);
				buf = malloc(n);
			} else {
				uint8_t *nb = realloc(buf, n);
				if (nb) buf = nb;
				else free(buf), buf = NULL;
			}
			if (!buf) { s_fail(s, "malloc"); break; }
			if ((r = s_read(s, buf, n)) > 0) s_out(s, buf, (size_t)r);
			break;
		case 2: { /* chunks land anywhere in one arena, over earlier ones */
			size_t at = (size_t)((x >> 8) % (ARENA - 2 * (size_t)o_max));
			if (x % 4 == 0) { /* two reads side by side, one write of both */
				ssize_t r2;
				if ((r = s_read(s, buf + at, n / 2)) <= 0) break;
				if ((r2 = s_read(s, buf + at + r, n - n / 2)) <= 0) break;
				s_out(s, buf + at, (size_t)(r + r2));
			} else if (x % 4 == 1) { /* the second half goes out first */
				if ((r = s_read(s, buf + at, n)) <= 0) break;
				size_t h = (size_t)r / 2;
				s_out(s, buf + at + h, (size_t)r - h);
				s_out(s, buf + at, h);
			} else {
				if ((r = s_read(s, buf + at, n)) > 0) s_out(s, buf + at, (size_t)r);
			}
			break;
		}
		default: /* aligned: written in one to three pieces */
			if ((r = s_read(s, buf, n)) <= 0) break;
			if (x % 3 == 0) {
				s_out(s, buf, (size_t)r);
			} else {
				size_t k = (size_t)r / 3 + (size_t)((x >> 8) % ((size_t)r / 3 + 1));
				s_out(s, buf, k);
				s_out(s, buf + k, (size_t)r - k);
			}
			break;
		}
		s->chunks++;
		if (o_fork_every && s->chunks % o_fork_every == o_fork_every / 2 + s->id) s_fork_exec(s);
	}
	s->bytes = (long long)s->hs.n;
out:
	free(buf);
	if (s->fd >= 0) close(s->fd);
	if (s->sock >= 0) shutdown(s->sock, SHUT_WR), close(s->sock);
	atomic_store(&s->running, 0);
	return NULL;
}

static void *signal_thread(void *arg)
{
	uint64_t st = o_seed * 31 + 5;
	struct timespec ts = { 0, (long)o_signal_us * 1000 };
	int targets = o_block_all ? o_threads - 1 : o_threads;
	(void)arg;
	while (!atomic_load(&stop_aux)) {
		uint64_t x = rnd(&st);
		int sig = x % 2 ? SIGUSR1 : SIGUSR2;
		if ((x >> 8) % 4 == 0) {
			kill(getpid(), sig);
		} else {
			struct sender *s = &snd[(x >> 16) % (uint64_t)targets];
			if (!atomic_load(&s->running)) continue;
			pthread_kill(s->pt, sig); /* not yet joined: the id stays valid */
		}
		atomic_fetch_add_explicit(&n_sent, 1, memory_order_relaxed);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: stress --dir DIR [--threads N] [--chunks N] [--min N] [--max N] [--files N]\n"
			"       [--file-size N] [--mutate-ms N] [--inplace] [--signal-us N] [--fork-every N]\n"
			"       [--block-all] [--seed N] [--timeout S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", 1, 0, 'd' },	   { "threads", 1, 0, 't' },   { "chunks", 1, 0, 'c' },
		{ "min", 1, 0, 'm' },	   { "max", 1, 0, 'M' },       { "files", 1, 0, 'f' },
		{ "file-size", 1, 0, 'F' }, { "mutate-ms", 1, 0, 'u' }, { "inplace", 0, 0, 'i' },
		{ "signal-us", 1, 0, 's' }, { "fork-every", 1, 0, 'k' }, { "block-all", 0, 0, 'b' },
		{ "seed", 1, 0, 'S' },	   { "timeout", 1, 0, 'T' },   { 0, 0, 0, 0 }
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		long long v = c == 'd' || c == 'i' || c == 'b' ? 0 : progs_size(optarg);
		if (v < 0) usage();
		switch (c) {
		case 'd': o_dir = optarg; break;
		case 't': o_threads = (int)v; break;
		case 'c': o_chunks = v; break;
		case 'm': o_min = v; break;
		case 'M': o_max = v; break;
		case 'f': o_files = (int)v; break;
		case 'F': o_fsize = v; break;
		case 'u': o_mutate_ms = (int)v; break;
		case 'i': o_inplace = 1; break;
		case 's': o_signal_us = (int)v; break;
		case 'k': o_fork_every = (long)v; break;
		case 'b': o_block_all = 1; break;
		case 'S': o_seed = (unsigned long long)v; break;
		case 'T': o_timeout = (int)v; break;
		default: usage();
		}
	}
	if (!o_dir || o_threads < 1 || o_threads > MAXT || o_files < 1 || o_min < 2 || o_max < o_min ||
	    o_max > ARENA / 4 || o_fsize < 1)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	uint64_t st = o_seed * 104729 + 3;
	uint8_t *tmp = malloc((size_t)o_fsize);
	if (!tmp) die("malloc");
	for (int i = 0; i < o_files; i++) publish(i, tmp, &st);
	free(tmp);

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, MAXT) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
		die("listen");
	lport = ntohs(a.sin_port);

	int resp[2], stopp[2];
	if (pipe(resp) < 0 || pipe(stopp) < 0) die("pipe");
	pid_t rpid = fork();
	if (rpid < 0) die("fork");
	if (rpid == 0) {
		close(resp[0]), close(stopp[0]), close(stopp[1]);
		receiver(lfd, resp[1]);
	}
	close(resp[1]);
	close(lfd);
	pid_t mpid = -1;
	if (o_mutate_ms > 0) {
		mpid = fork();
		if (mpid < 0) die("fork");
		if (mpid == 0) {
			close(resp[0]), close(stopp[1]);
			mutator(stopp[0]);
		}
	}
	close(stopp[0]);

	if (pipe2(selfpipe, O_NONBLOCK | O_CLOEXEC) < 0) die("pipe2");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_flags = 0; /* SIGUSR2 interrupts blocking calls: EINTR or a short count */
	sigaction(SIGUSR2, &sa, NULL);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t drain, sig;
	if (pthread_create(&drain, NULL, drain_thread, NULL)) die("pthread_create");
	for (int i = 0; i < o_threads; i++) {
		struct sender *s = &snd[i];
		s->id = i, s->style = i % 4, s->file = i % o_files, s->fd = -1, s->sock = -1;
		s->rs = o_seed * 1000003 + (uint64_t)i * 7777 + 1;
		atomic_store(&s->running, 1);
		if (pthread_create(&s->pt, NULL, sender_thread, s)) die("pthread_create");
	}
	if (o_signal_us > 0 && pthread_create(&sig, NULL, signal_thread, NULL)) die("pthread_create");

	/* wait for the senders to finish their loops (the signal thread needs their ids valid) */
	for (int left = o_threads;;) {
		left = 0;
		for (int i = 0; i < o_threads; i++) left += atomic_load(&snd[i].running);
		if (!left) break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > o_timeout) {
			long long done = 0;
			for (int i = 0; i < o_threads; i++) done += snd[i].chunks;
			printf("stress: timeout after %d s, %d senders still running, %lld chunks done, "
			       "signals_sent=%ld handled=%ld\n", o_timeout, left, done, atomic_load(&n_sent),
			       atomic_load(&n_handled));
			fflush(stdout);
			_exit(3);
		}
		usleep(20000);
	}
	atomic_store(&stop_aux, 1);
	if (o_signal_us > 0) pthread_join(sig, NULL);
	for (int i = 0; i < o_threads; i++) pthread_join(snd[i].pt, NULL);
	pthread_join(drain, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	int bad = 0, status;
	close(stopp[1]); /* the mutator stops */
	if (mpid > 0 && (waitpid(mpid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))) {
		printf("stress: mutator ended with status 0x%x\n", status);
		bad = 1;
	}
	struct result res[MAXT];
	size_t want = sizeof(res[0]) * (size_t)o_threads, got = 0;
	while (got < want) {
		ssize_t k = read(resp[0], (char *)res + got, want - got);
		if (k < 0 && errno == EINTR) continue;
		if (k <= 0) break;
		got += (size_t)k;
	}
	if (waitpid(rpid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("stress: receiver ended with status 0x%x\n", status);
		bad = 1;
	}
	long long chunks = 0, bytes = 0, writes = 0, partial = 0, eintr = 0, modified = 0, reopens = 0, forks = 0;
	for (int i = 0; i < o_threads; i++) {
		struct sender *s = &snd[i];
		chunks += s->chunks, bytes += s->bytes, writes += s->writes, partial += s->partial;
		eintr += s->eintr, modified += s->modified, reopens += s->reopens, forks += s->forks;
		if (s->err[0]) printf("stress: sender %d (style %d): %s\n", i, s->style, s->err), bad = 1;
	}
	if (got < want) {
		printf("stress: the receiver reported %zu of %zu result bytes\n", got, want);
		bad = 1;
	}
	int mismatches = 0;
	for (size_t j = 0; j < got / sizeof(res[0]); j++) {
		struct sender *s = &snd[res[j].id];
		uint64_t h = sh_final(&s->hs);
		if (res[j].n != s->hs.n || res[j].h != h) {
			printf("MISMATCH connection %u (style %d): sent %llu bytes hash %016llx, received %llu bytes hash %016llx\n",
			       res[j].id, s->style, (unsigned long long)s->hs.n, (unsigned long long)h,
			       (unsigned long long)res[j].n, (unsigned long long)res[j].h);
			mismatches++;
		}
	}
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("stress: threads=%d chunks=%lld bytes=%lld writes=%lld partial=%lld eintr=%lld modified=%lld "
	       "reopens=%lld forks=%lld signals_sent=%ld handled=%ld mismatches=%d seconds=%.1f\n",
	       o_threads, chunks, bytes, writes, partial, eintr, modified, reopens, forks,
	       atomic_load(&n_sent), atomic_load(&n_handled), mismatches, secs);
	return bad || mismatches ? 1 : 0;
}
