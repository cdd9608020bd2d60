/* threads.c — many short threads, each copying one chunk of a file into a file of its own through
 * its own buffer and reading it back; prints the chunks that came back different and the process's
 * VmSize and VmRSS in KiB (tests/e2e/test_threads.sh: a shim that leaked per-thread state, like an
 * alternate signal stack, shows here).
 *
 * usage: threads --src PATH [--threads N] */
#include "progs.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#define C 65536
static int src;
static long size;
static int mismatches;

/* one — a chunk at a pseudo-random offset, pread into a fresh buffer, written whole to a new
 * unnamed file, read back and compared with the source. */
static void *one(void *arg)
{
	long k = (long)(intptr_t)arg;
	char *buf = malloc(C), *back = malloc(C);
	off_t off = (off_t)((k * 7919) % (size / C)) * C;
	int out = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	ssize_t r = buf && back && out >= 0 ? pread(src, buf, C, off) : -1;
	for (ssize_t o = 0; r > 0 && o < r;) {
		ssize_t w = write(out, buf + o, (size_t)(r - o));
		if (w <= 0) break;
		o += w;
	}
	if (r != C || pread(out, back, C, 0) != C || pread(src, buf, C, off) != C || memcmp(buf, back, C))
		__atomic_fetch_add(&mismatches, 1, __ATOMIC_RELAXED);
	if (out >= 0) close(out);
	free(buf);
	free(back);
	return NULL;
}

/* status_kb — a "Name:   N kB" line of /proc/self/status. */
static long status_kb(const char *name)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, name, strlen(name))) v = atol(line + strlen(name) + 1);
	if (f) fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int n = 2000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--src")) path = argv[i + 1];
		else if (!strcmp(argv[i], "--threads")) n = atoi(argv[i + 1]);
	}
	if (!path || (src = open(path, O_RDONLY)) < 0) progs_die("threads", "--src");
	size = lseek(src, 0, SEEK_END);
	if (size < C) progs_die("threads", "source shorter than one chunk");
	for (long k = 0; k < n; k++) {
		pthread_t t;
		if (pthread_create(&t, NULL, one, (void *)(intptr_t)k) || pthread_join(t, NULL)) progs_die("threads", "thread");
	}
	fprintf(stderr, "mismatches %d\nVmSize %ld VmRSS %ld\n", mismatches, status_kb("VmSize:"), status_kb("VmRSS:"));
	return mismatches != 0;
}
