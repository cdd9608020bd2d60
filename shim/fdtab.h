/* fdtab.h — what the shim knows of each descriptor: kind, identity, flags, generation, lease. */
#ifndef ZC_FDTAB_H
#define ZC_FDTAB_H

#include <stdint.h>
#include <sys/types.h>

enum zc_fd_kind {
	ZC_FD_UNKNOWN = 0, /* not classified yet */
	ZC_FD_FILE,        /* regular file that sendfile/splice can read */
	ZC_FD_TCP,         /* TCP stream socket */
	ZC_FD_UNIX,        /* AF_UNIX stream socket */
	ZC_FD_PIPE,        /* pipe or FIFO */
	ZC_FD_PROC,        /* regular file on procfs/sysfs: sizes lie, sendfile refuses */
	ZC_FD_OTHER,       /* anything else: passed through */
};

enum zc_lease_state {
	ZC_LS_NONE = 0,   /* not asked yet */
	ZC_LS_HELD,       /* read lease held, signal routed to the shim's thread */
	ZC_LS_DENIED,     /* EACCES/EAGAIN: no guarantee against other writers */
	ZC_LS_BROKEN,     /* someone opened it for writing: never rewrite again */
	ZC_LS_INHERITED,  /* held by the parent before fork: not ours to trust */
	ZC_LS_NOT_NEEDED, /* lease = off */
	ZC_LS_PROGRAM,    /* the program manages leases, signals or owner of this fd itself: hands off */
	ZC_LS_BUSY,       /* EAGAIN: the file is open for writing somewhere; asked again at the next read */
};

#define ZC_FD_DSTS 4 /* destinations remembered per source, drained before a lease is released */

struct zc_fd_info {
	int fd;
	int kind;
	uint64_t gen;   /* new for every classification: a reused number never matches old records */
	dev_t dev;
	ino_t ino;
	int flags;      /* O_APPEND, O_NONBLOCK, O_DIRECT... at classification or F_SETFL */
	int lease;      /* enum zc_lease_state (sources): the one place lease state is kept */
	off_t lease_size; /* st_size when the read lease was granted: no writer can change it while held */
	int lease_inflight; /* rewrites from this source between zc_fdtab_lease_enter and zc_fdtab_sent */
	int unused;     /* records from this source that died unused in a row */
	int faults;     /* deferred records from this source the program touched (auto mode steps down) */
	long proven_min; /* 0: on probation; else a copy loop was seen, to a destination rewritten from this many bytes */
	pid_t writer;   /* last thread that wrote (sockets, pipes) */
	int multi_writer;
	int pending_err; /* an error the kernel call consumed where write would report it next (rewrite.c) */
	int small_streak; /* reads noted small (or on the stack) whose writes then passed: see zc_fdtab_steady */
	int dsts[ZC_FD_DSTS];
};

/* Kind of fd, classifying it on first sight (fstat + getsockopt); fast for small fds. */
int zc_fdtab_kind(int fd);
/* Kind of an entry already made, 0 if none: for a thread asking about a number it does not own,
 * which may have been closed and reused since (it must not classify what the number names now). */
int zc_fdtab_known_kind(int fd);
/* Moves on whenever the number is forgotten (an interposed close, dup2, close_range...): the same
 * value before and after a call says no interposed call re-pointed the number meanwhile. */
uint32_t zc_fdtab_epoch(int fd);
/* A deferred read's calls on fd, kept whole against another thread's close or dup2 onto it: begin
 * returns 1 if the number's epoch is still the one seen before the read was planned and no
 * re-point is under way (then end must follow), else 0 (make an ordinary read). */
int zc_fdtab_read_begin(int fd, uint32_t epoch);
void zc_fdtab_read_end(int fd);
/* Around the program's close, dup2 or dup3 of fd: begin moves the epoch on and waits (up to 50 ms)
 * for deferred reads of fd in flight; end after the real call. */
void zc_fdtab_repoint_begin(int fd);
void zc_fdtab_repoint_end(int fd);
/* The same around close_range(lo, hi): no deferred read of any number begins meanwhile. */
void zc_fdtab_repoint_range_begin(unsigned lo, unsigned hi);
void zc_fdtab_repoint_range_end(void);
/* Copy of the entry (classifying if needed); 0, or -1 if fd is not open. */
int zc_fdtab_get(int fd, struct zc_fd_info *out);
/* fstat(fd) still matches the entry's identity; else the entry is reclassified. 1 = same. */
int zc_fdtab_revalidate(int fd, uint64_t gen);
/* The descriptor number was closed or replaced. */
void zc_fdtab_forget(int fd);
void zc_fdtab_forget_range(unsigned lo, unsigned hi);
void zc_fdtab_forget_all(void);
void zc_fdtab_set_flags(int fd, int flags);
void zc_fdtab_set_lease(int fd, uint64_t gen, int state);
/* The lease is granted (ZC_LS_HELD) on a file of this size. */
void zc_fdtab_set_held(int fd, uint64_t gen, off_t size);
/* A rewrite from a leased source: enter returns 0 and counts it in flight only while the lease of
 * this generation is held (zc_fdtab_sent with leased leaves); a break (state no longer HELD) waits
 * until inflight reaches 0. */
int zc_fdtab_lease_enter(int fd, uint64_t gen);
int zc_fdtab_lease_inflight(int fd, uint64_t gen);
/* Marks this thread as writer; returns 1 when another thread wrote to fd before. */
int zc_fdtab_note_writer(int fd, pid_t tid);
/* zc_fdtab_get and zc_fdtab_note_writer under one lock (a rewrite's destination, every chunk). */
int zc_fdtab_get_writer(int fd, pid_t tid, struct zc_fd_info *out, int *multi);
/* Bumps or reads the count of records from this source that died unused (step-down). */
void zc_fdtab_note_used(int fd, uint64_t gen, int used);
/* A deferred record from this source was filled by a touch. */
void zc_fdtab_note_fault(int fd, uint64_t gen);
/* After a transfer from this source, under one lock: used, its record was used (step-down);
 * leased, the rewrite leaves the lease (zc_fdtab_lease_enter); dst, when >= 0, joins the
 * destinations a lease break waits to drain. */
void zc_fdtab_sent(int fd, uint64_t gen, int used, int leased, int dst);
void zc_fdtab_set_proven(int fd, uint64_t gen, long min_bytes);
/* A source whose copy loop reads chunks nothing can rewrite (ZC_fb_small, ZC_fb_stack_buffer): after
 * ZC_STEADY_AFTER such writes its reads skip the policy and the table (interpose_io.c). steady reads
 * the reason without the lock, 0 if none; note_small counts one more. */
#define ZC_STEADY_AFTER 16
int zc_fdtab_steady(int fd);
void zc_fdtab_note_small(int fd, uint64_t gen, int reason);
/* The next write-like call on fd must fail with err (0: nothing pending). take returns and clears it. */
extern unsigned zc_fdtab_pending; /* entries with an error pending: 0 lets writes skip the lookup */
void zc_fdtab_set_pending(int fd, int err);
int zc_fdtab_take_pending(int fd);
/* Calls fn for every entry (under the table lock: fn must not call back into fdtab). */
void zc_fdtab_each(void (*fn)(struct zc_fd_info *, void *), void *arg);
/* In a forked child: a fresh lock; returns 1 when the table was caught mid-change and emptied. */
int zc_fdtab_atfork_child(void);

#endif
