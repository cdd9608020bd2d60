/* detect.c — the record table: buffer ranges that hold known source bytes, guarded by guard.c. */
#include "detect.h"
#include "fdtab.h"
#include "guard.h"
#include "real.h"
#include "shim.h"
#include "stats.h"

#include <string.h>
#include <sys/mman.h>

#define PAGE 4096UL
#define SHADOW (2 * PAGE) /* private copy of the unaligned head and tail */
#define REC_DYING_WRITABLE (ZC_REC_DYING + 1) /* dying, already writable: nothing to unprotect */
#define REC_PROTECTING (ZC_REC_DYING + 2)     /* being created: a fault now makes it dirty */

struct record {
	int state;
	uint64_t id;
	char *buf;
	size_t len;
	char *lo, *hi; /* protected interior [lo, hi) */
	int src_fd;
	uint64_t src_gen;
	off_t off;
	int stack;
	int reason; /* NOTE records */
};

static struct record recs[ZC_MAX_RECORDS];
static char *shadow_pool; /* SHADOW bytes per slot, mapped on first use */
static int hiwater;       /* slots at or above are free */
static uint64_t next_id = 1;
static int lock_word;     /* spinlock; never held across a syscall that can block */
static pid_t lock_owner;
unsigned zc_detect_live;

/* lock/unlock — a spinlock that records its owner so the fault handler can tell self-deadlock. */
static void lock(void)
{
	while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED)) __builtin_ia32_pause();
	lock_owner = zc_tid();
}

static void unlock(void)
{
	lock_owner = 0;
	__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

static char *head_copy(int slot) { return shadow_pool + (size_t)slot * SHADOW; }
static char *tail_copy(int slot) { return shadow_pool + (size_t)slot * SHADOW + PAGE; }

/* overlaps — [a, a+an) and [b, b+bn) share a byte. */
static int overlaps(const char *a, size_t an, const char *b, size_t bn)
{
	return a < b + bn && b < a + an;
}

/* free_slot_locked — returns a slot to the free pool. */
static void free_slot_locked(int s)
{
	recs[s].state = ZC_REC_FREE;
	__atomic_fetch_sub(&zc_detect_live, 1, __ATOMIC_RELAXED);
	while (hiwater > 0 && recs[hiwater - 1].state == ZC_REC_FREE) hiwater--;
}

/* drop_slots — unprotects and frees the given slots; marked DYING first so faults stay ours. */
static void drop_slots(const int *slots, int n, int unprotect)
{
	for (int k = 0; k < n; k++) {
		struct record *r = &recs[slots[k]];
		if (unprotect && r->state == ZC_REC_DYING) zc_guard_unprotect(r->lo, (size_t)(r->hi - r->lo));
	}
	/* a fault between marking and unprotecting found the record and made it writable: fine */
	lock();
	for (int k = 0; k < n; k++) free_slot_locked(slots[k]);
	unlock();
}

/* claim_locked — the lowest free slot, filled with r; when none is free, a note's slot (a note only
 * explains a fallback, losing one costs nothing but a counter); -1 when the table is full. Lock held. */
static int claim_locked(const struct record *r)
{
	int s, note = -1;
	for (s = 0; s < ZC_MAX_RECORDS && recs[s].state != ZC_REC_FREE; s++)
		if (note < 0 && recs[s].state == ZC_REC_NOTE) note = s;
	if (s == ZC_MAX_RECORDS) {
		if (note < 0) return -1;
		s = note;
		__atomic_fetch_sub(&zc_detect_live, 1, __ATOMIC_RELAXED); /* the evicted note */
	}
	recs[s] = *r;
	recs[s].id = next_id++;
	if (s >= hiwater) hiwater = s + 1;
	__atomic_fetch_add(&zc_detect_live, 1, __ATOMIC_RELAXED);
	return s;
}

/* zc_detect_record — new record; any record it overlaps dies first (the read overwrote it). */
int zc_detect_record(void *buf, size_t len, int src_fd, uint64_t gen, off_t off, int stack)
{
	char *b = buf;
	char *lo = (char *)(((uintptr_t)b + PAGE - 1) & ~(PAGE - 1));
	char *hi = (char *)(((uintptr_t)b + len) & ~(PAGE - 1));
	if (hi <= lo) return ZC_fb_no_interior;
	if (!shadow_pool) {
		void *p = mmap(NULL, (size_t)ZC_MAX_RECORDS * SHADOW, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) return ZC_fb_table_full;
		if (!__atomic_compare_exchange_n(&shadow_pool, &(char *){NULL}, p, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			syscall(SYS_munmap, p, (size_t)ZC_MAX_RECORDS * SHADOW);
	}
	zc_detect_drop_range(buf, len, 1);

	lock();
	int s = claim_locked(&(struct record){.state = REC_PROTECTING, .buf = b, .len = len, .lo = lo, .hi = hi,
					      .src_fd = src_fd, .src_gen = gen, .off = off, .stack = stack});
	if (s < 0) {
		unlock();
		return ZC_fb_table_full;
	}
	struct record *r = &recs[s];
	memcpy(head_copy(s), b, (size_t)(lo - b));
	memcpy(tail_copy(s), hi, (size_t)(b + len - hi));
	unlock();

	if (zc_guard_protect(lo, (size_t)(hi - lo)) < 0) {
		r->state = REC_DYING_WRITABLE;
		drop_slots(&s, 1, 0);
		return ZC_fb_no_interior;
	}
	lock();
	if (r->state == REC_PROTECTING) r->state = ZC_REC_EAGER; /* a fault meanwhile made it DIRTY */
	unlock();
	zc_count(ZC_records_created, 1);
	return 0;
}

/* zc_detect_note — a record with no guard and no shadow: it can only explain a fallback. */
void zc_detect_note(void *buf, size_t len, int src_fd, uint64_t gen, int reason)
{
	zc_detect_drop_range(buf, len, 1);
	lock();
	claim_locked(&(struct record){.state = ZC_REC_NOTE, .buf = buf, .len = len, .lo = buf, .hi = buf,
				      .src_fd = src_fd, .src_gen = gen, .reason = reason}); /* full of records: no note */
	unlock();
}

/* collect — slots overlapping [p, p+n) (or, with p NULL, from source fd), marked dying under the lock. */
static int collect(const char *p, size_t n, int fd, int *out)
{
	int k = 0;
	lock();
	for (int s = 0; s < hiwater; s++) {
		struct record *r = &recs[s];
		if (r->state != ZC_REC_EAGER && r->state != ZC_REC_DIRTY && r->state != ZC_REC_NOTE) continue;
		if (p ? !overlaps(p, n, r->buf, r->len) : r->src_fd != fd) continue;
		out[k++] = s;
		r->state = r->state == ZC_REC_EAGER ? ZC_REC_DYING : REC_DYING_WRITABLE;
	}
	unlock();
	return k;
}

/* drop — forgets the collected records; unused clean ones count toward stepping the source down. */
static void drop(int *slots, int k, int unprotect)
{
	for (int i = 0; i < k; i++) {
		struct record *r = &recs[slots[i]];
		if (r->state != ZC_REC_DYING) continue;
		zc_count(ZC_records_unused, 1);
		zc_fdtab_note_used(r->src_fd, r->src_gen, 0);
	}
	drop_slots(slots, k, unprotect);
	zc_count(ZC_records_dropped, (uint64_t)k);
}

/* zc_detect_drop_range — the kernel or the allocator is about to reuse this memory. */
void zc_detect_drop_range(const void *p, size_t n, int unprotect)
{
	int slots[ZC_MAX_RECORDS];
	if (!__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) return;
	int k = collect(p, n, -1, slots);
	if (k) drop(slots, k, unprotect);
}

/* zc_detect_drop_fd — the source is closed, replaced or no longer leased. */
void zc_detect_drop_fd(int fd)
{
	int slots[ZC_MAX_RECORDS];
	if (!__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) return;
	int k = collect(NULL, 0, fd, slots);
	if (k) drop(slots, k, 1);
}

/* zc_detect_match — one clean record contains the whole range and its unguarded bytes are unchanged. */
int zc_detect_match(const void *p, size_t n, struct zc_match *m)
{
	const char *q = p;
	int found = 0, dirty_slot = -1;
	lock();
	for (int s = 0; s < hiwater; s++) {
		struct record *r = &recs[s];
		if ((r->state != ZC_REC_EAGER && r->state != ZC_REC_DIRTY && r->state != ZC_REC_NOTE) || q < r->buf ||
		    q + n > r->buf + r->len)
			continue;
		if (r->state == ZC_REC_NOTE) {
			m->reason = r->reason;
			m->src_fd = r->src_fd;
			m->src_gen = r->src_gen;
			found = 2;
			break;
		}
		if (r->state == ZC_REC_DIRTY) {
			dirty_slot = s;
			r->state = REC_DYING_WRITABLE;
			break;
		}
		/* the head [buf, lo) and tail [hi, end) are not protected: compare the part we send */
		const char *a = q, *e = q + n;
		if (a < r->lo && memcmp(a, head_copy(s) + (a - r->buf), (size_t)((e < r->lo ? e : r->lo) - a))) {
			dirty_slot = s;
		} else if (e > r->hi) {
			const char *t = a > r->hi ? a : r->hi;
			if (memcmp(t, tail_copy(s) + (t - r->hi), (size_t)(e - t))) dirty_slot = s;
		}
		if (dirty_slot >= 0) {
			r->state = ZC_REC_DYING;
			break;
		}
		*m = (struct zc_match){.slot = s, .id = r->id, .src_fd = r->src_fd, .src_gen = r->src_gen,
				       .off = r->off + (q - r->buf), .to_end = (size_t)(r->buf + r->len - q),
				       .stack = r->stack};
		found = 1;
		break;
	}
	unlock();
	if (dirty_slot >= 0) {
		zc_count(ZC_records_dirty, 1);
		zc_count(ZC_records_dropped, 1);
		drop_slots(&dirty_slot, 1, 1); /* changed, not unused: no step-down count */
		return -1;
	}
	return found;
}

/* zc_detect_consumed — a record sent through its last byte has served its purpose. */
void zc_detect_consumed(const struct zc_match *m, size_t done)
{
	zc_fdtab_note_used(m->src_fd, m->src_gen, 1);
	/* a stack record never outlives the write: its frame may return and the area be reused by syscalls */
	if (done < m->to_end && !m->stack) return;
	int s = m->slot, mine = 0;
	lock();
	if (recs[s].id == m->id && (recs[s].state == ZC_REC_EAGER || recs[s].state == ZC_REC_DIRTY)) {
		recs[s].state = recs[s].state == ZC_REC_DIRTY ? REC_DYING_WRITABLE : ZC_REC_DYING;
		mine = 1;
	}
	unlock();
	if (mine) drop_slots(&s, 1, 1);
}

/* find_fault — the record whose guarded interior holds addr; marks it dirty. Lock held or owned. */
static struct record *find_fault(const char *a)
{
	for (int s = 0; s < hiwater; s++) {
		struct record *r = &recs[s];
		if (r->state == ZC_REC_FREE || a < r->lo || a >= r->hi) continue;
		if (r->state == ZC_REC_EAGER || r->state == REC_PROTECTING) r->state = ZC_REC_DIRTY;
		return r;
	}
	return NULL;
}

/* zc_detect_fault — from the SIGSEGV handler: lift the guard, mark dirty, let the store retry. */
int zc_detect_fault(void *addr)
{
	struct record *r;
	char *lo = NULL, *hi = NULL;
	if (__atomic_load_n(&lock_word, __ATOMIC_ACQUIRE) && lock_owner == zc_tid()) {
		r = find_fault(addr); /* interrupted our own critical section: read without the lock */
		if (r) lo = r->lo, hi = r->hi;
	} else {
		lock();
		r = find_fault(addr);
		if (r) lo = r->lo, hi = r->hi;
		unlock();
	}
	if (!r) return 0;
	zc_guard_unprotect(lo, (size_t)(hi - lo));
	return 1;
}

/* Fork: the child inherits records (its memory is a copy, protections included) and a free lock. */
void zc_detect_atfork_prepare(void) { lock(); }
void zc_detect_atfork_parent(void) { unlock(); }
void zc_detect_atfork_child(void)
{
	lock_owner = 0;
	__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}
