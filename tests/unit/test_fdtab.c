/* test_fdtab.c — the descriptor table: classification, generations, invalidation (forget, dup2,
 * close_range, revalidate), writer tracking, lease state, high descriptor numbers. */
#include <criterion/criterion.h>

#include "fdtab.h"
#include "real.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* setup — libc resolved, and room for descriptor numbers above 4096 (the soft limit may be 1024). */
static void setup(void)
{
	struct rlimit rl;
	zc_real_resolve();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 16384) {
		rl.rlim_cur = rl.rlim_max < 16384 ? rl.rlim_max : 16384;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

TestSuite(fdtab, .init = setup);

/* tmp_file — an open, unlinked regular file with a few bytes in it. */
static int tmp_file(int flags)
{
	char path[] = "/tmp/zc_fdtab.XXXXXX";
	int fd = mkostemp(path, flags);
	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(write(fd, "hello", 5), 5);
	return fd;
}

/* get — the entry for fd, which must be open. */
static struct zc_fd_info get(int fd)
{
	struct zc_fd_info i;
	memset(&i, 0, sizeof i);
	cr_assert_eq(zc_fdtab_get(fd, &i), 0, "zc_fdtab_get(%d) failed", fd);
	cr_assert_eq(i.fd, fd);
	return i;
}

/* assert_identity — the entry's identity is what fstat says fd is now. */
static void assert_identity(const struct zc_fd_info *i, int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(i->dev, st.st_dev, "fd %d: dev differs", fd);
	cr_assert_eq(i->ino, st.st_ino, "fd %d: ino differs", fd);
}

/* kind_name — enum zc_fd_kind as text for messages. */
static const char *kind_name(int k)
{
	static const char *const n[] = {"UNKNOWN", "FILE", "TCP", "UNIX", "PIPE", "PROC", "OTHER"};
	return k >= 0 && k <= ZC_FD_OTHER ? n[k] : "?";
}

/* expect_kind — both entry points agree on the kind, twice (first sight, then the cache). */
static void expect_kind(int fd, int kind)
{
	for (int k = 0; k < 2; k++) {
		int got = zc_fdtab_kind(fd);
		cr_assert_eq(got, kind, "fd %d: kind %s, expected %s", fd, kind_name(got), kind_name(kind));
		struct zc_fd_info i = get(fd);
		cr_assert_eq(i.kind, kind, "fd %d: entry kind %s, expected %s", fd, kind_name(i.kind), kind_name(kind));
		assert_identity(&i, fd);
	}
}

/* ---- classification ------------------------------------------------------------------ */

Test(fdtab, regular_file_is_file)
{
	int fd = tmp_file(0);
	expect_kind(fd, ZC_FD_FILE);
	struct zc_fd_info i = get(fd);
	cr_assert_gt(i.gen, 0);
	cr_assert_eq(i.lease, ZC_LS_NONE);
	cr_assert_eq(i.multi_writer, 0);
	for (int k = 0; k < ZC_FD_DSTS; k++) cr_assert_eq(i.dsts[k], -1);
}

Test(fdtab, pipe_ends_and_fifo_are_pipe)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	expect_kind(p[0], ZC_FD_PIPE);
	expect_kind(p[1], ZC_FD_PIPE);
	char path[] = "/tmp/zc_fifo.XXXXXX";
	int t = mkstemp(path);
	close(t);
	unlink(path);
	cr_assert_eq(mkfifo(path, 0600), 0);
	int f = open(path, O_RDWR);
	unlink(path);
	cr_assert_geq(f, 0);
	expect_kind(f, ZC_FD_PIPE);
}

Test(fdtab, tcp_sockets_are_tcp)
{
	int s4 = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(s4, 0);
	expect_kind(s4, ZC_FD_TCP);
	int s6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (s6 >= 0) expect_kind(s6, ZC_FD_TCP);
	/* a connected pair over loopback, as a server sees it */
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof a), 0);
	int acc = accept(l, NULL, NULL);
	cr_assert_geq(acc, 0);
	expect_kind(acc, ZC_FD_TCP);
	expect_kind(c, ZC_FD_TCP);
}

Test(fdtab, unix_stream_socket_is_unix)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	expect_kind(sv[0], ZC_FD_UNIX);
	expect_kind(sv[1], ZC_FD_UNIX);
}

Test(fdtab, udp_and_unix_dgram_sockets_are_other)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(u, 0);
	expect_kind(u, ZC_FD_OTHER);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	expect_kind(sv[0], ZC_FD_OTHER);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	expect_kind(sv[0], ZC_FD_OTHER);
}

Test(fdtab, proc_and_sys_files_are_proc)
{
	int fd = open("/proc/self/status", O_RDONLY);
	cr_assert_geq(fd, 0);
	expect_kind(fd, ZC_FD_PROC);
	int s = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);
	if (s < 0) s = open("/sys/devices/system/cpu/online", O_RDONLY);
	if (s >= 0) expect_kind(s, ZC_FD_PROC);
}

Test(fdtab, dev_null_and_directory_are_other)
{
	int fd = open("/dev/null", O_RDWR);
	cr_assert_geq(fd, 0);
	expect_kind(fd, ZC_FD_OTHER);
	int d = open("/tmp", O_RDONLY | O_DIRECTORY);
	cr_assert_geq(d, 0);
	expect_kind(d, ZC_FD_OTHER);
}

Test(fdtab, closed_and_negative_descriptors)
{
	int fd = tmp_file(0);
	close(fd);
	struct zc_fd_info i;
	cr_assert_eq(zc_fdtab_get(fd, &i), -1);
	cr_assert_eq(zc_fdtab_kind(fd), ZC_FD_OTHER);
	cr_assert_eq(zc_fdtab_get(-1, &i), -1);
	cr_assert_eq(zc_fdtab_kind(-1), ZC_FD_OTHER);
	/* nothing was remembered for the closed number: opening something there is seen afresh */
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(dup2(p[0], fd), fd);
	expect_kind(fd, ZC_FD_PIPE);
}

Test(fdtab, flags_recorded_and_updated)
{
	int fd = tmp_file(O_APPEND);
	struct zc_fd_info i = get(fd);
	cr_assert(i.flags & O_APPEND);
	zc_fdtab_set_flags(fd, O_RDWR | O_NONBLOCK);
	i = get(fd);
	cr_assert_eq(i.flags, O_RDWR | O_NONBLOCK);
}

/* ---- generations and invalidation ---------------------------------------------------- */

Test(fdtab, forget_and_reclassify_gives_a_new_generation)
{
	int fd = tmp_file(0);
	struct zc_fd_info a = get(fd), b = get(fd);
	cr_assert_eq(a.gen, b.gen, "a lookup must not reclassify");
	zc_fdtab_forget(fd);
	struct zc_fd_info c = get(fd);
	cr_assert_neq(c.gen, a.gen);
	cr_assert_gt(c.gen, a.gen);
	cr_assert_eq(c.kind, ZC_FD_FILE);
	zc_fdtab_forget(fd);
	zc_fdtab_forget(fd); /* twice is harmless */
	cr_assert_eq(zc_fdtab_kind(fd), ZC_FD_FILE);
	struct zc_fd_info d = get(fd);
	cr_assert_gt(d.gen, c.gen);
}

Test(fdtab, generations_are_unique_across_descriptors)
{
	int fds[16];
	uint64_t gens[16];
	for (int k = 0; k < 16; k++) {
		fds[k] = tmp_file(0);
		gens[k] = get(fds[k]).gen;
		for (int j = 0; j < k; j++) cr_assert_neq(gens[j], gens[k]);
	}
}

Test(fdtab, dup2_over_tracked_fd_then_forget_reflects_new_object)
{
	int fd = tmp_file(0);
	struct zc_fd_info old = get(fd);
	cr_assert_eq(zc_fdtab_kind(fd), ZC_FD_FILE);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(dup2(sv[0], fd), fd);
	zc_fdtab_forget(fd); /* what the dup2 wrapper does */
	cr_assert_eq(zc_fdtab_kind(fd), ZC_FD_UNIX, "fast path still answers the old kind");
	struct zc_fd_info now = get(fd);
	cr_assert_eq(now.kind, ZC_FD_UNIX);
	cr_assert_neq(now.gen, old.gen);
	assert_identity(&now, fd);
	cr_assert(now.ino != old.ino || now.dev != old.dev);
}

Test(fdtab, forget_range_covers_close_range)
{
	int base = 900; /* a run of numbers nothing else uses */
	int p[2];
	cr_assert_eq(pipe(p), 0);
	int f = tmp_file(0);
	for (int k = 0; k < 6; k++) cr_assert_eq(dup2(f, base + k), base + k);
	uint64_t g[6];
	for (int k = 0; k < 6; k++) {
		cr_assert_eq(zc_fdtab_kind(base + k), ZC_FD_FILE);
		g[k] = get(base + k).gen;
	}
	/* close_range(base+1, base+4) as the wrapper sees it, then the numbers reused for a pipe */
	cr_assert_eq(syscall(SYS_close_range, base + 1, base + 4, 0), 0);
	zc_fdtab_forget_range((unsigned)base + 1, (unsigned)base + 4);
	for (int k = 1; k <= 4; k++) cr_assert_eq(dup2(p[1], base + k), base + k);
	for (int k = 0; k < 6; k++) {
		int in = k >= 1 && k <= 4;
		cr_assert_eq(zc_fdtab_kind(base + k), in ? ZC_FD_PIPE : ZC_FD_FILE, "fd %d", base + k);
		struct zc_fd_info i = get(base + k);
		if (in) cr_assert_neq(i.gen, g[k], "fd %d kept its generation", base + k);
		else cr_assert_eq(i.gen, g[k], "fd %d outside the range was forgotten", base + k);
		assert_identity(&i, base + k);
	}
}

Test(fdtab, forget_range_to_the_top_and_forget_all)
{
	int f = tmp_file(0);
	cr_assert_eq(dup2(f, 700), 700);
	cr_assert_eq(fcntl(f, F_DUPFD, 5000), 5000);
	uint64_t g700 = get(700).gen, g5000 = get(5000).gen, gf = get(f).gen;
	zc_fdtab_forget_range(700, ~0u);
	cr_assert_neq(get(700).gen, g700);
	cr_assert_neq(get(5000).gen, g5000);
	cr_assert_eq(get(f).gen, gf);
	gf = get(f).gen;
	zc_fdtab_forget_all();
	cr_assert_neq(get(f).gen, gf);
}

/* count_entry — zc_fdtab_each callback: counts entries with the fd in *arg. */
static void count_entry(struct zc_fd_info *i, void *arg)
{
	int *a = arg;
	if (i->fd == a[0]) a[1]++;
}

Test(fdtab, each_visits_entries_once)
{
	int f = tmp_file(0);
	int a[2] = {f, 0};
	zc_fdtab_each(count_entry, a);
	cr_assert_eq(a[1], 0, "not classified yet");
	get(f);
	get(f);
	zc_fdtab_each(count_entry, a);
	cr_assert_eq(a[1], 1);
	zc_fdtab_forget(f);
	a[1] = 0;
	zc_fdtab_each(count_entry, a);
	cr_assert_eq(a[1], 0);
}

Test(fdtab, revalidate_same_object_is_1)
{
	int fd = tmp_file(0);
	struct zc_fd_info i = get(fd);
	cr_assert_eq(zc_fdtab_revalidate(fd, i.gen), 1);
	cr_assert_eq(zc_fdtab_revalidate(fd, i.gen), 1);
	cr_assert_eq(get(fd).gen, i.gen);
}

Test(fdtab, revalidate_detects_close_and_reuse_behind_its_back)
{
	char pa[] = "/tmp/zc_fdtab_a.XXXXXX", pb[] = "/tmp/zc_fdtab_b.XXXXXX";
	int fa = mkstemp(pa), fb = mkstemp(pb);
	cr_assert(fa >= 0 && fb >= 0);
	close(fb);
	struct zc_fd_info a = get(fa);
	cr_assert_eq(zc_fdtab_kind(fa), ZC_FD_FILE);
	/* raw close (as fclose or a direct syscall would): the table is not told */
	cr_assert_eq(syscall(SYS_close, fa), 0);
	int again = open(pb, O_RDONLY);
	unlink(pa);
	unlink(pb);
	cr_assert_eq(again, fa, "test needs the number reused");
	cr_assert_eq(zc_fdtab_revalidate(fa, a.gen), 0);
	struct zc_fd_info b = get(fa);
	cr_assert_neq(b.gen, a.gen);
	assert_identity(&b, fa);
	cr_assert_eq(zc_fdtab_revalidate(fa, b.gen), 1);
}

Test(fdtab, revalidate_detects_reuse_for_another_kind)
{
	int fd = tmp_file(0);
	struct zc_fd_info a = get(fd);
	cr_assert_eq(zc_fdtab_kind(fd), ZC_FD_FILE);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(syscall(SYS_dup2, p[0], fd), fd); /* replaced behind the table's back */
	cr_assert_eq(zc_fdtab_revalidate(fd, a.gen), 0);
	cr_assert_eq(zc_fdtab_kind(fd), ZC_FD_PIPE, "the byte cache still says FILE after revalidate");
	cr_assert_eq(get(fd).kind, ZC_FD_PIPE);
}

Test(fdtab, revalidate_closed_fd_and_stale_generation)
{
	int fd = tmp_file(0);
	struct zc_fd_info a = get(fd);
	cr_assert_eq(zc_fdtab_revalidate(fd, a.gen + 12345), 0, "a stale generation is never the same");
	struct zc_fd_info b = get(fd);
	cr_assert_neq(b.gen, a.gen);
	cr_assert_eq(syscall(SYS_close, fd), 0);
	cr_assert_eq(zc_fdtab_revalidate(fd, b.gen), 0);
	struct zc_fd_info i;
	cr_assert_eq(zc_fdtab_get(fd, &i), -1);
	int a2[2] = {fd, 0};
	zc_fdtab_each(count_entry, a2);
	cr_assert_eq(a2[1], 0, "closed descriptor still in the table");
}

/* ---- writers, leases, bookkeeping ---------------------------------------------------- */

Test(fdtab, note_writer_reports_multi_writer_after_two_tids)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	get(p[1]);
	cr_assert_eq(zc_fdtab_note_writer(p[1], 1001), 0);
	cr_assert_eq(zc_fdtab_note_writer(p[1], 1001), 0, "the same thread twice is one writer");
	cr_assert_eq(get(p[1]).multi_writer, 0);
	cr_assert_eq(zc_fdtab_note_writer(p[1], 1002), 1);
	cr_assert_eq(zc_fdtab_note_writer(p[1], 1001), 1, "multi-writer is sticky");
	struct zc_fd_info i = get(p[1]);
	cr_assert_eq(i.multi_writer, 1);
	cr_assert_eq(i.writer, 1001);
	/* another descriptor is independent */
	get(p[0]);
	cr_assert_eq(zc_fdtab_note_writer(p[0], 1002), 0);
	/* a new object at the number starts over */
	zc_fdtab_forget(p[1]);
	get(p[1]);
	cr_assert_eq(zc_fdtab_note_writer(p[1], 1003), 0);
}

struct writer_arg {
	int fd;
	int ret;
};

/* writer_thread — notes the calling thread as writer of a->fd. */
static void *writer_thread(void *p)
{
	struct writer_arg *a = p;
	a->ret = zc_fdtab_note_writer(a->fd, zc_raw_gettid());
	return NULL;
}

Test(fdtab, note_writer_with_real_threads)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	get(sv[0]);
	cr_assert_eq(zc_fdtab_note_writer(sv[0], zc_raw_gettid()), 0);
	struct writer_arg a = {.fd = sv[0], .ret = -1};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, writer_thread, &a), 0);
	pthread_join(t, NULL);
	cr_assert_eq(a.ret, 1);
}

Test(fdtab, lease_state_set_get_with_generation_check)
{
	int fd = tmp_file(0);
	struct zc_fd_info a = get(fd);
	cr_assert_eq(a.lease, ZC_LS_NONE);
	zc_fdtab_set_lease(fd, a.gen, ZC_LS_HELD);
	cr_assert_eq(get(fd).lease, ZC_LS_HELD);
	zc_fdtab_set_lease(fd, a.gen + 1, ZC_LS_BROKEN);
	cr_assert_eq(get(fd).lease, ZC_LS_HELD, "a wrong generation must not change the lease");
	zc_fdtab_set_lease(fd, a.gen, ZC_LS_BROKEN);
	cr_assert_eq(get(fd).lease, ZC_LS_BROKEN);
	/* a new classification starts without a lease; the old generation no longer applies */
	zc_fdtab_forget(fd);
	struct zc_fd_info b = get(fd);
	cr_assert_eq(b.lease, ZC_LS_NONE);
	zc_fdtab_set_lease(fd, a.gen, ZC_LS_HELD);
	cr_assert_eq(get(fd).lease, ZC_LS_NONE, "a stale generation changed the new entry's lease");
	zc_fdtab_set_lease(fd, b.gen, ZC_LS_DENIED);
	cr_assert_eq(get(fd).lease, ZC_LS_DENIED);
	/* no entry: nothing is created */
	int g = tmp_file(0);
	zc_fdtab_set_lease(g, 1, ZC_LS_HELD);
	cr_assert_eq(get(g).lease, ZC_LS_NONE);
}

Test(fdtab, note_used_counts_unused_in_a_row)
{
	int fd = tmp_file(0);
	struct zc_fd_info a = get(fd);
	zc_fdtab_note_used(fd, a.gen, 0);
	zc_fdtab_note_used(fd, a.gen, 0);
	zc_fdtab_note_used(fd, a.gen + 7, 0); /* other generation: ignored */
	cr_assert_eq(get(fd).unused, 2);
	zc_fdtab_note_used(fd, a.gen, 1);
	cr_assert_eq(get(fd).unused, 0);
}

Test(fdtab, sent_remembers_distinct_destinations)
{
	int fd = tmp_file(0);
	struct zc_fd_info a = get(fd);
	zc_fdtab_sent(fd, a.gen, 0, 0, 7);
	zc_fdtab_sent(fd, a.gen, 0, 0, 8);
	zc_fdtab_sent(fd, a.gen, 0, 0, 7);
	struct zc_fd_info b = get(fd);
	int n7 = 0, n8 = 0, free_ = 0;
	for (int k = 0; k < ZC_FD_DSTS; k++) n7 += b.dsts[k] == 7, n8 += b.dsts[k] == 8, free_ += b.dsts[k] == -1;
	cr_assert_eq(n7, 1);
	cr_assert_eq(n8, 1);
	cr_assert_eq(free_, ZC_FD_DSTS - 2);
	for (int d = 20; d < 20 + 2 * ZC_FD_DSTS; d++) zc_fdtab_sent(fd, a.gen, 0, 0, d);
	b = get(fd);
	for (int k = 0; k < ZC_FD_DSTS; k++) cr_assert_geq(b.dsts[k], 0, "full table keeps ZC_FD_DSTS entries");
}

/* what a rewrite notes after its transfer, under one lock: used, out of the lease, the destination */
Test(fdtab, sent_notes_use_lease_exit_and_destination_at_once)
{
	int fd = tmp_file(0);
	struct zc_fd_info a = get(fd);
	zc_fdtab_note_used(fd, a.gen, 0);
	zc_fdtab_set_lease(fd, a.gen, ZC_LS_HELD);
	cr_assert_eq(zc_fdtab_lease_enter(fd, a.gen), 0);
	cr_assert_eq(zc_fdtab_lease_enter(fd, a.gen), 0);
	zc_fdtab_sent(fd, a.gen + 7, 1, 1, 9); /* another generation: nothing */
	struct zc_fd_info b = get(fd);
	cr_assert_eq(b.unused, 1);
	cr_assert_eq(b.lease_inflight, 2);
	zc_fdtab_sent(fd, a.gen, 1, 1, -1); /* nothing moved: no destination */
	b = get(fd);
	cr_assert_eq(b.unused, 0);
	cr_assert_eq(b.lease_inflight, 1);
	for (int k = 0; k < ZC_FD_DSTS; k++) cr_assert_eq(b.dsts[k], -1);
	zc_fdtab_sent(fd, a.gen, 1, 1, 9);
	b = get(fd);
	cr_assert_eq(b.lease_inflight, 0);
	int n9 = 0;
	for (int k = 0; k < ZC_FD_DSTS; k++) n9 += b.dsts[k] == 9;
	cr_assert_eq(n9, 1);
	zc_fdtab_note_used(fd, a.gen, 0);
	zc_fdtab_sent(fd, a.gen, 1, 0, -1); /* not leased: used, no destination, the count stays */
	b = get(fd);
	cr_assert_eq(b.unused, 0);
	cr_assert_eq(b.lease_inflight, 0);
	for (int k = 0; k < ZC_FD_DSTS; k++) cr_assert_neq(b.dsts[k], 10);
	zc_fdtab_note_used(fd, a.gen, 0);
	cr_assert_eq(zc_fdtab_lease_enter(fd, a.gen), 0);
	zc_fdtab_sent(fd, a.gen, 0, 1, -1); /* a mapping's source: leaves, its unused count untouched */
	b = get(fd);
	cr_assert_eq(b.unused, 1);
	cr_assert_eq(b.lease_inflight, 0);
}

/* a rewrite's destination: its entry and its writer in one call, the first write classifying it */
Test(fdtab, get_writer_copies_the_entry_and_notes_the_writer)
{
	int p[2], multi = -1;
	struct zc_fd_info i;
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(zc_fdtab_get_writer(p[1], 1001, &i, &multi), 0, "not in the table yet: classified");
	cr_assert_eq(i.kind, ZC_FD_PIPE);
	cr_assert_eq(multi, 0);
	cr_assert_eq(get(p[1]).writer, 1001);
	cr_assert_eq(zc_fdtab_get_writer(p[1], 1001, &i, &multi), 0);
	cr_assert_eq(multi, 0, "the same thread twice is one writer");
	cr_assert_eq(zc_fdtab_get_writer(p[1], 1002, &i, &multi), 0);
	cr_assert_eq(multi, 1);
	cr_assert_eq(i.multi_writer, 1, "the copy is taken after the note");
	cr_assert_eq(i.writer, 1002);
	close(p[0]), close(p[1]);
	zc_fdtab_forget(p[1]);
	cr_assert_lt(zc_fdtab_get_writer(p[1], 1001, &i, &multi), 0, "a closed number");
	cr_assert_lt(zc_fdtab_get_writer(-1, 1001, &i, &multi), 0);
}

/* ---- high numbers -------------------------------------------------------------------- */

Test(fdtab, high_descriptor_numbers_work)
{
	int f = tmp_file(0);
	int hi = fcntl(f, F_DUPFD, 5000);
	cr_assert_eq(hi, 5000);
	expect_kind(hi, ZC_FD_FILE);
	struct zc_fd_info a = get(hi);
	cr_assert_eq(a.fd, 5000);
	zc_fdtab_set_lease(hi, a.gen, ZC_LS_HELD);
	cr_assert_eq(get(hi).lease, ZC_LS_HELD);
	cr_assert_eq(zc_fdtab_note_writer(hi, 1), 0);
	cr_assert_eq(zc_fdtab_note_writer(hi, 2), 1);
	cr_assert_eq(zc_fdtab_revalidate(hi, a.gen), 1);

	/* replaced through the wrapper path: forget, then a different object */
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(dup2(p[1], hi), hi);
	zc_fdtab_forget(hi);
	expect_kind(hi, ZC_FD_PIPE);
	struct zc_fd_info b = get(hi);
	cr_assert_neq(b.gen, a.gen);
	cr_assert_eq(b.lease, ZC_LS_NONE);
	cr_assert_eq(b.multi_writer, 0);

	/* replaced behind its back: revalidate notices at a high number too */
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(syscall(SYS_dup2, sv[0], hi), hi);
	cr_assert_eq(zc_fdtab_revalidate(hi, b.gen), 0);
	expect_kind(hi, ZC_FD_UNIX);

	int hi2 = fcntl(f, F_DUPFD, 9000);
	cr_assert_eq(hi2, 9000);
	expect_kind(hi2, ZC_FD_FILE);
	uint64_t g9000 = get(hi2).gen, g5000 = get(hi).gen;
	zc_fdtab_forget_range(5000, 8999);
	cr_assert_eq(get(hi2).gen, g9000, "9000 is outside [5000, 8999]");
	cr_assert_neq(get(hi).gen, g5000, "5000 is inside [5000, 8999]");
}

Test(fdtab, boundary_numbers_around_the_fast_cache)
{
	int f = tmp_file(0);
	int p[2];
	struct rlimit rl;
	cr_assert_eq(pipe(p), 0);
	/* the cache ends at 16384: numbers past it need a limit above (the hard one is 20000 here) */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 16400) {
		rl.rlim_cur = 16400;
		if (rl.rlim_max < 16400) rl.rlim_max = 16400;
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "descriptor numbers past 16384 need a limit above it");
	}
	for (int n = 4094; n <= 4098; n++) {
		cr_assert_eq(dup2(f, n), n);
		expect_kind(n, ZC_FD_FILE);
	}
	for (int n = 16382; n <= 16386; n++) {
		cr_assert_eq(dup2(f, n), n);
		expect_kind(n, ZC_FD_FILE);
		cr_assert_eq(dup2(p[0], n), n);
		zc_fdtab_forget(n);
		expect_kind(n, ZC_FD_PIPE);
	}
}

/* ---- a classification racing a close and a reopen ------------------------------------ */

struct asker {
	int fd;
	int stop;
};

/* asker_thread — asks about a number it does not own, as the lease thread asks about destinations. */
static void *asker_thread(void *p)
{
	struct asker *a = p;
	while (!__atomic_load_n(&a->stop, __ATOMIC_RELAXED)) zc_fdtab_kind(a->fd);
	return NULL;
}

/* Another thread classifies the number while its owner closes it and opens another file there,
 * with the forgets the close and open wrappers make. An answer taken before the close and stored
 * after the reopen's forget left the old file's entry on the new descriptor: the mapped-file path
 * then sent one file's bytes for another's (test_mapped.sh mapped_many_files, 1 run in 20). */
Test(fdtab, classification_racing_close_and_reopen_is_never_stored)
{
	int files[2] = {tmp_file(0), tmp_file(0)};
	struct asker a = {.fd = 700};
	pthread_t t;
	cr_assert_eq(dup2(files[0], a.fd), a.fd);
	cr_assert_eq(pthread_create(&t, NULL, asker_thread, &a), 0);
	int stale = 0, rounds = 20000;
	for (int r = 0; r < rounds && !stale; r++) {
		zc_fdtab_forget(a.fd); /* close: gone() */
		close(a.fd);
		zc_fdtab_forget(a.fd); /* close: fresh() */
		cr_assert_eq(dup3(files[(r + 1) % 2], a.fd, O_CLOEXEC), a.fd); /* the number, reused */
		zc_fdtab_forget(a.fd); /* open: fresh() */
		struct zc_fd_info i = get(a.fd);
		struct stat st;
		cr_assert_eq(fstat(a.fd, &st), 0);
		if (i.ino != st.st_ino) stale = r + 1;
	}
	__atomic_store_n(&a.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	cr_assert_eq(stale, 0, "round %d of %d: the entry named the file closed before it", stale, rounds);
}

/* ---- a deferred read kept whole against a close or dup2 onto its number -------------------- */

struct repointer {
	int fd, done;
};

static void *repointer_thread(void *p)
{
	struct repointer *r = p;
	zc_fdtab_repoint_begin(r->fd);
	__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
	zc_fdtab_repoint_end(r->fd);
	return NULL;
}

Test(fdtab, repoint_waits_for_the_read_in_flight_and_no_read_begins_during_it)
{
	int fd = tmp_file(0);
	uint32_t e = zc_fdtab_epoch(fd);
	cr_assert_eq(zc_fdtab_read_begin(fd, e), 1);
	struct repointer r = {.fd = fd};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, repointer_thread, &r), 0);
	usleep(20000);
	cr_assert_eq(__atomic_load_n(&r.done, __ATOMIC_SEQ_CST), 0, "the dup2 went ahead inside the read");
	zc_fdtab_read_end(fd);
	pthread_join(t, NULL);
	cr_assert_eq(r.done, 1);
	/* the number was re-pointed since the read was planned: an ordinary read instead */
	cr_assert_eq(zc_fdtab_read_begin(fd, e), 0);
	/* under way: none begins, whatever epoch it saw */
	zc_fdtab_repoint_begin(fd);
	cr_assert_eq(zc_fdtab_read_begin(fd, zc_fdtab_epoch(fd)), 0);
	zc_fdtab_repoint_end(fd);
	cr_assert_eq(zc_fdtab_read_begin(fd, zc_fdtab_epoch(fd)), 1);
	/* a handler on the reading thread closing the number does not wait for its own read */
	zc_fdtab_repoint_begin(fd);
	zc_fdtab_repoint_end(fd);
	zc_fdtab_read_end(fd);
	close(fd);
}

static void *range_thread(void *p)
{
	struct repointer *r = p;
	zc_fdtab_repoint_range_begin((unsigned)r->fd - 1, (unsigned)r->fd + 1);
	__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
	zc_fdtab_repoint_range_end();
	return NULL;
}

Test(fdtab, close_range_waits_for_reads_in_its_range_and_none_begins_during_it)
{
	int fd = tmp_file(0), other = tmp_file(0);
	cr_assert_eq(zc_fdtab_read_begin(fd, zc_fdtab_epoch(fd)), 1);
	struct repointer r = {.fd = fd};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, range_thread, &r), 0);
	usleep(20000);
	cr_assert_eq(__atomic_load_n(&r.done, __ATOMIC_SEQ_CST), 0, "close_range went ahead inside the read");
	cr_assert_eq(zc_fdtab_read_begin(other, zc_fdtab_epoch(other)), 0, "a read began during close_range");
	zc_fdtab_read_end(fd);
	pthread_join(t, NULL);
	cr_assert_eq(zc_fdtab_read_begin(other, zc_fdtab_epoch(other)), 1);
	zc_fdtab_read_end(other);
	close(fd);
	close(other);
}
