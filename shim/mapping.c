/* mapping.c — writes from read-only file mappings (Apache's default EnableMMAP path: mmap + writev).
 * For each mapped file the shim opens its own descriptor through /proc/self/fd (its own open file
 * description: its lease, its break signal and its close are nobody else's; a dup would share the
 * program's lease), leases it as a read source, and a write whose range lies whole in the mapping
 * is sent by the kernel from that file at the mapping's offset (rewrite.c). The program's bytes
 * and the file's are the same pages: a shared mapping is the page cache, and a private one that
 * was never writable has no page of its own. The lease keeps every other writer out while a
 * transfer runs and until its data has left (lease.c), as for reads. */
#include "mapping.h"
#include "config.h"
#include "detect.h"
#include "fdtab.h"
#include "lease.h"
#include "policy.h"
#include "real.h"
#include "shim.h"
#include "stats.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

/* The shim's descriptors live in the 64 numbers under the soft limit (state.c): mappings get a
 * share of them, one per mapped file, however many mappings of it there are. */
#define MAX_FILES 16
#define MAX_MAPS 256

/* A slot being filled outside the lock: neither free nor a file. Taking it as free let two threads
 * fill one slot, and the mappings of the first then named the second's file (a load test sent
 * pieces of one file from another, at the right offsets) */
#define RESERVED (-2)

struct mfile {
	int fd; /* ours, high and close-on-exec; -1: free; RESERVED: being opened */
	uint64_t gen;
	dev_t dev;
	ino_t ino;
	off_t size; /* when opened: with the lease held nobody else can change it */
	int refs;   /* mappings that name it */
	long idle_ms; /* refs 0 since then (monotonic ms): kept a while for the file's next mapping */
};

/* A server maps a file piece after piece (Apache: 4 MiB each, the next often after the last is
 * gone): a descriptor no mapping names is kept IDLE_MS for the next one, so a file costs one open
 * and one lease, not one per piece. The lease thread releases it after that (zc_map_expire). */
#define IDLE_MS 200

struct map {
	char *lo, *hi; /* [lo, hi): the mapping; lo NULL: a free slot */
	off_t off;     /* file offset of lo */
	int file;      /* index in files[] */
};

static struct mfile files[MAX_FILES] = {[0 ... MAX_FILES - 1] = {.fd = -1}};
static struct map maps[MAX_MAPS];
unsigned zc_map_live;
static int lock_word;

static void lock(void)
{
	while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED)) syscall(SYS_sched_yield);
}

static void unlock(void)
{
	__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* min_len — a mapping smaller than every destination's threshold is never written whole: not followed.
 * A write from a mapping saves its page faults and its copy, as a deferred write saves the read's
 * copy: the deferred thresholds apply (policy.c). */
static size_t min_len(void)
{
	long m = -1;
	static const int kinds[] = {ZC_FD_TCP, ZC_FD_PIPE, ZC_FD_FILE, ZC_FD_UNIX};
	for (unsigned k = 0; k < sizeof kinds / sizeof *kinds; k++) {
		long v = zc_policy_min_bytes_nocopy(kinds[k]);
		if (v >= 0 && (m < 0 || v < m)) m = v;
	}
	return m < 4096 ? 4096 : (size_t)m;
}

/* own_open — the shim's own descriptor of the file fd names, high up; -1 if it cannot be had (no
 * /proc, a file the process may no longer open after dropping privileges, no high number free). */
static int own_open(int fd, dev_t dev, ino_t ino, off_t *size)
{
	char path[40];
	struct stat st;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int o = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (o < 0) return -1;
	int d = -1;
	if (syscall(SYS_fstat, o, &st) == 0 && st.st_dev == dev && st.st_ino == ino && S_ISREG(st.st_mode))
		*size = st.st_size, d = zc_high_fd_strict(o);
	else
		zc_raw_close(o);
	zc_fdtab_forget(o); /* closed behind the table: what another thread classified there meanwhile goes */
	return d;
}

/* posix_locked — this process holds a POSIX record lock on the file (/proc/locks): closing any
 * descriptor of it would release the lock (fcntl(2)), so the shim keeps its own open until then.
 * 1 also when /proc/locks cannot be read in full: keeping a descriptor is never wrong. */
static int posix_locked(dev_t dev, ino_t ino)
{
	char buf[8192], want[64], *line, *save;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/locks", O_RDONLY | O_CLOEXEC), found = 0;
	if (fd < 0) return 0; /* no /proc (a chroot): nothing can be looked at, nor any lock seen */
	snprintf(want, sizeof want, " %ld %02x:%02x:%lu ", (long)zc_raw_getpid(), major(dev), minor(dev), (unsigned long)ino);
	ssize_t n, have = 0;
	while (!found && (n = zc_raw_read(fd, buf + have, sizeof buf - 1 - (size_t)have)) > 0) {
		buf[have + n] = 0;
		char *last = strrchr(buf, '\n');
		if (!last) { found = 1; break; } /* a line longer than the buffer: keep the descriptor */
		*last = 0;
		for (line = strtok_r(buf, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save))
			found = strstr(line, "POSIX") && strstr(line, want);
		have = (ssize_t)strlen(last + 1);
		memmove(buf, last + 1, (size_t)have + 1);
	}
	zc_raw_close(fd);
	return found;
}

/* drop_locked — file k's slot is free again; returns its descriptor, for release() outside the lock. */
static int drop_locked(int k)
{
	int fd = files[k].fd;
	files[k].fd = -1;
	files[k].idle_ms = 0;
	return fd;
}

/* file_put_locked — one mapping less names file k: it becomes idle (*idle set); or, where no lease
 * thread will come back for it (lease = off), it goes: its descriptor is returned to close (kept,
 * idle, while the program holds a POSIX lock on the file: see posix_locked). */
static int file_put_locked(int k, int *idle)
{
	if (--files[k].refs > 0) return -1;
	if (zc_lease_wake() || posix_locked(files[k].dev, files[k].ino)) {
		files[k].idle_ms = now_ms();
		*idle = 1;
		return -1;
	}
	return drop_locked(k);
}

/* release — the shim's descriptor goes: its lease is released once what was sent from it has left. */
static void release(int fd)
{
	zc_lease_closing(fd);
	zc_fdtab_forget(fd);
	zc_close_own(fd);
}

/* file_for — a files[] slot for (dev, ino) with a reference taken: one whose lease still stands,
 * else a new descriptor leased now. -1: none (counted by the caller). */
static int file_for(int fd, const struct zc_fd_info *i)
{
	struct zc_fd_info o;
	int k, freek = -1;
	lock();
	for (k = 0; k < MAX_FILES; k++) {
		if (files[k].fd == RESERVED) continue; /* another thread is opening into it */
		if (files[k].fd < 0) {
			if (freek < 0) freek = k;
			continue;
		}
		if (files[k].dev != i->dev || files[k].ino != i->ino) continue;
		/* a broken lease stays broken for that description: a new one is opened instead */
		if (zc_fdtab_get(files[k].fd, &o) == 0 && o.gen == files[k].gen && o.lease != ZC_LS_BROKEN && o.lease != ZC_LS_INHERITED) {
			files[k].refs++;
			files[k].idle_ms = 0;
			unlock();
			return k;
		}
	}
	int evict = -1;
	for (k = 0; k < MAX_FILES && freek < 0; k++) /* full: an idle one goes, unless closing it drops a lock */
		if (files[k].fd >= 0 && !files[k].refs && !posix_locked(files[k].dev, files[k].ino)) evict = drop_locked(k), freek = k;
	if (freek >= 0) files[freek].fd = RESERVED, files[freek].refs = 1; /* ours while we open outside the lock */
	unlock();
	if (evict >= 0) release(evict);
	if (freek < 0) return -1;
	off_t size = 0;
	/* opening the file again goes through a low descriptor that must be closed, which would drop
	 * the program's POSIX locks on it: a file it holds locks on is not followed */
	int d = posix_locked(i->dev, i->ino) ? -1 : own_open(fd, i->dev, i->ino, &size);
	if (d >= 0 && zc_fdtab_get(d, &o) == 0 && o.kind == ZC_FD_FILE) {
		/* kept whatever the answer: a write from the mapping then counts why it was not rewritten */
		zc_lease_prepare(d, o.gen, o.lease);
		lock();
		files[freek] = (struct mfile){.fd = d, .gen = o.gen, .dev = i->dev, .ino = i->ino, .size = size, .refs = 1};
		unlock();
		return freek;
	}
	if (d >= 0) zc_fdtab_forget(d), zc_close_own(d);
	lock();
	files[freek].fd = -1;
	unlock();
	return -1;
}

int zc_map_want(size_t len, int prot, int flags, int fd, struct zc_map_seen *seen)
{
	struct stat st;
	/* observe: a mapping would need a descriptor and a lease of the shim's own: not estimated */
	if (zc_cfg.mode == ZC_MODE_OFF || zc_cfg.mode == ZC_MODE_OBSERVE || fd < 0 || (flags & MAP_ANONYMOUS) || (prot & PROT_WRITE) || !(prot & PROT_READ))
		return 0;
	if (len < min_len()) return 0;
	seen->epoch = zc_fdtab_epoch(fd);
	if (syscall(SYS_fstat, fd, &st) < 0 || !S_ISREG(st.st_mode)) return 0;
	seen->dev = st.st_dev, seen->ino = st.st_ino;
	return 1;
}

void zc_map_track(void *addr, size_t len, int fd, off_t off, const struct zc_map_seen *seen)
{
	struct zc_fd_info i;
	/* another thread's dup2 or close onto the number meanwhile: the mapping is of the file before
	 * (read first: revalidating a stale entry below moves the epoch too) */
	int moved = zc_fdtab_epoch(fd) != seen->epoch;
	if (zc_fdtab_get(fd, &i) < 0) return;
	/* the entry decides which file's bytes are sent: an fclose or a raw close leaves a number's
	 * entry behind it, so it must be of the file the kernel named before the mmap, else made again */
	if ((i.dev != seen->dev || i.ino != seen->ino) && (zc_fdtab_forget(fd), zc_fdtab_get(fd, &i) < 0)) return;
	if (moved || i.dev != seen->dev || i.ino != seen->ino) {
		zc_count(ZC_maps_refused, 1);
		return;
	}
	if (i.kind != ZC_FD_FILE) return;
	/* the program's own lease, signal or owner on it: opening the file again could break its lease */
	if (i.lease == ZC_LS_PROGRAM) return;
	int k = file_for(fd, &i);
	if (k < 0) {
		zc_count(ZC_maps_refused, 1);
		return;
	}
	lock();
	int s;
	for (s = 0; s < MAX_MAPS && maps[s].lo; s++) continue;
	if (s < MAX_MAPS) {
		maps[s] = (struct map){.lo = addr, .hi = (char *)addr + len, .off = off, .file = k};
		__atomic_fetch_add(&zc_map_live, 1, __ATOMIC_RELAXED);
	}
	int idle = 0, gone = s < MAX_MAPS ? -1 : file_put_locked(k, &idle);
	unlock();
	if (gone >= 0) release(gone);
	zc_count(s < MAX_MAPS ? ZC_maps_tracked : ZC_maps_refused, 1);
}

void zc_map_forget_range(const void *p, size_t n)
{
	const char *a = p;
	int gone[MAX_FILES], ng = 0, idle = 0;
	lock();
	for (int s = 0; s < MAX_MAPS; s++) {
		struct map *m = &maps[s];
		if (!m->lo || !(a < m->hi && m->lo < a + n)) continue;
		int fd = file_put_locked(m->file, &idle);
		if (fd >= 0) gone[ng++] = fd;
		m->lo = NULL;
		__atomic_fetch_sub(&zc_map_live, 1, __ATOMIC_RELAXED);
	}
	unlock();
	for (int k = 0; k < ng; k++) release(gone[k]);
}

int zc_map_match(const void *p, size_t n, struct zc_match *out)
{
	const char *a = p;
	int found = 0;
	lock();
	for (int s = 0; s < MAX_MAPS && !found; s++) {
		const struct map *m = &maps[s];
		if (!m->lo || a < m->lo || a + n > m->hi || a + n < a) continue;
		const struct mfile *f = &files[m->file];
		/* past the end of the file the original call stops where its copy faults, a place only
		 * it knows (TCP drops a half-copied segment): such a write is the original call */
		if (m->off + (a - m->lo) + (off_t)n > f->size) break;
		*out = (struct zc_match){.slot = -1, .src_fd = f->fd, .src_gen = f->gen, .off = m->off + (a - m->lo),
					 .to_end = (size_t)(m->hi - a), .src = m->file, .fill_fd = -1, .mapped = 1};
		/* held until the write is done (zc_map_release): a file no mapping names any more is
		 * closed, and its number could name another file by the time sendfile reads from it */
		files[m->file].refs++;
		found = 1;
	}
	unlock();
	return found;
}

void zc_map_release(const struct zc_match *m)
{
	int idle = 0, gone;
	if (!m->mapped || m->src < 0) return;
	lock();
	gone = file_put_locked(m->src, &idle);
	unlock();
	if (gone >= 0) release(gone);
}

/* zc_map_expire — the lease thread's tick: descriptors idle for IDLE_MS go (their leases released
 * once what was sent from them has left); returns 1 while some are still idle. */
int zc_map_expire(void)
{
	int gone[MAX_FILES], ng = 0, left = 0;
	long now = now_ms();
	lock();
	for (int k = 0; k < MAX_FILES; k++) {
		if (files[k].fd < 0 || files[k].refs) continue;
		/* the program's own POSIX locks on the file would go with the close: kept while they last */
		if (now - files[k].idle_ms >= IDLE_MS && !posix_locked(files[k].dev, files[k].ino)) gone[ng++] = drop_locked(k);
		else left = 1;
	}
	unlock();
	for (int k = 0; k < ng; k++) release(gone[k]);
	return left;
}

/* The lock may have been held by a thread that does not exist in the child; idle descriptors are
 * the parent's business (their leases are its), the child's copies go. */
void zc_map_atfork_child(void)
{
	lock_word = 0;
	for (int k = 0; k < MAX_FILES; k++) {
		if (files[k].fd == RESERVED) files[k].fd = -1; /* its opener is a thread of the parent */
		if (files[k].fd >= 0 && !files[k].refs) zc_fdtab_forget(files[k].fd), zc_close_own(drop_locked(k));
	}
}
