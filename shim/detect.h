/* detect.h — records: "this buffer range holds these bytes of this source", and matching writes. */
#ifndef ZC_DETECT_H
#define ZC_DETECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The life of a slot. Every transition happens under the table lock; nothing asynchronous (no
 * signal handler, no other thread's fault) ever changes a state, so there is no dirty or dying
 * state: a write to a guarded buffer is a bit the kernel keeps (guard.c), read when a write matches.
 *
 *   FREE -> GUARDED   a read filled the buffer and its interior was armed (zc_detect_record)
 *   FREE -> NOTE      a read whose bytes will not be rewritten, remembered to say why (zc_detect_note)
 *   GUARDED -> FREE   consumed to its end, found written, overlapped by a new read, memory given
 *                     back, source closed or its lease broken (retire())
 *   NOTE -> FREE      the same, or evicted when the table is full
 *
 * Deferred mode (the fault thread, fault.c, is the one asynchronous actor, and it only ever takes a
 * record through BUSY under the lock):
 *   FREE -> BUSY -> DEFERRED   a deferred read claimed it, zapped its interior, committed it
 *   DEFERRED -> BUSY -> DEFERRED  the next read into the same buffer reuses it (nothing zapped)
 *   DEFERRED -> BUSY -> GUARDED   a touch, a fork, a close, a lease break, a kernel write filled it
 *   DEFERRED -> FREE           the memory was given back (free, munmap, madvise, mmap over it)
 * A deferred record is never retired by its write: the buffer must still read as what was read. */
enum zc_rec_state {
	ZC_REC_FREE = 0,
	ZC_REC_GUARDED = 1,
	ZC_REC_NOTE = 2,
	ZC_REC_DEFERRED = 3, /* the read did not copy: the interior is absent, filled on first touch */
	ZC_REC_BUSY = 4,     /* one thread zaps or fills it; everyone else (faults included) waits */
	ZC_REC_NSTATES
};

#define ZC_MAX_RECORDS 1024

/* What a write range matched (zc_detect_match). */
enum zc_match_kind {
	ZC_MATCH_NONE = 0, /* no record holds the range */
	ZC_MATCH_FILE,     /* a clean record: m tells where the bytes are in the source */
	ZC_MATCH_CHANGED,  /* the program (or the kernel for it) changed the buffer: record retired */
	ZC_MATCH_NOTE,     /* a note: m->reason is the fallback counter the write counts */
	ZC_MATCH_UNKNOWN,  /* the guard could not answer: pass through */
};

struct zc_match {
	int slot;
	uint64_t id;   /* record identity, so a reused slot is never mistaken */
	int src_fd;
	uint64_t src_gen;
	off_t off;     /* source offset of the first byte of the write range */
	size_t to_end; /* bytes from the write range's start to the record's end */
	int stack;     /* the buffer is on a thread stack: the record ends with the write that used it */
	int reason;    /* for a note: the fallback counter a matching write counts */
	int deferred;  /* the bytes are not in the buffer: only a kernel-side transfer can send them cheaply */
	int src;       /* deferred: the source slot held by this match (zc_detect_release); mapped: the
			* file slot held (zc_map_release) */
	int fill_fd;   /* deferred: the shim's duplicate of the source, to send from */
	int mapped;    /* the range lies in a file mapping (mapping.c): no record, src_fd is the shim's */
};

extern unsigned zc_detect_live; /* slots not FREE: 0 lets every wrapper skip the detector */

/* Before a read of len bytes into buf that may be recorded (its old records already dropped): the
 * interior is made writable without faults. 0, or the fallback counter saying why it cannot be guarded. */
int zc_detect_prepare(void *buf, size_t len);
/* After that read returned len bytes from source offset off: arm the guard, record. 0 or a
 * fallback counter (enum zc_counter) explaining why no record was made. */
int zc_detect_record(void *buf, size_t len, int src_fd, uint64_t gen, off_t off, int stack);
/* A read whose bytes may not be rewritten: remembered unguarded, so the write can count the real
 * reason instead of "no record". */
void zc_detect_note(void *buf, size_t len, int src_fd, uint64_t gen, int reason);
/* A steady source's read (zc_fdtab_steady) is noted on the reading thread only, without the table or
 * its lock: quick_reason gives the reason when a write of those buffers from this thread passes, else 0. */
void zc_detect_quick_note(const void *buf, size_t len, int reason);
int zc_detect_quick_reason(const void *p, size_t n);
int zc_detect_quick_reason_iov(const struct iovec *v, size_t cnt); /* the first buffer with one */
void zc_detect_quick_drop(const void *p, size_t n); /* [p, p+n) is about to be written over */
extern __thread int zc_detect_quick_live;         /* this thread has made a quick note: look */
/* The kernel or the allocator is about to reuse [p, p+n): forget records there. */
void zc_detect_drop_range(const void *p, size_t n);
/* The same for memory given back (free, munmap, madvise, mmap over it): deferred bytes are not filled. */
void zc_detect_discard_range(const void *p, size_t n);
/* The source descriptor is gone or no longer trusted (deferred records are filled first). */
void zc_detect_drop_fd(int fd);
/* Which record, if any, holds [p, p+n) unchanged. */
enum zc_match_kind zc_detect_match(const void *p, size_t n, struct zc_match *m);
/* A deferred match gives back its hold on the source's duplicate (after the transfer or a decline). */
void zc_detect_release(const struct zc_match *m);
/* done bytes of the matched range were sent; a record consumed to its end is retired. The caller
 * tells the source (zc_fdtab_sent or zc_fdtab_note_used). */
void zc_detect_consumed(const struct zc_match *m, size_t done);
void zc_detect_atfork_child(void);
/* Deferred reads (defer.c): begin returns a busy slot owned by the caller or -(fallback counter);
 * commit makes it DEFERRED for [off, off+n) of src_fd, or returns -1: the fault thread had to fill
 * it meanwhile (a signal handler touched it while its read was in progress), so the read must copy. */
int zc_detect_defer_begin(void *buf, size_t n, uint64_t *id);
int zc_detect_defer_commit(int s, uint64_t id, void *buf, size_t n, int src_fd, uint64_t gen, off_t off, int src);
/* The slot of the shim's own duplicate of fd (made on first use) that fills its deferred buffers; -1: none. */
int zc_detect_source(int fd, uint64_t gen);
void zc_detect_source_put(int src);
/* The fault thread's scratch, mapped before it starts (detect.c says why). */
void zc_detect_fault_thread_init(void);
/* The fault thread: the kernel's events for registered ranges (userfaultfd UNMAP/REMOVE, REMAP). */
void zc_detect_on_unmap(void *p, size_t n);
void zc_detect_on_remap(void *from, void *to, size_t len);
/* The fault thread: page was touched. */
void zc_detect_on_fault(void *page);
/* pthread_atfork prepare and parent handlers: fill every deferred record, defer nothing meanwhile. */
void zc_detect_before_fork(void);
/* Every deferred record gets its bytes (before exec: the leases are about to go). */
void zc_detect_fill_all(void);
void zc_detect_after_fork(void);

#endif
