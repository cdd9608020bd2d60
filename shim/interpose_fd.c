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

/* gone — the number fd is about to stop naming what we knew: records, lease mark, table entry
 * (deferred reads of it finish first; none begins until settled()). */
static void gone(int fd)
{
	enter();
	zc_fdtab_repoint_begin(fd);
	zc_detect_drop_fd(fd);
	zc_lease_closing(fd);
	zc_fdtab_forget(fd);
	leave();
}

/* fresh — a number the kernel just handed out: nothing known about it can be old. */
static void fresh(int fd)
{
	if (fd < 0) return;
	enter();
	zc_detect_drop_fd(fd); /* a number closed behind our back: its deferred buffers get their bytes */
	zc_fdtab_forget(fd);
	leave();
}

/* settled — after the close or dup2 gone() announced: fresh, and deferred reads may begin again. */
static void settled(int fd)
{
	fresh(fd);
	zc_fdtab_repoint_end(fd);
}

EXPORT int close(int fd)
{
	if (!zc_active()) return zc_real.close ? zc_real.close(fd) : (int)zc_raw_close(fd);
	if (zc_is_own_fd(fd)) return errno = EBADF, -1; /* not the program's: closed as if never opened */
	int saved = errno;
	gone(fd);
	errno = saved;
	int r = zc_real.close(fd);
	saved = errno;
	settled(fd); /* a classification raced in between */
	errno = saved;
	return r;
}

static int real_close_range(unsigned lo, unsigned hi, int flags)
{
	return zc_real.close_range ? zc_real.close_range(lo, hi, flags) : (int)syscall(SYS_close_range, lo, hi, flags);
}

EXPORT int close_range(unsigned int lo, unsigned int hi, int flags)
{
	if (!zc_active()) return real_close_range(lo, hi, flags);
	int closing = !(flags & CLOSE_RANGE_CLOEXEC);
	if (closing) {
		enter();
		zc_fdtab_repoint_range_begin(lo, hi); /* deferred reads in the range finish first */
		for (unsigned fd = lo; fd <= hi && fd < 4096; fd++) zc_detect_drop_fd((int)fd);
		zc_fdtab_forget_range(lo, hi);
		leave();
	}
	/* around the shim's own descriptors: a daemon closing "everything" keeps its counters and guard */
	int mine[96], n = zc_own_fds_in(lo, hi, mine, 96), r = 0;
	unsigned from = lo;
	for (int k = 0; k < n && r == 0; k++) {
		if ((unsigned)mine[k] > from) r = real_close_range(from, (unsigned)mine[k] - 1, flags);
		from = (unsigned)mine[k] + 1;
	}
	if (r == 0 && from <= hi && from != 0) r = real_close_range(from, hi, flags);
	if (closing) zc_fdtab_repoint_range_end();
	return r;
}

/* The raw system calls below stand in for the real functions before the constructor ran
 * (another preload's constructor): zc_real is empty then. */

EXPORT int dup(int fd)
{
	int r = zc_real.dup ? zc_real.dup(fd) : (int)syscall(SYS_dup, fd);
	if (zc_active()) fresh(r);
	return r;
}

/* raw_dup2 — dup2 by system call: dup3 refuses old == new, dup2 then only checks old. */
static int raw_dup2(int old, int new)
{
	if (old == new) return (int)syscall(SYS_fcntl, old, F_GETFD) < 0 ? -1 : new;
	return (int)syscall(SYS_dup3, old, new, 0);
}

EXPORT int dup2(int old, int new)
{
	if (zc_active() && old != new) gone(new);
	int r = zc_real.dup2 ? zc_real.dup2(old, new) : raw_dup2(old, new);
	if (zc_active() && old != new) settled(new);
	return r;
}

EXPORT int dup3(int old, int new, int flags)
{
	if (zc_active() && old != new) gone(new);
	int r = zc_real.dup3 ? zc_real.dup3(old, new, flags) : (int)syscall(SYS_dup3, old, new, flags);
	if (zc_active() && old != new) settled(new);
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
	int r = zc_real.socket ? zc_real.socket(d, t, p) : (int)syscall(SYS_socket, d, t, p);
	if (zc_active()) fresh(r);
	return r;
}

EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *al, int fl)
{
	int r = zc_real.accept4 ? zc_real.accept4(fd, a, al, fl) : (int)syscall(SYS_accept4, fd, a, al, fl);
	if (zc_active()) fresh(r);
	return r;
}

EXPORT int accept(int fd, struct sockaddr *a, socklen_t *al)
{
	int r = zc_real.accept ? zc_real.accept(fd, a, al) : (int)syscall(SYS_accept4, fd, a, al, 0);
	if (zc_active()) fresh(r);
	return r;
}

EXPORT int pipe2(int fds[2], int fl)
{
	int r = zc_real.pipe2 ? zc_real.pipe2(fds, fl) : (int)syscall(SYS_pipe2, fds, fl);
	if (zc_active() && r == 0) fresh(fds[0]), fresh(fds[1]);
	return r;
}

EXPORT int pipe(int fds[2])
{
	int r = zc_real.pipe ? zc_real.pipe(fds) : (int)syscall(SYS_pipe2, fds, 0);
	if (zc_active() && r == 0) fresh(fds[0]), fresh(fds[1]);
	return r;
}

EXPORT int socketpair(int d, int t, int p, int sv[2])
{
	int r = zc_real.socketpair ? zc_real.socketpair(d, t, p, sv) : (int)syscall(SYS_socketpair, d, t, p, sv);
	if (zc_active() && r == 0) fresh(sv[0]), fresh(sv[1]);
	return r;
}

