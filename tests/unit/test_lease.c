/* test_lease.c — read leases on source files: granted (root here, files the test creates), broken by
 * another process opening for writing (the opener waits no longer than the shim needs), held back
 * while a rewrite is in flight, handed over to the program, given back before exec, not taken with
 * lease = off, denied while the file is open for writing, and what a forked child may trust.
 * Each test runs in its own process (Criterion); every fork's child reports through its exit code. */
#include <criterion/criterion.h>

#include "config.h"
#include "fdtab.h"
#include "lease.h"
#include "policy.h"
#include "real.h"
#include "stats.h"

#include <dirent.h>
#include <grp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void setup(void)
{
	zc_real_resolve();
	zc_stats_init();
	zc_config_defaults(&zc_cfg);
	zc_cfg.lease = ZC_LEASE_REQUIRE;
}

TestSuite(lease, .init = setup);

static uint64_t stat_of(enum zc_counter c)
{
	return zc_stat_total(zc_stats, c);
}

static const char *ls_name(int s)
{
	static const char *const n[] = {"NONE", "HELD", "DENIED", "BROKEN", "INHERITED", "NOT_NEEDED", "PROGRAM", "BUSY"};
	return s >= 0 && s <= ZC_LS_BUSY ? n[s] : "?";
}

/* the break hook: which descriptors it heard of (it runs on the lease thread) */
static int hook_calls, hook_fd = -1;

static void hook(int fd)
{
	__atomic_store_n(&hook_fd, fd, __ATOMIC_RELAXED);
	__atomic_fetch_add(&hook_calls, 1, __ATOMIC_RELEASE);
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&t, &t) < 0 && errno == EINTR) continue;
}

struct src {
	int fd;
	uint64_t gen;
	char path[64];
};

/* src_file — a file of 64 KiB the test owns, closed after writing and opened read-only again (a read
 * lease needs a descriptor opened read-only and no writer anywhere). */
static struct src src_file(void)
{
	struct src s;
	strcpy(s.path, "/tmp/zc_lease.XXXXXX");
	int w = mkstemp(s.path);
	cr_assert_geq(w, 0);
	static char data[64 * 1024];
	memset(data, 'L', sizeof data);
	cr_assert_eq(write(w, data, sizeof data), (ssize_t)sizeof data);
	close(w);
	s.fd = open(s.path, O_RDONLY);
	cr_assert_geq(s.fd, 0);
	struct zc_fd_info i;
	cr_assert_eq(zc_fdtab_get(s.fd, &i), 0);
	cr_assert_eq(i.kind, ZC_FD_FILE);
	cr_assert_eq(i.lease, ZC_LS_NONE);
	s.gen = i.gen;
	return s;
}

static int state_of(int fd)
{
	struct zc_fd_info i;
	cr_assert_eq(zc_fdtab_get(fd, &i), 0);
	return i.lease;
}

/* held — prepare grants the lease: state, counter, and the kernel's own view. */
static void held(struct src s)
{
	uint64_t g = stat_of(ZC_lease_granted);
	int st = zc_lease_prepare(s.fd, s.gen, ZC_LS_NONE);
	cr_assert_eq(st, ZC_LS_HELD, "lease on %s: %s", s.path, ls_name(st));
	cr_assert_eq(state_of(s.fd), ZC_LS_HELD);
	cr_assert_eq(stat_of(ZC_lease_granted), g + 1);
	cr_assert_eq(fcntl(s.fd, F_GETLEASE), F_RDLCK);
}

/* opener — a child that opens path for writing: exit 0 within 2 s, 2 later, 1 if open failed. The
 * time it took goes back through a pipe. */
struct opener {
	pid_t pid;
	int rd;
	long started;
};

static struct opener open_for_writing(const char *path)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	struct opener o = {.started = now_ms()};
	o.pid = fork();
	cr_assert_geq(o.pid, 0);
	if (o.pid == 0) {
		close(p[0]);
		long t0 = now_ms();
		int fd = open(path, O_WRONLY);
		long took = now_ms() - t0;
		if (write(p[1], &took, sizeof took) != sizeof took) _exit(3);
		_exit(fd < 0 ? 1 : took < 2000 ? 0 : 2);
	}
	close(p[1]);
	o.rd = p[0];
	return o;
}

/* opener_done — 1 once the child exited (status in *st), 0 while it still waits. */
static int opener_done(struct opener *o, int *st)
{
	pid_t r = waitpid(o->pid, st, WNOHANG);
	cr_assert_geq(r, 0);
	return r == o->pid;
}

/* opener_wait — waits up to limit_ms for the child; kills it and fails after that. Returns the
 * time its open took. */
static long opener_wait(struct opener *o, long limit_ms)
{
	int st = 0;
	while (!opener_done(o, &st)) {
		if (now_ms() - o->started > limit_ms) {
			kill(o->pid, SIGKILL);
			waitpid(o->pid, &st, 0);
			cr_assert_fail("the opener is still blocked in open() after %ld ms: the lease was not released", limit_ms);
		}
		sleep_ms(5);
	}
	long took = -1;
	cr_assert_eq(read(o->rd, &took, sizeof took), (ssize_t)sizeof took);
	close(o->rd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 1, "the opener failed: status %#x", st);
	return took;
}

/* wait_for — polls a counter up to 2 s (the lease thread counts after it released). */
static int wait_for(enum zc_counter c, uint64_t want)
{
	for (long t0 = now_ms(); now_ms() - t0 < 2000; sleep_ms(2))
		if (stat_of(c) >= want) return 1;
	return stat_of(c) >= want;
}

static int threads(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.') n++;
	closedir(d);
	return n;
}

/* untouched — no lease, no signal, no owner set on fd. */
static void untouched(int fd)
{
	cr_assert_eq(fcntl(fd, F_GETLEASE), F_UNLCK);
	cr_assert_eq(fcntl(fd, F_GETSIG), 0, "the lease signal was set");
	struct f_owner_ex o = {.type = -1, .pid = -1};
	cr_assert_eq(fcntl(fd, F_GETOWN_EX, &o), 0);
	cr_assert_eq(o.pid, 0, "an owner was set: type %d pid %d", o.type, o.pid);
}

/* ---- granted, broken, in flight --------------------------------------------------------------- */

Test(lease, granted_on_a_file_we_own)
{
	struct src s = src_file();
	held(s);
	cr_assert_eq(stat_of(ZC_lease_denied), 0);
	cr_assert_eq(fcntl(s.fd, F_GETSIG), zc_cfg.lease_signal, "breaks must arrive on the shim's signal");
	struct f_owner_ex o;
	cr_assert_eq(fcntl(s.fd, F_GETOWN_EX, &o), 0);
	cr_assert_eq(o.type, F_OWNER_TID, "the signal must go to one thread, the shim's");
	cr_assert_neq(o.pid, getpid(), "the program's main thread must never get the break signal");
	cr_assert_neq(o.pid, 0);
	/* asked again: the state the table holds, nothing new */
	cr_assert_eq(zc_lease_prepare(s.fd, s.gen, ZC_LS_HELD), ZC_LS_HELD);
	cr_assert_eq(stat_of(ZC_lease_granted), 1);
	/* rewrites may enter while it is held */
	cr_assert_eq(zc_fdtab_lease_enter(s.fd, s.gen), 0);
	cr_assert_eq(zc_fdtab_lease_inflight(s.fd, s.gen), 1);
	zc_fdtab_sent(s.fd, s.gen, 0, 1, -1); /* the rewrite leaves */
	cr_assert_eq(zc_fdtab_lease_inflight(s.fd, s.gen), 0);
	cr_assert_neq(zc_fdtab_lease_enter(s.fd, s.gen + 1000), 0, "another generation is another file");
}

Test(lease, another_process_opening_for_writing_breaks_it)
{
	zc_lease_on_break(hook);
	struct src s = src_file();
	held(s);
	struct opener o = open_for_writing(s.path);
	long took = opener_wait(&o, 5000);
	cr_assert_lt(took, 2000, "the writer's open waited %ld ms for the lease", took);
	cr_assert(wait_for(ZC_lease_released, 1), "lease_released not counted");
	cr_assert_eq(stat_of(ZC_lease_broken), 1);
	cr_assert_eq(stat_of(ZC_lease_released), 1);
	cr_assert_eq(state_of(s.fd), ZC_LS_BROKEN, "after a break: %s", ls_name(state_of(s.fd)));
	cr_assert_eq(__atomic_load_n(&hook_calls, __ATOMIC_ACQUIRE), 1, "the break hook ran %d times", hook_calls);
	cr_assert_eq(hook_fd, s.fd);
	cr_assert_neq(zc_fdtab_lease_enter(s.fd, s.gen), 0, "a rewrite entered after the break");
	cr_assert_eq(fcntl(s.fd, F_GETLEASE), F_UNLCK);
	/* a broken source is never leased again, whatever asks */
	cr_assert_eq(zc_lease_prepare(s.fd, s.gen, state_of(s.fd)), ZC_LS_BROKEN);
	cr_assert_eq(stat_of(ZC_lease_granted), 1);
	unlink(s.path);
}

Test(lease, a_rewrite_in_flight_delays_the_release_until_it_leaves)
{
	zc_lease_on_break(hook);
	struct src s = src_file();
	held(s);
	cr_assert_eq(zc_fdtab_lease_enter(s.fd, s.gen), 0);
	struct opener o = open_for_writing(s.path);
	long t0 = now_ms();
	while (state_of(s.fd) != ZC_LS_BROKEN && now_ms() - t0 < 2000) sleep_ms(2);
	cr_assert_eq(state_of(s.fd), ZC_LS_BROKEN, "the break did not reach the table within 2 s");
	cr_assert_neq(zc_fdtab_lease_enter(s.fd, s.gen), 0, "no new rewrite enters a breaking lease");
	sleep_ms(300);
	int st;
	cr_assert_not(opener_done(&o, &st), "the lease was released with a rewrite in flight");
	cr_assert_eq(stat_of(ZC_lease_released), 0);
	cr_assert_eq(zc_fdtab_lease_inflight(s.fd, s.gen), 1);
	long left = now_ms();
	zc_fdtab_sent(s.fd, s.gen, 0, 1, -1); /* the rewrite leaves */
	long took = opener_wait(&o, 5000);
	cr_assert_geq(took, 300, "the writer's open returned after %ld ms, before the rewrite left", took);
	cr_assert_lt(now_ms() - left, 2000, "the release came %ld ms after the rewrite left", now_ms() - left);
	cr_assert(wait_for(ZC_lease_released, 1));
	cr_assert_eq(stat_of(ZC_lease_broken), 1);
	unlink(s.path);
}

/* ---- handed over, given back, not taken, denied ----------------------------------------------- */

Test(lease, hand_over_gives_the_lease_back_to_the_program)
{
	zc_lease_on_break(hook);
	struct src s = src_file();
	held(s);
	zc_lease_hand_over(s.fd);
	cr_assert_eq(state_of(s.fd), ZC_LS_PROGRAM, "after hand over: %s", ls_name(state_of(s.fd)));
	untouched(s.fd);
	cr_assert_eq(stat_of(ZC_lease_released), 1);
	cr_assert_eq(hook_calls, 1, "the records of the file must be told (on_break) before the lease goes");
	cr_assert_neq(zc_fdtab_lease_enter(s.fd, s.gen), 0);
	/* the program's own lease is its own: the shim neither takes one nor breaks it */
	cr_assert_eq(zc_lease_prepare(s.fd, s.gen, state_of(s.fd)), ZC_LS_PROGRAM);
	cr_assert_eq(fcntl(s.fd, F_SETLEASE, F_RDLCK), 0);
	cr_assert_eq(stat_of(ZC_lease_granted), 1);
	/* a file whose lease was never held: handed over without fcntl */
	struct src t = src_file();
	zc_lease_hand_over(t.fd);
	cr_assert_eq(state_of(t.fd), ZC_LS_PROGRAM);
	cr_assert_eq(stat_of(ZC_lease_released), 1);
	untouched(t.fd);
	unlink(s.path);
	unlink(t.path);
}

Test(lease, lease_off_is_not_needed_and_calls_no_fcntl)
{
	zc_cfg.lease = ZC_LEASE_OFF;
	struct src s = src_file();
	int before = threads();
	cr_assert_eq(zc_lease_prepare(s.fd, s.gen, ZC_LS_NONE), ZC_LS_NOT_NEEDED);
	cr_assert_eq(state_of(s.fd), ZC_LS_NOT_NEEDED);
	untouched(s.fd);
	cr_assert_eq(stat_of(ZC_lease_granted) + stat_of(ZC_lease_denied), 0);
	cr_assert_eq(threads(), before, "lease = off started a thread");
	/* another process opening the file for writing is not delayed: O_NONBLOCK would say EWOULDBLOCK */
	int w = open(s.path, O_WRONLY | O_NONBLOCK);
	cr_assert_geq(w, 0, "open for writing: %s", strerror(errno));
	close(w);
	unlink(s.path);
}

/* EAGAIN (a writer has the file open) is not a refusal for good: the state is BUSY, counted as
 * lease_busy (not lease_denied: no capability is missing), treated as a denial by the policy, and
 * asked again at the next read. */
Test(lease, file_open_for_writing_elsewhere_is_busy_and_asked_again)
{
	struct src s = src_file();
	int w = open(s.path, O_WRONLY);
	cr_assert_geq(w, 0);
	int st = zc_lease_prepare(s.fd, s.gen, ZC_LS_NONE);
	cr_assert_eq(st, ZC_LS_BUSY, "with a writer: %d %s", st, ls_name(st));
	cr_assert_eq(state_of(s.fd), ZC_LS_BUSY);
	cr_assert_eq(stat_of(ZC_lease_busy), 1);
	cr_assert_eq(stat_of(ZC_lease_denied), 0);
	cr_assert_eq(stat_of(ZC_lease_granted), 0);
	cr_assert_eq(fcntl(s.fd, F_GETLEASE), F_UNLCK);
	cr_assert_neq(zc_fdtab_lease_enter(s.fd, s.gen), 0);
	int leased = -1;
	struct zc_fd_info dst = {.kind = ZC_FD_TCP};
	cr_assert_eq(zc_policy_source(s.fd, s.gen, &dst, &leased, 0, 0), ZC_fb_lease_denied, "lease = require: no rewrite from a busy file");
	/* still written: asked again, still busy */
	cr_assert_eq(zc_lease_prepare(s.fd, s.gen, state_of(s.fd)), ZC_LS_BUSY);
	cr_assert_eq(stat_of(ZC_lease_busy), 2);
	/* the writer is gone: the next read gets the lease */
	close(w);
	cr_assert_eq(zc_lease_prepare(s.fd, s.gen, state_of(s.fd)), ZC_LS_HELD);
	cr_assert_eq(fcntl(s.fd, F_GETLEASE), F_RDLCK);
	cr_assert_eq(stat_of(ZC_lease_granted), 1);
	/* the writer in another process */
	struct src t = src_file();
	int go[2];
	cr_assert_eq(pipe(go), 0);
	pid_t c = fork();
	cr_assert_geq(c, 0);
	if (c == 0) {
		int fd = open(t.path, O_WRONLY);
		char x = 1;
		if (write(go[1], &x, 1) != 1) _exit(1);
		pause();
		_exit(fd < 0);
	}
	char x;
	cr_assert_eq(read(go[0], &x, 1), 1);
	cr_assert_eq(zc_lease_prepare(t.fd, t.gen, ZC_LS_NONE), ZC_LS_BUSY);
	cr_assert_eq(stat_of(ZC_lease_busy), 3);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	unlink(s.path);
	unlink(t.path);
}

/* No right to a lease (not the owner, no CAP_LEASE): DENIED, for good. */
Test(lease, no_right_to_a_lease_is_denied_and_not_asked_again)
{
	struct src s = src_file(); /* root's file, opened as root */
	pid_t c = fork();
	cr_assert_geq(c, 0);
	if (c == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) _exit(9);
		int st = zc_lease_prepare(s.fd, s.gen, ZC_LS_NONE);
		if (st != ZC_LS_DENIED) _exit(10 + st);
		if (fcntl(s.fd, F_GETLEASE) != F_UNLCK) _exit(20);
		if (zc_lease_prepare(s.fd, s.gen, ZC_LS_DENIED) != ZC_LS_DENIED) _exit(21);
		int leased = -1;
		struct zc_fd_info dst = {.kind = ZC_FD_TCP};
		if (zc_policy_source(s.fd, s.gen, &dst, &leased, 0, 0) != ZC_fb_lease_denied) _exit(22);
		zc_cfg.lease = ZC_LEASE_PREFER;
		if (zc_policy_source(s.fd, s.gen, &dst, &leased, 0, 0) != 0 || leased) _exit(23);
		_exit(0);
	}
	int st;
	cr_assert_eq(waitpid(c, &st, 0), c);
	cr_assert(WIFEXITED(st), "the child died: %#x", st);
	cr_assert_eq(WEXITSTATUS(st), 0, "child check %d failed (10 + state: a state other than DENIED)", WEXITSTATUS(st));
	unlink(s.path);
}

Test(lease, release_all_before_exec_gives_every_lease_back)
{
	struct src a = src_file(), b = src_file(), c = src_file();
	held(a);
	held(b);
	int w = open(c.path, O_WRONLY);
	cr_assert_eq(zc_lease_prepare(c.fd, c.gen, ZC_LS_NONE), ZC_LS_BUSY);
	close(w);
	zc_lease_release_all();
	untouched(a.fd);
	untouched(b.fd);
	cr_assert_neq(state_of(a.fd), ZC_LS_HELD);
	cr_assert_neq(state_of(b.fd), ZC_LS_HELD);
	cr_assert_eq(state_of(c.fd), ZC_LS_BUSY, "an entry without a lease keeps its state");
	cr_assert_neq(zc_fdtab_lease_enter(a.fd, a.gen), 0, "a rewrite entered a lease given back");
	/* nothing holds a writer back any more */
	int fd = open(a.path, O_WRONLY | O_NONBLOCK);
	cr_assert_geq(fd, 0, "open for writing after release_all: %s", strerror(errno));
	close(fd);
	cr_assert_eq(stat_of(ZC_lease_broken), 0);
	unlink(a.path);
	unlink(b.path);
	unlink(c.path);
}

/* ---- fork --------------------------------------------------------------------------------------- */

/* child_inherits — in a child after zc_lease_atfork_child(0): the number of the first failed check. */
static int child_inherits(struct src held_src)
{
	struct zc_fd_info i;
	if (zc_fdtab_get(held_src.fd, &i) || i.lease != ZC_LS_INHERITED) return 10 + (i.lease & 7);
	if (zc_fdtab_lease_enter(held_src.fd, held_src.gen) == 0) return 20;
	if (zc_lease_prepare(held_src.fd, held_src.gen, i.lease) != ZC_LS_INHERITED) return 21;
	/* a source opened in the child is the child's own: leased, by a lease thread of its own */
	struct src n = src_file();
	if (zc_lease_prepare(n.fd, n.gen, ZC_LS_NONE) != ZC_LS_HELD) return 30;
	if (fcntl(n.fd, F_GETLEASE) != F_RDLCK) return 31;
	struct f_owner_ex o;
	if (fcntl(n.fd, F_GETOWN_EX, &o) || o.type != F_OWNER_TID || o.pid == 0 || o.pid == getpid()) return 32;
	/* and its break is handled there: a writer does not wait */
	struct opener w = open_for_writing(n.path);
	long took = opener_wait(&w, 5000);
	unlink(n.path);
	if (took >= 2000) return 33;
	if (!wait_for(ZC_lease_released, 1)) return 34;
	return 0;
}

/* child_torn — after zc_lease_atfork_child(1): no source is trusted, none is leased. */
static int child_torn(struct src held_src)
{
	struct zc_fd_info i;
	if (zc_fdtab_get(held_src.fd, &i) || i.lease == ZC_LS_HELD) return 10;
	struct src n = src_file();
	int st = zc_lease_prepare(n.fd, n.gen, ZC_LS_NONE);
	unlink(n.path);
	if (st != ZC_LS_INHERITED) return 20 + st;
	if (zc_fdtab_lease_enter(n.fd, n.gen) == 0) return 30;
	if (fcntl(n.fd, F_GETLEASE) != F_UNLCK) return 31;
	if (fcntl(n.fd, F_GETSIG) != 0) return 32;
	if (stat_of(ZC_lease_granted) != 1 || stat_of(ZC_lease_denied) != 0) return 33;
	return 0;
}

static void run_child(int (*fn)(struct src), struct src s, int torn)
{
	pid_t c = fork();
	cr_assert_geq(c, 0);
	if (c == 0) {
		zc_fdtab_atfork_child();
		zc_lease_atfork_child(torn);
		_exit(fn(s));
	}
	int st;
	cr_assert_eq(waitpid(c, &st, 0), c);
	cr_assert(WIFEXITED(st), "the child died: status %#x", st);
	cr_assert_eq(WEXITSTATUS(st), 0, "child check %d failed (torn = %d)", WEXITSTATUS(st), torn);
}

Test(lease, forked_child_marks_held_leases_inherited_and_leases_its_own_files)
{
	struct src s = src_file();
	held(s);
	run_child(child_inherits, s, 0);
	/* the parent's lease is the parent's still */
	cr_assert_eq(state_of(s.fd), ZC_LS_HELD);
	cr_assert_eq(fcntl(s.fd, F_GETLEASE), F_RDLCK);
	cr_assert_eq(stat_of(ZC_lease_broken), 0);
	unlink(s.path);
}

Test(lease, forked_child_with_a_torn_table_takes_no_lease)
{
	struct src s = src_file();
	held(s);
	run_child(child_torn, s, 1);
	cr_assert_eq(state_of(s.fd), ZC_LS_HELD);
	unlink(s.path);
}
