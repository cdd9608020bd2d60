/* test_guard.c — buffer integrity by userfaultfd async write-protection read back with PAGEMAP_SCAN:
 * an armed, untouched range is CLEAN; every way its bytes can change (a store, a kernel write, pages
 * dropped or replaced) is WRITTEN; ranges whose bytes can change without a write through this
 * address space are refused; no signal ever reaches any thread; fork gives the child its own
 * descriptors. Each test runs in its own process (Criterion), so the guard starts uninitialised. */
#include <criterion/criterion.h>

#include "guard.h"
#include "real.h"
#include "stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL

static void setup(void)
{
	zc_real_resolve();
	zc_stats_init();
}

TestSuite(guard, .init = setup);

static const char *verdict_name(int v)
{
	return v == ZC_GUARD_CLEAN ? "CLEAN" : v == ZC_GUARD_WRITTEN ? "WRITTEN" : v == ZC_GUARD_ERROR ? "ERROR" : "?";
}

static uint64_t stat_of(enum zc_counter c)
{
	return zc_stat_total(zc_stats, c);
}

/* anon — npages of private anonymous memory, populated with a pattern (as a read would leave it). */
static char *anon(size_t npages)
{
	char *p = mmap(NULL, npages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	for (size_t i = 0; i < npages * PG; i++) p[i] = (char)(i * 7 + 3);
	return p;
}

/* poke — one store the compiler cannot drop. */
static void poke(char *p, char v)
{
	*(volatile char *)p = v;
}

static void expect(const void *lo, size_t len, int want, const char *what)
{
	int v = zc_guard_check(lo, len);
	cr_assert_eq(v, want, "%s: check(%p, %zu) = %s, expected %s", what, lo, len, verdict_name(v), verdict_name(want));
}

/* guarded — open and arm [p, p+len); both must succeed. */
static void guarded(char *p, size_t len)
{
	int r = zc_guard_open(p, len);
	cr_assert_eq(r, 0, "zc_guard_open(%p, %zu) = %d (%s); mechanism: %s", p, len, r, strerror(-r), zc_guard_mechanism());
	r = zc_guard_arm(p, len);
	cr_assert_eq(r, 0, "zc_guard_arm(%p, %zu) = %d (%s)", p, len, r, strerror(-r));
}

/* tmp_file — an unlinked temporary file of size bytes ('F'). */
static int tmp_file(size_t size)
{
	char path[] = "/tmp/zc_guard.XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	char *b = malloc(size);
	cr_assert_not_null(b);
	memset(b, 'F', size);
	cr_assert_eq(pwrite(fd, b, size, 0), (ssize_t)size);
	free(b);
	return fd;
}

/* ---- the verdicts ------------------------------------------------------------------------ */

Test(guard, untouched_armed_buffer_is_clean)
{
	char *p = anon(16);
	guarded(p, 16 * PG);
	expect(p, 16 * PG, ZC_GUARD_CLEAN, "whole range");
	expect(p + 3 * PG, 2 * PG, ZC_GUARD_CLEAN, "sub-range");
	expect(p + 15 * PG, PG, ZC_GUARD_CLEAN, "last page");
	/* reading does not count as writing */
	volatile char sum = 0;
	for (size_t i = 0; i < 16 * PG; i += 64) sum = (char)(sum + p[i]);
	(void)sum;
	expect(p, 16 * PG, ZC_GUARD_CLEAN, "after reading every page");
	expect(p, 0, ZC_GUARD_CLEAN, "empty range");
}

Test(guard, store_into_an_armed_page_is_written_for_that_page_only)
{
	char *p = anon(8);
	guarded(p, 8 * PG);
	poke(p + 5 * PG + 100, 'x');
	cr_assert_eq(p[5 * PG + 100], 'x', "the store must land");
	expect(p, 8 * PG, ZC_GUARD_WRITTEN, "whole range");
	expect(p + 5 * PG, PG, ZC_GUARD_WRITTEN, "the written page");
	expect(p + 4 * PG, 2 * PG, ZC_GUARD_WRITTEN, "a range reaching into the written page");
	expect(p, 5 * PG, ZC_GUARD_CLEAN, "the pages before it");
	expect(p + 6 * PG, 2 * PG, ZC_GUARD_CLEAN, "the pages after it");
}

Test(guard, store_of_the_same_byte_is_still_written)
{
	char *p = anon(2);
	guarded(p, 2 * PG);
	poke(p + PG, p[PG]); /* same value: the page was written all the same */
	expect(p, 2 * PG, ZC_GUARD_WRITTEN, "same-value store");
}

Test(guard, kernel_write_by_pread_is_written)
{
	int fd = tmp_file(PG);
	char *p = anon(4);
	guarded(p, 4 * PG);
	cr_assert_eq(pread(fd, p + 2 * PG + 10, 100, 0), 100, "pread into an armed page must not fail: %s", strerror(errno));
	cr_assert_eq(p[2 * PG + 10], 'F');
	expect(p, 4 * PG, ZC_GUARD_WRITTEN, "after pread");
	expect(p, 2 * PG, ZC_GUARD_CLEAN, "pages pread did not touch");
	close(fd);
}

Test(guard, kernel_write_by_recv_is_written)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char *p = anon(4);
	guarded(p, 4 * PG);
	cr_assert_eq(send(sv[0], "hello", 5, 0), 5);
	cr_assert_eq(recv(sv[1], p + 3 * PG, 5, 0), 5, "recv into an armed page must not fail: %s", strerror(errno));
	cr_assert_eq(memcmp(p + 3 * PG, "hello", 5), 0);
	expect(p, 4 * PG, ZC_GUARD_WRITTEN, "after recv");
	expect(p, 3 * PG, ZC_GUARD_CLEAN, "pages recv did not touch");
	close(sv[0]);
	close(sv[1]);
}

Test(guard, kernel_write_by_process_vm_writev_is_written)
{
	char *p = anon(4);
	guarded(p, 4 * PG);
	char src[8] = "remote!";
	struct iovec l = {src, sizeof src}, r = {p + PG + 8, sizeof src};
	cr_assert_eq(process_vm_writev(getpid(), &l, 1, &r, 1, 0), (ssize_t)sizeof src, "%s", strerror(errno));
	cr_assert_eq(memcmp(p + PG + 8, src, sizeof src), 0);
	expect(p, 4 * PG, ZC_GUARD_WRITTEN, "after process_vm_writev (a GUP write)");
}

Test(guard, madvise_dontneed_is_written)
{
	char *p = anon(8);
	guarded(p, 8 * PG);
	cr_assert_eq(madvise(p + 2 * PG, 2 * PG, MADV_DONTNEED), 0);
	cr_assert_eq(p[2 * PG + 1], 0, "the dropped page reads as zeros now");
	expect(p, 8 * PG, ZC_GUARD_WRITTEN, "after MADV_DONTNEED");
	expect(p + 2 * PG, PG, ZC_GUARD_WRITTEN, "a dropped page");
	expect(p + 4 * PG, 4 * PG, ZC_GUARD_CLEAN, "pages not dropped");
}

Test(guard, mmap_fixed_over_the_range_is_written)
{
	char *p = anon(8);
	guarded(p, 8 * PG);
	char *q = mmap(p + 2 * PG, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	cr_assert_eq(q, p + 2 * PG);
	expect(p, 8 * PG, ZC_GUARD_WRITTEN, "after mmap(MAP_FIXED) of fresh pages");
	/* even when the new pages are filled with the very bytes the old ones had */
	char *r = mmap(p + 5 * PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	cr_assert_eq(r, p + 5 * PG);
	for (size_t i = 0; i < PG; i++) r[i] = (char)((5 * PG + i) * 7 + 3);
	expect(p + 5 * PG, PG, ZC_GUARD_WRITTEN, "a replaced page holding the same bytes");
	expect(p + 6 * PG, 2 * PG, ZC_GUARD_CLEAN, "pages not replaced");
}

Test(guard, mremap_of_other_pages_into_the_range_is_written)
{
	char *p = anon(4), *o = anon(1);
	guarded(p, 4 * PG);
	cr_assert_eq(mremap(o, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, p + PG), p + PG);
	expect(p, 4 * PG, ZC_GUARD_WRITTEN, "after mremap onto the range");
}

Test(guard, unregistered_or_unmapped_range_is_never_clean)
{
	char *p = anon(4);
	expect(p, 4 * PG, ZC_GUARD_ERROR, "before the guard was ever used"); /* not initialised: no answer */
	char *q = anon(4);
	guarded(q, 4 * PG);
	int v = zc_guard_check(p, 4 * PG);
	cr_assert_neq(v, ZC_GUARD_CLEAN, "a range never registered must not be CLEAN");
	cr_assert_eq(munmap(q + PG, PG), 0);
	v = zc_guard_check(q, 4 * PG);
	cr_assert_neq(v, ZC_GUARD_CLEAN, "a range with a hole must not be CLEAN (got %s)", verdict_name(v));
}

/* ---- ranges the guard cannot vouch for ------------------------------------------------------ */

/* A private file mapping whose pages were only read maps the page cache: the file changing changes
 * the buffer with no write in this address space. guard.h: file mappings cannot be guarded. */
Test(guard, file_backed_private_mapping_cannot_be_opened)
{
	int fd = tmp_file(4 * PG);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(p[PG], 'F'); /* read-faulted: the page cache page is mapped */
	int r = zc_guard_open(p, 4 * PG);
	if (r == 0) {
		/* show what goes wrong: the bytes change, the verdict stays */
		cr_assert_eq(zc_guard_arm(p, 4 * PG), 0);
		cr_assert_eq(pwrite(fd, "zz", 2, (off_t)PG), 2);
		int v = zc_guard_check(p, 4 * PG);
		cr_assert_fail("zc_guard_open accepted a MAP_PRIVATE file mapping; after pwrite to the file the "
			       "buffer reads '%c' instead of 'F' and check says %s",
			       p[PG], verdict_name(v));
	}
	cr_assert_lt(r, 0);
	close(fd);
}

/* shared_alias_case — a MAP_SHARED range changed through another mapping of the same memory:
 * open must refuse it, or the change must be seen. */
static void shared_alias_case(char *p, char *alias, const char *what)
{
	memset(p, 'S', 4 * PG);
	int r = zc_guard_open(p, 4 * PG);
	if (r < 0) return;
	cr_assert_eq(zc_guard_arm(p, 4 * PG), 0);
	expect(p, 4 * PG, ZC_GUARD_CLEAN, what);
	poke(alias + 2 * PG + 5, 'A');
	cr_assert_eq(p[2 * PG + 5], 'A', "%s: the alias is the same memory", what);
	int v = zc_guard_check(p, 4 * PG);
	cr_assert_neq(v, ZC_GUARD_CLEAN, "%s: zc_guard_open accepted a MAP_SHARED range, its bytes changed through "
		      "another mapping and check still says CLEAN", what);
}

Test(guard, shared_memfd_changed_through_another_mapping_is_refused_or_seen)
{
	int fd = memfd_create("zc_guard", 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4 * PG), 0);
	char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *b = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(a, MAP_FAILED);
	cr_assert_neq(b, MAP_FAILED);
	shared_alias_case(a, b, "memfd MAP_SHARED");
}

Test(guard, shared_file_mapping_changed_by_pwrite_is_refused_or_seen)
{
	int fd = tmp_file(4 * PG);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	memset(p, 'S', 4 * PG);
	if (zc_guard_open(p, 4 * PG) < 0) return;
	cr_assert_eq(zc_guard_arm(p, 4 * PG), 0);
	cr_assert_eq(pwrite(fd, "zz", 2, 100), 2);
	cr_assert_eq(p[100], 'z');
	int v = zc_guard_check(p, 4 * PG);
	cr_assert_neq(v, ZC_GUARD_CLEAN, "zc_guard_open accepted a MAP_SHARED file mapping; the file was written "
		      "through a descriptor and check still says CLEAN");
}

Test(guard, shared_anonymous_memory_changed_by_a_child_is_refused_or_seen)
{
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	memset(p, 'S', 4 * PG);
	if (zc_guard_open(p, 4 * PG) < 0) return;
	cr_assert_eq(zc_guard_arm(p, 4 * PG), 0);
	pid_t c = fork();
	cr_assert_geq(c, 0);
	if (c == 0) {
		p[PG + 1] = 'C'; /* the worker process sharing the buffer */
		_exit(0);
	}
	int st;
	cr_assert_eq(waitpid(c, &st, 0), c);
	cr_assert_eq(p[PG + 1], 'C');
	int v = zc_guard_check(p, 4 * PG);
	cr_assert_neq(v, ZC_GUARD_CLEAN, "zc_guard_open accepted MAP_SHARED|MAP_ANONYMOUS memory; another process "
		      "changed it and check still says CLEAN");
}

/* ---- arming again, huge pages --------------------------------------------------------------- */

Test(guard, rearming_after_a_store_is_clean_again)
{
	char *p = anon(8);
	guarded(p, 8 * PG);
	for (int round = 0; round < 5; round++) {
		poke(p + (size_t)round * PG + 17, (char)round);
		expect(p, 8 * PG, ZC_GUARD_WRITTEN, "after a store");
		cr_assert_eq(zc_guard_open(p, 8 * PG), 0); /* the next read's opening */
		expect(p, 8 * PG, ZC_GUARD_WRITTEN, "opened, not armed");
		cr_assert_eq(zc_guard_arm(p, 8 * PG), 0);
		expect(p, 8 * PG, ZC_GUARD_CLEAN, "armed again");
	}
	/* arming a sub-range leaves the rest as it was */
	poke(p, 1);
	poke(p + 7 * PG, 1);
	cr_assert_eq(zc_guard_arm(p, PG), 0);
	expect(p, PG, ZC_GUARD_CLEAN, "the re-armed page");
	expect(p + 7 * PG, PG, ZC_GUARD_WRITTEN, "the page not re-armed");
}

Test(guard, huge_page_buffer)
{
	const size_t huge = 2UL << 20, len = 2 * huge;
	char *m = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(m, MAP_FAILED);
	char *p = (char *)(((uintptr_t)m + huge - 1) & ~(huge - 1));
	madvise(p, len, MADV_HUGEPAGE); /* best effort: the test holds with or without THP */
	memset(p, 'h', len);
	guarded(p, len);
	expect(p, len, ZC_GUARD_CLEAN, "armed huge-page buffer");
	poke(p + huge + 12345, 'x');
	expect(p, len, ZC_GUARD_WRITTEN, "after a store in the second huge page");
	expect(p, huge, ZC_GUARD_CLEAN, "the first huge page");
	expect(p + huge + 12288, PG, ZC_GUARD_WRITTEN, "the written 4 KiB page");
	expect(p + huge + 16384, huge - 16384, ZC_GUARD_CLEAN, "the rest of the second huge page");
	cr_assert_eq(zc_guard_arm(p, len), 0);
	expect(p, len, ZC_GUARD_CLEAN, "re-armed");
}

/* ---- no signal, ever ------------------------------------------------------------------------ */

static volatile sig_atomic_t faults_seen;

static void on_fault(int sig)
{
	(void)sig;
	faults_seen++;
}

struct blocked_arg {
	char *p;
	int pending; /* signals pending on the thread after its stores */
	int done;
};

/* blocked_worker — a server worker: every signal blocked, then it changes its own buffer. */
static void *blocked_worker(void *a)
{
	struct blocked_arg *b = a;
	sigset_t all, pend;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (size_t i = 0; i < 4; i++) poke(b->p + i * PG + 9, 'w');
	sigemptyset(&pend);
	sigpending(&pend);
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&pend, s) == 1) b->pending++;
	b->done = 1;
	return NULL;
}

Test(guard, thread_blocking_all_signals_stores_into_an_armed_page_and_survives)
{
	struct sigaction sa = {.sa_handler = on_fault};
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGSEGV, &sa, NULL), 0);
	cr_assert_eq(sigaction(SIGBUS, &sa, NULL), 0);
	char *p = anon(4);
	guarded(p, 4 * PG);
	struct blocked_arg b = {.p = p};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, blocked_worker, &b), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(b.done, 1);
	cr_assert_eq(b.pending, 0, "%d signal(s) pending on the worker after its stores", b.pending);
	cr_assert_eq(faults_seen, 0, "the program's fault handler ran %d time(s)", (int)faults_seen);
	for (size_t i = 0; i < 4; i++) cr_assert_eq(p[i * PG + 9], 'w');
	expect(p, 4 * PG, ZC_GUARD_WRITTEN, "after the worker's stores");
	/* and the main thread's own stores raise nothing either */
	cr_assert_eq(zc_guard_arm(p, 4 * PG), 0);
	poke(p + 1, 'm');
	cr_assert_eq(faults_seen, 0);
	expect(p, PG, ZC_GUARD_WRITTEN, "after the main thread's store");
}

/* ---- mechanism and initialisation ------------------------------------------------------------ */

Test(guard, mechanism_names_userfaultfd)
{
	cr_assert_eq(stat_of(ZC_guard_uffd) + stat_of(ZC_guard_uffd_user), 0, "nothing is started before first use");
	char *p = anon(2);
	guarded(p, 2 * PG);
	const char *m = zc_guard_mechanism();
	cr_assert_not_null(m);
	cr_assert(strstr(m, "userfaultfd") != NULL, "mechanism is \"%s\"", m);
	cr_assert(strncmp(m, "none", 4) != 0, "mechanism is \"%s\"", m);
	cr_assert_eq(stat_of(ZC_guard_uffd) + stat_of(ZC_guard_uffd_user), 1, "exactly one mechanism counted");
	cr_assert_eq(stat_of(ZC_guard_none), 0);
	/* the counter says the same as the name */
	if (strstr(m, "user mode")) cr_assert_eq(stat_of(ZC_guard_uffd_user), 1);
	else cr_assert_eq(stat_of(ZC_guard_uffd), 1);
}

struct racer {
	pthread_barrier_t *go;
	char *p;
	int open, arm, clean, written;
};

static void *race_first_use(void *a)
{
	struct racer *r = a;
	pthread_barrier_wait(r->go);
	r->open = zc_guard_open(r->p, 2 * PG);
	r->arm = zc_guard_arm(r->p, 2 * PG);
	r->clean = zc_guard_check(r->p, 2 * PG);
	poke(r->p + PG, 1);
	r->written = zc_guard_check(r->p, 2 * PG);
	return NULL;
}

Test(guard, threads_racing_to_first_use_share_one_userfaultfd)
{
	enum { T = 4 };
	pthread_barrier_t go;
	pthread_t t[T];
	struct racer r[T];
	pthread_barrier_init(&go, NULL, T);
	for (int k = 0; k < T; k++) {
		r[k] = (struct racer){.go = &go, .p = anon(2)};
		cr_assert_eq(pthread_create(&t[k], NULL, race_first_use, &r[k]), 0);
	}
	for (int k = 0; k < T; k++) pthread_join(t[k], NULL);
	for (int k = 0; k < T; k++) {
		cr_assert_eq(r[k].open, 0, "thread %d: open %d", k, r[k].open);
		cr_assert_eq(r[k].arm, 0, "thread %d: arm %d", k, r[k].arm);
		cr_assert_eq(r[k].clean, ZC_GUARD_CLEAN, "thread %d: %s", k, verdict_name(r[k].clean));
		cr_assert_eq(r[k].written, ZC_GUARD_WRITTEN, "thread %d: %s", k, verdict_name(r[k].written));
	}
	cr_assert_eq(stat_of(ZC_guard_uffd) + stat_of(ZC_guard_uffd_user), 1, "started more than once");
}

/* ---- fork ------------------------------------------------------------------------------------ */

/* guard_fds — the shim's userfaultfd and pagemap descriptors in this process: counts them, and
 * returns in *pm_pid whose pagemap the last one opened names (0: none). */
static int guard_fds(int *nuffd, long *pm_pid)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], link[256];
	int n = 0;
	*nuffd = 0;
	*pm_pid = 0;
	if (!d) return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.') continue;
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(path, link, sizeof link - 1);
		if (k < 0) continue;
		link[k] = 0;
		if (strstr(link, "userfaultfd")) (*nuffd)++, n++;
		long pid;
		size_t ll = strlen(link);
		if (ll > 8 && !strcmp(link + ll - 8, "/pagemap") && sscanf(link, "/proc/%ld/", &pid) == 1) *pm_pid = pid, n++;
	}
	closedir(d);
	return n;
}

/* child_checks — runs in the forked child; returns the number of the first check that failed. */
static int child_checks(char *p, char *q)
{
	int nuffd;
	long pm;
	zc_guard_atfork_child();
	if (guard_fds(&nuffd, &pm) != 0) return 1; /* the parent's descriptors are closed */
	/* the child's pages lost their protection at fork: no answer until it arms them itself */
	if (zc_guard_check(p, 4 * PG) == ZC_GUARD_CLEAN) return 2;
	if (zc_guard_open(p, 4 * PG) != 0 || zc_guard_arm(p, 4 * PG) != 0) return 3;
	if (guard_fds(&nuffd, &pm) != 2 || nuffd != 1 || pm != (long)getpid()) return 4; /* its own */
	if (zc_guard_check(p, 4 * PG) != ZC_GUARD_CLEAN) return 5;
	poke(p + 2 * PG, 'c');
	if (zc_guard_check(p, 4 * PG) != ZC_GUARD_WRITTEN) return 6;
	if (zc_guard_check(p, 2 * PG) != ZC_GUARD_CLEAN) return 7;
	/* a kernel write in the child too */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 8;
	if (zc_guard_open(q, 2 * PG) != 0 || zc_guard_arm(q, 2 * PG) != 0) return 9;
	if (zc_guard_check(q, 2 * PG) != ZC_GUARD_CLEAN) return 10;
	if (send(sv[0], "x", 1, 0) != 1 || recv(sv[1], q + PG, 1, 0) != 1) return 11;
	if (zc_guard_check(q, 2 * PG) != ZC_GUARD_WRITTEN) return 12;
	return 0;
}

Test(guard, forked_child_gets_its_own_descriptors_and_right_answers)
{
	char *p = anon(4), *q = anon(2);
	guarded(p, 4 * PG);
	guarded(q, 2 * PG);
	int nuffd;
	long pm;
	cr_assert_eq(guard_fds(&nuffd, &pm), 2);
	cr_assert_eq(nuffd, 1);
	cr_assert_eq(pm, (long)getpid(), "the parent's pagemap is its own");
	pid_t c = fork();
	cr_assert_geq(c, 0);
	if (c == 0) _exit(child_checks(p, q));
	int st;
	cr_assert_eq(waitpid(c, &st, 0), c);
	cr_assert(WIFEXITED(st), "the child died: status %#x", st);
	cr_assert_eq(WEXITSTATUS(st), 0, "child check %d failed", WEXITSTATUS(st));
	/* the child's stores are in its own copy: the parent's ranges are untouched */
	expect(p, 4 * PG, ZC_GUARD_CLEAN, "parent after the child wrote its copy");
	expect(q, 2 * PG, ZC_GUARD_CLEAN, "parent q after the child's recv");
	cr_assert_eq(p[2 * PG], (char)((2 * PG) * 7 + 3));
	/* and the parent still sees its own stores (fork made its pages copy-on-write) */
	poke(p + 3 * PG, 'p');
	expect(p, 4 * PG, ZC_GUARD_WRITTEN, "parent after its own store");
	expect(p, 3 * PG, ZC_GUARD_CLEAN, "parent pages it did not write");
}
