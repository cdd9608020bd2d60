/* state.c — the few process-wide variables every layer reads (see shim.h). */
#include "shim.h"

#include <errno.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/uio.h>

int zc_on;
__thread int zc_depth;
__thread pid_t zc_tid_cache;
size_t zc_min_record;

/* zc_high_fd — near the top of the soft descriptor limit, where a program's next open never lands. */
int zc_high_fd(int fd)
{
	struct rlimit rl;
	long base = 900;
	if (syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 128)
		base = (long)rl.rlim_cur - 64;
	int high = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base);
	if (high < 0) return fd; /* keep the low one rather than lose it */
	syscall(SYS_close, fd);
	return high;
}

/* zc_copy_in — through the kernel, so a bad pointer is an error and never a fault in the shim. */
int zc_copy_in(void *dst, const void *src, size_t n)
{
	struct iovec l = {dst, n}, r = {(void *)src, n};
	if (!n) return 0;
	return syscall(SYS_process_vm_readv, (pid_t)syscall(SYS_getpid), &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}
