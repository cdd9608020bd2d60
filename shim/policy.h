/* policy.h — every "may we" rule in one place: why a read is (not) recorded, why a write is (not)
 * rewritten. Each rule answers with the fallback counter (enum zc_counter) a user sees in the stats. */
#ifndef ZC_POLICY_H
#define ZC_POLICY_H

#include "config.h"
#include "fdtab.h"
#include "rewrite.h"
#include "shim.h"
#include "stats.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What to do after a read from a file into a buffer. */
enum zc_read_action {
	ZC_READ_PLAIN,  /* nothing to remember */
	ZC_READ_RECORD, /* guard the buffer and record its bytes */
	ZC_READ_NOTE,   /* remember the buffer unguarded, so its write counts `why` */
	ZC_READ_DEFER,  /* do not copy: leave the interior absent, filled on first touch (defer.c) */
};

struct zc_read_plan {
	enum zc_read_action action;
	enum zc_counter why; /* ZC_READ_NOTE */
	uint64_t gen;        /* the source's generation */
	int stack;           /* the buffer is on this thread's stack */
	off_t size;          /* ZC_READ_DEFER: the leased file's size (fixed while the lease is held) */
};

/* zc_policy_read — decides for a read of n bytes from fd into buf; takes the lease when needed. */
struct zc_read_plan zc_policy_read(int fd, const void *buf, size_t n);
/* observe mode: the note's reason when auto would have recorded (copying) or deferred (no copy) the
 * read; past every counter, so a matching write knows it was not a fallback */
#define ZC_NOTE_OBSERVED ((int)ZC_NCOUNTERS + 1)
#define ZC_NOTE_OBSERVED_NOCOPY ((int)ZC_NCOUNTERS + 2)
/* zc_policy_on_stack — buf lies in the calling thread's own stack. */
int zc_policy_on_stack(const void *buf);
/* zc_policy_steady — a read of n bytes into buf by a source steady for why (fdtab.c zc_fdtab_steady)
 * that zc_policy_read would note for the same reason again: then it needs no plan. Inline: every
 * read of a steady source asks. */
static inline int zc_policy_steady(int why, const void *buf, size_t n)
{
	if (n < zc_min_record || zc_cfg.mode == ZC_MODE_OFF) return 0;
	int stack = !zc_cfg.stack_buffers && zc_policy_on_stack(buf);
	if (why == ZC_fb_stack_buffer) return stack;
	/* small for every mode: below guard_min_bytes, and never deferrable by its size */
	return !stack && (long)n < zc_cfg.guard_min_bytes && (zc_cfg.mode < ZC_MODE_DEFERRED || (long)n < zc_cfg.defer_min_bytes);
}
/* zc_policy_min_bytes — smallest transfer rewritten to a destination of this kind; -1: never. */
long zc_policy_min_bytes(int kind);
/* The same for writes that cost no read copy (deferred, or from a file mapping): lower. */
long zc_policy_min_bytes_nocopy(int kind);
/* zc_policy_proven_min — what a source's first write to a destination of this kind proves: reads
 * at least this big are worth recording (deferring, where the mode and the kernel allow). */
long zc_policy_proven_min(int kind);
/* zc_policy_dest — the destination and the call's flags allow a rewrite: 0, or why not. */
enum zc_counter zc_policy_dest(const struct zc_wreq *w, const struct zc_fd_info *d);
/* zc_policy_request — after matching: nfile of ns segments (file_bytes bytes) came from records;
 * multi_writer: another thread has written this descriptor (zc_fdtab_note_writer), and it is
 * not a non-blocking socket, whose writers are judged in flight (wgate.c); nocopy: some
 * segment's bytes were never copied by a read (deferred, or a file mapping: the lower threshold). */
enum zc_counter zc_policy_request(const struct zc_fd_info *d, int ns, int nfile, size_t file_bytes, int multi_writer,
				  int nocopy);
/* zc_policy_source — the record's source is still the file that was read and still guarded;
 * *leased: its lease must be entered around the transfer. deferred, mapped: the bytes go from the
 * shim's own descriptor of the source (no system call needed to trust the program's number). */
enum zc_counter zc_policy_source(int src_fd, uint64_t src_gen, const struct zc_fd_info *dst, int *leased, int deferred,
				 int mapped);

#endif
