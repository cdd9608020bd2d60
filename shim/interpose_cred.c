/* interpose_cred.c — keep_cap_lease: a root process that changes its user id (setuid, seteuid,
 * setreuid, setresuid) keeps CAP_LEASE alone in the calling thread, so a worker that dropped root
 * can still take the read leases the shim needs on files it can open. Off by default; then every
 * call goes straight to libc.
 *
 * What the kernel does at a change of user id (capabilities(7), cap_emulate_setxuid): when one of
 * the real, effective and saved ids was 0 and none is after the call, the permitted, effective and
 * ambient sets are cleared, unless the thread set PR_SET_KEEPCAPS (then permitted survives); when
 * only the effective id leaves 0, the effective set is cleared and permitted kept. Inheritable and
 * the bounding set are never touched. With keep_cap_lease = on, and a thread that holds CAP_LEASE
 * in its permitted set with one of its user ids 0:
 *
 * - all ids leave 0 (setuid(65534) as root, setresuid(u, u, u)): keepcaps is set just before the
 *   call and cleared right after it; on success permitted and effective become {CAP_LEASE}.
 *   Ambient stays as the kernel left it (empty), inheritable and bounding as they were.
 * - only the effective id leaves 0 (seteuid(u), setreuid(-1, u)): permitted keeps everything, as
 *   the kernel leaves it (the program may go back to root and must get all of it back); effective
 *   becomes {CAP_LEASE} instead of empty.
 *
 * Nothing is done when the program manages capabilities itself (keepcaps or SECBIT_NO_SETUID_FIXUP
 * already set), when capset is refused here (probed with a no-op capset first: an LSM may forbid
 * it, and a refusal after a kept drop would leave the whole root permitted set behind), or when
 * keepcaps cannot be set (SECBIT_KEEP_CAPS_LOCKED).
 *
 * Capabilities belong to threads. glibc runs the set*id system call in every thread of the process
 * (SIGSETXID, the other threads first, the caller last); only the calling thread had keepcaps, so
 * every other thread loses every capability, as without the shim (counted: cap_lease_threads_lost).
 * Threads created afterwards by the calling thread inherit its CAP_LEASE. This includes the shim's
 * own lease thread when the first lease comes after the drop (nginx's workers); one started before
 * it (the process leased a file while still root) loses CAP_LEASE like any other thread, and
 * F_SETLEASE F_UNLCK needs it too: after a drop that kept CAP_LEASE a new lease thread is started
 * from the calling thread and takes over every held lease (zc_lease_new_thread).
 *
 * setfsuid is not wrapped: a change of the filesystem uid drops only the file-access capabilities
 * (CAP_FS_MASK) from the effective set, never CAP_LEASE; glibc does not broadcast it either.
 *
 * The program sees the real call's return value and errno; the shim's own system calls around it
 * save and restore errno. */
#include "interpose.h"
#include "config.h"
#include "guard.h"
#include "lease.h"
#include "log.h"
#include "real.h"
#include "stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>

/* NEXT — zc_real.name, else resolved now (a call from another preload's constructor). */
#define NEXT(name)                                                                       \
	({                                                                                   \
		zc_real_##name##_t f_ = __atomic_load_n(&zc_real.name, __ATOMIC_ACQUIRE);        \
		if (!f_) f_ = (zc_real_##name##_t)zc_real_next(#name);                           \
		f_;                                                                              \
	})

#define LEASE_BIT (1u << CAP_LEASE) /* CAP_LEASE is 28: in the first 32-bit word */

/* caps — the calling thread's three sets, as capget/capset take them (version 3: two words). */
struct caps {
	struct __user_cap_data_struct d[2];
};

static int cap_get(struct caps *c)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	return (int)syscall(SYS_capget, &h, c->d);
}

static int cap_set(const struct caps *c)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	return (int)syscall(SYS_capset, &h, c->d);
}

/* plan — what keep_before decided for one call. */
struct plan {
	int act;         /* keepcaps was set: keep_after must finish the job and clear it */
	struct caps old; /* the sets before the call */
};

/* keep_before — is this a root thread holding CAP_LEASE whose capabilities the kernel may drop?
 * If so, set keepcaps (its permitted set survives the call; keep_after reduces it). */
static void keep_before(struct plan *p)
{
	uid_t r, e, s;
	p->act = 0;
	if (syscall(SYS_getresuid, &r, &e, &s) < 0 || (r && e && s)) return; /* not root: nothing to lose */
	if (cap_get(&p->old) < 0 || !(p->old.d[0].permitted & LEASE_BIT)) return;
	long bits = syscall(SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (bits < 0 || (bits & (SECBIT_KEEP_CAPS | SECBIT_NO_SETUID_FIXUP))) return; /* the program's own plan */
	if (cap_set(&p->old) < 0 || syscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
		zc_count(ZC_cap_lease_failed, 1);
		ZC_LOG_ONCE(ZC_LOG_WARN, "keep_cap_lease: cannot keep CAP_LEASE across a change of user id (errno %d); "
			    "the program keeps what the kernel leaves it", errno);
		return;
	}
	p->act = 1;
}

/* other_threads — threads of this process but the caller (each ran the call without keepcaps). */
static int other_threads(void)
{
	char buf[4096];
	int n = 0, fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) return 0;
	long got;
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
		for (long off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			if (d->d_name[0] != '.') n++;
			off += d->d_reclen;
		}
	zc_raw_close(fd);
	return n > 0 ? n - 1 : 0;
}

/* keep_after — after the real call (ok: it succeeded): reduce the calling thread to CAP_LEASE and
 * clear keepcaps again. A failed call changed nothing, so only keepcaps goes back. */
static void keep_after(struct plan *p, int ok)
{
	uid_t r, e, s;
	if (!p->act) return;
	if (ok && syscall(SYS_getresuid, &r, &e, &s) == 0 && e) {
		struct caps c = p->old;
		int permanent = r && e && s;
		c.d[0].effective = LEASE_BIT, c.d[1].effective = 0;
		if (permanent) c.d[0].permitted = LEASE_BIT, c.d[1].permitted = 0;
		if (cap_set(&c) == 0) {
			zc_count(ZC_cap_lease_kept, 1);
			zc_lease_new_thread(); /* one started before the drop lost CAP_LEASE with it */
		} else {
			/* never leave the root permitted set behind: what the kernel would have left */
			int err = errno;
			c.d[0].effective = 0;
			if (permanent) c.d[0].permitted = 0;
			int rc = cap_set(&c);
			zc_count(ZC_cap_lease_failed, 1);
			zc_log(rc == 0 || !permanent ? ZC_LOG_WARN : ZC_LOG_ERROR,
			       "keep_cap_lease: capset refused after a change of user id (errno %d)%s", err,
			       rc == 0 || !permanent ? "; no capability kept" : "; the permitted set could not be cleared");
		}
		zc_count(ZC_cap_lease_threads_lost, (uint64_t)other_threads());
	}
	syscall(SYS_prctl, PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

/* WRAP — the wrapper body: straight through when off, or when the call asks for effective uid 0
 * (nothing is dropped), else around keep_before/keep_after. The raw system call stands in for libc
 * only before resolution (no thread to broadcast to yet). */
#define WRAP(name, euid, call_args, sys_args)                                               \
	do {                                                                                    \
		zc_real_##name##_t f = NEXT(name);                                                  \
		if (!zc_cfg.keep_cap_lease || (euid) == 0)                                          \
			return f ? f call_args : (int)syscall sys_args;                                 \
		int saved = errno;                                                                  \
		struct plan p;                                                                      \
		keep_before(&p);                                                                    \
		errno = saved;                                                                      \
		int rc = f ? f call_args : (int)syscall sys_args;                                   \
		saved = errno;                                                                      \
		keep_after(&p, rc == 0);                                                            \
		errno = saved;                                                                      \
		return rc;                                                                          \
	} while (0)

EXPORT int setuid(uid_t uid)
{
	WRAP(setuid, uid, (uid), (SYS_setuid, uid));
}

EXPORT int seteuid(uid_t euid)
{
	WRAP(seteuid, euid, (euid), (SYS_setresuid, -1, euid, -1));
}

EXPORT int setreuid(uid_t ruid, uid_t euid)
{
	WRAP(setreuid, euid, (ruid, euid), (SYS_setreuid, ruid, euid));
}

EXPORT int setresuid(uid_t ruid, uid_t euid, uid_t suid)
{
	WRAP(setresuid, euid, (ruid, euid, suid), (SYS_setresuid, ruid, euid, suid));
}

/* chroot — a server that chroots (vsftpd's sessions) loses /proc, which the guard needs, and maybe
 * the stats file's directory: both are opened first, while the process can still reach them. */
EXPORT int chroot(const char *path)
{
	if (zc_active()) {
		int saved = errno;
		enter();
		zc_raw_clone_check();
		zc_guard_before_chroot();
		zc_stats_before_chroot();
		leave();
		errno = saved;
	}
	zc_real_chroot_t f = NEXT(chroot);
	return f ? f(path) : (int)syscall(SYS_chroot, path);
}

/* before_nproc — a program that lowers RLIMIT_NPROC (vsftpd's sessions set it to 0) can create no
 * thread afterwards: the shim's lease and fault threads are started first, as they would be at its
 * first lease and first deferred read. */
static void before_nproc(const void *limit, pid_t pid)
{
	if (!limit || (pid && pid != zc_raw_getpid()) || !zc_active() || zc_cfg.mode == ZC_MODE_OFF) return;
	int saved = errno;
	enter();
	zc_lease_prestart();
	zc_guard_prestart();
	leave();
	errno = saved;
}

/* The rlimit calls come before anything is set up too: the sanitizers' runtime sets RLIMIT_CORE
 * while it starts, before its shadow memory exists. Other resources go straight to the next
 * definition, or to the system call; nothing instrumented runs on that path. */
#define EARLY __attribute__((no_sanitize("address", "undefined")))
#define NEXT_OR(name) __atomic_load_n(&zc_real.name, __ATOMIC_ACQUIRE)

EARLY EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit *limit)
{
	if (resource == RLIMIT_NPROC) before_nproc(limit, 0);
	zc_real_setrlimit_t f = NEXT_OR(setrlimit);
	return f ? f(resource, limit) : (int)syscall(SYS_prlimit64, 0, resource, limit, NULL);
}

EARLY EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *limit)
{
	if (resource == RLIMIT_NPROC) before_nproc(limit, 0);
	zc_real_setrlimit64_t f = NEXT_OR(setrlimit64);
	return f ? f(resource, limit) : (int)syscall(SYS_prlimit64, 0, resource, limit, NULL);
}

EARLY EXPORT int prlimit(pid_t pid, enum __rlimit_resource resource, const struct rlimit *limit, struct rlimit *old)
{
	if (resource == RLIMIT_NPROC) before_nproc(limit, pid);
	zc_real_prlimit_t f = NEXT_OR(prlimit);
	return f ? f(pid, resource, limit, old) : (int)syscall(SYS_prlimit64, pid, resource, limit, old);
}

EARLY EXPORT int prlimit64(pid_t pid, enum __rlimit_resource resource, const struct rlimit64 *limit, struct rlimit64 *old)
{
	if (resource == RLIMIT_NPROC) before_nproc(limit, pid);
	zc_real_prlimit64_t f = NEXT_OR(prlimit64);
	return f ? f(pid, resource, limit, old) : (int)syscall(SYS_prlimit64, pid, resource, limit, old);
}
