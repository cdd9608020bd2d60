/* rewrite.c — the rewrite engine: checks, the kernel-call ladder, partial counts, finishing from the buffer. */
#include "rewrite.h"
#include "config.h"
#include "detect.h"
#include "fdtab.h"
#include "lease.h"
#include "mapping.h"
#include "policy.h"
#include "real.h"
#include "shim.h"
#include "stats.h"
#include "wgate.h"

#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#define MAXSEG 16

enum method { M_SENDFILE, M_SPLICE, M_CFR, M_COUNT };

struct seg {
	const char *p;
	size_t n;
	int file;        /* 1: bytes of a record, sent by the kernel from the source */
	int leased;      /* the source lease must be entered around the transfer */
	struct zc_match m;
};

static int method_gone[M_COUNT]; /* sticky once the kernel says ENOSYS */

static const enum zc_counter rw_calls[M_COUNT] = {ZC_rw_sendfile, ZC_rw_splice, ZC_rw_copy_file_range};
static const enum zc_counter rw_bytes[M_COUNT] = {ZC_rw_sendfile_bytes, ZC_rw_splice_bytes, ZC_rw_copy_file_range_bytes};

/* pass — counts why, and asks for the original call. */
static ssize_t pass(enum zc_counter why)
{
	zc_fallback(why);
	return ZC_PASS;
}

/* try_next — errnos that mean "this kernel call cannot do it here", not "the write failed". */
static int try_next(int err)
{
	return err == EINVAL || err == ENOSYS || err == EXDEV || err == EOPNOTSUPP || err == EPERM || err == EBADF;
}

/* fallback_reason — the counter for a kernel refusal. */
static enum zc_counter fallback_reason(int err)
{
	return err == EINVAL ? ZC_fb_kernel_einval : err == ENOSYS ? ZC_fb_kernel_enosys
		: err == EXDEV ? ZC_fb_kernel_exdev : ZC_fb_kernel_other;
}

/* kcall — one kernel-side transfer of up to n bytes from src at *off to the destination. */
static ssize_t kcall(int method, int dst, int src, off_t *off, size_t n, int nonblock, off_t *dpos)
{
	switch (method) {
	case M_SENDFILE: return zc_real.sendfile64(dst, src, off, n);
	case M_SPLICE: return zc_real.splice(src, off, dst, NULL, n, nonblock ? SPLICE_F_NONBLOCK : 0);
	default: return zc_real.copy_file_range(src, off, dst, dpos, n, 0); /* dpos NULL: at the file position */
	}
}

/* finish — sends the rest of the request from the user's memory in one original-style call. */
static ssize_t finish(const struct zc_wreq *w, int kind, struct seg *s, int ns, int i, size_t skip, off_t pos)
{
	struct iovec iov[MAXSEG];
	int k = 0;
	for (; i < ns; i++, skip = 0) iov[k++] = (struct iovec){(void *)(s[i].p + skip), s[i].n - skip};
	if (w->call == ZC_CALL_PWRITE) return zc_real.pwrite64(w->fd, iov[0].iov_base, iov[0].iov_len, pos);
	if (kind == ZC_FD_TCP || kind == ZC_FD_UNIX) {
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)k};
		return zc_real.sendmsg(w->fd, &msg, w->flags);
	}
	return zc_real.writev(w->fd, iov, k);
}

/* release_stack — matched stack records end with the write that touched them, rewritten or not;
 * deferred and mapped matches give back the hold they had on their source's descriptor. */
static void release_stack(struct seg *s, int ns)
{
	for (int k = 0; k < ns; k++) {
		if (s[k].file && s[k].m.stack) {
			zc_fdtab_note_used(s[k].m.src_fd, s[k].m.src_gen, 1);
			zc_detect_consumed(&s[k].m, s[k].m.to_end);
		}
		if (s[k].file && s[k].m.deferred) zc_detect_release(&s[k].m);
		if (s[k].file && s[k].m.mapped) zc_map_release(&s[k].m);
	}
}

/* observed_counter — the obs_* counter of a write auto would have rewritten. */
static enum zc_counter observed_counter(int kind, size_t n)
{
	return zc_obs_counter(kind == ZC_FD_PIPE ? 1 : kind == ZC_FD_FILE ? 2 : 0, zc_obs_bucket(n));
}

/* plan — splits the request into plain and file segments; the rules are policy.c's. */
static ssize_t plan(const struct zc_wreq *w, const struct zc_fd_info *d, int multi, struct seg *s, int *nsp, size_t *total)
{
	int ns = 0, nfile = 0, nocopy = 0;
	size_t file_bytes = 0;
	enum zc_counter why = zc_policy_dest(w, d);
	*nsp = 0;
	if (why) return pass(why);
	*total = 0;
	for (int k = 0; k < w->iovcnt; k++) {
		if (!w->iov[k].iov_len) continue;
		if (*total + w->iov[k].iov_len > SSIZE_MAX || *total + w->iov[k].iov_len < *total) return pass(ZC_fb_flags);
		s[ns] = (struct seg){.p = w->iov[k].iov_base, .n = w->iov[k].iov_len};
		enum zc_match_kind r = zc_detect_match(s[ns].p, s[ns].n, &s[ns].m);
		if (r == ZC_MATCH_NONE && __atomic_load_n(&zc_map_live, __ATOMIC_RELAXED) && zc_map_match(s[ns].p, s[ns].n, &s[ns].m))
			r = ZC_MATCH_FILE; /* from a file mapping: the file holds the bytes */
		if (r == ZC_MATCH_CHANGED) return pass(ZC_fb_dirty);
		if (r == ZC_MATCH_UNKNOWN) return pass(ZC_fb_no_guard);
		if (r == ZC_MATCH_NOTE && s[ns].m.reason > (int)ZC_NCOUNTERS) {
			/* observe mode: a read auto would have recorded or deferred */
			r = ZC_MATCH_FILE;
			s[ns].m.deferred = 0;
			nocopy |= s[ns].m.reason == ZC_NOTE_OBSERVED_NOCOPY;
		} else if (r == ZC_MATCH_NOTE) {
			/* a first chunk, noted unguarded: its write shows a copy loop, so guard what follows */
			if (s[ns].m.reason == ZC_fb_probation)
				zc_fdtab_set_proven(s[ns].m.src_fd, s[ns].m.src_gen, zc_policy_proven_min(d->kind));
			zc_fdtab_note_small(s[ns].m.src_fd, s[ns].m.src_gen, s[ns].m.reason); /* a steady stream? */
			return pass((enum zc_counter)s[ns].m.reason);
		}
		if (r == ZC_MATCH_FILE) s[ns].file = 1, nfile++, file_bytes += s[ns].n, nocopy |= s[ns].m.deferred | s[ns].m.mapped;
		*total += s[ns++].n;
		*nsp = ns;
	}
	if ((why = zc_policy_request(d, ns, nfile, file_bytes, multi, nocopy))) {
		int quick = why == ZC_fb_no_record && zc_detect_quick_live ? zc_detect_quick_reason_iov(w->iov, (size_t)w->iovcnt) : 0;
		return pass(quick ? (enum zc_counter)quick : why); /* a steady source's read, noted on this thread */
	}
	if (zc_cfg.mode == ZC_MODE_OBSERVE) {
		/* auto would have rewritten it (its lease was foreseen at the read): counted by the
		 * original call's count, never done; nothing of the source is checked further */
		zc_observe(observed_counter(d->kind, file_bytes), *total - file_bytes, file_bytes);
		*nsp = 0;
		return ZC_PASS;
	}
	for (int k = 0; k < ns; k++)
		if (s[k].file && (why = zc_policy_source(s[k].m.src_fd, s[k].m.src_gen, d, &s[k].leased, s[k].m.deferred,
							  s[k].m.mapped)))
			return pass(why);
	*nsp = ns;
	return 0;
}

/* SIGPIPE as write raises it. sendfile to a socket raises it when the peer is gone even after
 * partial progress, where write returns the count silently (a pipe's splice and write raise it
 * alike, a file never: no guard there). So around a transfer to a socket SIGPIPE is blocked, and a
 * SIGPIPE write would not have raised is taken back. A transfer that moved everything raised
 * nothing: then the guard costs its two mask changes only. A program that ignores SIGPIPE (nginx,
 * Apache, python; followed by interpose_sig.c) needs no guard at all, unless it also blocks it. */
struct sigguard {
	int on;          /* the mask was changed */
	int was_pending; /* a SIGPIPE of the program's own was pending before (it blocks SIGPIPE) */
	sigset_t old;
};

/* sigs_hold — blocks SIGPIPE, or with all every signal (a split: see rewrite). */
static void sigs_hold(struct sigguard *g, int all)
{
	sigset_t s, p;
	sigemptyset(&s);
	if (all) sigfillset(&s);
	sigaddset(&s, SIGPIPE);
	g->on = pthread_sigmask(SIG_BLOCK, &s, &g->old) == 0;
	/* unblocked, a pending SIGPIPE would have been delivered on the way out of that call */
	g->was_pending = g->on && sigismember(&g->old, SIGPIPE) && sigpending(&p) == 0 && sigismember(&p, SIGPIPE);
}

/* sigpipe_settle — after the transfer: short tells whether it stopped early (only then can it have
 * raised SIGPIPE); deliver whether write would have raised it. */
static void sigpipe_settle(struct sigguard *g, int short_, int deliver)
{
	sigset_t s, cur;
	struct timespec zero = {0, 0};
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	if (!g->on) {
		/* ignored and unguarded: a SIGPIPE raised now is gone, unless the thread blocks it */
		if (short_ && !deliver && pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGPIPE))
			sigtimedwait(&s, NULL, &zero);
		return;
	}
	if (short_ && !g->was_pending && !deliver) sigtimedwait(&s, NULL, &zero); /* raised by sendfile only */
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* source_shrank — the source now ends before off: a short kernel count means truncation. */
static int source_shrank(int src, off_t off)
{
	struct stat st;
	return syscall(SYS_fstat, src, &st) == 0 && st.st_size <= off;
}

/* tcp_state — TCP_ESTABLISHED, TCP_CLOSE_WAIT...; -1 if unknown. */
static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t l = sizeof ti;
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) == 0 ? ti.tcpi_state : -1;
}

/* peer_finished — one poll before a transfer to a socket: whether the peer has sent FIN (or the
 * connection is gone already; cheaper than TCP_INFO, for keep_socket_error). Not whether it is
 * writable: poll's POLLOUT wants a third of the buffer free, write takes any room. Answering EAGAIN
 * where poll said full, as an earlier version did, made nginx wait in epoll_wait 17x as often as
 * without the shim (32 KiB chunks) and cost it half of what the shim saved. */
static int peer_finished(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	return syscall(SYS_poll, &p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* keep_socket_error — sendfile that stopped short may have consumed the socket's error inside its
 * own loop, where write returns the count and reports the error on the next call: keep it for that
 * call (interpose_io.c pending). A reset consumed that way leaves only the closed state behind: it
 * was ECONNRESET unless the peer had already sent FIN (then EPIPE, which the next call reports
 * anyway). Returns 1 when the connection is closed (the transfer may have raised SIGPIPE). */
static int keep_socket_error(int fd, int finished_before)
{
	int err = 0;
	socklen_t l = sizeof err;
	/* an error sendfile consumed closed the connection; one still in the socket is write's own */
	if (tcp_state(fd) != TCP_CLOSE) return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0) return 1;
	if (!err && !finished_before) err = ECONNRESET;
	if (err) zc_fdtab_set_pending(fd, err), zc_count(ZC_peer_error_kept, 1);
	return 1;
}

/* room — the destination is full (EAGAIN, or a splice that filled the pipe). The real O_NONBLOCK
 * is asked once per call (*asked): the table's may be stale (FIONBIO, a raw fcntl, another
 * process). Still blocking, and nb (the call was made non-blocking by the shim), it waits for room
 * with poll, which a handler never restarts. 0: room now; else the errno write gives: EAGAIN, or
 * EINTR after progress (write's partial return). */
static int room(int fd, int nb, int *asked, int *nonblock)
{
	int fl;
	if (!(*asked)++ && (fl = (int)zc_raw_fcntl(fd, F_GETFL, 0)) >= 0 && (fl & O_NONBLOCK) != *nonblock) {
		zc_fdtab_set_flags(fd, fl);
		*nonblock = fl & O_NONBLOCK;
	}
	if (!nb || *nonblock) return EAGAIN;
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	return poll(&p, 1, -1) < 0 && errno == EINTR ? EINTR : 0;
}

/* send_file_seg — moves one file segment; returns bytes moved. *errp: the error that stopped it
 * (0 when the source came back short); *fallback: the counter when the kernel refused the call;
 * *closed: a TCP transfer stopped short on a closed connection. */
static size_t send_file_seg(const struct zc_wreq *w, int kind, int nonblock, struct seg *s, off_t *dpos, int *errp,
			    int *fallback, int *closed)
{
	int method = kind == ZC_FD_PIPE ? M_SPLICE : kind == ZC_FD_FILE ? M_CFR : M_SENDFILE, asked = 0;
	off_t off = s->m.off;
	size_t moved = 0;
	int err = 0, src = s->m.deferred ? s->m.fill_fd : s->m.src_fd; /* deferred: the shim's duplicate */
	if (method == M_CFR && (method_gone[M_CFR] || zc_real.copy_file_range == NULL) && w->call != ZC_CALL_PWRITE) method = M_SENDFILE;
	*errp = 0;
	int finished_before = kind == ZC_FD_TCP && peer_finished(w->fd);
	if (method_gone[method]) {
		*fallback = ZC_fb_kernel_enosys;
		return 0;
	}
	int full = 0;	 /* a blocking pipe's splice came back short: the pipe is full */
	int polled = -1; /* after progress, a blocking pipe is waited for with poll (room) */
	while (moved < s->n) {
		/* after progress a pipe write stops where a handler runs; a splice waiting for room would
		 * be restarted by one with SA_RESTART, and only then is poll needed. Without such a
		 * handler splice waits itself (a signal ends it with EINTR, as it ends write; a stop and
		 * continue restarts both) and follows the real O_NONBLOCK: two calls fewer per pipeful */
		if (method == M_SPLICE && moved > 0 && polled < 0) polled = zc_sig_restarting();
		int nb = nonblock || polled == 1;
		/* the last splice filled the pipe: wait for room at once rather than be told EAGAIN */
		if (full && !nonblock && polled == 1 && (err = room(w->fd, 1, &asked, &nonblock))) break;
		ssize_t r = kcall(method, w->fd, src, &off, s->n - moved, nb, dpos);
		full = method == M_SPLICE && r > 0 && moved + (size_t)r < s->n;
		if (r > 0) {
			moved += (size_t)r;
			zc_count(rw_bytes[method], (uint64_t)r);
			if (moved < s->n && kind != ZC_FD_FILE && (method == M_SENDFILE || nonblock) &&
			    ((nonblock && s->leased) || !source_shrank(src, off))) {
				/* short, and not for the source's end (a leased file cannot shrink): a blocking
				 * socket's sendfile stops early only for a signal, SO_SNDTIMEO or an error it
				 * consumed, a non-blocking destination where it is full. write returns this
				 * partial count too, and its next call finds the destination full: asking the
				 * kernel again now would return a sliver freed meanwhile and keep the program
				 * from ever waiting for room (Apache made 3x the calls) */
				err = nonblock ? EAGAIN : EINTR;
				break;
			}
			continue;
		}
		if (r == 0) break; /* the source shrank: the rest comes from the buffer */
		err = errno;
		if (err == EINTR && nonblock && kind == ZC_FD_TCP) err = EAGAIN; /* a signal never cuts a non-blocking write */
		if (err == EAGAIN && !(err = room(w->fd, nb, &asked, &nonblock))) continue;
		if (err == ENOSYS) method_gone[method] = 1;
		if (err == EXDEV && method == M_CFR && w->call != ZC_CALL_PWRITE) {
			method = M_SENDFILE; /* across filesystems sendfile still works */
			continue;
		}
		if (try_next(err)) *fallback = fallback_reason(err);
		break;
	}
	if (moved < s->n && moved && kind == ZC_FD_TCP) *closed = keep_socket_error(w->fd, finished_before);
	if (moved) zc_count(rw_calls[method], 1);
	*errp = *fallback ? 0 : err;
	return moved;
}

/* joins — the file segments after s[i] that continue its range of the same source the same way:
 * one kernel call sends them all (nginx writes its two 32 KiB buffers with one writev). */
static int joins(const struct seg *s, int ns, int i)
{
	int j = i;
	for (; j + 1 < ns; j++) {
		const struct seg *a = &s[j], *b = &s[j + 1];
		if (!a->file || !b->file || a->m.mapped || b->m.mapped || a->m.stack || b->m.stack ||
		    a->m.src_fd != b->m.src_fd || a->m.src_gen != b->m.src_gen || a->m.deferred != b->m.deferred ||
		    (a->m.deferred && a->m.fill_fd != b->m.fill_fd) || a->leased != b->leased || a->m.off + (off_t)a->n != b->m.off)
			break;
	}
	return j - i;
}

/* kernel_calls — how many calls the request takes: a run of plain segments is one, a file segment
 * with those it joins one. */
static int kernel_calls(const struct seg *s, int ns)
{
	int c = 0;
	for (int i = 0; i < ns; i++, c++) {
		if (s[i].file) i += joins(s, ns, i);
		else while (i + 1 < ns && !s[i + 1].file) i++;
	}
	return c;
}

/* consumed — moved bytes of the joined segments s[i..i+join] were sent, the first ones first. */
static void consumed(struct seg *s, int i, int join, size_t moved)
{
	for (int k = i; k <= i + join; k++) {
		size_t c = moved < s[k].n ? moved : s[k].n;
		zc_detect_consumed(&s[k].m, c);
		moved -= c;
	}
}

/* rewrite — the whole request, segment after segment, with write()'s return conventions. */
static ssize_t rewrite(const struct zc_wreq *w)
{
	struct zc_fd_info d;
	struct seg s[MAXSEG];
	int ns = 0, nonblock, fl;
	size_t total, done = 0;
	off_t dpos = w->pos;

	int multi;
	/* every write counts, rewritten or not (its writer noted with the entry's copy) */
	if (zc_fdtab_get_writer(w->fd, zc_tid(), &d, &multi) < 0) return ZC_PASS;
	/* a non-blocking socket's call is one unit under its lock: other threads' writes wait while a
	 * rewrite makes it several calls, and it makes them only when no other write is in flight
	 * (wgate.c). A blocking one's second call may sleep for the peer, and nobody should wait that
	 * long: it is not split once two threads have written it (policy.c) */
	int gated = (d.kind == ZC_FD_TCP || d.kind == ZC_FD_UNIX) && (d.flags & O_NONBLOCK) && zc_wgate_covers(w->fd);
	/* a gated socket's (non-blocking) writers are judged in flight instead (wgate.c) */
	if (plan(w, &d, multi && !gated, s, &ns, &total) == ZC_PASS) {
		release_stack(s, ns);
		return ZC_PASS;
	}
	/* a file destination is checked afresh (O_APPEND, and the number may name another file now);
	 * a socket's or pipe's O_NONBLOCK is the table's, checked again only when the kernel says
	 * EAGAIN (send_file_seg): the kernel call itself follows the real flag */
	fl = d.kind == ZC_FD_FILE ? (int)zc_raw_fcntl(w->fd, F_GETFL, 0) : d.flags;
	enum zc_counter why = fl < 0 || (d.kind == ZC_FD_FILE && !zc_fdtab_revalidate(w->fd, d.gen)) ? ZC_fb_stale_source
			      : d.kind == ZC_FD_FILE && (fl & O_APPEND) ? ZC_fb_append : 0;
	if (why) {
		release_stack(s, ns);
		return pass(why);
	}
	nonblock = fl & O_NONBLOCK;
	/* held: a header and file data go as several calls, and no other write is in flight; the
	 * table's O_NONBLOCK is asked of the kernel first (FIONBIO or another process may have cleared
	 * it: a blocking split would make the others wait for the peer) */
	int held = 0;
	if (gated && kernel_calls(s, ns) > 1) {
		fl = (int)zc_raw_fcntl(w->fd, F_GETFL, 0);
		if (fl >= 0 && !(fl & O_NONBLOCK)) zc_fdtab_set_flags(w->fd, fl);
		if (fl < 0 || !(fl & O_NONBLOCK) || !(held = zc_wgate_split_begin(w->fd))) {
			release_stack(s, ns);
			return pass(ZC_fb_multi_writer);
		}
	}
	int nosig = (w->flags & MSG_NOSIGNAL) != 0;
	struct sigguard g = {0};
	if (held) sigs_hold(&g, 1); /* no handler between the calls: it runs after, as after writev */
	else if ((d.kind == ZC_FD_TCP || d.kind == ZC_FD_UNIX) && !zc_sigpipe_ignored()) sigs_hold(&g, 0);

	ssize_t ret = 0;
	int raised = d.kind == ZC_FD_UNIX; /* a kernel call may have raised SIGPIPE (TCP: EPIPE, or closed) */
	for (int i = 0; i < ns; i++) {
		if (!s[i].file) {
			/* header bytes: corked with MSG_MORE so they leave with the file data */
			struct iovec iov[MAXSEG];
			int k = 0, j = i;
			size_t want = 0;
			for (; j < ns && !s[j].file; j++) iov[k++] = (struct iovec){(void *)s[j].p, s[j].n}, want += s[j].n;
			struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)k};
			ssize_t r = zc_real.sendmsg(w->fd, &msg, w->flags | (j < ns ? MSG_MORE : 0));
			if (r < 0) {
				raised |= errno == EPIPE;
				ret = done ? (ssize_t)done : -errno;
				goto out;
			}
			done += (size_t)r;
			zc_count(ZC_bytes_passthrough, (uint64_t)r);
			if ((size_t)r < want) break;
			i = j - 1;
			continue;
		}
		int fallback = 0, err = 0, closed = 0, join = joins(s, ns, i);
		if (s[i].leased && zc_fdtab_lease_enter(s[i].m.src_fd, s[i].m.src_gen)) {
			zc_count(ZC_fb_lease_broken, 1);
			ret = finish(w, d.kind, s, ns, i, 0, dpos);
			goto finished;
		}
		struct seg run = s[i];
		for (int k = 1; k <= join; k++) run.n += s[i + k].n;
		size_t moved = send_file_seg(w, d.kind, nonblock, &run, w->call == ZC_CALL_PWRITE ? &dpos : NULL, &err, &fallback,
					     &closed);
		consumed(s, i, join, moved);
		raised |= closed || err == EPIPE;
		/* a mapping's source has no records to count as used */
		if (!s[i].m.mapped || s[i].leased)
			zc_fdtab_sent(s[i].m.src_fd, s[i].m.src_gen, !s[i].m.mapped, s[i].leased,
				      s[i].leased && moved > 0 ? w->fd : -1);
		if (s[i].m.mapped && moved > 0) zc_count(ZC_rw_mapped, 1), zc_count(ZC_rw_mapped_bytes, (uint64_t)moved);
		if (fallback && !moved && !done) {
			zc_fallback((enum zc_counter)fallback);
			ret = ZC_PASS;
			goto out;
		}
		done += moved;
		if (moved == run.n) {
			i += join;
			continue;
		}
		if (err) {
			/* EAGAIN, EINTR, EPIPE...: what write would report, the partial count first */
			ret = done ? (ssize_t)done : -err;
			goto out;
		}
		/* short without an error: the source shrank (or the kernel refused mid-way): the rest
		 * from the buffer, from the joined segment where the transfer stopped */
		for (; moved >= s[i].n; i++) moved -= s[i].n;
		ret = finish(w, d.kind, s, ns, i, moved, w->pos + (off_t)done);
		goto finished;
	}
	ret = (ssize_t)done;
	goto out;
finished:
	raised = 1; /* the rest went by the original call */
	if (ret > 0) {
		zc_count(ZC_bytes_from_buffer, (uint64_t)ret);
		ret += (ssize_t)done;
	} else {
		ret = done ? (ssize_t)done : (ret < 0 ? -errno : 0);
	}
out:
	if (held) zc_wgate_split_end(w->fd);
	release_stack(s, ns);
	/* write raises SIGPIPE when it fails with EPIPE, and a pipe's write also when it returns a
	 * count because the reader left meanwhile */
	if (d.kind == ZC_FD_TCP || d.kind == ZC_FD_UNIX)
		sigpipe_settle(&g, raised && ret != (ssize_t)total, !nosig && ret == -EPIPE);
	return ret;
}

/* zc_rewrite — the program's vector and header are read through the kernel first (a bad pointer
 * is the original call's EFAULT, never a fault in the shim); then rewrite() works on the copy. */
ssize_t zc_rewrite(const struct zc_wreq *w)
{
	struct iovec iov[MAXSEG];
	struct msghdr h;
	struct zc_wreq c = *w;
	const struct iovec *src = NULL;
	if (w->call == ZC_CALL_SEND && w->addr) return pass(ZC_fb_flags); /* an address: the protocol decides */
	if (w->call == ZC_CALL_SENDMSG) {
		if (zc_copy_in(&h, w->msg, sizeof h) < 0) return ZC_PASS;
		if (h.msg_name || h.msg_controllen || h.msg_iovlen > MAXSEG) return pass(ZC_fb_flags);
		c.iovcnt = (int)h.msg_iovlen, src = h.msg_iov;
	} else if (w->call == ZC_CALL_WRITEV) {
		if (w->iovcnt < 0 || w->iovcnt > MAXSEG) return pass(ZC_fb_flags);
		src = w->uiov;
	}
	if (src) {
		if (zc_copy_in(iov, src, (size_t)c.iovcnt * sizeof *iov) < 0) return ZC_PASS;
		c.iov = iov;
	}
	return rewrite(&c);
}
