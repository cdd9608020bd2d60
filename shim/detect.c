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

_Static_assert(ZC_REC_FREE == 0, "a zeroed table is a free table");
_Static_assert(ZC_REC_FREE != ZC_REC_GUARDED && ZC_REC_GUARDED != ZC_REC_NOTE && ZC_REC_NOTE != ZC_REC_FREE,
	       "states are distinct");

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
};

static struct record recs[ZC_MAX_RECORDS];
static char *shadow_pool; /* SHADOW bytes per slot, mapped on first use */
static int hiwater;       /* slots at or above are free */
static uint64_t next_id = 1;
static int lock_word;     /* spinlock: held for table work only, never across a system call; every
			   * caller runs with zc_depth > 0, so a signal handler's own I/O on this thread
			   * passes through instead of waiting for it */
unsigned zc_detect_live;

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

/* retire_locked — the one way out of a live state. */
static void retire_locked(int s, struct unused *u)
{
	struct record *r = &recs[s];
	if (u && is_guarded(r) && u->n < UNUSED_MAX) u->fd[u->n] = r->src_fd, u->gen[u->n++] = r->src_gen;
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

/* drop_where — retires every live record overlapping [p, p+n) (or, with p NULL, read from fd). */
static void drop_where(const char *p, size_t n, int fd)
{
	struct unused u;
	int k = 0;
	u.n = 0;
	lock();
	for (int s = 0; s < hiwater; s++) {
		struct record *r = &recs[s];
		if (!is_live(r) || (p ? !overlaps(p, n, r->buf, r->len) : r->src_fd != fd)) continue;
		retire_locked(s, &u);
		k++;
	}
	unlock();
	report_unused(&u, k);
}

void zc_detect_drop_range(const void *p, size_t n)
{
	if (__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) drop_where(p, n, -1);
}

void zc_detect_drop_fd(int fd)
{
	if (__atomic_load_n(&zc_detect_live, __ATOMIC_RELAXED)) drop_where(NULL, 0, fd);
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

/* zc_detect_match — one guarded record contains the whole range, its shadowed bytes are the same,
 * and the kernel says no page of it was written since the read. */
enum zc_match_kind zc_detect_match(const void *p, size_t n, struct zc_match *m)
{
	const char *q = p, *e = q + n;
	enum zc_match_kind kind = ZC_MATCH_NONE;
	char *lo = NULL, *hi = NULL;
	lock();
	for (int s = 0; s < hiwater; s++) {
		struct record *r = &recs[s];
		if (!is_live(r) || q < r->buf || e > r->buf + r->len) continue;
		if (is_note(r)) {
			*m = (struct zc_match){.slot = s, .id = r->id, .src_fd = r->src_fd, .src_gen = r->src_gen, .reason = r->reason};
			kind = ZC_MATCH_NOTE;
			break;
		}
		if (!shadow_same(s, q, e)) {
			retire_locked(s, NULL);
			kind = ZC_MATCH_CHANGED;
			break;
		}
		*m = (struct zc_match){.slot = s, .id = r->id, .src_fd = r->src_fd, .src_gen = r->src_gen,
				       .off = r->off + (q - r->buf), .to_end = (size_t)(r->buf + r->len - q),
				       .stack = r->stack};
		lo = q > r->lo ? (char *)((uintptr_t)q & ~(PAGE - 1)) : r->lo;
		hi = e < r->hi ? (char *)(((uintptr_t)e + PAGE - 1) & ~(PAGE - 1)) : r->hi;
		kind = ZC_MATCH_FILE;
		break;
	}
	unlock();
	if (kind == ZC_MATCH_FILE && hi > lo) {
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

/* zc_detect_consumed — a record sent through its last byte has served its purpose. */
void zc_detect_consumed(const struct zc_match *m, size_t done)
{
	zc_fdtab_note_used(m->src_fd, m->src_gen, 1);
	/* a stack record never outlives the write: its frame may return and the area be reused */
	if (done < m->to_end && !m->stack) return;
	retire_id(m->slot, m->id);
}

/* Fork: no lock is held across it (see fdtab.c). The child's copy of the buffers lost the guard
 * (guard.c), so its guarded records mean nothing; notes still explain a fallback, unless the table
 * was caught mid-change, then nothing in it is kept. */
void zc_detect_atfork_child(void)
{
	int torn = __atomic_load_n(&lock_word, __ATOMIC_RELAXED);
	for (int s = 0; s < ZC_MAX_RECORDS; s++)
		if (torn || is_guarded(&recs[s])) recs[s].state = ZC_REC_FREE;
	unsigned live = 0;
	hiwater = 0;
	for (int s = 0; s < ZC_MAX_RECORDS; s++)
		if (is_live(&recs[s])) live++, hiwater = s + 1;
	__atomic_store_n(&zc_detect_live, live, __ATOMIC_RELAXED);
	__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}
