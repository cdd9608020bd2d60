/* writers.c — several threads write one socket, each call a header and a piece of a file in one
 * writev, as Apache's workers do with a connection the event MPM hands from thread to thread. The
 * kernel keeps each call whole (a non-blocking call runs under the socket's lock), so a reader
 * thread can parse the stream as units: a header naming the thread, its file and offset, then the
 * file's bytes (every 8-byte word names its file and offset). A unit cut by another thread's bytes,
 * or a word from elsewhere, is a mismatch. The shim may send such a call as two (the header, then
 * sendfile); it must keep other threads' writes out from between them.
 *
 *   writers --dir DIR [--threads 4] [--units 2000] [--chunk 64K] [--src pread|map] [--turns]
 *           [--blocking] [--signal-us N]
 *
 * --turns: the threads take the socket one at a time (a mutex around each unit), never at once.
 * --blocking: the socket stays blocking (default non-blocking, EAGAIN waited out with poll).
 * --signal-us N: every N microseconds a writer gets SIGUSR1 (no SA_RESTART), whose handler writes
 * to a pipe: calls waiting for another thread's split are interrupted and write from the handler.
 * TCP only: a UNIX stream socket's large write is not one unit for the kernel either (it is sent
 * as several buffers, other writers' between them), so such a program could not expect it.
 * Prints "writers: units N partial P mismatches M bytes B"; exit 1 on a mismatch, 3 when a call
 * was partial (another thread's bytes may then come between legally: the run cannot judge).
 */
#include "progs.h"

#include <fcntl.h>
#include <getopt.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

#define MAXT 16
#define MAGIC 0x57524954ull /* "WRIT" in a header's first word, never in a file word */
#define FSIZE (4u << 20)

static const char *dir;
static int nthreads = 4, units = 2000, use_map, turns, blocking, signal_us;
static int selfpipe[2];
static atomic_int writers_done;
static atomic_long handled;
static size_t chunk = 64 << 10;
static int sock;
static pthread_mutex_t turn = PTHREAD_MUTEX_INITIALIZER;
static atomic_long partial;
static unsigned long mismatches, got_units, got_bytes;

static uint64_t word(int file, size_t off)
{
	return (uint64_t)(file + 1) << 40 | off;
}

static void die(const char *what)
{
	progs_die("writers", what);
}

/* make_file — file t of FSIZE bytes, each word naming (t, offset); its descriptor */
static int make_file(int t)
{
	char p[4096];
	uint64_t *b = malloc(FSIZE);
	if (!b) die("malloc");
	for (size_t k = 0; k < FSIZE / 8; k++) b[k] = word(t, k * 8);
	snprintf(p, sizeof p, "%s/w%02d.bin", dir, t);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || progs_write_all(fd, b, FSIZE) < 0) die(p);
	free(b);
	close(fd);
	if ((fd = open(p, O_RDONLY)) < 0) die(p);
	return fd;
}

/* room — waits until the socket's unsent bytes leave room for every thread's next unit, so a
 * non-blocking call is never cut short (a partial call would make the run unjudgeable) */
static int room_limit; /* unsent bytes above which a unit waits (from the send buffer's real size) */
static void room(void)
{
	int q;
	while (ioctl(sock, SIOCOUTQ, &q) == 0 && q > room_limit) usleep(50);
}

/* send_unit — one writev of header + data; EAGAIN waited out; a partial call finished, counted */
static void send_unit(const uint64_t hdr[4], const char *data)
{
	struct iovec v[2] = {{(void *)hdr, 32}, {(void *)data, chunk}};
	size_t left = 32 + chunk;
	int first = 1;
	while (left) {
		ssize_t k = writev(sock, v, 2);
		if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd p = {sock, POLLOUT, 0};
			poll(&p, 1, 100);
			continue;
		}
		if (k <= 0) die("writev");
		if ((size_t)k < left && first) atomic_fetch_add(&partial, 1);
		first = 0;
		left -= (size_t)k;
		for (int i = 0; i < 2 && k > 0; i++) { /* step over what went */
			size_t s = (size_t)k < v[i].iov_len ? (size_t)k : v[i].iov_len;
			v[i].iov_base = (char *)v[i].iov_base + s, v[i].iov_len -= s, k -= (ssize_t)s;
		}
	}
}

static void on_signal(int sig)
{
	int e = errno;
	char c = (char)sig;
	if (write(selfpipe[1], &c, 1) == 1) atomic_fetch_add(&handled, 1); /* full: EAGAIN, fine */
	errno = e;
}

/* signaller — SIGUSR1 to the writers in turn until they are done */
static void *signaller(void *arg)
{
	pthread_t *wt = arg;
	struct timespec ts = {0, signal_us * 1000L};
	for (unsigned long k = 0; atomic_load(&writers_done) < nthreads; k++) {
		pthread_kill(wt[k % (unsigned long)nthreads], SIGUSR1);
		nanosleep(&ts, NULL);
		char b[512];
		while (read(selfpipe[0], b, sizeof b) > 0) {}
	}
	return NULL;
}

static void *writer(void *arg)
{
	int t = (int)(intptr_t)arg, fd = make_file(t);
	char *map = NULL, *buf = NULL;
	if (use_map && (map = mmap(NULL, FSIZE, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) die("mmap");
	if (!use_map && !(buf = malloc(chunk))) die("malloc");
	for (int u = 0; u < units; u++) {
		size_t off = (size_t)u * chunk % (FSIZE - chunk + 1) / 8 * 8;
		const char *data = map ? map + off : buf;
		if (!map && pread(fd, buf, chunk, (off_t)off) != (ssize_t)chunk) die("pread");
		uint64_t hdr[4] = {MAGIC << 32 | (uint64_t)t, (uint64_t)u, off, chunk};
		if (turns) pthread_mutex_lock(&turn);
		room();
		send_unit(hdr, data);
		if (turns) pthread_mutex_unlock(&turn);
	}
	if (map) munmap(map, FSIZE);
	free(buf);
	close(fd);
	atomic_fetch_add(&writers_done, 1);
	return NULL;
}

/* reader — parses the stream unit by unit and checks every word */
static void *reader(void *arg)
{
	int fd = (int)(intptr_t)arg;
	size_t cap = 1 << 20, have = 0;
	char *b = malloc(cap);
	int seq[MAXT] = {0}, lost = 0;
	if (!b) die("malloc");
	for (;;) {
		ssize_t k = recv(fd, b + have, cap - have, 0);
		if (k < 0 && errno == EINTR) continue;
		if (k < 0) die("recv");
		if (k == 0) break;
		have += (size_t)k;
		size_t at = 0;
		while (!lost && have - at >= 32 + chunk) {
			uint64_t h[4];
			memcpy(h, b + at, 32);
			int t = (int)(h[0] & 0xffff);
			if (h[0] >> 32 != MAGIC || t >= nthreads || h[3] != chunk || h[1] != (uint64_t)seq[t]) {
				fprintf(stderr, "writers: unit %lu: bad header %016llx %llu %llu %llu\n", got_units,
					(unsigned long long)h[0], (unsigned long long)h[1], (unsigned long long)h[2],
					(unsigned long long)h[3]);
				mismatches++;
				lost = 1; /* the stream cannot be parsed further: drained, so the writers finish */
				at = have;
				break;
			}
			seq[t]++;
			for (size_t w = 0; w < chunk / 8; w++) {
				uint64_t v;
				memcpy(&v, b + at + 32 + w * 8, 8);
				if (v != word(t, h[2] + w * 8)) {
					if (mismatches++ < 5)
						fprintf(stderr, "writers: thread %d unit %llu word %zu: %016llx, want %016llx\n", t,
							(unsigned long long)h[1], w, (unsigned long long)v,
							(unsigned long long)word(t, h[2] + w * 8));
				}
			}
			at += 32 + chunk, got_units++, got_bytes += chunk;
		}
		if (lost) at = have;
		memmove(b, b + at, have - at);
		have -= at;
	}
	if (have) fprintf(stderr, "writers: %zu bytes left over\n", have), mismatches++;
	free(b);
	return NULL;
}

static void connect_pair(int *s, int *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &al) < 0)
		die("listen");
	if ((*s = socket(AF_INET, SOCK_STREAM, 0)) < 0 || progs_connect(*s, &a) < 0) die("connect");
	if ((*r = accept(l, NULL, NULL)) < 0) die("accept");
	close(l);
}

int main(int argc, char **argv)
{
	static const struct option o[] = {{"dir", 1, 0, 'd'},	 {"threads", 1, 0, 't'}, {"units", 1, 0, 'u'},
					  {"chunk", 1, 0, 'c'},	 {"src", 1, 0, 's'},	 {"turns", 0, 0, 'T'},
					  {"blocking", 0, 0, 'b'}, {"signal-us", 1, 0, 'S'}, {0, 0, 0, 0}};
	int c, r;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		long long v = 0;
		if (c == 't' || c == 'u' || c == 'c' || c == 'S') v = progs_size(optarg);
		if (v < 0) c = '?';
		switch (c) {
		case 'd': dir = optarg; break;
		case 't': nthreads = (int)v; break;
		case 'u': units = (int)v; break;
		case 'c': chunk = (size_t)v; break;
		case 's': use_map = !strcmp(optarg, "map"); c = use_map || !strcmp(optarg, "pread") ? c : '?'; break;
		case 'T': turns = 1; break;
		case 'b': blocking = 1; break;
		case 'S': signal_us = (int)v; break;
		}
		if (c == '?') goto usage;
	}
	if (!dir || nthreads < 1 || nthreads > MAXT || units < 1 || chunk < 8 || chunk % 8 || chunk > FSIZE) goto usage;
	connect_pair(&sock, &r);
	int sz = 4 << 20;
	setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	setsockopt(r, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	if (!blocking && fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
	/* the kernel caps SO_SNDBUF (net.core.wmem_max): half the real buffer, less every thread's
	 * next unit, stays free however the threads meet */
	socklen_t szl = sizeof sz;
	if (getsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sz, &szl) < 0) die("getsockopt");
	room_limit = sz / 2 - nthreads * (int)(chunk + 32);
	if (room_limit > (1 << 20)) room_limit = 1 << 20;
	if (room_limit < 0) room_limit = 0;
	pthread_t rt, st, wt[MAXT];
	if (signal_us) {
		struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: waits are interrupted */
		if (pipe2(selfpipe, O_NONBLOCK | O_CLOEXEC) < 0 || sigaction(SIGUSR1, &sa, NULL) < 0) die("signals");
	}
	if (pthread_create(&rt, NULL, reader, (void *)(intptr_t)r)) die("pthread_create");
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&wt[t], NULL, writer, (void *)(intptr_t)t)) die("pthread_create");
	if (signal_us && pthread_create(&st, NULL, signaller, wt)) die("pthread_create");
	if (signal_us) pthread_join(st, NULL); /* first: it signals writers until all are done */
	for (int t = 0; t < nthreads; t++) pthread_join(wt[t], NULL);
	shutdown(sock, SHUT_WR);
	pthread_join(rt, NULL);
	if (got_units != (unsigned long)nthreads * (unsigned long)units && !mismatches) mismatches++;
	printf("writers: units %lu partial %ld mismatches %lu bytes %lu\n", got_units, (long)atomic_load(&partial),
	       mismatches, got_bytes);
	if (signal_us) printf("writers: signals handled %ld\n", (long)atomic_load(&handled));
	return mismatches ? 1 : atomic_load(&partial) ? 3 : 0;
usage:
	fprintf(stderr, "usage: writers --dir DIR [--threads N] [--units N] [--chunk N] [--src pread|map] [--turns]\n"
			"       [--blocking] [--signal-us N]\n");
	return 2;
}
