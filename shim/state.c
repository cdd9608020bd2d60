/* state.c — the few process-wide variables every layer reads (see shim.h). */
#include "shim.h"

#include <fcntl.h>
#include <sys/resource.h>

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
