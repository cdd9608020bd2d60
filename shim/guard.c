/* guard.c — write detection with userfaultfd (UFFD_FEATURE_WP_ASYNC) and /proc/self/pagemap
 * PAGEMAP_SCAN (Linux 6.7+). Chosen by measurement over mprotect + SIGSEGV (README "How a touch is
 * detected"): cheaper per chunk, and no signal exists that a blocked mask, a program handler or a
 * lock could turn into a death or a deadlock. Where either is missing nothing is guarded, and so
 * nothing is rewritten (counted as fb_no_guard). */
#include "guard.h"
#include "config.h"
#include "fault.h"
#include "log.h"
#include "real.h"
#include "shim.h"
#include "stats.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

/* Debian 12's headers predate these (Linux 6.7 uapi: linux/userfaultfd.h, linux/fs.h). */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
/* what the guard asks of a userfaultfd (start), and what observe mode probes for */
#define WP_FEATURES (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
struct page_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

enum { G_UNKNOWN, G_STARTING, G_READY, G_NONE };
#define PAGE_SIZE_G 4096UL

static int gstate = G_UNKNOWN;
static int uffd = -1, pagemap = -1;
static int full;       /* kernel accesses wait for our fault thread (not user-mode-only): deferral possible */
static int want_defer; /* set before first use (zc_guard_enable_defer): register MISSING faults too */
static int pre_uffd = -1, pre_pagemap = -1; /* opened in a forked child while it was root (see below) */
static int pre_user_only;                     /* pre_uffd is a user-mode-only one */
static const char *mechanism = "none (not needed yet)";
/* the kernel reports unmaps, zaps and moves of registered ranges to the fault thread, which then
 * runs from the start (an event waits until it is read): deferred buffers need no probe */
#define EV_FEATURES (UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_REMAP)
static int events;

/* start — one userfaultfd in async write-protect mode and the pagemap to read it back. */
static int start(void)
{
	/* user-mode-only is all an unprivileged process may have; async faults never need more */
	int fd = pre_uffd, user_only = pre_user_only, pre = fd >= 0;
	if (pre) {
		pre_uffd = -1; /* made in the child while it was still root, or before a chroot */
		goto opened;
	}
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EPERM) fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY), user_only = 1;
	if (fd < 0) {
		mechanism = errno == ENOSYS ? "none (no userfaultfd in this kernel)" : "none (userfaultfd refused)";
		return -1;
	}
opened:;
	/* not without leases: nothing is deferred then, and no thread should start for nothing */
	int ev = want_defer && !user_only && zc_cfg.lease != ZC_LEASE_OFF;
	struct uffdio_api api = {.api = UFFD_API, .features = WP_FEATURES | (ev ? EV_FEATURES : 0)};
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		zc_raw_close(fd);
		mechanism = "none (kernel before 6.7: no asynchronous write-protection)";
		return -1;
	}
	int pm = pre_pagemap >= 0 ? pre_pagemap : (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	pre_pagemap = -1;
	if (pm < 0) {
		zc_raw_close(fd);
		mechanism = "none (/proc/self/pagemap cannot be opened: no /proc, or chroot)";
		return -1;
	}
	uffd = pre ? fd : zc_high_fd(fd);
	pagemap = pre ? pm : zc_high_fd(pm);
	mechanism = user_only ? "userfaultfd-wp (user mode only)" : "userfaultfd-wp";
	/* a kernel access to a missing page must wait for the fault thread, which a user-mode-only
	 * descriptor cannot do (it fails with EFAULT): no deferral there */
	full = want_defer && !user_only;
	if (ev && zc_fault_start(uffd) < 0) {
		/* nobody would read an event: an munmap of a guarded buffer would wait for good */
		zc_raw_close(uffd), zc_raw_close(pagemap);
		uffd = pagemap = -1, full = 0;
		mechanism = "none (the fault thread cannot start)";
		return -1;
	}
	events = ev;
	zc_count(user_only ? ZC_guard_uffd_user : ZC_guard_uffd, 1);
	return 0;
}

/* ready — initialises once per process; 1 when guarding works. */
static int ready(void)
{
	int s = __atomic_load_n(&gstate, __ATOMIC_ACQUIRE);
	if (__builtin_expect(s == G_READY, 1)) return 1;
	if (s == G_UNKNOWN && __atomic_compare_exchange_n(&gstate, &s, G_STARTING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		int ok = start() == 0;
		if (!ok) {
			zc_count(ZC_guard_none, 1);
			zc_log(ZC_LOG_WARN, "buffers cannot be guarded: %s; nothing is rewritten", mechanism);
		}
		__atomic_store_n(&gstate, ok ? G_READY : G_NONE, __ATOMIC_RELEASE);
		return ok;
	}
	while ((s = __atomic_load_n(&gstate, __ATOMIC_ACQUIRE)) == G_STARTING) __builtin_ia32_pause();
	return s == G_READY;
}

/* event_wait — an ioctl refused with EAGAIN: an unmap or zap of some registered range waits for
 * its event to be read (by the fault thread: if that is this thread, it reads it now). */
static void event_wait(void)
{
	if (zc_fault_thread()) zc_fault_drain();
	else syscall(SYS_sched_yield);
}

/* writeprotect — sets (wp) or clears the write-protection of a registered range. */
static int writeprotect(void *lo, size_t len, int wp)
{
	struct uffdio_writeprotect w = {.range = {(uintptr_t)lo, len}, .mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
	for (int k = 0;; k++) {
		if (ioctl(uffd, UFFDIO_WRITEPROTECT, &w) == 0) return 0;
		if (errno != EAGAIN || k >= 1000) return -errno;
		event_wait();
	}
}

/* shared_pages — some page of the range maps a file or shared memory (-1: cannot tell). */
static int shared_pages(const void *lo, size_t len)
{
	struct page_region v[1];
	struct pm_scan_arg a = {.size = sizeof a, .start = (uintptr_t)lo, .end = (uintptr_t)lo + len, .vec = (uintptr_t)v,
				.vec_len = 1, .category_mask = PAGE_IS_FILE, .return_mask = PAGE_IS_FILE};
	long n = ioctl(pagemap, PAGEMAP_SCAN, &a);
	return n < 0 ? -1 : n > 0;
}

/* zc_guard_open — registration is kept for good (it costs nothing afterwards), so the steady state
 * of a reused buffer is one ioctl here. Only private anonymous memory can be vouched for: another
 * mapping or a pwrite changes shared or file pages without a write in our page tables (the check
 * refuses those pages too, for ranges mapped again later). */
int zc_guard_open(void *lo, size_t len)
{
	if (!ready()) return -ENOTSUP;
	int r = writeprotect(lo, len, 0);
	if (r != -ENOENT && r != -EINVAL) return r;
	struct uffdio_register reg = {.range = {(uintptr_t)lo, len}, .mode = UFFDIO_REGISTER_MODE_WP};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) return -errno; /* another userfaultfd's: EBUSY */
	if (shared_pages(lo, len)) {
		struct uffdio_range un = {(uintptr_t)lo, len};
		ioctl(uffd, UFFDIO_UNREGISTER, &un);
		return -EINVAL;
	}
	return writeprotect(lo, len, 0);
}

int zc_guard_arm(void *lo, size_t len)
{
	if (!ready()) return -ENOTSUP;
	return writeprotect(lo, len, 1);
}

/* zc_guard_check — clean only if the whole range answers in one run of present, registered,
 * still-protected anonymous private pages; anything else (written, zapped by madvise, swapped,
 * remapped) is not. Shared or file pages never are: another mapping or a pwrite can change them
 * without touching our page tables. */
enum zc_guard_verdict zc_guard_check(const void *lo, size_t len)
{
	struct page_region v[2];
	if (!len) return ZC_GUARD_CLEAN;
	if (__atomic_load_n(&gstate, __ATOMIC_ACQUIRE) != G_READY) return ZC_GUARD_ERROR;
	struct pm_scan_arg a = {.size = sizeof a, .start = (uintptr_t)lo, .end = (uintptr_t)lo + len,
				.vec = (uintptr_t)v, .vec_len = 2,
				.return_mask = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN | PAGE_IS_PRESENT | PAGE_IS_FILE};
	long n = ioctl(pagemap, PAGEMAP_SCAN, &a);
	if (n < 0) return ZC_GUARD_ERROR;
	if (n == 1 && v[0].start == a.start && v[0].end == a.end &&
	    v[0].categories == (PAGE_IS_WPALLOWED | PAGE_IS_PRESENT))
		return ZC_GUARD_CLEAN;
	return ZC_GUARD_WRITTEN;
}

void zc_guard_enable_defer(void)
{
	want_defer = 1;
}

int zc_guard_can_defer(void)
{
	return ready() && full;
}

int zc_guard_defer_possible(void)
{
	static int known = -1;
	int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
	if (k >= 0) return k;
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK); /* full mode, as start() asks first */
	struct uffdio_api api = {.api = UFFD_API, .features = WP_FEATURES};
	k = fd >= 0 && ioctl(fd, UFFDIO_API, &api) == 0 &&
	    syscall(SYS_faccessat, AT_FDCWD, "/proc/self/pagemap", R_OK) == 0;
	if (fd >= 0) zc_raw_close(fd);
	__atomic_store_n(&known, k, __ATOMIC_RELAXED);
	return k;
}

/* zc_guard_prestart — the fault thread now, where reads may be deferred (see zc_lease_prestart). */
void zc_guard_prestart(void)
{
	if (want_defer && zc_guard_can_defer()) zc_fault_start(uffd);
}

/* zc_guard_defer_open — registered (missing and write-protect), unprotected, then zapped: from now
 * on any touch of the range, by the program or by the kernel for it, waits for the fault thread. */
int zc_guard_defer_open(void *lo, size_t len)
{
	if (!zc_guard_can_defer()) return -ENOTSUP;
	if (zc_fault_start(uffd) < 0) return -ENOTSUP;
	/* never zapped unless private and anonymous: zapping shared or file memory only drops our view
	 * of bytes that stay (a touch would map them again, no fault), and another process may map
	 * them. MADV_FREE refuses anything else, even unpopulated; the scan sees present shared pages.
	 * Zapped while not registered (a zap of a registered range is an event the fault thread must
	 * read first), registered again, then checked absent (a thread touching the
	 * buffer meanwhile made a page present) */
	struct uffdio_range un = {(uintptr_t)lo, len};
	if (events) ioctl(uffd, UFFDIO_UNREGISTER, &un); /* an eager record's, or a deferred one's before */
	if (shared_pages(lo, len) || syscall(SYS_madvise, lo, len, MADV_FREE) < 0) return -EINVAL;
	if (syscall(SYS_madvise, lo, len, MADV_DONTNEED) < 0) return -errno;
	struct uffdio_register reg = {.range = {(uintptr_t)lo, len}, .mode = UFFDIO_REGISTER_MODE_WP | UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) return -errno; /* another userfaultfd's: EBUSY */
	int r = writeprotect(lo, len, 0);
	if (r < 0) return r;
	return zc_guard_still_missing(lo, len) ? 0 : -EAGAIN;
}

int zc_guard_events(void)
{
	return events;
}

/* zc_guard_fill — installs src at the missing pages of [lo, lo+len), write-protected (so a later
 * write is seen as in eager mode), and wakes whoever waits on them. Pages already present are left
 * as they are. 0 or -errno. */
int zc_guard_fill(void *lo, const void *src, size_t len)
{
	size_t done = 0;
	int skipped = 0, err = 0;
	while (done < len) {
		/* one page at a time once a copy failed: the range may span several mappings now (an
		 * madvise or mlock splits them), or hold pages mapped over it that are not ours to fill */
		size_t step = skipped ? PAGE_SIZE_G : len - done;
		struct uffdio_copy c = {.dst = (uintptr_t)lo + done, .src = (uintptr_t)src + done, .len = step,
					.mode = UFFDIO_COPY_MODE_WP};
		if (ioctl(uffd, UFFDIO_COPY, &c) == 0) {
			done += step;
			continue;
		}
		if (c.copy > 0) done += (size_t)c.copy;
		else if (c.copy == -EAGAIN) {
			event_wait();
			continue;
		}
		else if (skipped || c.copy == -EEXIST) done += PAGE_SIZE_G, err = c.copy == -EEXIST ? err : (int)c.copy;
		skipped = 1;
	}
	if (skipped) {
		struct uffdio_range w = {(uintptr_t)lo, len};
		ioctl(uffd, UFFDIO_WAKE, &w); /* whoever waits on a page filled by someone else */
	}
	return err < 0 && err != -ENOENT ? err : 0;
}

/* zc_guard_zero — a fault nobody recorded (memory given back, first touch of a fresh page): the
 * zeros an anonymous page starts with; if the page is there already, just wake the waiter. */
void zc_guard_zero(void *page)
{
	struct uffdio_zeropage z = {.range = {(uintptr_t)page, PAGE_SIZE_G}};
	if (ioctl(uffd, UFFDIO_ZEROPAGE, &z) < 0) {
		struct uffdio_range w = {(uintptr_t)page, PAGE_SIZE_G};
		ioctl(uffd, UFFDIO_WAKE, &w);
	}
}

/* zc_guard_still_registered — the whole range is still registered with our userfaultfd: nothing was
 * mapped over it (a new mapping, or one moved there, is not). For a deferred record's interior that
 * is enough: any touch of its pages went through the fault thread, which made the record an eager
 * one. One UFFDIO_WRITEPROTECT that clears nothing (ENOENT when a part is not registered): cheaper
 * than a scan (0.66 against 0.87 us for 64 KiB here). */
int zc_guard_still_registered(void *lo, size_t len)
{
	return writeprotect(lo, len, 0) == 0;
}

/* zc_guard_still_missing — every page of the range is still registered and absent: nothing was
 * mapped over it behind the shim's back. One scan that stops at the first page that is not. */
int zc_guard_still_missing(const void *lo, size_t len)
{
	struct page_region v[1];
	if (!len) return 1;
	struct pm_scan_arg a = {.size = sizeof a, .start = (uintptr_t)lo, .end = (uintptr_t)lo + len, .vec = (uintptr_t)v,
				.vec_len = 1, .max_pages = 1, .category_inverted = PAGE_IS_WPALLOWED,
				.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_WPALLOWED,
				.return_mask = PAGE_IS_PRESENT | PAGE_IS_WPALLOWED};
	return ioctl(pagemap, PAGEMAP_SCAN, &a) == 0;
}

const char *zc_guard_mechanism(void)
{
	return mechanism;
}

/* zc_guard_before_chroot — a server that chroots (vsftpd's sessions) has no /proc afterwards: the
 * userfaultfd and the pagemap are opened now, unless the guard runs already. */
void zc_guard_before_chroot(void)
{
	if (__atomic_load_n(&gstate, __ATOMIC_ACQUIRE) != G_UNKNOWN || pre_uffd >= 0) return;
	int user_only = 0, fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EPERM) fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY), user_only = 1;
	int pm = fd < 0 ? -1 : (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0) {
		if (fd >= 0) zc_raw_close(fd);
		return;
	}
	pre_user_only = user_only;
	pre_uffd = zc_high_fd(fd), pre_pagemap = zc_high_fd(pm);
}

/* zc_guard_atfork_child — the child's pages lost their protection and registration at fork (no
 * UFFD_FEATURE_EVENT_FORK); the descriptors still name the parent's address space. */
void zc_guard_atfork_child(void)
{
	if (uffd >= 0) zc_close_own(uffd);
	if (pagemap >= 0) zc_close_own(pagemap);
	uffd = pagemap = -1;
	full = events = 0;
	zc_fault_atfork_child();
	mechanism = "none (not needed yet)";
	__atomic_store_n(&gstate, G_UNKNOWN, __ATOMIC_RELEASE);
	/* A root master's workers (nginx, Apache) drop to an unprivileged user right after fork, and
	 * could then only get a user-mode-only userfaultfd (no deferral) and no pagemap of their own.
	 * Both are opened now, while the child is still root; two raw system calls and one open. */
	if (want_defer && syscall(SYS_geteuid) == 0) {
		int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		int pm = fd < 0 ? -1 : (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		if (pm < 0 && fd >= 0) zc_raw_close(fd), fd = -1;
		if (fd >= 0) pre_uffd = zc_high_fd(fd), pre_pagemap = zc_high_fd(pm), pre_user_only = 0;
	}
}
