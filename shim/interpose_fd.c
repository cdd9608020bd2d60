/* interpose_fd.c — descriptor life cycle: close, dup*, fcntl, new descriptors, lseek, exec. */
#include "config.h"
#include "detect.h"
#include "interpose.h"
#include "fdtab.h"
#include "lease.h"
#include "log.h"
#include "real.h"
#include "shim.h"
#include "stats.h"

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>

extern char **environ;

/* gone — the number fd is about to stop naming what we knew: records, lease mark, table entry. */
static void gone(int fd)
{
	enter();
	zc_detect_drop_fd(fd);
	zc_fdtab_forget(fd);
	leave();
}

/* fresh — a number the kernel just handed out: nothing known about it can be old. */
static void fresh(int fd)
{
	if (fd < 0) return;
	enter();
	zc_fdtab_forget(fd);
	leave();
}

EXPORT int close(int fd)
{
	if (!zc_active()) return zc_real.close ? zc_real.close(fd) : (int)zc_raw_close(fd);
	int saved = errno;
	gone(fd);
	errno = saved;
	int r = zc_real.close(fd);
	saved = errno;
	fresh(fd); /* a classification raced in between */
	errno = saved;
	return r;
}

EXPORT int close_range(unsigned int lo, unsigned int hi, int flags)
{
	if (zc_active() && !(flags & CLOSE_RANGE_CLOEXEC)) {
		enter();
		for (unsigned fd = lo; fd <= hi && fd < 4096; fd++) zc_detect_drop_fd((int)fd);
		zc_fdtab_forget_range(lo, hi);
		leave();
	}
	return zc_real.close_range ? zc_real.close_range(lo, hi, flags) : (int)syscall(SYS_close_range, lo, hi, flags);
}

EXPORT int dup(int fd)
{
	int r = zc_real.dup(fd);
	if (zc_active()) fresh(r);
	return r;
}

EXPORT int dup2(int old, int new)
{
	if (zc_active() && old != new) gone(new);
	int r = zc_real.dup2(old, new);
	if (zc_active() && old != new) fresh(new);
	return r;
}

EXPORT int dup3(int old, int new, int flags)
{
	if (zc_active() && old != new) gone(new);
	int r = zc_real.dup3(old, new, flags);
	if (zc_active() && old != new) fresh(new);
	return r;
}

/* held_by_us — the shim holds a read lease on fd (so its lease, signal and owner are ours). */
static int held_by_us(int fd)
{
	struct zc_fd_info i;
	return zc_fdtab_kind(fd) == ZC_FD_FILE && zc_fdtab_get(fd, &i) == 0 && i.lease == ZC_LS_HELD;
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (zc_active()) {
		int saved = errno, ours = 0;
		enter();
		switch (cmd) {
		case F_SETLEASE: case F_SETSIG: case F_SETOWN: case F_SETOWN_EX:
			zc_lease_hand_over(fd); /* the program's own use wins; ours is given back first */
			break;
		case F_GETLEASE: case F_GETSIG: case F_GETOWN: case F_GETOWN_EX:
			ours = held_by_us(fd);
			break;
		}
		leave();
		errno = saved;
		if (ours && cmd != F_GETOWN_EX) return cmd == F_GETLEASE ? F_UNLCK : 0; /* as without us */
		if (ours && arg) {
			*(struct f_owner_ex *)arg = (struct f_owner_ex){F_OWNER_PID, 0};
			return 0;
		}
	}
	int r = zc_real.fcntl64 ? zc_real.fcntl64(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
	if (!zc_active() || r < 0) return r;
	if (cmd == F_SETFL) {
		int saved = errno;
		enter();
		zc_fdtab_set_flags(fd, (int)zc_raw_fcntl(fd, F_GETFL, 0));
		leave();
		errno = saved;
	} else if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
		fresh(r);
	}
	return r;
}

EXPORT int fcntl(int fd, int cmd, ...) __attribute__((alias("fcntl64")));

EXPORT off_t lseek64(int fd, off_t off, int whence)
{
	return zc_real.lseek64 ? zc_real.lseek64(fd, off, whence) : syscall(SYS_lseek, fd, off, whence);
}

EXPORT off_t lseek(int fd, off_t off, int whence) __attribute__((alias("lseek64")));

EXPORT int socket(int d, int t, int p)
{
	int r = zc_real.socket(d, t, p);
	if (zc_active()) fresh(r);
	return r;
}

EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *al, int fl)
{
	int r = zc_real.accept4(fd, a, al, fl);
	if (zc_active()) fresh(r);
	return r;
}

EXPORT int accept(int fd, struct sockaddr *a, socklen_t *al)
{
	return accept4(fd, a, al, 0);
}

EXPORT int pipe2(int fds[2], int fl)
{
	int r = zc_real.pipe2(fds, fl);
	if (zc_active() && r == 0) fresh(fds[0]), fresh(fds[1]);
	return r;
}

EXPORT int pipe(int fds[2])
{
	return pipe2(fds, 0);
}

EXPORT int socketpair(int d, int t, int p, int sv[2])
{
	int r = zc_real.socketpair(d, t, p, sv);
	if (zc_active() && r == 0) fresh(sv[0]), fresh(sv[1]);
	return r;
}

/* exec_env — the environment for the new image: without the shim in LD_PRELOAD when inherit = off. */
static char *const *exec_env(char *const *envp, char **out, size_t cap, char *preload, size_t plen)
{
	if (zc_cfg.inherit || !envp) return envp;
	size_t n = 0;
	for (char *const *e = envp; *e && n + 1 < cap; e++) {
		if (strncmp(*e, "LD_PRELOAD=", 11)) {
			out[n++] = *e;
			continue;
		}
		/* keep every other preloaded library, drop ours */
		size_t k = (size_t)zc_log_format(preload, plen, "LD_PRELOAD=");
		const char *p = *e + 11;
		while (*p) {
			size_t len = strcspn(p, ": ");
			if (!memmem(p, len, "libzcshim", 9) && k + len + 2 < plen) {
				if (k > 11) preload[k++] = ':';
				memcpy(preload + k, p, len), k += len;
			}
			p += len;
			while (*p == ':' || *p == ' ') p++;
		}
		preload[k] = 0;
		out[n++] = preload;
	}
	out[n] = NULL;
	return out;
}

/* before_exec — leases go back: their signal would reach no thread in the new image. */
static void before_exec(void)
{
	if (!zc_active()) return;
	int saved = errno;
	enter();
	zc_lease_release_all();
	/* the new image reuses the pid: keep this one's counters apart (a fork+exec child has none) */
	for (int i = 0; i < ZC_NCOUNTERS; i++)
		if (zc_stats->v[i]) {
			zc_stats_dump(".exec");
			break;
		}
	leave();
	errno = saved;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	char *env[1024], preload[4096];
	before_exec();
	return zc_real.execve(path, argv, exec_env(envp, env, 1024, preload, sizeof preload));
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	char *env[1024], preload[4096];
	before_exec();
	return zc_real.execvpe(file, argv, exec_env(envp, env, 1024, preload, sizeof preload));
}

EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* collect_args — the variadic exec forms' arguments as an array (at most 4096). */
#define COLLECT_ARGS(arg0, ap, argv)                                   \
	do {                                                               \
		int n_ = 0;                                                    \
		argv[n_++] = (char *)(arg0);                                   \
		while (n_ < 4095 && (argv[n_] = va_arg(ap, char *)) != NULL) n_++; \
		argv[n_] = NULL;                                               \
	} while (0)

EXPORT int execl(const char *path, const char *arg, ...)
{
	char *argv[4096];
	va_list ap;
	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execve(path, argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	char *argv[4096];
	va_list ap;
	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execvpe(file, argv, environ);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	char *argv[4096];
	va_list ap;
	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}
