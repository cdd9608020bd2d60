/* leases.c — copy loops whose source lease must be given back in time (tests/e2e/test_leases.sh).
 *
 * usage: leases MODE --src PATH --ready PATH --go PATH [--dst PATH] [--chunks N] [--pause-ms N]
 *   dst-file    copies N chunks of 64 KiB over the start of --dst (an existing, longer regular file),
 *               then touches --ready and waits for --go before copying the rest: a writer opening
 *               the source meanwhile must not wait for data "queued" in a file (FIONREAD on a file
 *               is the bytes from its position to its end)
 *   dup-close   copies N chunks to stdout, dup()s the source and closes it, touches --ready, waits
 *               for --go: the open file description lives on in the dup
 *   fork-child  copies N chunks to stdout, forks a child that keeps the source open until --go,
 *               closes its own, touches --ready, waits for --go
 *   paced       copies N chunks to stdout with --pause-ms between them (a writer holds the file
 *               open at first: leases are refused with EAGAIN, then must be granted) */
#include "progs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define C 65536

static void die(const char *what) { progs_die("leases", what); }

static void touch(const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT, 0644);
	if (fd < 0) die(p);
	close(fd);
}

/* wait_for — until PATH exists (30 s at most). */
static void wait_for(const char *p)
{
	struct timespec t = {0, 10 * 1000000L};
	for (int i = 0; i < 3000; i++) {
		if (access(p, F_OK) == 0) return;
		nanosleep(&t, NULL);
	}
	die("no go file within 30 s");
}

/* copy — n chunks (0: to EOF) from src to dst, each read into the same buffer and written whole. */
static long copy(int src, int dst, char *buf, int n, long pause_ms)
{
	long total = 0;
	for (int i = 0; n == 0 || i < n; i++) {
		ssize_t r = read(src, buf, C);
		if (r < 0) die("read");
		if (r == 0) break;
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(dst, buf + off, (size_t)(r - off));
			if (w < 0) die("write");
			off += w;
		}
		total += r;
		if (pause_ms) nanosleep(&(struct timespec){pause_ms / 1000, (pause_ms % 1000) * 1000000L}, NULL);
	}
	return total;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "", *src_path = NULL, *ready = NULL, *go = NULL, *dst_path = NULL;
	int chunks = 4;
	long pause_ms = 0;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--src")) src_path = argv[i + 1];
		else if (!strcmp(argv[i], "--ready")) ready = argv[i + 1];
		else if (!strcmp(argv[i], "--go")) go = argv[i + 1];
		else if (!strcmp(argv[i], "--dst")) dst_path = argv[i + 1];
		else if (!strcmp(argv[i], "--chunks")) chunks = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--pause-ms")) pause_ms = atol(argv[i + 1]);
		else errno = EINVAL, die(argv[i]);
	}
	if (!src_path) errno = EINVAL, die("usage: leases dst-file|dup-close|fork-child|paced --src PATH ...");
	int src = open(src_path, O_RDONLY);
	char *buf = malloc(C);
	if (src < 0 || !buf) die("source");
	if (!strcmp(mode, "paced")) {
		copy(src, 1, buf, chunks, pause_ms);
		return 0;
	}
	if (!ready || !go) errno = EINVAL, die("--ready and --go");
	if (!strcmp(mode, "dst-file")) {
		int dst = open(dst_path ? dst_path : "/dev/null", O_WRONLY | O_CREAT, 0644); /* overwritten in place */
		if (dst < 0) die("dst");
		copy(src, dst, buf, chunks, 0);
		touch(ready);
		wait_for(go);
		copy(src, dst, buf, 0, 0);
		return close(dst) < 0;
	}
	copy(src, 1, buf, chunks, 0);
	if (!strcmp(mode, "dup-close")) {
		int d = dup(src);
		if (d < 0) die("dup");
		close(src);
		touch(ready);
		wait_for(go);
		return close(d) < 0;
	}
	if (!strcmp(mode, "fork-child")) {
		pid_t p = fork();
		if (p < 0) die("fork");
		if (p == 0) {
			wait_for(go); /* the child keeps the source open meanwhile */
			_exit(0);
		}
		close(src);
		touch(ready);
		wait_for(go);
		int st;
		return waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st);
	}
	errno = EINVAL;
	die(mode);
}
