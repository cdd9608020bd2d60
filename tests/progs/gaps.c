/* gaps.c — small legacy-style copy programs for the cases tests/e2e/test_gaps.sh covers that
 * copyloop.c has no option for. Each is a plain read()+write() loop (64 KiB chunks unless --chunk)
 * with one twist; results the test compares go to --log (written with raw syscalls, so the shim
 * never sees them). Exit status: 0 done, 1 a call failed, 2 bad usage, 4 not supported here.
 *
 *   gaps bufop --src F --op realloc|munmap|madvise|mremap|recv [--at K]      -> stdout
 *       before the write of chunk K (default 2) the buffer is dropped or refilled behind the
 *       record: realloc (grown, moved; then a new malloc of the old size filled with 0x11 is
 *       written too), munmap (then a new mapping at the same address, 0x22), madvise
 *       (MADV_DONTNEED: zeros), mremap (moved away, its new address written, then a new mapping
 *       at the old address, 0x33), recv (from a socketpair, 0x44)
 *   gaps sigpipe --src F [--pending]                                         -> stdout
 *       SIGPIPE blocked (and, with --pending, raised first so it is already pending); copies
 *       until a write fails; logs the errno, whether SIGPIPE is pending, how many sigtimedwait took
 *   gaps shared --src A --src2 B --port P                                    -> TCP 127.0.0.1:P
 *       two threads write one socket in strict turns (A0 B0 A1 B1 ...), each reading its next
 *       chunk before waiting for its turn
 *   gaps exec --src F --how execve|execvp --log L                            -> stdout, then exec
 *       copies F to stdout, then executes itself as "gaps probe --log L"
 *   gaps probe --log L      logs "preload=<LD_PRELOAD>" and "mapped=<0|1>" (libzcshim in maps)
 *   gaps unix --src F       copies F into an AF_UNIX stream socketpair; a forked child copies the
 *                           other end to stdout
 *   gaps odirect --src F [--plain]    copies F opened with O_DIRECT (aligned buffer) to stdout;
 *                           --plain: the same without O_DIRECT. Exit 4 if O_DIRECT is refused. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "progs.h"

static const char *src, *src2, *op = "", *how = "execve", *logpath;
static size_t chunk = 65536;
static long at = 2;
static int port, pending, plain;
static int log_fd = -1;

/* logf_ — one line to the log with the raw write syscall (the shim must not count it). */
static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char line[4200];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (log_fd < 0 || n < 0) return;
	if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
	line[n++] = '\n';
	syscall(SYS_write, log_fd, line, (size_t)n);
}

/* write_all — the program's own write loop: resends the rest after a partial write. */
static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t r = write(fd, c, n);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) return -1;
		c += r, n -= (size_t)r;
	}
	return 0;
}

static int open_src(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | flags);
	if (fd < 0) progs_die("gaps", path);
	return fd;
}

/* ---- bufop: the buffer dropped or refilled between the read and the write ------------------- */

/* fresh_map — an anonymous mapping of n bytes at addr (exactly there), filled with byte. */
static void fresh_map(void *addr, size_t n, int byte)
{
	void *p = mmap(addr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != addr) progs_die("gaps", "mmap at the old address");
	memset(p, byte, n);
}

static int cmd_bufop(void)
{
	int mapped = strcmp(op, "realloc") && strcmp(op, "recv");
	int fd = open_src(src, 0);
	char *buf = mapped ? mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : malloc(chunk);
	if (buf == MAP_FAILED || !buf) progs_die("gaps", "buffer");
	ssize_t n;
	for (long k = 0; (n = read(fd, buf, chunk)) > 0; k++) {
		if (k != at) {
			if (write_all(1, buf, (size_t)n)) return 1;
			continue;
		}
		logf_("op %s at chunk %ld", op, k);
		if (!strcmp(op, "realloc")) {
			char *old = buf;
			buf = realloc(buf, 4 * chunk);
			if (!buf) progs_die("gaps", "realloc");
			if (write_all(1, buf, (size_t)n)) return 1;
			char *q = malloc(chunk); /* often lands where the old buffer was */
			if (!q) progs_die("gaps", "malloc");
			logf_("# moved=%d reused=%d", buf != old, q == old);
			memset(q, 0x11, chunk);
			if (write_all(1, q, chunk)) return 1;
			free(q);
		} else if (!strcmp(op, "munmap")) {
			if (munmap(buf, chunk)) progs_die("gaps", "munmap");
			fresh_map(buf, chunk, 0x22);
			if (write_all(1, buf, chunk)) return 1;
		} else if (!strcmp(op, "madvise")) {
			if (madvise(buf, chunk, MADV_DONTNEED)) progs_die("gaps", "madvise");
			if (write_all(1, buf, (size_t)n)) return 1;
		} else if (!strcmp(op, "mremap")) {
			char *to = mmap(NULL, chunk, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (to == MAP_FAILED) progs_die("gaps", "mmap target");
			if (mremap(buf, chunk, chunk, MREMAP_MAYMOVE | MREMAP_FIXED, to) != to) progs_die("gaps", "mremap");
			if (write_all(1, to, (size_t)n)) return 1;
			fresh_map(buf, chunk, 0x33);
			if (write_all(1, buf, chunk)) return 1;
			munmap(to, chunk);
		} else if (!strcmp(op, "recv")) {
			int sv[2];
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) progs_die("gaps", "socketpair");
			char *fill = malloc(chunk);
			memset(fill, 0x44, chunk);
			/* a child writes while recv waits: the socket buffer may hold less than a chunk */
			pid_t child = fork();
			if (child == 0) _exit(write_all(sv[1], fill, (size_t)n) ? 1 : 0);
			if (recv(sv[0], buf, (size_t)n, MSG_WAITALL) != n) progs_die("gaps", "recv");
			waitpid(child, NULL, 0);
			close(sv[0]), close(sv[1]);
			free(fill);
			if (write_all(1, buf, (size_t)n)) return 1;
		} else {
			fprintf(stderr, "gaps: unknown --op %s\n", op);
			return 2;
		}
	}
	if (n < 0) progs_die("gaps", "read");
	logf_("exit 0");
	return 0;
}

/* ---- sigpipe: a pipe destination whose reader goes away, SIGPIPE blocked ------------------- */

static int cmd_sigpipe(void)
{
	sigset_t pipe_set, now;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &pipe_set, NULL)) progs_die("gaps", "sigprocmask");
	if (pending) raise(SIGPIPE);
	sigpending(&now);
	logf_("pending-before %d", sigismember(&now, SIGPIPE));
	int fd = open_src(src, 0);
	char *buf = malloc(chunk);
	ssize_t n, r = 0;
	long long total = 0;
	while ((n = read(fd, buf, chunk)) > 0) {
		const char *c = buf;
		size_t left = (size_t)n;
		while (left > 0 && (r = write(1, c, left)) > 0) c += r, left -= (size_t)r, total += r;
		if (r < 0) break;
	}
	int e = errno;
	logf_("write-error %s", r < 0 ? (e == EPIPE ? "EPIPE" : strerror(e)) : "none");
	logf_("# bytes written %lld", total);
	sigpending(&now);
	logf_("pending-after %d", sigismember(&now, SIGPIPE));
	struct timespec zero = {0, 0};
	int taken = 0;
	while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE) taken++;
	logf_("sigpipe-taken %d", taken);
	logf_("exit 0");
	return 0;
}

/* ---- shared: one socket, two threads in strict turns ------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, done[2], sock_fd, failed;

static void *shared_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	int fd = open_src(id ? src2 : src, 0);
	char *buf = malloc(chunk);
	for (;;) {
		ssize_t n = read(fd, buf, chunk); /* read before waiting: the other thread writes meanwhile */
		pthread_mutex_lock(&mu);
		while (turn != id && !done[!id]) pthread_cond_wait(&cv, &mu);
		if (n > 0 && write_all(sock_fd, buf, (size_t)n)) failed = errno;
		if (n <= 0) done[id] = 1;
		turn = !id;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		if (n <= 0 || failed) break;
	}
	close(fd);
	free(buf);
	return NULL;
}

static int cmd_shared(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sock_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (sock_fd < 0 || connect(sock_fd, (struct sockaddr *)&a, sizeof a)) progs_die("gaps", "connect");
	pthread_t t[2];
	for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, shared_thread, (void *)(intptr_t)i);
	for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
	close(sock_fd);
	logf_("exit %d", failed ? 1 : 0);
	return failed ? 1 : 0;
}

/* ---- exec / probe: does the new image carry the shim? -------------------------------------- */

static int copy_fd(int in, int out, char *buf)
{
	ssize_t n;
	while ((n = read(in, buf, chunk)) > 0)
		if (write_all(out, buf, (size_t)n)) return 1;
	return n < 0;
}

static int cmd_exec(char *self)
{
	char *buf = malloc(chunk);
	if (copy_fd(open_src(src, 0), 1, buf)) return 1;
	char *argv[] = {self, "probe", "--log", (char *)logpath, NULL};
	extern char **environ;
	if (!strcmp(how, "execvp")) execvp(self, argv);
	else execve(self, argv, environ);
	progs_die("gaps", "exec");
	return 1;
}

static int cmd_probe(void)
{
	const char *pre = getenv("LD_PRELOAD");
	char maps[1 << 16];
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY);
	long n;
	int mapped = 0;
	while (fd >= 0 && (n = syscall(SYS_read, fd, maps, sizeof maps - 1)) > 0) {
		maps[n] = 0;
		if (strstr(maps, "libzcshim")) mapped = 1; /* a line split across reads is unlikely and harmless */
	}
	logf_("preload=%s", pre ? pre : "(unset)");
	logf_("mapped=%d", mapped);
	return 0;
}

/* ---- unix: file -> AF_UNIX stream socket ------------------------------------------------- */

static int cmd_unix(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) progs_die("gaps", "socketpair");
	pid_t child = fork();
	if (child == 0) {
		close(sv[0]);
		char *b = malloc(chunk);
		_exit(copy_fd(sv[1], 1, b));
	}
	close(sv[1]);
	char *buf = malloc(chunk);
	int bad = copy_fd(open_src(src, 0), sv[0], buf);
	close(sv[0]);
	int st;
	waitpid(child, &st, 0);
	bad |= !WIFEXITED(st) || WEXITSTATUS(st);
	logf_("exit %d", bad);
	return bad;
}

/* ---- odirect: an O_DIRECT source ----------------------------------------------------------- */

static int cmd_odirect(void)
{
	int fd = open(src, O_RDONLY | (plain ? 0 : O_DIRECT));
	if (fd < 0 && errno == EINVAL) {
		fprintf(stderr, "gaps: O_DIRECT refused on %s\n", src);
		return 4;
	}
	if (fd < 0) progs_die("gaps", src);
	void *buf;
	if (posix_memalign(&buf, 4096, chunk)) progs_die("gaps", "posix_memalign");
	ssize_t n;
	while ((n = read(fd, buf, chunk)) > 0)
		if (write_all(1, buf, (size_t)n)) return 1;
	if (n < 0 && errno == EINVAL) {
		fprintf(stderr, "gaps: O_DIRECT read refused on %s\n", src);
		return 4;
	}
	return n < 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) goto usage;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--pending")) pending = 1;
		else if (!strcmp(a, "--plain")) plain = 1;
		else if (!v) goto usage;
		else if (!strcmp(a, "--src")) src = v, i++;
		else if (!strcmp(a, "--src2")) src2 = v, i++;
		else if (!strcmp(a, "--op")) op = v, i++;
		else if (!strcmp(a, "--at")) at = atol(v), i++;
		else if (!strcmp(a, "--how")) how = v, i++;
		else if (!strcmp(a, "--port")) port = atoi(v), i++;
		else if (!strcmp(a, "--log")) logpath = v, i++;
		else if (!strcmp(a, "--chunk")) {
			long long c = progs_size(v);
			if (c <= 0) goto usage;
			chunk = (size_t)c, i++;
		} else goto usage;
	}
	if (logpath) {
		log_fd = (int)syscall(SYS_openat, AT_FDCWD, logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (log_fd < 0) progs_die("gaps", logpath);
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "probe")) return cmd_probe();
	if (!src) goto usage;
	if (!strcmp(cmd, "bufop")) return cmd_bufop();
	if (!strcmp(cmd, "sigpipe")) return cmd_sigpipe();
	if (!strcmp(cmd, "shared") && src2 && port) return cmd_shared();
	if (!strcmp(cmd, "exec") && logpath) return cmd_exec(argv[0]);
	if (!strcmp(cmd, "unix")) return cmd_unix();
	if (!strcmp(cmd, "odirect")) return cmd_odirect();
usage:
	fprintf(stderr, "usage: gaps bufop|sigpipe|shared|exec|probe|unix|odirect --src F [options] (see gaps.c)\n");
	return 2;
}
