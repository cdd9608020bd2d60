/* stats.h — per-process counters: what the shim saw, rewrote, and why it passed through. */
#ifndef ZC_STATS_H
#define ZC_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* One list generates the enum, the names in the JSON and the launcher's summary.
 * calls_*: intercepted calls seen; rw_*: rewrites done by each kernel call and their bytes;
 * fb_*: fallbacks (the original call ran) by reason; lease_*: lease life cycle;
 * guard_*: which write detection this process got (guard.c), 1 once it was first needed;
 * deferred_*: reads that did not copy (bytes: the interiors left absent); materialized*: deferred
 * records given their bytes (by a touch: _fault); fault_zero: faults on pages no record held;
 * maps_*: read-only file mappings followed (mapping.c) or refused (no descriptor of the shim's own
 * could be opened); rw_mapped*: writes from such a mapping sent by the kernel from the file;
 * cap_lease_*: keep_cap_lease at a change of user id (interpose_cred.c): calls after which the
 * calling thread kept CAP_LEASE alone, other threads that lost every capability in them, and calls
 * where it could not be kept (the thread has what the kernel left it). */
/* Why a write ran as the original call: counted once per write (fb_*), and the bytes that call
 * then wrote (bytes_fb_*: the launcher's hint names the reason that cost the most bytes). */
#define ZC_FALLBACKS(X, P)                                                                 \
	X(P##mode_off) X(P##dest_kind) X(P##unix_socket) X(P##small) X(P##no_record)           \
	X(P##dirty) X(P##stale_source) X(P##flags) X(P##append) X(P##multi_writer)             \
	X(P##lease_denied) X(P##lease_broken) X(P##lease_inherited) X(P##kernel_einval)        \
	X(P##kernel_enosys) X(P##kernel_exdev) X(P##kernel_other)                              \
	X(P##same_file) X(P##no_interior) X(P##table_full) X(P##proc_source) X(P##mixed)       \
	X(P##stack_buffer) X(P##probation) X(P##no_guard) X(P##forking)

/* Observe mode: bytes auto would have moved in the kernel, by destination (tcp: also AF_UNIX with
 * unix_sockets = on) and by the write's file bytes: <16K, <64K, <256K, <1M, more. */
#define ZC_OBSERVED(X)                                                                     \
	X(obs_tcp_4k) X(obs_tcp_16k) X(obs_tcp_64k) X(obs_tcp_256k) X(obs_tcp_1m)              \
	X(obs_pipe_4k) X(obs_pipe_16k) X(obs_pipe_64k) X(obs_pipe_256k) X(obs_pipe_1m)         \
	X(obs_file_4k) X(obs_file_16k) X(obs_file_64k) X(obs_file_256k) X(obs_file_1m)

#define ZC_COUNTERS(X)                                                                     \
	X(calls_read) X(calls_pread) X(calls_readv) X(calls_recv) X(calls_write)               \
	X(calls_pwrite) X(calls_writev) X(calls_send) X(calls_sendmsg) X(calls_sendfile)       \
	X(calls_splice) X(calls_copy_file_range)                                               \
	X(rw_sendfile) X(rw_sendfile_bytes) X(rw_splice) X(rw_splice_bytes)                    \
	X(rw_copy_file_range) X(rw_copy_file_range_bytes)                                      \
	X(bytes_from_buffer) X(bytes_passthrough)                                              \
	X(records_created) X(records_dirty) X(records_dropped) X(records_unused)                \
	X(records_skipped_stack) X(records_skipped_steady)                                      \
	X(guard_uffd) X(guard_uffd_user) X(guard_none)                                        \
	ZC_FALLBACKS(X, fb_) ZC_FALLBACKS(X, bytes_fb_) X(peer_error_kept)                     \
	X(lease_granted) X(lease_denied) X(lease_busy) X(lease_broken) X(lease_released)          \
	X(cap_lease_kept) X(cap_lease_threads_lost) X(cap_lease_failed)                           \
	X(deferred_reads) X(deferred_bytes) X(deferred_heads_carried)                              \
	X(materialized) X(materialized_bytes)                                                   \
	X(materialized_fault) X(materialize_errors) X(fault_zero) X(fork_unfilled)                 \
	X(defer_unavailable) X(defer_stepped_down)                                                \
	X(maps_tracked) X(maps_refused) X(rw_mapped) X(rw_mapped_bytes)                         \
	ZC_OBSERVED(X)

enum zc_counter {
#define ZC_ENUM(name) ZC_##name,
	ZC_COUNTERS(ZC_ENUM)
#undef ZC_ENUM
	ZC_NCOUNTERS
};

#define ZC_STATS_MAGIC 0x7a637368696d0003ULL /* "zcshim" + layout version */
#define ZC_STAT_ROWS 32 /* threads that count without a locked add, each in a row of its own */
/* Live counters live in a memfd of this name, open at a high descriptor of the process: readable
 * through /proc/PID/fd/N by the same user or root only, gone with the process however it ends. */
#define ZC_STATS_MEMFD "zcshim-stats"

/* A counter's value is v[c] plus every row's [c] (zc_stat_total; a reader's snapshot: zc_stat_fold). */
struct zc_stats {
	uint64_t magic;
	uint32_t ncounters; /* readers check it against their own list */
	int32_t pid;
	uint64_t v[ZC_NCOUNTERS];                  /* counted by threads without a row, with locked adds */
	uint32_t taken[ZC_STAT_ROWS];              /* 1: the row belongs to a thread (for good) */
	uint64_t row[ZC_STAT_ROWS][ZC_NCOUNTERS];  /* each written by its one thread only */
};

extern struct zc_stats *zc_stats;
extern const char *const zc_counter_names[ZC_NCOUNTERS];
extern __thread int zc_stat_row;       /* this thread's row + 1; 0: not asked yet; -1: none left */
extern __thread uint64_t *zc_stat_mine; /* that row, in the counters zc_stat_mine_of points to */
extern __thread struct zc_stats *zc_stat_mine_of;
void zc_count_slow(enum zc_counter c, uint64_t n) __attribute__((cold, noinline));

/* zc_count — a locked add cost a quiet read+write about 30 ns of 280 (dd bs=4096 to /dev/null):
 * a thread adds to its own row with one plain instruction instead, which a signal handler on the
 * same thread cannot split and no other thread writes. */
static inline void zc_count(enum zc_counter c, uint64_t n)
{
#if defined(__x86_64__)
	uint64_t *m = zc_stat_mine;
	if (__builtin_expect(m && zc_stat_mine_of == zc_stats, 1)) {
		__asm__ volatile("addq %1, %0" : "+m"(m[c]) : "r"(n));
		return;
	}
#endif
	zc_count_slow(c, n);
}

/* zc_stat_total — counter c of s: the shared part and every row. */
static inline uint64_t zc_stat_total(const struct zc_stats *s, enum zc_counter c)
{
	uint64_t t = __atomic_load_n(&s->v[c], __ATOMIC_RELAXED);
	for (int k = 0; k < ZC_STAT_ROWS; k++) t += __atomic_load_n(&s->row[k][c], __ATOMIC_RELAXED);
	return t;
}

/* zc_stat_fold — a snapshot's rows added into its v: readers then look at v alone. */
static inline void zc_stat_fold(struct zc_stats *s)
{
	for (int c = 0; c < ZC_NCOUNTERS; c++) s->v[c] = zc_stat_total(s, (enum zc_counter)c);
	memset(s->row, 0, sizeof s->row);
}

/* zc_fb_bytes — the bytes_fb_* counter of an fb_* reason (the two lists run in the same order). */
static inline enum zc_counter zc_fb_bytes(enum zc_counter fb)
{
	return (enum zc_counter)(ZC_bytes_fb_mode_off + (fb - ZC_fb_mode_off));
}

/* zc_kernel_bytes, zc_written_bytes — of a counters array: the bytes the kernel moved for a
 * rewrite, and every byte written (those, the original calls', and those finished from a buffer). */
static inline uint64_t zc_kernel_bytes(const uint64_t *v)
{
	return v[ZC_rw_sendfile_bytes] + v[ZC_rw_splice_bytes] + v[ZC_rw_copy_file_range_bytes];
}
static inline uint64_t zc_written_bytes(const uint64_t *v)
{
	return zc_kernel_bytes(v) + v[ZC_bytes_passthrough] + v[ZC_bytes_from_buffer];
}

/* zc_fallback — a write passes through for why (an fb_* counter): counted, and remembered on this
 * thread so that the bytes the original call then writes are counted against it (zc_fallback_bytes). */
extern __thread int zc_fb_why;
static inline void zc_fallback(enum zc_counter why)
{
	zc_count(why, 1);
	zc_fb_why = (int)why;
}

/* zc_fallback_bytes — n bytes written by the original call after zc_fallback on this thread. */
static inline void zc_fallback_bytes(uint64_t n)
{
	int why = zc_fb_why;
	zc_fb_why = 0;
	if (why >= ZC_fb_mode_off && why <= ZC_fb_forking && n)
		zc_count(zc_fb_bytes((enum zc_counter)why), n);
}

/* zc_obs_bucket — observe mode's bucket of a write of n file bytes: <16K, <64K, <256K, <1M, more
 * (the 4k ... 1m of the obs_* names); zc_obs_counter — its counter for destination kind 0 tcp,
 * 1 pipe, 2 file (the order of ZC_OBSERVED). */
enum { ZC_OBS_NKIND = 3, ZC_OBS_NBUCKET = 5 };
_Static_assert(ZC_obs_file_1m - ZC_obs_tcp_4k == ZC_OBS_NKIND * ZC_OBS_NBUCKET - 1, "ZC_OBSERVED is kind-major");
static inline int zc_obs_bucket(uint64_t n)
{
	return n < (16 << 10) ? 0 : n < (64 << 10) ? 1 : n < (256 << 10) ? 2 : n < (1 << 20) ? 3 : 4;
}
static inline enum zc_counter zc_obs_counter(int kind, int bucket)
{
	return (enum zc_counter)(ZC_obs_tcp_4k + ZC_OBS_NBUCKET * kind + bucket);
}

/* zc_observe — observe mode: this write would have been rewritten, file bytes of it after hdr
 * bytes of header, into the obs_* counter obs; zc_observe_done counts what the original call wrote. */
struct zc_obs_pending {
	int counter; /* 0: nothing pending */
	size_t hdr, file;
};
extern __thread struct zc_obs_pending zc_obs;
static inline void zc_observe(enum zc_counter obs, size_t hdr, size_t file)
{
	zc_obs = (struct zc_obs_pending){(int)obs, hdr, file};
}
static inline void zc_observe_done(ssize_t r)
{
	if (!zc_obs.counter) return;
	size_t w = r > 0 && (size_t)r > zc_obs.hdr ? (size_t)r - zc_obs.hdr : 0;
	if (w) zc_count((enum zc_counter)zc_obs.counter, w < zc_obs.file ? w : zc_obs.file);
	zc_obs.counter = 0;
}

void zc_stats_init(void);
void zc_stats_reset(void);                       /* in a child after fork: own counters, own file */
void zc_stats_publish(void);                     /* maps the counters in a memfd (zcshim stat reads it) */
int zc_stats_format_json(char *out, size_t cap); /* returns length or -1 */
/* Before the program's chroot: stats_file is opened now, and rewritten by zc_stats_dump at the end. */
void zc_stats_before_chroot(void);
void zc_stats_dump(const char *suffix);          /* writes stats_file (+ suffix), if set */

#endif
