/* lease.c — F_SETLEASE read leases; breaks arrive on a real-time signal at the shim's lease thread. */
#include "lease.h"
#include "config.h"
#include "fdtab.h"
#include "log.h"
#include "real.h"
#include "shim.h"
#include "stats.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <linux/sockios.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pid_t lease_tid;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int ready_flag;
static void (*on_break)(int fd); /* set once in the constructor */
static int (*on_tick)(void);      /* idle work of another layer (mapping.c); returns "tick again" */
static int untrusted;             /* a child whose descriptor table was lost at fork */

/* A leased source the program closed while data sent from it was still queued: our duplicate keeps
 * the lease (and the break signal names it) until the destinations drain. */
#define KEEPERS 64
struct keeper {
	int fd; /* ours, high and close-on-exec; -1: free */
	int dsts[ZC_FD_DSTS];
	long waited_ms;
};
static struct keeper keepers[KEEPERS] = {[0 ... KEEPERS - 1] = {.fd = -1}};
static int nkeepers;
static pthread_mutex_t keep_lock = PTHREAD_MUTEX_INITIALIZER;

void zc_lease_on_break(void (*fn)(int fd))
{
	on_break = fn;
}

void zc_lease_on_tick(int (*fn)(void))
{
	on_tick = fn;
}

static int ticking; /* on_tick asked for another tick */

/* zc_lease_wake — the lease thread ticks (every 50 ms, 5 with keepers) until on_tick says there is nothing left;
 * 0: there is no lease thread in this process (nothing will tick). */
int zc_lease_wake(void)
{
	pid_t t = __atomic_load_n(&lease_tid, __ATOMIC_ACQUIRE);
	if (!t || !__atomic_load_n(&ready_flag, __ATOMIC_ACQUIRE)) return 0;
	if (!__atomic_exchange_n(&ticking, 1, __ATOMIC_ACQ_REL)) syscall(SYS_tgkill, zc_raw_getpid(), t, zc_cfg.lease_signal);
	return 1;
}

/* sleep_ms — nanosleep without touching the program's signal state. */
static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	syscall(SYS_nanosleep, &ts, NULL);
}

/* queued — bytes sent but not yet gone: a socket's send queue, a pipe's unread bytes. A regular
 * file has none (copy_file_range and sendfile to a file are done when they return). A destination
 * the program closed has no entry any more: nothing to ask (its number may name another file now,
 * and classifying it here raced the owner's reopen: a stale entry sent one file for another). */
static int queued(int dst)
{
	int q = 0, kind = zc_fdtab_known_kind(dst);
	if (kind == ZC_FD_TCP || kind == ZC_FD_UNIX) return ioctl(dst, SIOCOUTQ, &q) == 0 && q > 0 ? q : 0;
	if (kind == ZC_FD_PIPE) return ioctl(dst, FIONREAD, &q) == 0 && q > 0 ? q : 0;
	return 0;
}

static int any_queued(const int *dsts)
{
	for (int k = 0; k < ZC_FD_DSTS; k++)
		if (dsts[k] >= 0 && queued(dsts[k])) return 1;
	return 0;
}

/* break_deadline_ms — release a little before the kernel's lease-break time runs out. Read once per
 * process (and again after fork): the keepers ask every 5 ms, an open+read+close each time cost a
 * server as much CPU as the transfers it saved. */
static long deadline_cache;
static long break_deadline_ms(void)
{
	long break_ms = 45000, d = __atomic_load_n(&deadline_cache, __ATOMIC_RELAXED);
	char txt[32];
	if (d) return d;
	int bf = (int)syscall(SYS_openat, AT_FDCWD, "/proc/sys/fs/lease-break-time", O_RDONLY | O_CLOEXEC);
	if (bf >= 0) {
		ssize_t n = zc_raw_read(bf, txt, sizeof txt - 1);
		zc_raw_close(bf);
		if (n > 0) txt[n] = 0, break_ms = atol(txt) * 1000;
	}
	d = break_ms > 2000 ? break_ms - 1000 : break_ms / 2;
	__atomic_store_n(&deadline_cache, d, __ATOMIC_RELAXED);
	return d;
}

/* undo — gives back what zc_lease_prepare set up: the lease, its signal, its owner. */
static void undo(int fd)
{
	struct f_owner_ex none = {F_OWNER_PID, 0};
	zc_raw_fcntl(fd, F_SETLEASE, F_UNLCK);
	zc_raw_fcntl(fd, F_SETSIG, 0);
	zc_raw_fcntl(fd, F_SETOWN_EX, &none);
}

/* service_keepers — releases the kept leases whose data has left (or whose time ran out, or all of
 * them with force); returns how many are still kept. */
static int service_keepers(int force)
{
	pthread_mutex_lock(&keep_lock);
	for (int k = 0; k < KEEPERS && nkeepers; k++) {
		struct keeper *kp = &keepers[k];
		if (kp->fd < 0) continue;
		if (!force && any_queued(kp->dsts) && kp->waited_ms < break_deadline_ms()) continue;
		undo(kp->fd);
		zc_close_own(kp->fd);
		kp->fd = -1;
		nkeepers--;
		zc_count(ZC_lease_released, 1);
	}
	int left = nkeepers;
	pthread_mutex_unlock(&keep_lock);
	return left;
}

/* is_keeper — fd is one of our duplicates holding a closed source's lease. */
static int is_keeper(int fd)
{
	int found = 0;
	pthread_mutex_lock(&keep_lock);
	for (int k = 0; k < KEEPERS && !found; k++) found = keepers[k].fd == fd;
	pthread_mutex_unlock(&keep_lock);
	return found;
}

/* handle_break — stop using the file, let rewrites in flight finish, drain, then give it back.
 * The descriptor number may be closed and reused meanwhile: its generation says whether the
 * entry is still the one whose lease broke (a reused number is none of our business). */
static void handle_break(int fd)
{
	struct zc_fd_info i;
	zc_count(ZC_lease_broken, 1);
	if (fd < 0 || is_keeper(fd)) return; /* kept: released by service_keepers once drained */
	if (zc_fdtab_get(fd, &i) < 0 || i.lease != ZC_LS_HELD) return;
	uint64_t gen = i.gen;
	zc_fdtab_set_lease(fd, gen, ZC_LS_BROKEN); /* no rewrite enters from now on; reads are plain */
	if (on_break) on_break(fd);
	long deadline = break_deadline_ms(), waited = 0;
	while (zc_fdtab_lease_inflight(fd, gen) && waited < deadline) sleep_ms(1), waited++;
	while (zc_fdtab_get(fd, &i) == 0 && i.gen == gen && any_queued(i.dsts) && waited < deadline) sleep_ms(1), waited++;
	if (zc_fdtab_get(fd, &i) == 0 && i.gen == gen && zc_raw_fcntl(fd, F_SETLEASE, F_UNLCK) == 0)
		zc_count(ZC_lease_released, 1);
	/* else the program closed it: zc_lease_closing released it or handed it to a keeper */
	zc_log(ZC_LOG_INFO, "lease on fd %d broken; released after %ld ms", fd, waited);
}

static int handed = -1; /* a break the replaced lease thread received, for the new one */

/* hand_over_break — the replaced thread's last break: the new thread handles it (it has CAP_LEASE). */
static void hand_over_break(int fd)
{
	pid_t t;
	__atomic_store_n(&handed, fd, __ATOMIC_RELEASE);
	for (int i = 0; i < 10000 && !(t = __atomic_load_n(&lease_tid, __ATOMIC_ACQUIRE)); i++) sched_yield();
	if (t) syscall(SYS_tgkill, zc_raw_getpid(), t, zc_cfg.lease_signal);
}

/* lease_thread — waits for break signals; it blocks every signal so none of the program's lands here. */
static void *lease_thread(void *arg)
{
	sigset_t all, mine;
	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	sigemptyset(&mine);
	sigaddset(&mine, zc_cfg.lease_signal);
	pid_t me = (pid_t)zc_raw_gettid();
	__atomic_store_n(&lease_tid, me, __ATOMIC_RELEASE);
	for (;;) {
		siginfo_t si;
		struct timespec tick = {0, 5 * 1000000L}; /* kept leases are looked at every 5 ms */
		int kept = __atomic_load_n(&nkeepers, __ATOMIC_RELAXED);
		int tickle = __atomic_load_n(&ticking, __ATOMIC_ACQUIRE);
		/* idle work alone is not urgent: a tick every 5 ms cost a server 10% of its CPU */
		if (!kept) tick.tv_nsec = 50 * 1000000L;
		int sig = kept || tickle ? sigtimedwait(&mine, &si, &tick) : sigwaitinfo(&mine, &si);
		if (__atomic_load_n(&lease_tid, __ATOMIC_ACQUIRE) != me) {
			/* replaced (zc_lease_new_thread): a break that still came here goes to the new one */
			if (sig == zc_cfg.lease_signal && si.si_code > 0) hand_over_break(si.si_fd);
			return NULL;
		}
		int h = __atomic_exchange_n(&handed, -1, __ATOMIC_ACQ_REL);
		if (h >= 0) handle_break(h);
		/* a break comes from the kernel (si_code POLL_MSG > 0); our own wake-up, or anyone's kill, does not */
		if (sig == zc_cfg.lease_signal && si.si_code > 0) handle_break(si.si_fd);
		if (kept) {
			pthread_mutex_lock(&keep_lock);
			for (int k = 0; k < KEEPERS; k++)
				if (keepers[k].fd >= 0) keepers[k].waited_ms += 5;
			pthread_mutex_unlock(&keep_lock);
			service_keepers(0);
		}
		if (tickle && on_tick) {
			__atomic_store_n(&ticking, 0, __ATOMIC_RELEASE);
			if (on_tick()) __atomic_store_n(&ticking, 1, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

/* start — creates the lease thread once per process. */
static void start(void)
{
	pthread_t t;
	pthread_attr_t a;
	sigset_t all, old;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 * 1024);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the new thread starts with everything blocked */
	int rc = pthread_create(&t, &a, lease_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (rc) {
		zc_log(ZC_LOG_WARN, "cannot start the lease thread (error %d); files will not be leased", rc);
		return;
	}
	while (!__atomic_load_n(&lease_tid, __ATOMIC_ACQUIRE)) sched_yield();
	__atomic_store_n(&ready_flag, 1, __ATOMIC_RELEASE);
}

/* reown — a held lease's break signal goes to the lease thread that is now. */
static void reown(struct zc_fd_info *i, void *arg)
{
	struct f_owner_ex owner = {F_OWNER_TID, *(pid_t *)arg};
	if (i->lease == ZC_LS_HELD) zc_raw_fcntl(i->fd, F_SETOWN_EX, &owner);
}

/* zc_lease_new_thread — the calling thread kept CAP_LEASE through a change of user id; the lease
 * thread did not (a thread keeps it only where keep_cap_lease ran), and F_SETLEASE F_UNLCK needs it
 * as much as F_RDLCK does: without it a break would be answered only when the lease-break time ran
 * out. A new lease thread is started from here, where it inherits CAP_LEASE, every held lease's
 * signal is routed to it, and the old one exits at its next wake-up. */
void zc_lease_new_thread(void)
{
	pid_t old = __atomic_load_n(&lease_tid, __ATOMIC_ACQUIRE);
	if (!old || !__atomic_load_n(&ready_flag, __ATOMIC_ACQUIRE)) return; /* none yet: the first lease starts one here */
	__atomic_store_n(&ready_flag, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&lease_tid, 0, __ATOMIC_RELEASE);
	start();
	pid_t now = __atomic_load_n(&lease_tid, __ATOMIC_ACQUIRE);
	if (!now) return; /* no thread could be made: breaks wait for the lease-break time, as before */
	zc_fdtab_each(reown, &now);
	pthread_mutex_lock(&keep_lock);
	struct f_owner_ex owner = {F_OWNER_TID, now};
	for (int k = 0; k < KEEPERS; k++)
		if (keepers[k].fd >= 0) zc_raw_fcntl(keepers[k].fd, F_SETOWN_EX, &owner);
	pthread_mutex_unlock(&keep_lock);
	syscall(SYS_tgkill, zc_raw_getpid(), old, zc_cfg.lease_signal); /* the old one: wake up and go */
	zc_log(ZC_LOG_INFO, "lease thread %d replaced by %d after a change of user id (CAP_LEASE kept)", (int)old, (int)now);
}

/* zc_lease_prestart — the lease thread now, while one can still be created. */
void zc_lease_prestart(void)
{
	if (zc_cfg.lease != ZC_LEASE_OFF && !untrusted) pthread_once(&once, start);
}

/* zc_lease_prepare — first read from a source: ask for a read lease routed to our thread. */
int zc_lease_prepare(int fd, uint64_t gen, int state)
{
	if (state != ZC_LS_NONE && state != ZC_LS_BUSY) return state;
	if (zc_cfg.lease == ZC_LEASE_OFF) state = ZC_LS_NOT_NEEDED;
	else if (untrusted) state = ZC_LS_INHERITED;
	else {
		pthread_once(&once, start);
		struct f_owner_ex owner = {F_OWNER_TID, lease_tid};
		state = ZC_LS_DENIED;
		if (ready_flag && zc_raw_fcntl(fd, F_SETSIG, zc_cfg.lease_signal) == 0 &&
		    zc_raw_fcntl(fd, F_SETOWN_EX, &owner) == 0) {
			if (zc_raw_fcntl(fd, F_SETLEASE, F_RDLCK) == 0) state = ZC_LS_HELD;
			else if (errno == EAGAIN) state = ZC_LS_BUSY; /* a writer has it open now: ask again later */
			else zc_log(ZC_LOG_INFO, "no read lease on fd %d (errno %d)", fd, errno);
		}
		zc_count(state == ZC_LS_HELD ? ZC_lease_granted : state == ZC_LS_BUSY ? ZC_lease_busy : ZC_lease_denied, 1);
		if (state == ZC_LS_DENIED)
			ZC_LOG_ONCE(ZC_LOG_INFO, "a read lease was denied (errno %d): files without one are not rewritten; "
				    "grant CAP_LEASE (systemd AmbientCapabilities=CAP_LEASE, or setpriv --inh-caps +lease --ambient-caps +lease), "
				    "serve files the process owns, or set lease = prefer", errno);
	}
	struct stat st;
	/* a read lease is granted only while nobody has the file open for writing, and any open for
	 * writing or truncation breaks it first: its size stays this while it is held (0 if unknown:
	 * then no read is deferred) */
	if (state == ZC_LS_HELD) zc_fdtab_set_held(fd, gen, syscall(SYS_fstat, fd, &st) == 0 ? st.st_size : 0);
	else zc_fdtab_set_lease(fd, gen, state);
	return state;
}

int zc_lease_predict(int fd, uint64_t gen, int state)
{
	static __thread struct { int fd; uint64_t gen; int state; } last = {-1, 0, 0}; /* a copy loop's source */
	struct stat st;
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct c[2] = {{0}};
	if (state != ZC_LS_NONE && state != ZC_LS_BUSY) return state;
	if (zc_cfg.lease == ZC_LEASE_OFF) return ZC_LS_NOT_NEEDED;
	if (untrusted) return ZC_LS_INHERITED;
	if (last.fd == fd && last.gen == gen) return last.state;
	state = ZC_LS_DENIED;
	if (syscall(SYS_fstat, fd, &st) == 0 && st.st_uid == geteuid()) state = ZC_LS_HELD;
	/* the effective set, as F_SETLEASE checks it (CAP_LEASE is 28: the first word) */
	else if (syscall(SYS_capget, &h, c) == 0 && (c[0].effective & (1u << CAP_LEASE))) state = ZC_LS_HELD;
	last.fd = fd, last.gen = gen, last.state = state;
	return state;
}

/* zc_lease_hand_over — the descriptor's lease, signal and owner become the program's business. */
void zc_lease_hand_over(int fd)
{
	struct zc_fd_info i;
	if (zc_fdtab_get(fd, &i) < 0 || i.kind != ZC_FD_FILE) return;
	zc_fdtab_set_lease(fd, i.gen, ZC_LS_PROGRAM); /* no new rewrite from it */
	if (i.lease == ZC_LS_HELD) {
		while (zc_fdtab_lease_inflight(fd, i.gen)) sched_yield();
		if (on_break) on_break(fd);
		undo(fd);
		zc_count(ZC_lease_released, 1);
	}
}

/* zc_lease_closing — the program closes a leased source. Its open file description may live on (a
 * dup, a forked child) and the lease with it, with nobody to answer a break: release it now when
 * nothing sent from it is queued, else keep a duplicate that holds it until the data has left. */
void zc_lease_closing(int fd)
{
	struct zc_fd_info i;
	if (zc_fdtab_get(fd, &i) < 0 || i.kind != ZC_FD_FILE || i.lease != ZC_LS_HELD) return;
	zc_fdtab_set_lease(fd, i.gen, ZC_LS_BROKEN); /* no new rewrite from it */
	while (zc_fdtab_lease_inflight(fd, i.gen)) sched_yield();
	int keep = any_queued(i.dsts) ? zc_dup_high(fd) : -1; /* (no low duplicate closed: POSIX locks) */
	struct keeper *kp = NULL;
	if (keep >= 0) {
		pthread_mutex_lock(&keep_lock);
		for (int k = 0; k < KEEPERS && !kp; k++)
			if (keepers[k].fd < 0) kp = &keepers[k];
		/* the same lease asked through the duplicate: the break signal now names it */
		struct f_owner_ex owner = {F_OWNER_TID, lease_tid};
		if (kp && zc_raw_fcntl(keep, F_SETSIG, zc_cfg.lease_signal) == 0 && zc_raw_fcntl(keep, F_SETOWN_EX, &owner) == 0 &&
		    zc_raw_fcntl(keep, F_SETLEASE, F_RDLCK) == 0) {
			*kp = (struct keeper){.fd = keep};
			memcpy(kp->dsts, i.dsts, sizeof kp->dsts);
			__atomic_fetch_add(&nkeepers, 1, __ATOMIC_RELAXED);
			syscall(SYS_tgkill, zc_raw_getpid(), lease_tid, zc_cfg.lease_signal); /* wake it to tick */
		} else {
			kp = NULL;
		}
		pthread_mutex_unlock(&keep_lock);
	}
	if (kp) return;
	if (keep >= 0) undo(keep), zc_close_own(keep);
	undo(fd);
	zc_count(ZC_lease_released, 1);
}

/* give_back — one entry's lease returned before exec. */
static void give_back(struct zc_fd_info *i, void *arg)
{
	(void)arg;
	if (i->lease != ZC_LS_HELD) return;
	undo(i->fd); /* the new image must not see our thread as the owner either */
	i->lease = ZC_LS_NONE;
}

void zc_lease_release_all(void)
{
	zc_fdtab_each(give_back, NULL);
	service_keepers(1);
}

/* inherit — in a child, a lease held by the parent's thread guards nothing we can observe. */
static void inherit(struct zc_fd_info *i, void *arg)
{
	(void)arg;
	if (i->lease == ZC_LS_HELD) i->lease = ZC_LS_INHERITED;
}

/* torn: the descriptor table was lost at fork, so no descriptor of this child can be told from
 * one whose lease the parent holds: none is leased (nor rewritten under lease = require). */
void zc_lease_atfork_child(int torn)
{
	once = (pthread_once_t)PTHREAD_ONCE_INIT;
	lease_tid = 0;
	deadline_cache = 0;
	ticking = 0;
	handed = -1;
	ready_flag = 0;
	untrusted = torn;
	/* the keepers hold the parent's leases: never released from here; the lock may have been held */
	pthread_mutex_init(&keep_lock, NULL);
	for (int k = 0; k < KEEPERS; k++)
		if (keepers[k].fd >= 0) zc_close_own(keepers[k].fd), keepers[k].fd = -1;
	nkeepers = 0;
	zc_fdtab_each(inherit, NULL);
}
