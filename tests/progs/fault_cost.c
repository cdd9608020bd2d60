/* fault_cost.c — what a touch of a deferred buffer costs end to end (a measurement, not a test):
 * reads CHUNK bytes at a time from FILE into one malloc'd buffer and writes them to a pipe drained
 * by a thread; every other chunk the program first reads one byte of the buffer's interior. Under
 * ZCSHIM_MODE=deferred that touch waits for the shim's fault thread to fill the whole interior.
 * Prints the median time of the read call, of the first touch and of the write, in microseconds.
 * With "zap", every other chunk gives the interior back (madvise MADV_DONTNEED) instead of touching
 * it: what an madvise or munmap of a buffer the shim registered costs (the kernel's event waits for
 * the fault thread to read it).
 * usage: fault_cost FILE [CHUNK] [zap] */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int pfd[2];

static void *drain(void *arg)
{
	static char sink[1 << 16];
	(void)arg;
	while (read(pfd[0], sink, sizeof sink) > 0) {}
	return NULL;
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	return n ? v[n / 2] : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: fault_cost FILE [CHUNK] [zap]\n");
		return 2;
	}
	size_t chunk = argc > 2 ? strtoul(argv[2], NULL, 0) : 65536;
	int zap = argc > 3 && !strcmp(argv[3], "zap");
	int fd = open(argv[1], O_RDONLY);
	char *buf = malloc(chunk);
	static double rd[1 << 16], touch[1 << 16], wr[1 << 16];
	int nr = 0, nt = 0, nw = 0;
	pthread_t t;
	if (fd < 0 || !buf || pipe(pfd) < 0 || pthread_create(&t, NULL, drain, NULL)) return perror("setup"), 3;
	volatile char sum = 0;
	for (int k = 0; nr < (1 << 16); k++) {
		double t0 = now_us();
		ssize_t n = read(fd, buf, chunk);
		double t1 = now_us();
		if (n <= 0) break;
		rd[nr++] = t1 - t0;
		if (k % 2 && (size_t)n == chunk) {
			char *lo = (char *)(((uintptr_t)buf + 4095) & ~(uintptr_t)4095);
			size_t in = (size_t)(((uintptr_t)buf + chunk) & ~(uintptr_t)4095) - (size_t)(uintptr_t)lo;
			t0 = now_us();
			if (zap) madvise(lo, in, MADV_DONTNEED); /* zeros from now on, with or without the shim */
			else sum += buf[chunk / 2]; /* one byte in the interior: the whole interior is filled */
			touch[nt++] = now_us() - t0;
		}
		t0 = now_us();
		if (write(pfd[1], buf, (size_t)n) != n) return perror("write"), 1;
		wr[nw++] = now_us() - t0;
	}
	close(pfd[1]);
	pthread_join(t, NULL);
	double r = median(rd, nr);
	printf("chunk %zu: read %.2f us, %s %.2f us, write %.2f us (medians of %d/%d/%d)\n", chunk, r,
	       zap ? "madvise" : "first touch", median(touch, nt), median(wr, nw), nr, nt, nw);
	return 0;
}
