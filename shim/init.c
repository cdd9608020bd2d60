/* init.c — the constructor: resolve, configure, register fork handlers; the destructor dumps stats. */
#include "config.h"
#include "detect.h"
#include "fdtab.h"
#include "guard.h"
#include "interpose.h"
#include "lease.h"
#include "mapping.h"
#include "log.h"
#include "policy.h"
#include "real.h"
#include "rewrite.h"
#include "shim.h"
#include "stats.h"
#include "wgate.h"

#include <linux/kcmp.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/auxv.h>


extern char **environ;


static pid_t self_pid; /* the process the shim's state belongs to */

/* child — fresh counters, free locks, leases that belong to the parent. */
static void child(void)
{
	zc_tid_cache = 0;
	zc_pid_cache = 0;
	self_pid = (pid_t)zc_raw_getpid();
	int torn = zc_fdtab_atfork_child();
	zc_detect_atfork_child();
	zc_map_atfork_child();
	zc_guard_atfork_child();
	zc_stats_reset();
	zc_lease_atfork_child(torn);
	zc_exec_atfork_child();
	zc_wgate_atfork_child();
}

/* zc_raw_clone_check — a child made by a raw clone system call (vsftpd's sessions) ran no fork
 * handler and shares its parent's counters, caches and lease thread id: asked where such a child
 * announces itself (chroot, _exit), it is then treated as a forked child. 1: it was one. */
int zc_raw_clone_check(void)
{
	pid_t me = (pid_t)zc_raw_getpid();
	if (me == self_pid) return 0;
	/* a vfork child (or a clone with CLONE_VM) shares its parent's memory: resetting the shim's
	 * state there would reset the parent's, whose threads are still at work */
	if (syscall(SYS_kcmp, me, (pid_t)syscall(SYS_getppid), KCMP_VM, 0, 0) == 0) return 0;
	child();
	return 1;
}

int zc_borrowed_state(void)
{
	return (pid_t)zc_raw_getpid() != self_pid;
}

/* open_log — log_file opened once (safely, see zc_log_open_file), moved to a high close-on-exec
 * descriptor; stderr, with one line saying why, when it cannot be used. */
static int open_log(const char *path)
{
	int fd = zc_log_open_file(path, 0, 1);
	if (fd >= 0) return zc_high_fd(fd);
	zc_log(ZC_LOG_WARN, "cannot use log_file %s (errno %d: a symbolic link, FIFO or other user's file is refused); "
	       "logging to stderr", path, -fd);
	return 2;
}

/* load_config — outside secure-execution mode, the whole lookup order; in it (setuid, setgid, file
 * capabilities) the caller chose the environment and every path in it: only root's own system file. */
static void load_config(void)
{
	if (getauxval(AT_SECURE)) zc_config_load_secure(&zc_cfg, ZC_CONFIG_SYSTEM_FILE);
	else zc_config_load(&zc_cfg, environ, 2); /* read now: some servers clear their environment later */
}

__attribute__((constructor)) static void zc_init(void)
{
	zc_real_resolve();
	self_pid = (pid_t)zc_raw_getpid();
	zc_stats_init();
	zc_wgate_init();
	load_config();
	zc_log_set(zc_cfg.log_level, zc_cfg.log_file[0] ? open_log(zc_cfg.log_file) : 2);
	zc_lease_on_break(zc_detect_drop_fd); /* a broken lease ends the file's records */
	zc_lease_on_tick(zc_map_expire);      /* mapped files' idle descriptors go after a while */
	if (zc_cfg.mode != ZC_MODE_OFF || zc_cfg.stats_file[0]) zc_stats_publish();
	/* a read smaller than every destination's threshold can never be rewritten: no record */
	long m = zc_policy_min_bytes(ZC_FD_TCP), p = zc_policy_min_bytes(ZC_FD_PIPE), f = zc_policy_min_bytes(ZC_FD_FILE);
	m = p < m ? p : m;
	zc_min_record = (size_t)(f < m ? f : m);
	if (zc_min_record < 4096) zc_min_record = 4096; /* below a page there is no interior to guard */
	if (zc_cfg.mode == ZC_MODE_DEFERRED || zc_cfg.mode == ZC_MODE_AUTO) {
		zc_guard_enable_defer();
		zc_mem_align_setup();
		/* deferred buffers are filled before a fork copies them (no lock is held across it) */
		pthread_atfork(zc_detect_before_fork, zc_detect_after_fork, child);
	} else {
		pthread_atfork(NULL, NULL, child); /* no lock across fork: see fdtab.c */
	}
	__atomic_store_n(&zc_on, 1, __ATOMIC_RELEASE);
	zc_log(ZC_LOG_DEBUG, "loaded, mode %d", zc_cfg.mode);
}

__attribute__((destructor)) static void zc_fini(void)
{
	zc_depth++;
	zc_detect_fill_all(); /* a later destructor may still look at a deferred buffer: with the lease's bytes */
	zc_lease_release_all(); /* a dup or a child may keep the file open: nobody would answer a break */
	zc_depth--;
	zc_stats_dump("");
}
