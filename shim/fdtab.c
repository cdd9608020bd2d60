/* fdtab.c — uthash map fd -> zc_fd_info with the shim's own allocator, plus a byte cache of kinds. */
#include "fdtab.h"
#include "real.h"
#include "stats.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

/* uthash allocates its bucket arrays from mmap, never from the host's malloc. */
static void *pool_alloc(size_t sz);
static void pool_free(void *p, size_t sz);
#define uthash_malloc(sz) pool_alloc(sz)
#define uthash_free(p, sz) pool_free(p, sz)
#define HASH_NONFATAL_OOM 1
/* keys are descriptor numbers, small and mostly consecutive: an odd multiplier spreads them over
 * the buckets (a bijection on the low bits uthash masks) for a few instructions, where the default
 * Jenkins hash took about 50 per lookup (callgrind: 241 -> 155 per read+write pair in lookup_or_add) */
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = (unsigned)*(const int *)(keyptr) * 2654435761u)
#include <uthash.h>

struct entry {
	struct zc_fd_info i;
	UT_hash_handle hh;
	struct entry *next_free;
};

/* Numbers below this have lock-free bytes, epochs and counts of their own (zero pages until used:
 * a server past 4096 connections keeps its cheap paths); above, the table under its lock, and one
 * shared epoch and count. Within the usual hard limit (20000 here), so both sides are tested. */
#define FAST_FDS 16384
#define PAGED __attribute__((aligned(4096))) /* whole pages: a torn child zeroes them by madvise */
static uint8_t kind_cache[FAST_FDS] PAGED; /* 0 = unknown; read without the lock */
static uint8_t steady_cache[FAST_FDS] PAGED; /* 0, or STEADY_SMALL / STEADY_STACK: read without the lock */
enum { STEADY_SMALL = 1, STEADY_STACK = 2 };

/* A number's epoch moves on with every forget (under the lock): a classification made outside the
 * lock is stored only if its number's epoch did not move meanwhile. Else it may describe what the
 * number named before a close and a reopen (the lease thread asks about numbers it does not own).
 * Read without the lock too (zc_fdtab_epoch: did the number change during an mmap?). */
static uint32_t epoch[FAST_FDS], epoch_far, epoch_all; /* epoch_all: close_range, forget_all */

static uint32_t *epoch_of(int fd)
{
	return fd < FAST_FDS ? &epoch[fd] : &epoch_far;
}

/* number_epoch — the number's own epoch and the ranges' */
static uint32_t number_epoch(int fd)
{
	return __atomic_load_n(epoch_of(fd), __ATOMIC_SEQ_CST) + __atomic_load_n(&epoch_all, __ATOMIC_SEQ_CST);
}

uint32_t zc_fdtab_epoch(int fd)
{
	return fd < 0 ? 0 : number_epoch(fd);
}

/* A deferred read is several calls on the program's number (defer.c), where read is one: another
 * thread's close or dup2 onto the number must not land between them. Readers count themselves in
 * reading[], re-pointers in repointing[]; each increments its own, then looks at the other's
 * (sequentially consistent: at least one of the two sees the other). A reader that sees a
 * re-pointer makes an ordinary read; a re-pointer that sees readers waits for them. */
static uint16_t reading[FAST_FDS] PAGED, repointing[FAST_FDS] PAGED;
static uint16_t reading_far, repointing_far, repointing_all;
static __thread int reading_fd = -1; /* this thread is inside a deferred read of that number */
#define REPOINT_WAIT_MS 50 /* a deferred read takes microseconds; a count a raw clone copied, forever */

static uint16_t *slot_of(uint16_t *tab, uint16_t *far, int fd)
{
	return fd < FAST_FDS ? &tab[fd] : far;
}

/* down — decrements a count, never below 0 (a forked child starts from 0 with its thread inside) */
static void down(uint16_t *c)
{
	uint16_t v = __atomic_load_n(c, __ATOMIC_RELAXED);
	while (v && !__atomic_compare_exchange_n(c, &v, (uint16_t)(v - 1), 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) continue;
}

int zc_fdtab_read_begin(int fd, uint32_t seen)
{
	if (fd < 0) return 0;
	__atomic_fetch_add(slot_of(reading, &reading_far, fd), 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(slot_of(repointing, &repointing_far, fd), __ATOMIC_SEQ_CST) &&
	    !__atomic_load_n(&repointing_all, __ATOMIC_SEQ_CST) &&
	    number_epoch(fd) == seen) {
		reading_fd = fd;
		return 1;
	}
	down(slot_of(reading, &reading_far, fd));
	return 0;
}

void zc_fdtab_read_end(int fd)
{
	reading_fd = -1;
	down(slot_of(reading, &reading_far, fd));
}


void zc_fdtab_repoint_end(int fd)
{
	if (fd >= 0) down(slot_of(repointing, &repointing_far, fd));
}

/* readers_in — deferred reads in flight on [lo, hi], other than this thread's own (a handler inside
 * it cannot wait for it) */
static unsigned readers_in(unsigned lo, unsigned hi)
{
	unsigned n = 0;
	for (unsigned fd = lo; fd <= hi && fd < FAST_FDS; fd++) n += __atomic_load_n(&reading[fd], __ATOMIC_SEQ_CST);
	if (hi >= FAST_FDS) n += __atomic_load_n(&reading_far, __ATOMIC_SEQ_CST);
	return n - (reading_fd >= 0 && (unsigned)reading_fd >= lo && (unsigned)reading_fd <= hi && n);
}

/* wait_readers — until no deferred read of [lo, hi] is in flight, or REPOINT_WAIT_MS passed */
static void wait_readers(unsigned lo, unsigned hi)
{
	for (int spins = 0; readers_in(lo, hi) && spins < REPOINT_WAIT_MS * 10; spins++) {
		struct timespec t = {0, 100000};
		syscall(SYS_nanosleep, &t, NULL);
	}
}

void zc_fdtab_repoint_begin(int fd)
{
	if (fd < 0) return;
	__atomic_fetch_add(slot_of(repointing, &repointing_far, fd), 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(epoch_of(fd), 1, __ATOMIC_SEQ_CST); /* a read that looked before begins no more */
	wait_readers((unsigned)fd, (unsigned)fd);
}

void zc_fdtab_repoint_range_begin(unsigned lo, unsigned hi)
{
	__atomic_fetch_add(&repointing_all, 1, __ATOMIC_SEQ_CST);
	wait_readers(lo, hi);
}

void zc_fdtab_repoint_range_end(void)
{
	down(&repointing_all);
}

/* forget_fast — the number names something else now: its lock-free bytes go with the entry. */
static void forget_fast(int fd)
{
	if (fd < 0) return;
	__atomic_fetch_add(epoch_of(fd), 1, __ATOMIC_RELEASE);
	if (fd >= FAST_FDS) return;
	__atomic_store_n(&kind_cache[fd], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&steady_cache[fd], 0, __ATOMIC_RELAXED);
}
static struct entry *table;
static struct entry *free_list;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int busy; /* set while the table is held: a child forked meanwhile cannot trust it */

/* tlock/tunlock — the table lock, never held across fork (see zc_fdtab_atfork_child). */
static void tlock(void)
{
	pthread_mutex_lock(&lock);
	__atomic_store_n(&busy, 1, __ATOMIC_RELAXED);
}

static void tunlock(void)
{
	__atomic_store_n(&busy, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lock);
}
static uint64_t next_gen = 1;

/* pool_alloc — whole pages from mmap; only uthash's rare table growth comes here. */
static void *pool_alloc(size_t sz)
{
	void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* pool_free — returns pages taken by pool_alloc. */
static void pool_free(void *p, size_t sz)
{
	if (p) syscall(SYS_munmap, p, sz);
}

/* entry_new — from the free list, refilled a page-run at a time. */
static struct entry *entry_new(void)
{
	if (!free_list) {
		size_t n = 64 * 1024 / sizeof(struct entry);
		struct entry *chunk = pool_alloc(n * sizeof(struct entry));
		if (!chunk) return NULL;
		for (size_t k = 0; k < n; k++) {
			chunk[k].next_free = free_list;
			free_list = &chunk[k];
		}
	}
	struct entry *e = free_list;
	free_list = e->next_free;
	memset(e, 0, sizeof *e);
	return e;
}

/* classify — what kind of object the descriptor refers to. */
static int classify(int fd, struct zc_fd_info *i)
{
	struct stat st;
	if (syscall(SYS_fstat, fd, &st) < 0) return -1;
	i->dev = st.st_dev;
	i->ino = st.st_ino;
	i->flags = (int)zc_raw_fcntl(fd, F_GETFL, 0);
	if (S_ISREG(st.st_mode)) {
		struct statfs sf;
		i->kind = ZC_FD_FILE;
		if (syscall(SYS_fstatfs, fd, &sf) == 0 && (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC))
			i->kind = ZC_FD_PROC;
	} else if (S_ISSOCK(st.st_mode)) {
		int dom = 0, type = 0, proto = 0;
		socklen_t l = sizeof dom;
		syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, &dom, &l);
		l = sizeof type;
		syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &l);
		l = sizeof proto;
		syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l);
		if ((dom == AF_INET || dom == AF_INET6) && type == SOCK_STREAM && proto == IPPROTO_TCP) i->kind = ZC_FD_TCP;
		else if (dom == AF_UNIX && type == SOCK_STREAM) i->kind = ZC_FD_UNIX;
		else i->kind = ZC_FD_OTHER;
	} else if (S_ISFIFO(st.st_mode)) {
		i->kind = ZC_FD_PIPE;
	} else {
		i->kind = ZC_FD_OTHER;
	}
	return 0;
}

/* lookup_or_add — entry for fd, classified outside the lock then inserted, unless the number was
 * closed or reopened meanwhile: then classified again. Caller holds no lock. */
static int lookup_or_add(int fd, struct zc_fd_info *out)
{
	struct entry *e;
	for (int tries = 0;; tries++) {
		tlock();
		HASH_FIND_INT(table, &fd, e);
		if (e) {
			*out = e->i;
			tunlock();
			return 0;
		}
		uint32_t seen = number_epoch(fd);
		tunlock();

		struct zc_fd_info i;
		memset(&i, 0, sizeof i);
		for (int k = 0; k < ZC_FD_DSTS; k++) i.dsts[k] = -1;
		i.fd = fd;
		if (classify(fd, &i) < 0) return -1;

		tlock();
		HASH_FIND_INT(table, &fd, e);
		int moved = number_epoch(fd) != seen;
		if (!e && moved && tries < 8) {
			tunlock();
			continue;
		}
		if (!e && !moved && (e = entry_new())) {
			i.gen = next_gen++;
			e->i = i;
			HASH_ADD_INT(table, i.fd, e);
			if (fd < FAST_FDS) __atomic_store_n(&kind_cache[fd], (uint8_t)i.kind, __ATOMIC_RELAXED);
		}
		if (e) {
			*out = e->i;
		} else {
			i.gen = next_gen++; /* answered, remembered nowhere: matches no entry (out of memory, or churn) */
			*out = i;
		}
		tunlock();
		return 0;
	}
}

/* zc_fdtab_kind — fast path: one byte load for descriptors already seen. */
int zc_fdtab_kind(int fd)
{
	if (fd >= 0 && fd < FAST_FDS) {
		int k = __atomic_load_n(&kind_cache[fd], __ATOMIC_RELAXED);
		if (k) return k;
	}
	if (fd < 0) return ZC_FD_OTHER;
	struct zc_fd_info i;
	return lookup_or_add(fd, &i) < 0 ? ZC_FD_OTHER : i.kind;
}

/* zc_fdtab_known_kind — the kind of an entry already there, else 0: never classifies. */
int zc_fdtab_known_kind(int fd)
{
	struct entry *e;
	int k = 0;
	if (fd < 0) return 0;
	if (fd < FAST_FDS) return __atomic_load_n(&kind_cache[fd], __ATOMIC_RELAXED);
	tlock();
	HASH_FIND_INT(table, &fd, e);
	if (e) k = e->i.kind;
	tunlock();
	return k;
}

/* zc_fdtab_get — a copy of the entry, so no pointer outlives the lock. */
int zc_fdtab_get(int fd, struct zc_fd_info *out)
{
	if (fd < 0) return -1;
	return lookup_or_add(fd, out);
}

/* remove_locked — drops one entry; caller holds the lock. */
static void remove_locked(struct entry *e)
{
	if (e->i.pending_err) __atomic_fetch_sub(&zc_fdtab_pending, 1, __ATOMIC_RELAXED);
	HASH_DEL(table, e);
	forget_fast(e->i.fd);
	e->next_free = free_list;
	free_list = e;
}

/* zc_fdtab_forget — the number no longer names what we classified. */
void zc_fdtab_forget(int fd)
{
	struct entry *e;
	if (fd < 0) return;
	tlock();
	HASH_FIND_INT(table, &fd, e);
	if (e) remove_locked(e);
	else forget_fast(fd);
	tunlock();
}

/* zc_fdtab_forget_range — close_range(lo, hi). */
void zc_fdtab_forget_range(unsigned lo, unsigned hi)
{
	struct entry *e, *tmp;
	tlock();
	HASH_ITER(hh, table, e, tmp)
	if ((unsigned)e->i.fd >= lo && (unsigned)e->i.fd <= hi) remove_locked(e);
	__atomic_fetch_add(&epoch_all, 1, __ATOMIC_SEQ_CST); /* numbers with no entry too */
	tunlock();
}

/* zc_fdtab_forget_all — after exec-like events where nothing can be trusted. */
void zc_fdtab_forget_all(void)
{
	zc_fdtab_forget_range(0, ~0u);
}

/* zc_fdtab_revalidate — catches numbers closed behind our back (fclose, raw syscalls). */
int zc_fdtab_revalidate(int fd, uint64_t gen)
{
	struct stat st;
	struct entry *e;
	int same = 0;
	if (syscall(SYS_fstat, fd, &st) < 0) {
		zc_fdtab_forget(fd);
		return 0;
	}
	tlock();
	HASH_FIND_INT(table, &fd, e);
	if (e && e->i.gen == gen && e->i.dev == st.st_dev && e->i.ino == st.st_ino) same = 1;
	else if (e) remove_locked(e);
	tunlock();
	return same;
}

/* WITH_ENTRY — runs a small update on fd's entry if its generation matches (G == 0: any). */
#define WITH_ENTRY(FD, G, ...)                                                 \
	do {                                                                       \
		struct entry *e_;                                                      \
		int fd_ = (FD);                                                        \
		tlock();                                             \
		HASH_FIND_INT(table, &fd_, e_);                                        \
		if (e_ && ((G) == 0 || e_->i.gen == (G))) {                            \
			struct zc_fd_info *i = &e_->i;                                     \
			__VA_ARGS__;                                                       \
		}                                                                      \
		tunlock();                                           \
	} while (0)

void zc_fdtab_set_flags(int fd, int flags)
{
	WITH_ENTRY(fd, 0, i->flags = flags);
}

void zc_fdtab_set_lease(int fd, uint64_t gen, int state)
{
	WITH_ENTRY(fd, gen, i->lease = state);
}

void zc_fdtab_set_held(int fd, uint64_t gen, off_t size)
{
	WITH_ENTRY(fd, gen, i->lease = ZC_LS_HELD, i->lease_size = size);
}

int zc_fdtab_lease_enter(int fd, uint64_t gen)
{
	int r = -1;
	WITH_ENTRY(fd, gen, if (i->lease == ZC_LS_HELD) i->lease_inflight++, r = 0);
	return r;
}

/* add_dst_locked — dst joins the destinations a lease break waits to drain. */
static void add_dst_locked(struct zc_fd_info *i, uint64_t gen, int dst)
{
	int k, free_slot = -1;
	for (k = 0; k < ZC_FD_DSTS && i->dsts[k] != dst; k++)
		if (i->dsts[k] < 0 && free_slot < 0) free_slot = k;
	if (k == ZC_FD_DSTS) i->dsts[free_slot >= 0 ? free_slot : (int)(gen % ZC_FD_DSTS)] = dst;
}

void zc_fdtab_sent(int fd, uint64_t gen, int used, int leased, int dst)
{
	WITH_ENTRY(fd, gen, {
		if (used) i->unused = 0;
		if (leased) i->lease_inflight--;
		if (dst >= 0) add_dst_locked(i, gen, dst);
	});
}

int zc_fdtab_lease_inflight(int fd, uint64_t gen)
{
	int n = 0;
	WITH_ENTRY(fd, gen, n = i->lease_inflight);
	return n;
}

/* note_writer_locked — tid writes to i's descriptor; 1 once two threads have. */
static int note_writer_locked(struct zc_fd_info *i, pid_t tid)
{
	if (i->writer && i->writer != tid) i->multi_writer = 1;
	i->writer = tid;
	return i->multi_writer;
}

int zc_fdtab_note_writer(int fd, pid_t tid)
{
	int multi = 0;
	WITH_ENTRY(fd, 0, multi = note_writer_locked(i, tid));
	return multi;
}

int zc_fdtab_get_writer(int fd, pid_t tid, struct zc_fd_info *out, int *multi)
{
	struct entry *e;
	if (fd < 0) return -1;
	tlock();
	HASH_FIND_INT(table, &fd, e);
	if (e) {
		*multi = note_writer_locked(&e->i, tid);
		*out = e->i;
	}
	tunlock();
	if (e) return 0;
	if (lookup_or_add(fd, out) < 0) return -1; /* a first write: classified, then noted */
	*multi = zc_fdtab_note_writer(fd, tid);
	return 0;
}

void zc_fdtab_note_used(int fd, uint64_t gen, int used)
{
	WITH_ENTRY(fd, gen, i->unused = used ? 0 : i->unused + 1);
}

void zc_fdtab_note_fault(int fd, uint64_t gen)
{
	WITH_ENTRY(fd, gen, i->faults++);
}

void zc_fdtab_set_proven(int fd, uint64_t gen, long min_bytes)
{
	WITH_ENTRY(fd, gen, i->proven_min = min_bytes > 0 ? min_bytes : 1);
}

int zc_fdtab_steady(int fd)
{
	if (fd < 0 || fd >= FAST_FDS) return 0;
	switch (__atomic_load_n(&steady_cache[fd], __ATOMIC_RELAXED)) {
	case STEADY_SMALL: return ZC_fb_small;
	case STEADY_STACK: return ZC_fb_stack_buffer;
	default: return 0;
	}
}

void zc_fdtab_note_small(int fd, uint64_t gen, int reason)
{
	uint8_t code = reason == ZC_fb_small ? STEADY_SMALL : reason == ZC_fb_stack_buffer ? STEADY_STACK : 0;
	if (!code || fd < 0 || fd >= FAST_FDS || __atomic_load_n(&steady_cache[fd], __ATOMIC_RELAXED) == code) return;
	/* set under the lock, as a close or a new classification clears it */
	WITH_ENTRY(fd, gen, if (++i->small_streak >= ZC_STEADY_AFTER) __atomic_store_n(&steady_cache[fd], code, __ATOMIC_RELAXED));
}

unsigned zc_fdtab_pending;

void zc_fdtab_set_pending(int fd, int err)
{
	WITH_ENTRY(fd, 0, {
		if (!i->pending_err) __atomic_fetch_add(&zc_fdtab_pending, 1, __ATOMIC_RELAXED);
		i->pending_err = err;
	});
}

int zc_fdtab_take_pending(int fd)
{
	int err = 0;
	WITH_ENTRY(fd, 0, {
		err = i->pending_err;
		if (err) __atomic_fetch_sub(&zc_fdtab_pending, 1, __ATOMIC_RELAXED);
		i->pending_err = 0;
	});
	return err;
}

void zc_fdtab_each(void (*fn)(struct zc_fd_info *, void *), void *arg)
{
	struct entry *e, *tmp;
	tlock();
	HASH_ITER(hh, table, e, tmp) fn(&e->i, arg);
	tunlock();
}

/* Fork: no lock is held across it (a lock taken in a prepare handler deadlocks against a thread
 * interrupted inside malloc whose signal handler writes). The child gets a fresh lock; a table
 * caught in the middle of a change is not trusted: it is emptied, and the caller is told so. */
int zc_fdtab_atfork_child(void)
{
	int torn = __atomic_load_n(&busy, __ATOMIC_RELAXED);
	pthread_mutex_init(&lock, NULL);
	busy = 0;
	/* reads and re-points in flight were the parent's threads' (this one's own end at 0) */
	syscall(SYS_madvise, reading, sizeof reading, MADV_DONTNEED); /* zero pages again, none touched */
	syscall(SYS_madvise, repointing, sizeof repointing, MADV_DONTNEED);
	reading_far = repointing_far = repointing_all = 0;
	if (torn) {
		table = NULL; /* entries leak into the pool: a rare child, a few KiB */
		free_list = NULL;
		syscall(SYS_madvise, kind_cache, sizeof kind_cache, MADV_DONTNEED);
		syscall(SYS_madvise, steady_cache, sizeof steady_cache, MADV_DONTNEED);
		__atomic_store_n(&zc_fdtab_pending, 0, __ATOMIC_RELAXED);
	}
	return torn;
}
