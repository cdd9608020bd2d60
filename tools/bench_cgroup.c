/* bench_cgroup.c — a persistent server's CPU from a cgroup v2 of its own: cpu.stat's usage_usec
 * counts every thread and descendant that ran in it, the exited ones included (python's per-request
 * threads, vsftpd's sessions, which leave the server's process group and are reaped by nobody the
 * /proc samples can see). Where no cgroup v2 is writable, bench_proc.c's /proc samples are used
 * instead; each run says which ("cpu_method" in the JSON). */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[PATH_MAX]; /* our own directory under the cgroup v2 mount; "" when unavailable */
static int runs;

/* mount_point — where cgroup2 is mounted (/sys/fs/cgroup, or .../unified on a hybrid host). */
static int mount_point(char *out, size_t cap)
{
	char line[1024], mnt[PATH_MAX], fstype[64];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = 0;
	while (f && !found && fgets(line, sizeof line, f)) {
		char *dash = strstr(line, " - ");
		/* 1 id 2 parent 3 dev 4 root 5 mount point ... " - " fstype source options */
		if (dash && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && sscanf(dash + 3, "%63s", fstype) == 1 &&
		    !strcmp(fstype, "cgroup2"))
			found = snprintf(out, cap, "%s", mnt) < (int)cap;
	}
	if (f) fclose(f);
	return found ? 0 : -1;
}

/* own_path — this process's cgroup v2 path ("0::/..." in /proc/self/cgroup). */
static int own_path(char *out, size_t cap)
{
	char line[1024];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int found = 0;
	while (f && !found && fgets(line, sizeof line, f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			found = snprintf(out, cap, "%s", line + 3) < (int)cap;
		}
	if (f) fclose(f);
	return found ? 0 : -1;
}

int zc_bench_cg_init(void)
{
	char mnt[PATH_MAX], own[PATH_MAX];
	base[0] = 0;
	if (mount_point(mnt, sizeof mnt) < 0 || own_path(own, sizeof own) < 0) return -1;
	if (snprintf(base, sizeof base, "%s%s/zcshim-bench.%d", mnt, strcmp(own, "/") ? own : "", (int)getpid()) >=
		    (int)sizeof base ||
	    mkdir(base, 0755) < 0) {
		base[0] = 0;
		return -1;
	}
	return 0;
}

/* cg_file — path of FILE in cgroup dir. */
static void cg_file(char *out, size_t cap, const char *dir, const char *file)
{
	snprintf(out, cap, "%s/%s", dir, file);
}

int zc_bench_cg_new(char *dir, size_t cap)
{
	char procs[PATH_MAX + 32];
	if (!base[0] || snprintf(dir, cap, "%s/run.%d", base, ++runs) >= (int)cap || mkdir(dir, 0755) < 0) return -1;
	cg_file(procs, sizeof procs, dir, "cgroup.procs");
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0) rmdir(dir);
	return fd;
}

double zc_bench_cg_cpu(const char *dir)
{
	char path[PATH_MAX + 32], key[64];
	unsigned long long v, usec = 0;
	cg_file(path, sizeof path, dir, "cpu.stat");
	FILE *f = fopen(path, "re");
	while (f && fscanf(f, "%63s %llu", key, &v) == 2)
		if (!strcmp(key, "usage_usec")) usec = v;
	if (f) fclose(f);
	return (double)usec / 1e6;
}

/* populated — the cgroup still has processes (cgroup.events: "populated 1"). */
static int populated(const char *dir)
{
	char path[PATH_MAX + 32], key[64];
	int v, pop = 0;
	cg_file(path, sizeof path, dir, "cgroup.events");
	FILE *f = fopen(path, "re");
	while (f && fscanf(f, "%63s %d", key, &v) == 2)
		if (!strcmp(key, "populated")) pop = v;
	if (f) fclose(f);
	return pop;
}

void zc_bench_cg_end(const char *dir)
{
	char path[PATH_MAX + 32];
	cg_file(path, sizeof path, dir, "cgroup.kill"); /* stragglers outside the server's group */
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) { /* an older kernel: what is left is the server group's, killed already */
		}
		close(fd);
	}
	for (int i = 0; i < 500 && populated(dir); i++) usleep(2000);
	rmdir(dir);
}

void zc_bench_cg_fini(void)
{
	if (base[0]) rmdir(base);
	base[0] = 0;
}
