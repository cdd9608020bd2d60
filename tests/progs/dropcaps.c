/* dropcaps.c — a root server's privilege drop, as nginx's workers and Apache's children do it, for
 * keep_cap_lease (test_caps.sh). Run as root.
 * usage: dropcaps [--fork] [--thread] [--copy] [--hold PATH] [--early] [--via setuid|setresuid|setreuid|seteuid] FILE
 *   --fork    the root "master" forks a "worker" that does the rest; the master waits, then prints
 *             its own CapEff ("master CapEff: ...") and exits with the worker's status
 *   --thread  a second thread exists during the drop; its sets are printed after ("thread CapPrm:")
 *   --copy    after the drop, copy FILE to stdout in 64 KiB chunks (the shim's own lease at work)
 *   --hold    with --copy, after it, create PATH and keep FILE open until PATH is removed (30 s at most):
 *             a writer can meet the shim's lease meanwhile
 *   --early   copy FILE to stdout once before the drop too (the shim's lease thread then exists
 *             while the process is still root)
 *   --via     the call that changes the user id to nobody (65534); default setuid
 * Then: setgroups(0) and setgid(65534) first, the call with errno set to ENOTTY beforehand
 * ("drop: rc 0 errno 25": a successful call leaves errno alone), PR_GET_KEEPCAPS after it
 * ("keepcaps: 0"), the thread's /proc/self/status
 * lines CapInh, CapPrm, CapEff, CapBnd, CapAmb, then open FILE O_RDONLY and F_SETLEASE F_RDLCK
 * ("lease: granted" or "lease: denied (why)"), F_UNLCK ("unlock: ok"/"unlock: failed (why)"), and
 * setuid(0) again ("again: rc -1 errno 1", as without the shim). With --via seteuid (a temporary
 * drop): seteuid(0) afterwards and "back CapEff: ..." (root gets everything back).
 * All reports go to stderr (stdout is the copy). Exit 0, or 1 on a setup error. */
#include "progs.h"

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

static const char *prog = "dropcaps";

/* caps_lines — the capability lines of a status file, each prefixed with who. */
static void caps_lines(const char *path, const char *who, const char *only)
{
	char line[256];
	FILE *f = fopen(path, "r");
	if (!f) progs_die(prog, path);
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "Cap", 3) && (!only || !strncmp(line, only, strlen(only)))) fprintf(stderr, "%s%s", who, line);
	fclose(f);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pid_t thread_tid;
static int thread_stop;

/* idle — the second thread: says its id, then waits to be told to end. */
static void *idle(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	thread_tid = gettid();
	pthread_cond_broadcast(&cv);
	while (!thread_stop) pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* drop — the user id change under test; its rc and errno. */
static int drop(const char *via)
{
	if (!strcmp(via, "setuid")) return setuid(NOBODY);
	if (!strcmp(via, "setresuid")) return setresuid(NOBODY, NOBODY, NOBODY);
	if (!strcmp(via, "setreuid")) return setreuid(NOBODY, NOBODY);
	if (!strcmp(via, "seteuid")) return seteuid(NOBODY);
	fprintf(stderr, "%s: unknown --via %s\n", prog, via);
	exit(1);
}

/* copy — FILE to stdout, 64 KiB at a time, through a page-aligned buffer, from a descriptor of
 * its own (one the program set a lease on is the program's business: the shim leaves it alone);
 * returns that descriptor, still open. */
static int copy(const char *path)
{
	char *buf;
	ssize_t r;
	int fd = open(path, O_RDONLY);
	if (fd < 0 || posix_memalign((void **)&buf, 4096, 65536)) progs_die(prog, "posix_memalign");
	while ((r = read(fd, buf, 65536)) > 0)
		for (ssize_t off = 0, w; off < r; off += w)
			if ((w = write(1, buf + off, (size_t)(r - off))) < 0) progs_die(prog, "write");
	if (r < 0) progs_die(prog, "read");
	free(buf);
	return fd;
}

/* hold — FILE stays open (and the shim's lease with it) until the test removes the hold file. */
static void hold(const char *flag)
{
	int f = open(flag, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (f < 0) progs_die(prog, flag);
	close(f);
	for (int i = 0; i < 3000 && access(flag, F_OK) == 0; i++) usleep(10000);
}

static const char *hold_flag;
static int early; /* --early: one copy before the drop, so the shim's lease thread starts as root */

static int worker(const char *via, const char *path, int with_thread, int do_copy)
{
	pthread_t t;
	if (with_thread) {
		if (pthread_create(&t, NULL, idle, NULL)) progs_die(prog, "pthread_create");
		pthread_mutex_lock(&mu);
		while (!thread_tid) pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
	}
	if (early) close(copy(path));
	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0) progs_die(prog, "setgid");
	errno = ENOTTY;
	int rc = drop(via);
	fprintf(stderr, "drop: rc %d errno %d\n", rc, errno);
	fprintf(stderr, "keepcaps: %d\n", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	caps_lines("/proc/thread-self/status", "", NULL);
	if (with_thread) {
		char p[64];
		snprintf(p, sizeof p, "/proc/self/task/%d/status", (int)thread_tid);
		caps_lines(p, "thread ", "CapPrm");
		caps_lines(p, "thread ", "CapEff");
	}
	int fd = open(path, O_RDONLY);
	if (fd < 0) progs_die(prog, path);
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
		fprintf(stderr, "lease: granted\n");
		if (fcntl(fd, F_SETLEASE, F_UNLCK) == 0) fprintf(stderr, "unlock: ok\n");
		else fprintf(stderr, "unlock: failed (%s)\n", strerror(errno));
	} else {
		fprintf(stderr, "lease: denied (%s)\n", strerror(errno));
	}
	close(fd);
	if (do_copy) {
		fd = copy(path);
		if (hold_flag) hold(hold_flag);
		close(fd);
	}
	if (!strcmp(via, "seteuid")) {
		if (seteuid(0) < 0) progs_die(prog, "seteuid(0)");
		caps_lines("/proc/thread-self/status", "back ", "CapEff");
		if (seteuid(NOBODY) < 0) progs_die(prog, "seteuid again");
	}
	errno = 0;
	rc = setuid(0);
	fprintf(stderr, "again: rc %d errno %d\n", rc, errno);
	if (with_thread) {
		pthread_mutex_lock(&mu);
		thread_stop = 1;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		pthread_join(t, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *via = "setuid";
	int do_fork = 0, with_thread = 0, do_copy = 0, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--fork")) do_fork = 1;
		else if (!strcmp(argv[i], "--thread")) with_thread = 1;
		else if (!strcmp(argv[i], "--copy")) do_copy = 1;
		else if (!strcmp(argv[i], "--via") && i + 1 < argc) via = argv[++i];
		else if (!strcmp(argv[i], "--hold") && i + 1 < argc) hold_flag = argv[++i];
		else if (!strcmp(argv[i], "--early")) early = 1;
		else break;
	}
	if (i + 1 != argc) {
		fprintf(stderr, "usage: %s [--fork] [--thread] [--copy] [--hold PATH] [--early] [--via setuid|setresuid|setreuid|seteuid] FILE\n", prog);
		return 1;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "%s: must run as root\n", prog);
		return 1;
	}
	if (!do_fork) return worker(via, argv[i], with_thread, do_copy);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) progs_die(prog, "fork");
	if (pid == 0) exit(worker(via, argv[i], with_thread, do_copy));
	int st;
	if (waitpid(pid, &st, 0) < 0) progs_die(prog, "waitpid");
	caps_lines("/proc/thread-self/status", "master ", "CapEff");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
