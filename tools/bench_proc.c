/* bench_proc.c — process plumbing for `zcshim bench`: spawning, timed waits, process-group CPU
 * time from /proc, listening checks, and the shim's per-process stats files. */
#include "bench.h"
#include "stats_json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* zc_bench_now — monotonic time in seconds. */
double zc_bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* child_fd — in the child: puts fd (or /dev/null when -1) on target. */
static void child_fd(int fd, int target, int null_flags)
{
	if (fd < 0)
		fd = open("/dev/null", null_flags);
	if (fd >= 0 && fd != target)
		dup2(fd, target);
}

/* zc_bench_spawn — fork+exec with redirected stdio and extra environment; -1 on failure.
 * Descriptors other than 0-2 are closed in the child so pipes see EOF when they should. */
pid_t zc_bench_spawn(const struct zc_bench_spawn *s)
{
	pid_t pid = fork();
	if (pid > 0 && s->own_group)
		setpgid(pid, pid); /* also in the parent: no window where the group does not exist */
	if (pid != 0)
		return pid;
	if (s->own_group)
		setpgid(0, 0);
	if (s->cpu > 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(s->cpu - 1, &set);
		sched_setaffinity(0, sizeof set, &set); /* best effort: an unpinned run is still valid */
	}
	if (s->cgroup_procs > 0 && write(s->cgroup_procs - 1, "0", 1) < 0)
		dprintf(2, "zcshim bench: joining the run's cgroup: %s\n", strerror(errno));
	signal(SIGPIPE, SIG_DFL);
	child_fd(s->in, 0, O_RDONLY);
	child_fd(s->out, 1, O_WRONLY);
	child_fd(s->err, 2, O_WRONLY);
	closefrom(3);
	for (const char *const *e = s->env; e && *e; e++)
		putenv((char *)*e);
	execvp(s->argv[0], s->argv);
	dprintf(2, "zcshim bench: exec %s: %s\n", s->argv[0], strerror(errno));
	_exit(127);
}

/* wait_poll — waits up to timeout_ms for pid to become reapable, via pidfd or polling. */
static int wait_poll(pid_t pid, int timeout_ms)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int n;
		while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
			;
		close(pfd);
		return n > 0 ? 0 : -1;
	}
	for (int waited = 0; waited < timeout_ms; waited += 2) {
		siginfo_t si = {0};
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
			return 0;
		usleep(2000);
	}
	return -1;
}

/* zc_bench_wait — reaps pid within timeout_ms; its CPU seconds (with waited-for children)
 * go to *cpu_s. Returns 0, or -1 on timeout (the process is left running). */
int zc_bench_wait(pid_t pid, int timeout_ms, int *status, double *cpu_s)
{
	struct rusage ru;
	if (wait_poll(pid, timeout_ms) < 0)
		return -1;
	while (wait4(pid, status, 0, &ru) < 0)
		if (errno != EINTR)
			return -1;
	if (cpu_s)
		*cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return 0;
}

/* zc_bench_kill_group — signals every process of a group (ignores a group already gone). */
void zc_bench_kill_group(pid_t pgid, int sig)
{
	if (pgid > 1)
		kill(-pgid, sig);
}

/* stat_ticks — CPU ticks (fields 14-17) of /proc/PID/stat, with the parent and group; -1 if unreadable. */
static long long stat_ticks(const char *pid, long long *ppid, long long *pgrp)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	long long ut, st, cut, cst;
	/* after the name: 3 state 4 ppid 5 pgrp 6 session 7 tty 8 tpgid 9 flags 10-13 faults,
	 * 14 utime 15 stime 16 cutime 17 cstime (clock ticks) */
	if (!p || sscanf(p + 2, "%*c %lld %lld %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld %lld %lld",
			 ppid, pgrp, &ut, &st, &cut, &cst) != 6)
		return -1;
	return ut + st + cut + cst;
}

/* live_threads_cpu — precise CPU seconds of the live threads of a process (schedstat, ns). */
static double live_threads_cpu(const char *pid)
{
	char path[300], buf[128];
	unsigned long long ns, sum = 0;
	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task/%s/schedstat", pid, e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n > 0 && (buf[n] = 0, sscanf(buf, "%llu", &ns) == 1))
			sum += ns;
	}
	if (d)
		closedir(d);
	return (double)sum / 1e9;
}

#define MAX_PROCS 4096

/* zc_bench_group_cpu — CPU seconds of the live processes of a group and of their descendants in
 * other groups (vsftpd's sessions call setsid). Per process: the live threads' schedstat (ns
 * precision), unless /proc/PID/stat (clock ticks, but including exited threads and reaped
 * children) says more, then the tick figure (error under half a tick). */
double zc_bench_group_cpu(pid_t pgid)
{
	static long long pid[MAX_PROCS], ppid[MAX_PROCS], pgrp[MAX_PROCS], ticks[MAX_PROCS];
	static char in[MAX_PROCS];
	double total = 0, tick = 1.0 / (double)sysconf(_SC_CLK_TCK);
	int n = 0, grew = 1;
	DIR *d = opendir("/proc");
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < MAX_PROCS) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		if ((ticks[n] = stat_ticks(e->d_name, &ppid[n], &pgrp[n])) < 0)
			continue;
		pid[n] = atoll(e->d_name);
		in[n] = pgrp[n] == pgid;
		n++;
	}
	closedir(d);
	while (grew) /* descendants of counted processes count too */
		for (int i = grew = 0; i < n; i++)
			for (int j = 0; j < n && !in[i]; j++)
				if (in[j] && ppid[i] == pid[j]) in[i] = 1, grew = 1;
	for (int i = 0; i < n; i++) {
		if (!in[i])
			continue;
		char name[24];
		snprintf(name, sizeof(name), "%lld", pid[i]);
		/* coarse never exceeds the precise total, so coarse > fine means exited threads or
		 * reaped children: then coarse plus half a tick is the best estimate */
		double coarse = (double)ticks[i] * tick, fine = live_threads_cpu(name);
		total += coarse > fine + 0.001 ? coarse + tick / 2 : fine;
	}
	return total;
}

/* listening — whether /proc/net/tcp has a LISTEN socket on 127.0.0.1:port or 0.0.0.0:port. */
static int listening(int port)
{
	char line[512];
	unsigned addr, lport, state;
	int found = 0;
	FILE *f = fopen("/proc/net/tcp", "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, " %*d: %x:%x %*x:%*x %x", &addr, &lport, &state) == 3)
			found = (int)lport == port && state == 0x0A &&
				(addr == 0 || addr == htonl(INADDR_LOOPBACK));
	fclose(f);
	return found;
}

/* zc_bench_wait_listen — waits until port listens (without connecting: socat serves only one
 * connection); 0 when ready, -1 if pid exited or the time ran out. */
int zc_bench_wait_listen(int port, pid_t pid, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 5) {
		siginfo_t si = {0};
		if (listening(port))
			return 0;
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
			return -1;
		usleep(5000);
	}
	return -1;
}

/* zc_bench_free_port — a currently free loopback TCP port (bind to 0, read it, close). */
int zc_bench_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int port = -1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* zc_bench_status_ok — 1 if a wait status is a clean exit 0, else describes it in err. */
int zc_bench_status_ok(int status, const char *who, char *err, size_t errlen)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	if (WIFEXITED(status))
		snprintf(err, errlen, "%s exited %d", who, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(err, errlen, "%s killed by signal %d (%s)", who, WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(err, errlen, "%s: wait status %#x", who, status);
	return 0;
}

/* zc_bench_shim_env — the environment of a shim variant (static storage, NULL-terminated):
 * ZCSHIM_MODE set to the variant's mode, or left alone for the default variant. */
void zc_bench_shim_env(const struct zc_bench_env *env, enum zc_bench_variant v, const char **out,
		       size_t cap)
{
	static char preload[PATH_MAX + 16], stats[PATH_MAX + 32], mode[32];
	const char *m = zc_bench_variant_mode(v);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", env->lib);
	snprintf(stats, sizeof(stats), "ZCSHIM_STATS_FILE=%s/st.%%p.json", env->stats_dir);
	snprintf(mode, sizeof(mode), "ZCSHIM_MODE=%s", m ? m : "");
	const char *list[] = {preload, stats, m ? mode : NULL, NULL};
	for (size_t i = 0; i < cap && i < sizeof(list) / sizeof(list[0]); i++)
		out[i] = list[i];
}

/* add_counter — adds value to the named counter, creating it if new. */
static void add_counter(struct zc_bench_counters *c, const char *name, uint64_t value)
{
	int i;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->name[i], name) == 0)
			break;
	if (i == c->n) {
		if (c->n == ZC_BENCH_MAX_COUNTERS)
			return;
		snprintf(c->name[c->n++], sizeof(c->name[0]), "%s", name);
		c->value[i] = 0;
	}
	c->value[i] += value;
}

/* note_mode — records a file's "mode"; files of one run that disagree make it "mixed". */
static void note_mode(struct zc_bench_counters *c, const char *mode)
{
	if (!c->mode[0])
		snprintf(c->mode, sizeof(c->mode), "%s", mode);
	else if (strcmp(c->mode, mode) != 0)
		snprintf(c->mode, sizeof(c->mode), "mixed");
}

/* parse_stats — adds the "counters" of one stats file (read with json-c, stats_json.c) and notes
 * its "mode"; a file that is not one is reported and adds nothing. */
_Static_assert(ZC_NCOUNTERS <= ZC_BENCH_MAX_COUNTERS, "every counter of the shim has a place");

static void parse_stats(const char *path, struct zc_bench_counters *c)
{
	uint64_t v[ZC_NCOUNTERS];
	char mode[16], err[PATH_MAX + 400];
	int n = zc_stats_json_read(path, v, mode, sizeof(mode), err, sizeof(err));
	c->files++;
	if (n < 0) {
		fprintf(stderr, "zcshim bench: %s\n", err);
		return;
	}
	if (mode[0])
		note_mode(c, mode);
	for (int i = 0; n > 0 && i < ZC_NCOUNTERS; i++)
		add_counter(c, zc_counter_names[i], v[i]);
}

/* zc_bench_collect_stats — sums and deletes all stats files the shim left in stats_dir. */
void zc_bench_collect_stats(const struct zc_bench_env *env, struct zc_bench_counters *c)
{
	char path[PATH_MAX + 300];
	DIR *d = opendir(env->stats_dir);
	struct dirent *e;
	memset(c, 0, sizeof(*c));
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "st.", 3) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", env->stats_dir, e->d_name);
		parse_stats(path, c);
		unlink(path);
	}
	closedir(d);
}

/* zc_bench_counter — value of a named counter (0 if absent). */
uint64_t zc_bench_counter(const struct zc_bench_counters *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->name[i], name) == 0)
			return c->value[i];
	return 0;
}

/* zc_bench_write_file — writes text to path (mode 0644); 0 or -1. */
int zc_bench_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	int bad = fputs(text, f) < 0;
	bad |= fclose(f) != 0;
	return bad ? -1 : 0;
}

/* zc_bench_find_exe — resolves name through PATH into out; 0 if found, -1 if not. */
int zc_bench_find_exe(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX];
	if (strchr(name, '/')) {
		snprintf(out, cap, "%s", name);
		return access(out, X_OK) == 0 ? 0 : -1;
	}
	for (const char *p = path ? path : "/usr/bin:/bin:/usr/sbin:/sbin"; *p;) {
		size_t len = strcspn(p, ":");
		snprintf(dir, sizeof(dir), "%.*s", (int)len, p);
		snprintf(out, cap, "%s/%s", len ? dir : ".", name);
		if (access(out, X_OK) == 0)
			return 0;
		p += len + (p[len] == ':');
	}
	/* daemons live in sbin, which a non-root PATH may lack */
	for (const char *const *d = (const char *const[]){"/usr/sbin", "/sbin", NULL}; *d; d++) {
		snprintf(out, cap, "%s/%s", *d, name);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* rm_entry — nftw callback removing one entry. */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* zc_bench_rm_rf — removes a directory tree. */
void zc_bench_rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
