/* mapsend.c — sends a file the way Apache does by default (EnableMMAP On, EnableSendfile Off): the
 * file is mapped read-only in pieces, its descriptor closed, and each piece goes out with one
 * writev(header, mapping), continued from the middle after a short count (--bare: one write of
 * the mapping alone). Cases put the hostile
 * event between the mmap and the write. The bytes go to stdout (a pipe) or through loopback TCP to
 * a forked receiver that copies them to stdout; the transcript (--log) records every call's result.
 *
 *   mapsend --src FILE --log FILE [--dest pipe|tcp] [--piece BYTES] [--private] [--nonblock]
 *           [--bare] [--case plain|pasteof|truncate|modify|mprotect|munmap|fork|forkmap|peerclose|peerclose_sig|after|locked|lockafter|threads]
 *
 * pasteof: the mapping runs 3 pages past the end of the file (the kernel's copy stops at the first
 * page with no file behind it). truncate/modify: another process truncates the file to a third or
 * overwrites its start (opening it for writing breaks the shim's lease) before the write.
 * mprotect/munmap: the piece is made PROT_NONE or unmapped before the write (EFAULT). fork: a child
 * writes the pieces; forkmap: the parent maps each piece, a child writes it. peerclose: the peer
 * has reset the connection before the first write, which fails (ECONNRESET) and is tried again
 * (EPIPE: SIGPIPE is ignored); peerclose_sig: the same with SIGPIPE blocked (the transcript says
 * whether it was raised).
 * after: once every piece is sent and unmapped, another process opens the file for writing (it
 * must not wait for the shim, which may keep the file open a moment for the next mapping).
 * locked: the program holds a POSIX read lock on the file and maps from that descriptor; after
 * the last piece is unmapped (and 0.6 s), another process checks that the lock still stands.
 * lockafter: the same, the lock taken right after the first piece is mapped.
 * threads: two threads send the two halves of the file over two connections at once (received
 * into out.h0 and out.h1 in the current directory). */
#include "transcript.h"

#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

static const char *src, *cas = "plain", *dest = "pipe";
static size_t piece = 4 << 20;
static int priv, nonblock, bare;
static __thread int quiet; /* threads: the order of two threads' lines is not the program's to choose */

/* other_process — a forked child opens the file for writing (the shim's lease breaks, the open waits
 * for its release) and truncates it to a third, or overwrites its first 100 bytes. */
static void other_process(int truncate)
{
	pid_t p = fork();
	if (p == 0) {
		int fd = (int)syscall(SYS_openat, AT_FDCWD, src, O_WRONLY);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) _exit(1);
		if (truncate) syscall(SYS_ftruncate, fd, st.st_size / 3);
		else syscall(SYS_pwrite64, fd, "changed by another process ", 27, 0);
		_exit(0);
	}
	int status;
	waitpid(p, &status, 0);
	tlog("other process %s: exit %d", truncate ? "truncated" : "overwrote", WEXITSTATUS(status));
}

/* receiver — the forked side of a TCP destination: accepts once and copies to stdout with raw
 * calls; reset: it never reads, and closes once the sender's first byte is there (a reset). */
static void receiver(int ls, int reset, int out)
{
	int c = accept(ls, NULL, NULL);
	char buf[65536];
	if (c < 0) _exit(1);
	if (reset) {
		struct pollfd pf = {.fd = c, .events = POLLIN};
		syscall(SYS_poll, &pf, 1, 10000);
		_exit(0); /* unread bytes: the kernel answers with a reset */
	}
	for (;;) {
		long r = syscall(SYS_read, c, buf, sizeof buf);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		raw_write_all(out, buf, (size_t)r);
	}
	_exit(0);
}

/* connect_out — a TCP connection to a forked receiver; *kid: its pid. */
static int connect_out(pid_t *kid, int reset, int out)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0)
		exit(3);
	if ((*kid = fork()) == 0) receiver(ls, reset, out);
	close(ls);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) exit(3);
	if (reset) { /* one byte the shim never sees, the receiver gone, its reset arrived: then the writes */
		struct pollfd pf = {.fd = s, .events = POLLRDHUP};
		syscall(SYS_write, s, "x", 1);
		waitpid(*kid, NULL, 0);
		*kid = -1;
		syscall(SYS_poll, &pf, 1, 10000);
		tlog("peer gone: revents %#x", pf.revents);
	}
	if (nonblock) fcntl(s, F_SETFL, O_NONBLOCK);
	return s;
}

/* send_piece — writev(header, [p, p+n)) until all is out or a call fails; logs every result but
 * EAGAIN (how often a non-blocking socket is full depends on timing, not on the shim). */
static int send_piece(int out, int k, const char *p, size_t n)
{
	char hdr[64];
	int hl = snprintf(hdr, sizeof hdr, "piece %d, %zu bytes\n", k, n);
	if (bare) hl = 0; /* one plain write of the mapping, no header */
	size_t done = 0, total = (size_t)hl + n;
	while (done < total) {
		struct iovec v[2];
		int c = 0;
		if (done < (size_t)hl) v[c++] = (struct iovec){hdr + done, (size_t)hl - done};
		size_t at = done < (size_t)hl ? 0 : done - (size_t)hl;
		v[c++] = (struct iovec){(void *)(p + at), n - at};
		ssize_t r = bare ? write(out, v[0].iov_base, v[0].iov_len) : writev(out, v, c);
		if (r < 0 && errno == EAGAIN) {
			struct pollfd pf = {.fd = out, .events = POLLOUT};
			poll(&pf, 1, -1);
			continue;
		}
		if (r < 0 && errno == EINTR) continue;
		if (!quiet || r <= 0) tlog("piece %d writev at %zu: %zd %s", k, done, r, ename(r < 0 ? errno : 0));
		if (r <= 0) return -1;
		done += (size_t)r;
	}
	return 0;
}

static int lock_fd = -1; /* locked: the descriptor holding the program's POSIX lock, mapped from */

/* take_lock — a POSIX read lock on the whole file, as a database would hold one. */
static void take_lock(void)
{
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
	tlog("lock: %d", fcntl(lock_fd, F_SETLK, &fl));
}

/* map_piece — piece k of the file, mapped read-only; the descriptor is closed right after (Apache),
 * but for the locked case (a close would drop the program's own lock). */
static char *map_piece(off_t off, size_t n)
{
	int fd = lock_fd >= 0 ? lock_fd : open(src, O_RDONLY);
	if (fd < 0) exit(3);
	char *m = mmap(NULL, n, PROT_READ, priv ? MAP_PRIVATE : MAP_SHARED, fd, off);
	if (fd != lock_fd) close(fd);
	if (m == MAP_FAILED) tlog("mmap at %lld: %s", (long long)off, ename(errno));
	return m == MAP_FAILED ? NULL : m;
}

/* send_range — pieces of [from, to) of the file (size the file's size when the mapping was made). */
static int send_range(int out, off_t from, off_t to, off_t size)
{
	int k = 0;
	for (off_t off = from; off < to; off += (off_t)piece, k++) {
		size_t n = to - off < (off_t)piece ? (size_t)(to - off) : piece;
		size_t mlen = n;
		if (!strcmp(cas, "pasteof") && off + (off_t)n >= size) mlen = n + 3 * 4096;
		char *m = map_piece(off, mlen);
		if (!m) return -1;
		if (!strcmp(cas, "truncate") || !strcmp(cas, "modify")) other_process(!strcmp(cas, "truncate"));
		if (!strcmp(cas, "lockafter") && k == 0) take_lock(); /* after the shim opened the file */
		if (!strcmp(cas, "mprotect")) tlog("mprotect: %d", mprotect(m, mlen, PROT_NONE));
		if (!strcmp(cas, "munmap")) tlog("munmap: %d", munmap(m, mlen));
		int r;
		if (!strcmp(cas, "forkmap")) { /* mapped by the parent, written by a child */
			pid_t c = fork();
			if (c == 0) exit(send_piece(out, k, m, mlen) < 0 ? 1 : 0); /* exit: the shim's counters are written */
			int status;
			waitpid(c, &status, 0);
			r = WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
		} else {
			r = send_piece(out, k, m, mlen);
		}
		if (strcmp(cas, "munmap")) munmap(m, mlen);
		if (r < 0 && !strncmp(cas, "peerclose", 9)) r = send_piece(out, k, m, mlen); /* EPIPE now */
		if (r < 0) return -1;
	}
	return 0;
}

struct half {
	off_t from, to, size;
	int rc;
};

static void *half_thread(void *a)
{
	struct half *h = a;
	pid_t kid;
	char name[16];
	snprintf(name, sizeof name, "out.h%d", h->from > 0);
	int o = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644); /* in the run's directory */
	int s = connect_out(&kid, 0, o);
	quiet = 1;
	h->rc = send_range(s, h->from, h->to, h->size);
	close(s);
	waitpid(kid, NULL, 0);
	close(o);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"src", 1, 0, 's'}, {"log", 1, 0, 'l'}, {"case", 1, 0, 'c'}, {"dest", 1, 0, 'd'},
					     {"piece", 1, 0, 'p'}, {"private", 0, 0, 'P'}, {"nonblock", 0, 0, 'n'},
					     {"bare", 0, 0, 'b'}, {0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': src = optarg; break;
		case 'l': log_fd = open(optarg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644); break;
		case 'c': cas = optarg; break;
		case 'd': dest = optarg; break;
		case 'p': piece = strtoul(optarg, NULL, 0); break;
		case 'P': priv = 1; break;
		case 'n': nonblock = 1; break;
		case 'b': bare = 1; break;
		default: return 2;
		}
	}
	struct stat st;
	if (!src || stat(src, &st) < 0 || !piece) return 2;
	start_watchdog(30);
	if (!strcmp(cas, "peerclose")) signal(SIGPIPE, SIG_IGN);
	sigset_t pipe_set, pend;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (!strcmp(cas, "peerclose_sig")) sigprocmask(SIG_BLOCK, &pipe_set, NULL); /* raised: left pending */
	if (!strcmp(cas, "threads")) {
		off_t mid = st.st_size / 2 & ~(off_t)4095; /* a mapping starts at a page */
		struct half h[2] = {{0, mid, st.st_size, 0}, {mid, st.st_size, st.st_size, 0}};
		pthread_t t[2];
		for (int k = 0; k < 2; k++) pthread_create(&t[k], NULL, half_thread, &h[k]);
		for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
		tlog("threads: %d %d", h[0].rc, h[1].rc);
		return 0;
	}
	pid_t kid = -1;
	int out = 1;
	if (!strcmp(dest, "tcp")) out = connect_out(&kid, !strncmp(cas, "peerclose", 9), 1);
	int rc;
	if (!strcmp(cas, "fork")) {
		pid_t c = fork();
		if (c == 0) exit(send_range(out, 0, st.st_size, st.st_size) < 0 ? 1 : 0);
		int status;
		waitpid(c, &status, 0);
		rc = WIFEXITED(status) ? WEXITSTATUS(status) : 9;
		tlog("child: %d", rc);
	} else {
		if (!strncmp(cas, "lock", 4)) lock_fd = open(src, O_RDONLY); /* the program locks the file it serves */
		if (!strcmp(cas, "locked")) take_lock();
		rc = send_range(out, 0, st.st_size, st.st_size);
		tlog("sent: %d", rc);
		if (lock_fd >= 0) { /* every piece unmapped, and long enough for the shim to let its descriptor go */
			usleep(600000);
			pid_t c = fork();
			if (c == 0) { /* another process asks: is a write lock possible, or does ours still stand? */
				struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
				int f = open(src, O_RDONLY);
				_exit(f >= 0 && fcntl(f, F_GETLK, &q) == 0 && q.l_type == F_RDLCK ? 0 : 1);
			}
			int status;
			waitpid(c, &status, 0);
			tlog("lock still held: %d", WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
		if (!strcmp(cas, "after")) { /* every piece unmapped: a writer must not wait for the shim */
			struct timespec t0, t1;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			other_process(0);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
			tlog("writer waited under 1 s: %d", ms < 1000);
			tlog("# writer waited %ld ms", ms);
		}
	}
	if (kid > 0) close(out), waitpid(kid, NULL, 0);
	sigpending(&pend);
	tlog("SIGPIPE pending: %d", sigismember(&pend, SIGPIPE));
	return 0;
}
