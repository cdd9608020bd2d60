/* policy.c — the rules that decide what is recorded and what is rewritten (see policy.h). A
 * newcomer asking "why was this not rewritten?" reads this file and the counter it names. */
#include "policy.h"
#include "config.h"
#include "guard.h"
#include "lease.h"
#include "real.h"
#include "shim.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>

/* zc_policy_on_stack — the thread's real bounds (a worker's heap buffer may lie just above its
 * stack pointer; state.c). */
int zc_policy_on_stack(const void *p)
{
	return zc_on_stack(p);
}

#define FAULTS_MAX 4 /* auto: a source whose deferred buffers the program touched this often is copied */

/* can_defer — the kernel can defer here: asked of the guard, or (observe) foreseen without starting it. */
static int can_defer(void)
{
	return zc_cfg.mode == ZC_MODE_OBSERVE ? zc_guard_defer_possible() : zc_guard_can_defer();
}

/* deferrable — the mode defers, the kernel can (a full userfaultfd, answered by our thread), the
 * read is big enough, and (auto) the program has not kept touching this source's buffers. Observe
 * asks as auto would (its buffers are never absent, so never touched while deferred). */
static int deferrable(size_t n, const struct zc_fd_info *i)
{
	if (zc_cfg.mode < ZC_MODE_DEFERRED || (long)n < zc_cfg.defer_min_bytes) return 0;
	if (!can_defer()) {
		zc_count(ZC_defer_unavailable, 1);
		return 0;
	}
	if (zc_cfg.mode == ZC_MODE_AUTO && i->faults >= FAULTS_MAX) {
		zc_count(ZC_defer_stepped_down, 1);
		return 0;
	}
	return 1;
}

#define NOTE(w) ((struct zc_read_plan){.action = ZC_READ_NOTE, .why = (w), .gen = i.gen, .stack = stack})

struct zc_read_plan zc_policy_read(int fd, const void *buf, size_t n)
{
	struct zc_fd_info i = {0};
	int stack = 0;
	if (zc_cfg.mode == ZC_MODE_OFF || n < zc_min_record) return (struct zc_read_plan){0};
	int kind = zc_fdtab_kind(fd);
	if (kind == ZC_FD_PROC) return NOTE(ZC_fb_proc_source); /* sizes lie and sendfile refuses: say so */
	if (kind != ZC_FD_FILE) return (struct zc_read_plan){0};
	stack = zc_policy_on_stack(buf);
	if (stack && !zc_cfg.stack_buffers) {
		zc_count(ZC_records_skipped_stack, 1);
		return NOTE(ZC_fb_stack_buffer);
	}
	/* the table copy below is the slow part: only files get that far */
	if (zc_fdtab_get(fd, &i) < 0 || (i.flags & O_DIRECT) || i.unused >= 8) return (struct zc_read_plan){0};
	int defer = deferrable(n, &i);
	/* below guard_min_bytes arming the guard costs more than the copy it saves */
	if (!defer && (long)n < zc_cfg.guard_min_bytes) return NOTE(ZC_fb_small);
	/* guard only sources whose bytes were seen going out: files read for parsing stay untouched */
	if (!i.proven_min) return NOTE(ZC_fb_probation);
	/* and only reads big enough for the destination their copy loop writes to */
	if ((long)n < i.proven_min) return NOTE(ZC_fb_small);
	int observe = zc_cfg.mode == ZC_MODE_OBSERVE;
	int ls = observe ? zc_lease_predict(fd, i.gen, i.lease) : zc_lease_prepare(fd, i.gen, i.lease);
	if (ls == ZC_LS_HELD && i.lease != ZC_LS_HELD && zc_fdtab_get(fd, &i) < 0) return (struct zc_read_plan){0}; /* granted now: its size */
	if (ls == ZC_LS_BROKEN) return NOTE(ZC_fb_lease_broken);
	if (ls == ZC_LS_INHERITED) return NOTE(ZC_fb_lease_inherited);
	if ((ls == ZC_LS_DENIED || ls == ZC_LS_BUSY) && zc_cfg.lease == ZC_LEASE_REQUIRE) return NOTE(ZC_fb_lease_denied);
	/* deferred bytes are read from the file when sent or touched: only a lease keeps them the bytes
	 * of the read. Without one (lease = prefer/off) the buffer is copied, as in eager mode. */
	if (defer && ls != ZC_LS_HELD) {
		defer = 0;
		if ((long)n < zc_cfg.guard_min_bytes) return NOTE(ZC_fb_small);
	}
	if (observe) return NOTE((enum zc_counter)(defer && !stack ? ZC_NOTE_OBSERVED_NOCOPY : ZC_NOTE_OBSERVED));
	return (struct zc_read_plan){.action = defer && !stack ? ZC_READ_DEFER : ZC_READ_RECORD, .gen = i.gen, .stack = stack,
				     .size = i.lease_size};
}

/* zc_policy_min_bytes — pipe writes of at most PIPE_BUF are atomic and splice promises no such
 * thing: they count as small. */
long zc_policy_min_bytes(int kind)
{
	switch (kind) {
	case ZC_FD_TCP: return zc_cfg.min_bytes_tcp;
	case ZC_FD_PIPE: return zc_cfg.min_bytes_pipe > PIPE_BUF ? zc_cfg.min_bytes_pipe : PIPE_BUF + 1;
	case ZC_FD_FILE: return zc_cfg.min_bytes_file;
	case ZC_FD_UNIX: return zc_cfg.unix_sockets ? zc_cfg.min_bytes_tcp : -1;
	default: return -1;
	}
}

/* zc_policy_min_bytes_nocopy — a deferred write saves the read's copy as well, a write from a file
 * mapping its page faults and its copy: their own, lower threshold. */
long zc_policy_min_bytes_nocopy(int kind)
{
	long m = zc_policy_min_bytes(kind);
	if (m < 0) return m;
	return m < zc_cfg.defer_min_bytes || kind == ZC_FD_PIPE ? m : zc_cfg.defer_min_bytes;
}

long zc_policy_proven_min(int kind)
{
	return zc_cfg.mode >= ZC_MODE_DEFERRED && can_defer() ? zc_policy_min_bytes_nocopy(kind) : zc_policy_min_bytes(kind);
}

enum zc_counter zc_policy_dest(const struct zc_wreq *w, const struct zc_fd_info *d)
{
	if (zc_cfg.mode == ZC_MODE_OFF) return ZC_fb_mode_off;
	if (d->kind == ZC_FD_UNIX && !zc_cfg.unix_sockets) return ZC_fb_unix_socket;
	if (zc_policy_min_bytes(d->kind) < 0) return ZC_fb_dest_kind;
	if (w->call == ZC_CALL_PWRITE && d->kind != ZC_FD_FILE) return ZC_fb_dest_kind;
	/* send on a pipe or a file fails with ENOTSOCK: the original call says so */
	if ((w->call == ZC_CALL_SEND || w->call == ZC_CALL_SENDMSG) && d->kind != ZC_FD_TCP && d->kind != ZC_FD_UNIX)
		return ZC_fb_dest_kind;
	if (w->flags & ~MSG_NOSIGNAL) return ZC_fb_flags;
	return 0;
}

enum zc_counter zc_policy_request(const struct zc_fd_info *d, int ns, int nfile, size_t file_bytes, int multi_writer,
				  int nocopy)
{
	if (!nfile) return ZC_fb_no_record;
	if ((long)file_bytes < (nocopy ? zc_policy_min_bytes_nocopy(d->kind) : zc_policy_min_bytes(d->kind))) return ZC_fb_small;
	/* only stream sockets take a header and file data as several calls in order */
	if (ns > 1 && d->kind != ZC_FD_TCP && d->kind != ZC_FD_UNIX) return ZC_fb_mixed;
	/* a blocking socket written by several threads: a header and file data split in two calls
	 * could take in another thread's write between them, and making it wait could make it wait for
	 * the peer (a non-blocking one is judged in flight, wgate.c); file data alone stays one kernel
	 * call, as atomic as the original */
	if (multi_writer && ns > 1) return ZC_fb_multi_writer;
	return 0;
}

enum zc_counter zc_policy_source(int src_fd, uint64_t src_gen, const struct zc_fd_info *dst, int *leased, int deferred,
				 int mapped)
{
	struct zc_fd_info src;
	*leased = 0;
	/* deferred and mapped bytes are sent from a descriptor of the shim's own: whatever the
	 * program's numbers name now, the file and its lease are that descriptor's (the program cannot
	 * close it), and a break marks the table before the lease goes: no system call needed here */
	int own = deferred || mapped;
	if (zc_fdtab_get(src_fd, &src) < 0 || src.gen != src_gen || (!own && !zc_fdtab_revalidate(src_fd, src.gen)))
		return ZC_fb_stale_source;
	if (dst->kind == ZC_FD_FILE && src.dev == dst->dev && src.ino == dst->ino) return ZC_fb_same_file;
	if (deferred && src.lease != ZC_LS_HELD) return ZC_fb_lease_broken;
	switch (src.lease) {
	case ZC_LS_HELD:
		/* the lease lives on the open file description: a number closed behind our back and
		 * reopened on the same file has none, whatever the table remembers */
		if (!own && zc_raw_fcntl(src_fd, F_GETLEASE, 0) != F_RDLCK) return ZC_fb_stale_source;
		*leased = 1;
		return 0;
	case ZC_LS_NOT_NEEDED: return 0;
	case ZC_LS_DENIED: case ZC_LS_BUSY: return zc_cfg.lease == ZC_LEASE_PREFER ? 0 : ZC_fb_lease_denied;
	case ZC_LS_BROKEN: return ZC_fb_lease_broken;
	case ZC_LS_INHERITED: return ZC_fb_lease_inherited;
	default: return ZC_fb_lease_denied;
	}
}
