/* guard_cost.c — what guarding a buffer costs per chunk, mprotect + SIGSEGV against userfaultfd
 * async write-protection (the measurement behind shim/guard.c; README "How a touch is detected").
 *
 * usage: guard_cost [CHUNK...]   (default 64K 256K; a page-cached 1 MiB file is made in /tmp)
 * Prints microseconds per chunk, fastest of 5 rounds of 4000 chunks each:
 *   pread       the read alone (what a plain copy loop pays for its first copy)
 *   mprotect    pread, then PROT_READ and back (eager's old guard: set and lifted each chunk)
 *   uffd        clear write-protection, pread, set it, PAGEMAP_SCAN at the write (guard.c today)
 *   uffd-fault  pread into still-protected pages (async faults), re-arm by PAGEMAP_SCAN, check
 *   check       the PAGEMAP_SCAN at the write alone */
#include "progs.h"



#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_PRESENT (1 << 3)
struct region { uint64_t start, end, categories; };
struct scan { uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, inverted, mask, anyof, ret; };
#define PAGEMAP_SCAN_ _IOWR('f', 16, struct scan)

enum { ROUNDS = 5, ITERS = 4000 };
static int uffd, pagemap, src;
static char *buf;
static size_t n;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void wp(int on)
{
	struct uffdio_writeprotect w = {.range = {(uintptr_t)buf, n}, .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &w) < 0) progs_die("guard_cost", "UFFDIO_WRITEPROTECT");
}

static long scan(uint64_t flags, uint64_t mask)
{
	struct region v[4];
	struct scan a = {.size = sizeof a, .flags = flags, .start = (uintptr_t)buf, .end = (uintptr_t)buf + n,
			 .vec = (uintptr_t)v, .vec_len = 4, .mask = mask,
			 .ret = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN | PAGE_IS_PRESENT};
	return ioctl(pagemap, PAGEMAP_SCAN_, &a);
}

static void rd(void)
{
	if (pread(src, buf, n, 0) != (ssize_t)n) progs_die("guard_cost", "pread");
}

static void v_pread(void) { rd(); }
static void v_mprotect(void) { rd(); mprotect(buf, n, PROT_READ); mprotect(buf, n, PROT_READ | PROT_WRITE); }
static void v_uffd(void) { wp(0); rd(); wp(1); scan(0, 0); }
static void v_fault(void) { rd(); scan(1 | 2, PAGE_IS_WRITTEN); scan(0, 0); } /* WP_MATCHING | CHECK_WPASYNC */
static void v_check(void) { scan(0, 0); }

/* best — fastest round, in microseconds per chunk. */
static double best(void (*fn)(void))
{
	double b = 1e9;
	for (int r = 0; r < ROUNDS; r++) {
		double t = now();
		for (int i = 0; i < ITERS; i++) fn();
		t = (now() - t) / ITERS * 1e6;
		if (t < b) b = t;
	}
	return b;
}

int main(int argc, char **argv)
{
	char path[] = "/tmp/guard_cost.XXXXXX";
	static char chunk[1 << 20];
	src = mkstemp(path);
	if (src < 0 || write(src, chunk, sizeof chunk) != (ssize_t)sizeof chunk) progs_die("guard_cost", "source file");
	unlink(path);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0) uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | 1); /* user mode only */
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0) progs_die("guard_cost", "userfaultfd with asynchronous write-protection");
	if ((pagemap = open("/proc/self/pagemap", O_RDONLY)) < 0) progs_die("guard_cost", "/proc/self/pagemap");
	const char *def[] = {"64K", "256K"};
	int nsz = argc > 1 ? argc - 1 : 2;
	printf("%-8s %8s %9s %8s %11s %8s   (us per chunk, fastest of %d x %d)\n", "chunk", "pread", "mprotect", "uffd",
	       "uffd-fault", "check", ROUNDS, ITERS);
	for (int k = 0; k < nsz; k++) {
		n = (size_t)progs_size(argc > 1 ? argv[k + 1] : def[k]);
		if (n < 4096 || n > sizeof chunk || n % 4096) progs_die("guard_cost", "CHUNK: a multiple of 4K up to 1M");
		buf = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED) progs_die("guard_cost", "mmap");
		memset(buf, 1, n);
		double p = best(v_pread), m = best(v_mprotect);
		struct uffdio_register reg = {.range = {(uintptr_t)buf, n}, .mode = UFFDIO_REGISTER_MODE_WP};
		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) progs_die("guard_cost", "UFFDIO_REGISTER");
		double u = best(v_uffd);
		wp(1);
		double f = best(v_fault), c = best(v_check);
		printf("%-8zu %8.2f %9.2f %8.2f %11.2f %8.2f\n", n, p, m, u, f, c);
		munmap(buf, n);
	}
	return 0;
}
