/* stats.h — per-process counters: what the shim saw, rewrote, and why it passed through. */
#ifndef ZC_STATS_H
#define ZC_STATS_H

#include <stddef.h>
#include <stdint.h>

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
#define ZC_COUNTERS(X)                                                                     \
	X(calls_read) X(calls_pread) X(calls_readv) X(calls_recv) X(calls_write)               \
	X(calls_pwrite) X(calls_writev) X(calls_send) X(calls_sendmsg) X(calls_sendfile)       \
	X(calls_splice) X(calls_copy_file_range)                                               \
	X(rw_sendfile) X(rw_sendfile_bytes) X(rw_splice) X(rw_splice_bytes)                    \
	X(rw_copy_file_range) X(rw_copy_file_range_bytes)                                      \
	X(bytes_from_buffer) X(bytes_passthrough)                                              \
	X(records_created) X(records_dirty) X(records_dropped) X(records_unused)                \
	X(records_skipped_stack)               \
	X(guard_uffd) X(guard_uffd_user) X(guard_none)                                        \
	X(fb_mode_off) X(fb_dest_kind) X(fb_unix_socket) X(fb_small) X(fb_no_record)           \
	X(fb_dirty) X(fb_stale_source) X(fb_flags) X(fb_append) X(fb_multi_writer)             \
	X(fb_lease_denied) X(fb_lease_broken) X(fb_lease_inherited) X(fb_kernel_einval)        \
	X(fb_kernel_enosys) X(fb_kernel_exdev) X(fb_kernel_other)            \
	X(fb_same_file) X(fb_no_interior) X(fb_table_full) X(fb_proc_source) X(fb_mixed)         \
	X(fb_stack_buffer) X(fb_probation) X(fb_no_guard) X(peer_error_kept)       \
	X(lease_granted) X(lease_denied) X(lease_busy) X(lease_broken) X(lease_released)          \
	X(cap_lease_kept) X(cap_lease_threads_lost) X(cap_lease_failed)                           \
	X(deferred_reads) X(deferred_bytes) X(materialized) X(materialized_bytes)                  \
	X(materialized_fault) X(materialize_errors) X(fault_zero) X(fork_unfilled)                 \
	X(fb_forking) X(defer_unavailable) X(defer_stepped_down)                                  \
	X(maps_tracked) X(maps_refused) X(rw_mapped) X(rw_mapped_bytes)

enum zc_counter {
#define ZC_ENUM(name) ZC_##name,
	ZC_COUNTERS(ZC_ENUM)
#undef ZC_ENUM
	ZC_NCOUNTERS
};

#define ZC_STATS_MAGIC 0x7a637368696d0001ULL /* "zcshim" + layout version */
/* Live counters live in a memfd of this name, open at a high descriptor of the process: readable
 * through /proc/PID/fd/N by the same user or root only, gone with the process however it ends. */
#define ZC_STATS_MEMFD "zcshim-stats"

struct zc_stats {
	uint64_t magic;
	uint32_t ncounters; /* readers check it against their own list */
	int32_t pid;
	uint64_t v[ZC_NCOUNTERS];
};

extern struct zc_stats *zc_stats;
extern const char *const zc_counter_names[ZC_NCOUNTERS];

static inline void zc_count(enum zc_counter c, uint64_t n)
{
	__atomic_fetch_add(&zc_stats->v[c], n, __ATOMIC_RELAXED);
}

void zc_stats_init(void);
void zc_stats_reset(void);                       /* in a child after fork: own counters, own file */
void zc_stats_publish(void);                     /* maps the counters in a memfd (zcshim stat reads it) */
int zc_stats_format_json(char *out, size_t cap); /* returns length or -1 */
/* Before the program's chroot: stats_file is opened now, and rewritten by zc_stats_dump at the end. */
void zc_stats_before_chroot(void);
void zc_stats_dump(const char *suffix);          /* writes stats_file (+ suffix), if set */

#endif
