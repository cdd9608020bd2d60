/* detect.c — the record table: buffer ranges that hold known source bytes, guarded by guard.c. */
#include "detect.h"
#include "fault.h"
#include "fdtab.h"
#include "guard.h"
#include "real.h"
#include "shim.h"
#include "stats.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096UL
#define SHADOW (2 * PAGE) /* private copy of the unaligned head and tail */

_Static_assert(ZC_REC_FREE == 0, "a zeroed table is a free table");
_Static_assert(ZC_REC_NSTATES == 5, "every state is handled below");

struct record {
	int state; /* enum zc_rec_state */
	uint64_t id;
	char *buf;
	size_t len;
	char *lo, *hi; /* armed interior [lo, hi) */
	int src_fd;
	uint64_t src_gen;
	off_t off;
	int stack;
	int reason; /* notes */
	int src;    /* deferred: the slot in sources[] whose duplicate fills it; -1 none */
	int spoiled; /* busy, and the fault thread had to fill it meanwhile: the read must copy after all */
};

/* The shim's own duplicate of each deferred source: a deferred buffer is filled from the file that
 * was read even after the program closed its descriptor behind our back (fclose, a raw close) or
 * put another file at that number. Shared by the records of one source; closed with the last. */
#define MAX_SOURCES 256 /* as many as fit in zc_dup_high's zone (64 under a soft limit of 1024) */
struct source {
	int fd;      /* ours, high and close-on-exec; -1: free */
	int src_fd;  /* the program's number and its generation, the key */
	uint64_t gen;
	int refs;    /* live records filled from it */
	int dead;    /* the program closed its number: closed as soon as no record needs it */
};
static struct source sources[MAX_SOURCES] = {[0 ... MAX_SOURCES - 1] = {.fd = -1}};
static int sources_made; /* a duplicate was ever made: closes must look at the sources */

static struct record recs[ZC_MAX_RECORDS];
static char *shadow_pool; /* SHADOW bytes per slot, mapped on first use */
static int hiwater;       /* slots at or above are free */
static uint64_t next_id = 1;
static int lock_word;     /* spinlock: held for table work only, never across a system call; every
			   * caller runs with zc_depth > 0, so a signal handler's own I/O on this thread
			   * passes through instead of waiting for it */
unsigned zc_detect_live;
static int forking; /* a fork is about to copy the address space: nothing new is deferred */

static void lock(void)
{
	unsigned spins = 0;
	while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED))
			if (++spins % 128) __builtin_ia32_pause();
			else syscall(SYS_sched_yield); /* more threads than cores: let the holder run */
}

static void unlock(void)
{
	__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

/* One predicate per question. */
static int is_live(const struct record *r) { return r->state != ZC_REC_FREE; }
static int is_guarded(const struct record *r) { return r->state == ZC_REC_GUARDED; }
static int is_note(const struct record *r) { return r->state == ZC_REC_NOTE; }
static int is_deferred(const struct record *r) { return r->state == ZC_REC_DEFERRED; }
static int is_busy(const struct record *r) { return r->state == ZC_REC_BUSY; }
/* holds_pages — the interior of r is (or is about to be) missing: only a fill may give it bytes */
static int holds_pages(const struct record *r) { return is_deferred(r) || is_busy(r); }

static char *head_copy(int slot) { return shadow_pool + (size_t)slot * SHADOW; }
static char *tail_copy(int slot) { return shadow_pool + (size_t)slot * SHADOW + PAGE; }

/* overlaps — [a, a+an) and [b, b+bn) share a byte. */
static int overlaps(const char *a, size_t an, const char *b, size_t bn)
{
	return a < b + bn && b < a + an;
}

/* A guarded record retired before its bytes were sent: its source may not be a copy loop. */
#define UNUSED_MAX 64 /* more in one drop are retired all the same, just not reported */
struct unused {
	int n;
	int fd[UNUSED_MAX];
	uint64_t gen[UNUSED_MAX];
};

/* unref_locked — the record no longer needs its source's duplicate (sweep() closes unused ones). */
static void unref_locked(struct record *r)
{
	if (r->src >= 0 && r->state != ZC_REC_NOTE) sources[r->src].refs--;
	r->src = -1;
}

/* sweep — closes the duplicates no record needs any more whose source the program closed (a source
 * still open keeps its duplicate: the next buffer read from it needs it again); outside the lock. */
static int maybe_dead; /* some source the program closed may still have its duplicate: sweep looks */

static void sweep(void)
{
	int fds[MAX_SOURCES], n = 0;
	if (!__atomic_load_n(&maybe_dead, __ATOMIC_ACQUIRE)) return; /* a copy loop's every chunk: no lock */
	lock();
	__atomic_store_n(&maybe_dead, 0, __ATOMIC_RELAXED);
	for (int k = 0; k < MAX_SOURCES; k++) {
		if (sources[k].fd < 0 || !sources[k].dead) continue;
		if (sources[k].refs <= 0) fds[n++] = sources[k].fd, sources[k].fd = -1;
		else __atomic_store_n(&maybe_dead, 1, __ATOMIC_RELAXED); /* still needed: looked at again at its last release */
	}
	unlock();
	for (int k = 0; k < n; k++) zc_close_own(fds[k]);
}

/* source_closed_locked — the program's number fd is gone: its duplicate goes with its last record. */
static void source_closed_locked(int fd)
{
	for (int k = 0; k < MAX_SOURCES; k++)
		if (sources[k].fd >= 0 && sources[k].src_fd == fd) sources[k].dead = 1, __atomic_store_n(&maybe_dead, 1, __ATOMIC_RELEASE);
}

/* retire_locked — the one way out of a live state. */
static void retire_locked(int s, struct unused *u)
{
	struct record *r = &recs[s];
	if (u && is_guarded(r) && u->n < UNUSED_MAX) u->fd[u->n] = r->src_fd, u->gen[u->n++] = r->src_gen;
	unref_locked(r);
	r->state = ZC_REC_FREE;
	__atomic_fetch_sub(&zc_detect_live, 1, __ATOMIC_RELAXED);
	while (hiwater > 0 && !is_live(&recs[hiwater - 1])) hiwater--;
}

/* report_unused — after the lock: counts toward stepping the source down (fdtab has its own lock). */
static void report_unused(const struct unused *u, int dropped)
{
	for (int k = 0; k < u->n; k++) zc_fdtab_note_used(u->fd[k], u->gen[k], 0);
	if (u->n) zc_count(ZC_records_unused, (uint64_t)u->n);
	if (dropped) zc_count(ZC_records_dropped, (uint64_t)dropped);
}

/* claim_locked — the lowest free slot, filled with r; when none is free, a note's slot (a note only
 * explains a fallback, losing one costs nothing but a counter); -1 when the table is full. */
static int claim_locked(const struct record *r)
{
	int s, note = -1;
	for (s = 0; s < ZC_MAX_RECORDS && is_live(&recs[s]); s++)
		if (note < 0 && is_note(&recs[s])) note = s;
	if (s == ZC_MAX_RECORDS) {
		if (note < 0) return -1;
		retire_locked(s = note, NULL);
	}
	recs[s] = *r;
	if (r->state != ZC_REC_BUSY) recs[s].src = -1; /* only a deferred read names a source's duplicate */
	recs[s].id = next_id++;
	if (s >= hiwater) hiwater = s + 1;
	__atomic_fetch_add(&zc_detect_live, 1, __ATOMIC_RELAXED);
	return s;
}

/* interior — the page-aligned part of [b, b+len); empty when hi <= lo. */
static void interior(const char *b, size_t len, char **lo, char **hi)
{
	*lo = (char *)(((uintptr_t)b + PAGE - 1) & ~(PAGE - 1));
	*hi = (char *)(((uintptr_t)b + len) & ~(PAGE - 1));
}

/* zc_detect_prepare — records there were dropped already (the caller's gate): open the guard. */
int zc_detect_prepare(void *buf, size_t len)
{
	char *lo, *hi;
	interior(buf, len, &lo, &hi);
	if (hi <= lo) return ZC_fb_no_interior;
	return zc_guard_open(lo, (size_t)(hi - lo)) < 0 ? ZC_fb_no_guard : 0;
}

/* shadows — the pool of head/tail copies, mapped once. */
static int shadows(void)
{
	if (__atomic_load_n(&shadow_pool, __ATOMIC_ACQUIRE)) return 0;
	void *p = mmap(NULL, (size_t)ZC_MAX_RECORDS * SHADOW, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) return -1;
	if (!__atomic_compare_exchange_n(&shadow_pool, &(char *){NULL}, p, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		syscall(SYS_munmap, p, (size_t)ZC_MAX_RECORDS * SHADOW);
	return 0;
}

/* zc_detect_record — arm first: a store after this instant is seen, whatever the table says. */
int zc_detect_record(void *buf, size_t len, int src_fd, uint64_t gen, off_t off, int stack)
{
	char *b = buf, *lo, *hi;
	interior(b, len, &lo, &hi);
	if (hi <= lo) return ZC_fb_no_interior;
	if (shadows() < 0) return ZC_fb_table_full;
	if (zc_guard_arm(lo, (size_t)(hi - lo)) < 0) return ZC_fb_no_guard;
	lock();
	int s = claim_locked(&(struct record){.state = ZC_REC_GUARDED, .buf = b, .len = len, .lo = lo, .hi = hi,
					      .src_fd = src_fd, .src_gen = gen, .off = off, .stack = stack});
	if (s >= 0) {
		memcpy(head_copy(s), b, (size_t)(lo - b));
		memcpy(tail_copy(s), hi, (size_t)(b + len - hi));
	}
	unlock();
	if (s < 0) return ZC_fb_table_full;
	zc_count(ZC_records_created, 1);
	return 0;
}

/* zc_detect_note — a record with no guard and no shadow: it can only explain a fallback. */
void zc_detect_note(void *buf, size_t len, int src_fd, uint64_t gen, int reason)
{
	zc_detect_drop_range(buf, len);
	lock();
	claim_locked(&(struct record){.state = ZC_REC_NOTE, .buf = buf, .len = len, .lo = buf, .hi = buf,
				      .src_fd = src_fd, .src_gen = gen, .reason = reason}); /* full: no note */
	unlock();
}

/* The last two quick notes of this thread: a copy loop may read into two buffers before writing. */
static __thread struct quick {
	const char *buf;
	size_t len;
	int reason;
} quick[2];
static __thread unsigned quick_next;
__thread int zc_detect_quick_live;

void zc_detect_quick_note(const void *buf, size_t len, int reason)
{
	for (int k = 0; k < 2; k++) /* a buffer read into again replaces its own note */
		if (quick[k].buf == buf) {
			quick[k].len = len, quick[k].reason = reason;
			return;
		}
	quick[quick_next++ & 1] = (struct quick){buf, len, reason};
	zc_detect_quick_live = 1;
}

int zc_detect_quick_reason(const void *p, size_t n)
{
	const char *q = p;
	for (int k = 0; k < 2; k++)
		if (quick[k].buf && q >= quick[k].buf && q + n <= quick[k].buf + quick[k].len) return quick[k].reason;
	return 0;
}

int zc_detect_quick_reason_iov(const struct iovec *v, size_t cnt)
{
	int why = 0;
	for (size_t j = 0; j < cnt && !why; j++) why = v[j].iov_len ? zc_detect_quick_reason(v[j].iov_base, v[j].iov_len) : 0;
	return why;
}

void zc_detect_quick_drop(const void *p, size_t n)
{
	const char *q = p;
	for (int k = 0; k < 2; k++)
		if (quick[k].buf && q < quick[k].buf + quick[k].len && quick[k].buf < q + n) quick[k].buf = NULL;
}

/* wait_busy_locked — another thread owns slot s (zapping or filling it): let it finish. The owner
 * never waits for the table lock while it holds a record busy, so this ends; the fault thread,
 * which must never wait for good, asks for bounded (about 20 ms). 1 when the record left BUSY. */
static int wait_busy_locked(int s, int bounded)
{
	uint64_t id = recs[s].id;
	for (int k = 0; (!bounded || k < 2000) && is_busy(&recs[s]) && recs[s].id == id; k++) {
		unlock();
		if (!bounded || k < 100) syscall(SYS_sched_yield);
		else syscall(SYS_nanosleep, &(struct timespec){0, 10000}, NULL);
		lock();
	}
	return !(is_busy(&recs[s]) && recs[s].id == id);
}

/* fill — reads the interior's bytes from the source into a scratch mapping and installs them.
 * Under a lease the file is what it was at the read; without one (lease = prefer/off) it may not
 * be, the trade-off zcshim.conf names. Whatever happens the pages end present: a waiter must wake. */
static void fill_except(const struct record *c, const char *ha, const char *he);

static void fill(const struct record *c)
{
	fill_except(c, NULL, NULL);
}

/* install — the bytes of tmp (the interior's) go to the interior's pages, except [ha, he): pages
 * zapped or unmapped meanwhile, which stay as the program's madvise or munmap left them. */
static int install(const struct record *c, const char *tmp, const char *ha, const char *he)
{
	char *lo = c->lo, *hi = c->hi;
	if (!ha || he <= lo || ha >= hi) return zc_guard_fill(lo, tmp, (size_t)(hi - lo));
	int r = 0;
	if (ha > lo) r = zc_guard_fill(lo, tmp, (size_t)(ha - lo));
	if (he < hi && zc_guard_fill((char *)he, tmp + (he - lo), (size_t)(hi - he)) < 0) r = -1;
	return r;
}

/* The fault thread's scratch, mapped when it starts and filled a piece at a time: mapped later, at
 * the first fault, it could land in a hole the program had just made in its own memory (an mremap
 * of part of a buffer) and be mapped over when the program moves pages back there, leaving the
 * thread to fault on its own scratch with the program waiting for it. Other threads map one per fill. */
#define SCRATCH (1UL << 20)
static char *fault_scratch;

void zc_detect_fault_thread_init(void)
{
	if (fault_scratch) return; /* a restarted thread (after fork) keeps it */
	void *p = (void *)syscall(SYS_mmap, NULL, SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fault_scratch = p == MAP_FAILED ? NULL : p;
}

/* fill_piece — fill_except of at most SCRATCH bytes. */
static void fill_piece(const struct record *c, const char *ha, const char *he)
{
	size_t len = (size_t)(c->hi - c->lo), got = 0;
	off_t off = c->off + (c->lo - c->buf);
	char *kept = zc_fault_thread() ? fault_scratch : NULL;
	char *tmp = kept ? kept : (char *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tmp == MAP_FAILED) {
		zc_count(ZC_materialize_errors, 1);
		static const char zeros[PAGE];
		for (size_t k = 0; k < len; k += PAGE) zc_guard_fill(c->lo + k, zeros, PAGE);
		return;
	}
	if (c->src < 0 && c->src_fd < 0) { /* claimed, not read yet: nothing to give but zeros */
		memset(tmp, 0, len);
	} else {
		while (got < len) {
			ssize_t r = syscall(SYS_pread64, c->src >= 0 ? sources[c->src].fd : c->src_fd, tmp + got, len - got, off + (off_t)got);
			if (r <= 0) break;
			got += (size_t)r;
		}
		if (got < len) zc_count(ZC_materialize_errors, 1), memset(tmp + got, 0, len - got);
		zc_count(ZC_materialized_bytes, len);
	}
	if (install(c, tmp, ha, he) < 0) zc_count(ZC_materialize_errors, 1);
	if (tmp != kept) syscall(SYS_munmap, tmp, len);
}

/* fill_except — fill, leaving [ha, he) as it is (NULL: the whole interior); a piece at a time. */
static void fill_except(const struct record *c, const char *ha, const char *he)
{
	if (c->src >= 0 || c->src_fd >= 0) zc_count(ZC_materialized, 1);
	for (char *p = c->lo; p < c->hi; p += SCRATCH) {
		struct record piece = *c;
		piece.lo = p, piece.hi = (size_t)(c->hi - p) > SCRATCH ? p + SCRATCH : c->hi;
		fill_piece(&piece, ha, he);
	}
}

/* materialize_locked — a deferred record gets its bytes: busy while filling (faults on it wait),
 * then an ordinary guarded record, write-protected like one eager made. Returns with the lock held;
 * the table may have changed meanwhile. The _except form leaves the pages in [ha, he) as they are. */
static void materialize_except_locked(int s, const char *ha, const char *he)
{
	struct record c = recs[s];
	recs[s].state = ZC_REC_BUSY;
	unlock();
	fill_except(&c, ha, he);
	lock();
	if (recs[s].id == c.id) recs[s].state = ZC_REC_GUARDED;
}

static void materialize_locked(int s)
{
	materialize_except_locked(s, NULL, NULL);
}

/* Interiors of deferred buffers given back whole (free): the next deferred read into the same
 * place reuses them after one check (zc_detect_defer_begin). A hint only, never trusted unchecked. */
#define FREED_MAX 8
static struct {
	char *lo, *hi;
} freed[FREED_MAX];
static unsigned freed_next;

static void note_freed_locked(char *lo, char *hi)
{
	unsigned k = freed_next++ % FREED_MAX;
	freed[k].lo = lo, freed[k].hi = hi;
}

/* forget_freed_locked — a freed interior touched, unmapped, zapped or moved is not absent-and-ours. */
static void forget_freed_locked(const char *p, size_t n)
{
	for (int k = 0; k < FREED_MAX; k++)
		if (freed[k].lo && overlaps(p, n, freed[k].lo, (size_t)(freed[k].hi - freed[k].lo))) freed[k].lo = freed[k].hi = NULL;
}

static int take_freed_locked(char *lo, char *hi)
{
	for (int k = 0; k < FREED_MAX; k++)
		if (freed[k].lo == lo && freed[k].hi == hi) {
			freed[k].lo = freed[k].hi = NULL;
			return 1;
		}
	return 0;
}

/* selected — r is live and overlaps [p, p+n) (or, with p NULL, was read from fd). */
static int selected(const struct record *r, const char *p, size_t n, int fd)
{
	return is_live(r) && (p ? overlaps(p, n, r->buf, r->len) : r->src_fd == fd);
}

/* drop_where — retires every live record overlapping [p, p+n) (or, with p NULL, read from fd).
 * Deferred records get their bytes first, unless the memory is being discarded (freed, unmapped,
 * zapped, mapped over: what it held no longer matters). */
static void drop_where(const char *p, size_t n, int fd, int discard)
{
	struct unused u;
	int k = 0;
	u.n = 0;
	lock();
	if (!p) source_closed_locked(fd);
	for (int s = 0; s < hiwater; s++) {
		struct record *r = &recs[s];
		if (!selected(r, p, n, fd)) continue;
		if (is_busy(r)) wait_busy_locked(s, 0);
		/* memory given back in part: the rest still reads as what the read returned */
		if (is_deferred(r) && (!discard || !(p <= r->lo && p + n >= r->hi))) materialize_locked(s);
		if (!selected(r, p, n, fd)) continue; /* the lock was let go meanwhile */
		if (discard && is_deferred(r)) note_freed_locked(r->lo, r->hi);
		retire_locked(s, &u);
		k++;
	}
	unlock();
	report_unused(&u, k);
	sweep();
}

void zc_detect_drop_range(const void *p, size_t n)
{
	if (__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) drop_where(p, n, -1, 0);
}

void zc_detect_discard_range(const void *p, size_t n)
{
	if (__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) drop_where(p, n, -1, 1);
}

void zc_detect_drop_fd(int fd)
{
	if (__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) {
		drop_where(NULL, 0, fd, 0);
	} else if (__atomic_load_n(&sources_made, __ATOMIC_RELAXED)) {
		lock();
		source_closed_locked(fd); /* no record left, the duplicate may still be open */
		unlock();
		sweep();
	}
}

/* retire_id — retires the slot if it still holds record id. */
static void retire_id(int s, uint64_t id)
{
	lock();
	if (is_live(&recs[s]) && recs[s].id == id) retire_locked(s, NULL);
	unlock();
}

/* shadow_same — the unprotected head and tail bytes of the range still equal what the read put there. */
static int shadow_same(int s, const char *a, const char *e)
{
	const struct record *r = &recs[s];
	if (a < r->lo && memcmp(a, head_copy(s) + (a - r->buf), (size_t)((e < r->lo ? e : r->lo) - a))) return 0;
	if (e > r->hi) {
		const char *t = a > r->hi ? a : r->hi;
		if (memcmp(t, tail_copy(s) + (t - r->hi), (size_t)(e - t))) return 0;
	}
	return 1;
}

/* covers — r is live and holds all of [q, e). */
static int covers(const struct record *r, const char *q, const char *e)
{
	return is_live(r) && q >= r->buf && e <= r->buf + r->len;
}

/* zc_detect_match — one record contains the whole range and its shadowed head and tail bytes are
 * the same. A guarded record: the kernel says no page of the range was written since the read. A
 * deferred one: its pages are still absent (any touch would have filled it and made it guarded),
 * and still registered (nothing was mapped over them behind the shim's back). */
enum zc_match_kind zc_detect_match(const void *p, size_t n, struct zc_match *m)
{
	const char *q = p, *e = q + n;
	enum zc_match_kind kind;
	char *lo, *hi;
	int deferred, tries = 0;
	/* first: an unmap or move the kernel reported before this call is applied to the records */
	int settled = zc_guard_events() && zc_fault_settled();
again:
	kind = ZC_MATCH_NONE, lo = hi = NULL, deferred = 0;
	lock();
	for (int s = 0; s < hiwater; s++) {
		struct record *r = &recs[s];
		if (!covers(r, q, e)) continue;
		if (is_busy(r)) wait_busy_locked(s, 0);
		if (!covers(r, q, e)) continue; /* the lock was let go meanwhile */
		if (is_note(r)) {
			*m = (struct zc_match){.slot = s, .id = r->id, .src_fd = r->src_fd, .src_gen = r->src_gen, .reason = r->reason};
			kind = ZC_MATCH_NOTE;
			break;
		}
		if (!shadow_same(s, q, e)) {
			/* a deferred record stays: the original write will fault its pages in from it */
			if (!is_deferred(r)) retire_locked(s, NULL);
			kind = ZC_MATCH_CHANGED;
			break;
		}
		deferred = is_deferred(r) && r->src >= 0;
		*m = (struct zc_match){.slot = s, .id = r->id, .src_fd = r->src_fd, .src_gen = r->src_gen,
				       .off = r->off + (q - r->buf), .to_end = (size_t)(r->buf + r->len - q),
				       .stack = r->stack, .deferred = deferred, .src = deferred ? r->src : -1,
				       .fill_fd = deferred ? sources[r->src].fd : -1};
		if (deferred) sources[r->src].refs++; /* the duplicate stays open until the write is done */
		lo = q > r->lo ? (char *)((uintptr_t)q & ~(PAGE - 1)) : r->lo;
		hi = e < r->hi ? (char *)(((uintptr_t)e + PAGE - 1) & ~(PAGE - 1)) : r->hi;
		kind = ZC_MATCH_FILE;
		break;
	}
	unlock();
	if (kind == ZC_MATCH_FILE && hi > lo && deferred && !settled && !zc_guard_still_registered(lo, (size_t)(hi - lo))) {
		/* filled just now by a touch (then it is guarded: look again), or remapped behind our back */
		zc_detect_release(m);
		if (++tries < 3) goto again;
		return ZC_MATCH_UNKNOWN;
	}
	if (kind == ZC_MATCH_FILE && hi > lo && !deferred) {
		/* only the pages this write sends: a change elsewhere in the buffer does not matter */
		enum zc_guard_verdict v = zc_guard_check(lo, (size_t)(hi - lo));
		if (v != ZC_GUARD_CLEAN) {
			retire_id(m->slot, m->id);
			kind = v == ZC_GUARD_WRITTEN ? ZC_MATCH_CHANGED : ZC_MATCH_UNKNOWN;
		}
	}
	if (kind == ZC_MATCH_CHANGED) zc_count(ZC_records_dirty, 1), zc_count(ZC_records_dropped, 1);
	return kind;
}

/* zc_detect_consumed — a record sent through its last byte has served its purpose. A deferred one
 * stays: its pages hold nothing yet, and the buffer must still read as what the read returned. The
 * source learns of the use from the caller (zc_fdtab_sent: one lock with what else it notes). */
void zc_detect_consumed(const struct zc_match *m, size_t done)
{
	if (m->mapped || m->deferred) return; /* the mapping stays what it is */
	/* a stack record never outlives the write: its frame may return and the area be reused */
	if (done < m->to_end && !m->stack) return;
	retire_id(m->slot, m->id);
}

void zc_detect_release(const struct zc_match *m)
{
	if (m->deferred && m->src >= 0) zc_detect_source_put(m->src);
}

/* zc_detect_on_fault — the fault thread's answer to a touch of page: the deferred record holding it
 * is filled whole (and its source told, for stepping down); a page nobody holds gets zeros. */
void zc_detect_on_fault(void *page)
{
	char *pg = page;
	lock();
	for (int s = 0; s < hiwater; s++) {
		struct record *r = &recs[s];
		if (!holds_pages(r) || pg < r->lo || pg >= r->hi) continue;
		if (is_busy(r) && !wait_busy_locked(s, 1)) {
			/* its owner does not finish: a signal handler that interrupted it may be the one
			 * touching the buffer. Fill from what the record says now and make the read copy. */
			struct record c = *r;
			r->spoiled = 1;
			unlock();
			fill(&c);
			zc_count(ZC_materialized_fault, 1);
			return;
		}
		if (!is_deferred(r) || pg < r->lo || pg >= r->hi) {
			s = -1; /* it changed meanwhile: look again from the start */
			continue;
		}
		int fd = r->src_fd;
		uint64_t gen = r->src_gen;
		materialize_locked(s);
		unlock();
		zc_count(ZC_materialized_fault, 1);
		zc_fdtab_note_fault(fd, gen);
		return;
	}
	forget_freed_locked(pg, PAGE); /* present from now on: no freed interior there any more */
	unlock();
	zc_count(ZC_fault_zero, 1);
	zc_guard_zero(page);
}

/* zc_detect_on_unmap — the kernel reports [p, p+n) unmapped (gone) or zapped (madvise), by a call
 * the shim may never have seen (a raw system call): a deferred record wholly there stood for bytes
 * the memory no longer holds, and ends; one there in part gets its other pages filled first, which
 * still read as what its read returned. Busy ones are skipped: their owner is the one zapping. */
void zc_detect_on_unmap(void *p, size_t n)
{
	char *a = p, *e = a + n;
	lock();
	forget_freed_locked(a, n);
	for (int s = 0; s < hiwater; s++) {
		struct record *r = &recs[s];
		if (!is_deferred(r) || !overlaps(a, n, r->lo, (size_t)(r->hi - r->lo))) continue;
		uint64_t id = r->id;
		if (a > r->lo || e < r->hi) materialize_except_locked(s, a, e);
		if (recs[s].id == id) retire_locked(s, NULL);
	}
	unlock();
	sweep();
}

/* zc_detect_on_remap — [from, from+len) moved to to (a raw mremap: the interposed one fills first):
 * a deferred record moved whole moves along, its pages still absent and registered there; one
 * moved in part gets its bytes on both sides and ends. */
void zc_detect_on_remap(void *from, void *to, size_t len)
{
	char *a = from, *e = a + len;
	lock();
	forget_freed_locked(a, len);
	for (int s = 0; s < hiwater; s++) {
		struct record *r = &recs[s];
		if (!is_deferred(r) || !overlaps(a, len, r->buf, r->len)) continue;
		char *pb = (char *)((uintptr_t)r->buf & ~(PAGE - 1)), *pe = (char *)(((uintptr_t)r->buf + r->len + PAGE - 1) & ~(PAGE - 1));
		ptrdiff_t d = (char *)to - a;
		if (pb >= a && pe <= e) {
			r->buf += d, r->lo += d, r->hi += d;
			continue;
		}
		/* in part: the pages that moved get their bytes where they are now, the rest where it was */
		struct record c = *r, m = *r;
		char *ma = a > r->lo ? a : r->lo, *me = e < r->hi ? e : r->hi;
		r->state = ZC_REC_BUSY;
		unlock();
		if (me > ma) {
			m.buf += d, m.lo = ma + d, m.hi = me + d;
			fill(&m);
		}
		fill_except(&c, a, e);
		lock();
		if (recs[s].id == c.id) retire_locked(s, NULL);
	}
	unlock();
	sweep();
}

/* zc_detect_defer_begin — before a deferred read into [buf, buf+n): other records there end (deferred
 * ones filled first: they may hold bytes the new read will not cover). A deferred record with the
 * same interior is reused as it is: its pages are still absent, nothing to zap (a copy loop's steady
 * state). Else a new record is claimed and the interior zapped. Either way the slot is returned busy
 * and owned by the caller (faults on it wait for zc_detect_defer_commit); or -(fallback counter). */
int zc_detect_defer_begin(void *buf, size_t n, uint64_t *id)
{
	char *b = buf, *lo, *hi;
	interior(b, n, &lo, &hi);
	if (hi <= lo) return -ZC_fb_no_interior;
	if (shadows() < 0) return -ZC_fb_table_full;
	struct unused u = {.n = 0};
	/* with the kernel's events, a buffer still recorded is still registered and absent: no probe */
	int settled = zc_guard_events() && zc_fault_settled();
	lock();
restart:
	if (forking) {
		unlock();
		return -ZC_fb_forking;
	}
	for (int s = 0; s < hiwater; s++) {
		struct record *r = &recs[s];
		if (!is_live(r) || !overlaps(b, n, r->buf, r->len)) continue;
		if (is_busy(r)) {
			wait_busy_locked(s, 0);
			goto restart;
		}
		if (is_deferred(r) && r->lo == lo && r->hi == hi) {
			r->state = ZC_REC_BUSY;
			*id = r->id;
			for (int t = s + 1; t < hiwater; t++) /* no other record can overlap a live deferred one's */
				if (is_live(&recs[t]) && !holds_pages(&recs[t]) && overlaps(b, n, recs[t].buf, recs[t].len)) retire_locked(t, &u);
			unlock();
			report_unused(&u, 0);
			sweep();
			/* still absent and registered? a raw mmap(MAP_FIXED) over it is not seen otherwise */
			if (settled || zc_guard_still_registered(lo, (size_t)(hi - lo))) return s;
			lock();
			if (recs[s].id == *id) retire_locked(s, NULL); /* remapped: its old bytes are gone anyway */
			goto restart;
		}
		if (is_deferred(r)) {
			materialize_locked(s);
			goto restart;
		}
		retire_locked(s, &u);
	}
	int s = claim_locked(&(struct record){.state = ZC_REC_BUSY, .buf = b, .len = n, .lo = lo, .hi = hi, .src_fd = -1, .src = -1});
	if (s >= 0) *id = recs[s].id;
	int was_freed = s >= 0 && take_freed_locked(lo, hi);
	unlock();
	report_unused(&u, 0);
	if (s < 0) return -ZC_fb_table_full;
	/* a deferred buffer freed and handed out again (python's new buffer per chunk): its pages are
	 * still absent and registered unless something touched them since: one scan instead of four calls */
	if (was_freed && (settled || zc_guard_still_missing(lo, (size_t)(hi - lo)))) return s;
	if (zc_guard_defer_open(lo, (size_t)(hi - lo)) < 0) {
		retire_id(s, *id);
		return -ZC_fb_no_guard;
	}
	return s;
}

/* zc_detect_defer_commit — the read is done: slot s now stands for [off, off+n) of src_fd. */
int zc_detect_defer_commit(int s, uint64_t id, void *buf, size_t n, int src_fd, uint64_t gen, off_t off, int src)
{
	char *b = buf;
	int ok = 0;
	lock();
	struct record *r = &recs[s];
	if (r->id == id && is_busy(r) && r->spoiled) {
		retire_locked(s, NULL);
		ok = -1;
	} else if (r->id == id && is_busy(r)) {
		unref_locked(r);
		r->src = src; /* the reference zc_detect_source took */
		r->buf = b, r->len = n, r->src_fd = src_fd, r->src_gen = gen, r->off = off, r->stack = 0;
		memcpy(head_copy(s), b, (size_t)(r->lo - b));
		memcpy(tail_copy(s), r->hi, (size_t)(b + n - r->hi));
		r->state = ZC_REC_DEFERRED;
	}
	unlock();
	if (ok) zc_detect_source_put(src); /* the reference zc_detect_source took goes unused */
	return ok;
}

/* find_source_locked — the slot of fd's duplicate for generation gen, or MAX_SOURCES. */
static int find_source_locked(int fd, uint64_t gen)
{
	/* searched from fd's own place on: found at once while numbers stay under MAX_SOURCES apart */
	for (int j = 0, k = (unsigned)fd % MAX_SOURCES; j < MAX_SOURCES; j++, k = (k + 1) % MAX_SOURCES)
		if (sources[k].fd >= 0 && sources[k].src_fd == fd && sources[k].gen == gen) return k;
	return MAX_SOURCES;
}

/* unused_locked — frees the slot of one duplicate no record needs (its file may be read again: made
 * again then), its descriptor left in *fd for the caller to close once the lock is let go; the
 * slot, or -1 if every one is in use. */
static int unused_locked(int *fd)
{
	for (int k = 0; k < MAX_SOURCES; k++)
		if (sources[k].fd >= 0 && sources[k].refs <= 0) {
			*fd = sources[k].fd, sources[k].fd = -1;
			return k;
		}
	return -1;
}

/* evict_unused — closes one duplicate no record needs; 0, or -1 if every one is in use. */
static int evict_unused(void)
{
	int fd = -1;
	lock();
	int k = unused_locked(&fd);
	unlock();
	if (k < 0) return -1;
	zc_close_own(fd);
	return 0;
}

/* zc_detect_source — the slot of fd's duplicate (made on first use), with a reference the caller
 * hands to zc_detect_defer_commit or gives back (zc_detect_source_put); -1: none can be made, or
 * the table of sources is full (then the read is not deferred). */
int zc_detect_source(int fd, uint64_t gen)
{
	int k, freek = -1;
	lock();
	k = find_source_locked(fd, gen);
	for (int j = 0, i = (unsigned)fd % MAX_SOURCES; k == MAX_SOURCES && j < MAX_SOURCES && freek < 0; j++, i = (i + 1) % MAX_SOURCES)
		if (sources[i].fd < 0) freek = i;
	if (k < MAX_SOURCES) sources[k].refs++;
	int evict = -1;
	if (k == MAX_SOURCES && freek < 0) freek = unused_locked(&evict); /* full: an unused one goes */
	unlock();
	if (evict >= 0) zc_close_own(evict);
	if (k < MAX_SOURCES) return k;
	if (freek < 0) return -1;
	int d = zc_dup_high(fd); /* straight there: closing a low one would drop the program's POSIX locks */
	if (d < 0 && evict_unused() >= 0) d = zc_dup_high(fd); /* the zone is full: an unused one makes room */
	if (d < 0) return -1;
	lock();
	k = find_source_locked(fd, gen);
	if (k == MAX_SOURCES && sources[freek].fd < 0) sources[k = freek] = (struct source){.fd = d, .src_fd = fd, .gen = gen}, d = -1;
	sources_made = 1;
	if (k < MAX_SOURCES) sources[k].refs++;
	unlock();
	if (d >= 0) zc_close_own(d); /* another thread made it first, or the slot went */
	return k < MAX_SOURCES ? k : -1;
}

void zc_detect_source_put(int src)
{
	lock();
	int last = --sources[src].refs <= 0;
	unlock();
	if (last) sweep();
}

/* fill_all_locked — every deferred record gets its bytes. */
static void fill_all_locked(void)
{
	for (int s = 0; s < hiwater; s++) {
		if (is_busy(&recs[s])) wait_busy_locked(s, 0);
		if (is_deferred(&recs[s])) materialize_locked(s), s = -1; /* the table may have changed: again */
	}
}

void zc_detect_fill_all(void)
{
	if (!__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) return;
	lock();
	fill_all_locked();
	unlock();
}

/* Fork: the child gets a copy of the address space without the userfaultfd registration, so a page
 * still absent would read as zeros there. Every deferred record is filled first, and none is made
 * until the fork is done. In a signal handler that interrupted the shim on this thread, the table
 * lock may be held by that very thread: nothing can be filled then (counted). */
void zc_detect_before_fork(void)
{
	if (zc_depth) {
		if (__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) zc_count(ZC_fork_unfilled, 1);
		return;
	}
	zc_depth++; /* shim work on this thread from here (interpose.h enter/leave) */
	lock();
	forking = 1;
	fill_all_locked();
	unlock();
	zc_depth--;
}

void zc_detect_after_fork(void)
{
	lock();
	forking = 0;
	unlock();
}

/* Fork: no lock is held across it (see fdtab.c). The child's copy of the buffers lost the guard
 * (guard.c), so its guarded records mean nothing; notes still explain a fallback, unless the table
 * was caught mid-change, then nothing in it is kept. */
void zc_detect_atfork_child(void)
{
	int torn = __atomic_load_n(&lock_word, __ATOMIC_RELAXED);
	for (int s = 0; s < ZC_MAX_RECORDS; s++)
		if (torn || !is_note(&recs[s])) recs[s].state = ZC_REC_FREE;
	forking = 0;
	memset(freed, 0, sizeof freed); /* the child's pages are not registered */
	for (int k = 0; k < MAX_SOURCES; k++) /* the parent's duplicates, inherited: the child has no use for them */
		if (sources[k].fd >= 0) zc_close_own(sources[k].fd), sources[k].fd = -1;
	unsigned live = 0;
	hiwater = 0;
	for (int s = 0; s < ZC_MAX_RECORDS; s++)
		if (is_live(&recs[s])) live++, hiwater = s + 1;
	__atomic_store_n(&zc_detect_live, live, __ATOMIC_RELAXED);
	__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}
