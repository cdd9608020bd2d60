/* detect.h — records: "this buffer range holds these bytes of this source", and matching writes. */
#ifndef ZC_DETECT_H
#define ZC_DETECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum zc_rec_state {
	ZC_REC_FREE = 0,
	ZC_REC_EAGER, /* the buffer holds the bytes; interior write-protected, head/tail shadowed */
	ZC_REC_DIRTY, /* the program wrote to the interior: never rewrite from it */
	ZC_REC_DYING, /* being unprotected; faults on it are still ours */
	ZC_REC_NOTE,  /* unguarded: only explains why a write of this buffer is not rewritten */
	/* deferred mode adds ZC_REC_DEFERRED here: bytes not copied yet, materialized on demand */
};

#define ZC_MAX_RECORDS 1024

/* What a write range matched: where its first byte comes from in the source. */
struct zc_match {
	int slot;
	uint64_t id;   /* record identity, so a reused slot is never mistaken */
	int src_fd;
	uint64_t src_gen;
	off_t off;     /* source offset of the first byte of the write range */
	size_t to_end; /* bytes from the write range's start to the record's end */
	int stack;     /* the buffer is on a thread stack: the record ends with the write that used it */
	int reason;    /* for a NOTE record: the fallback counter a matching write counts */
};

extern unsigned zc_detect_live; /* live records: 0 lets every wrapper skip the detector */

/* After a read of len bytes at source offset off into buf: record it and guard the interior.
 * Returns 0, or a fallback counter (enum zc_counter) explaining why no record was made. */
int zc_detect_record(void *buf, size_t len, int src_fd, uint64_t gen, off_t off, int stack);
/* The kernel or allocator is about to reuse [p, p+n): forget records there (unprotecting). */
void zc_detect_drop_range(const void *p, size_t n, int unprotect);
/* The source descriptor is gone or no longer trusted. */
void zc_detect_drop_fd(int fd);
/* A read whose bytes may not be rewritten (lease denied, stack buffer): remembered without a
 * guard, so the write can count the real reason instead of "no record". */
void zc_detect_note(void *buf, size_t len, int src_fd, uint64_t gen, int reason);
/* [p, p+n) lies in one clean record whose unaligned head/tail bytes are unchanged: 1.
 * 0: no record; -1: a record exists but the program changed it (dropped); 2: a note (m->reason). */
int zc_detect_match(const void *p, size_t n, struct zc_match *m);
/* done bytes of the matched range were sent; a record consumed to its end is dropped. */
void zc_detect_consumed(const struct zc_match *m, size_t done);
/* SIGSEGV on addr: 1 if it was a guarded record (now dirty and writable). Signal-safe. */
int zc_detect_fault(void *addr);
void zc_detect_atfork_prepare(void);
void zc_detect_atfork_parent(void);
void zc_detect_atfork_child(void);

#endif
