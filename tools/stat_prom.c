/* stat_prom.c — `zcshim stat --prometheus [PID...]`: live counters in the Prometheus text exposition
 * format 0.0.4, for node_exporter's textfile collector. Every counter of stats.h has a row below; a
 * counter without one is reported and makes the exit status 1, so a new counter cannot go unexported. */
#include "stat.h"
#include "stats.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Metric families, in output order; F_NONE marks a counter that has no row (a bug). */
enum fam {
	F_NONE,
	F_CALLS, F_REWRITES, F_BYTES, F_MAPPED_REWRITES, F_MAPPED_BYTES, F_FALLBACKS, F_FALLBACK_BYTES, F_PEER_ERRORS,
	F_RECORDS, F_GUARD, F_LEASES, F_CAP_LEASE, F_CAP_LEASE_THREADS, F_DEFERRED_READS, F_DEFERRED_BYTES, F_HEADS_CARRIED,
	F_NOT_DEFERRED, F_MATERIALIZED, F_MATERIALIZED_BYTES, F_MATERIALIZED_TOUCH, F_MATERIALIZE_ERRORS,
	F_FAULT_ZERO, F_FORK_UNFILLED, F_MAPS, F_OBSERVED,
	F_COUNT
};

/* One family: its name, type, the label that tells its counters apart (NULL: one counter) and help. */
struct family {
	const char *name, *type, *label, *help;
};

static const struct family fams[F_COUNT] = {
	[F_CALLS] = {"zcshim_calls_total", "counter", "call", "Intercepted calls seen, by call."},
	[F_REWRITES] = {"zcshim_rewrites_total", "counter", "method",
			"Writes done by the kernel instead of the program's call, by the kernel call used."},
	[F_BYTES] = {"zcshim_bytes_total", "counter", "method",
		     "Bytes written: moved by the kernel (sendfile, splice, copy_file_range), passed through by the "
		     "original call (passthrough), or finished from the buffer after a short source (from_buffer)."},
	[F_MAPPED_REWRITES] = {"zcshim_mapped_rewrites_total", "counter", NULL,
			       "Rewrites whose data came from a followed file mapping (part of zcshim_rewrites_total)."},
	[F_MAPPED_BYTES] = {"zcshim_mapped_bytes_total", "counter", NULL,
			    "Bytes sent by the kernel from a followed file mapping (part of zcshim_bytes_total)."},
	[F_FALLBACKS] = {"zcshim_fallbacks_total", "counter", "reason",
			 "Writes not rewritten (the original call ran), by reason."},
	[F_FALLBACK_BYTES] = {"zcshim_fallback_bytes_total", "counter", "reason",
			      "Bytes the original call wrote for writes not rewritten, by reason (part of "
			      "zcshim_bytes_total{method=\"passthrough\"})."},
	[F_PEER_ERRORS] = {"zcshim_peer_errors_kept_total", "counter", NULL,
			   "Errors of a partly done rewrite kept for the program's next call on that descriptor."},
	[F_RECORDS] = {"zcshim_records_total", "counter", "event",
		       "Read records: created, dirtied by a write to the buffer, dropped, never used, or not made "
		       "because the buffer was on the stack (skipped_stack) or the source is a steady stream of chunks "
		       "nothing rewrites (skipped_steady: no note, the reason kept on the reading thread)."},
	[F_GUARD] = {"zcshim_guard", "gauge", "mechanism",
		     "1 for the write detection this process got once it first needed one (none: nothing is rewritten)."},
	[F_LEASES] = {"zcshim_leases_total", "counter", "event", "Read leases on source files, by outcome."},
	[F_CAP_LEASE] = {"zcshim_cap_lease_setuid_total", "counter", "outcome",
			 "Changes of user id under keep_cap_lease, by whether the thread kept CAP_LEASE."},
	[F_CAP_LEASE_THREADS] = {"zcshim_cap_lease_threads_lost_total", "counter", NULL,
				 "Other threads that lost every capability at such a change of user id."},
	[F_DEFERRED_READS] = {"zcshim_deferred_reads_total", "counter", NULL, "Reads that did not copy (deferred)."},
	[F_DEFERRED_BYTES] = {"zcshim_deferred_bytes_total", "counter", NULL,
			      "Bytes that deferred reads left for the kernel (the interiors never copied)."},
	[F_HEADS_CARRIED] = {"zcshim_deferred_heads_carried_total", "counter", NULL,
			     "Deferred reads whose unaligned head came with the previous read's tail (one read call saved)."},
	[F_NOT_DEFERRED] = {"zcshim_reads_not_deferred_total", "counter", "reason",
			    "Reads copied although deferral was wanted, by reason."},
	[F_MATERIALIZED] = {"zcshim_materialized_total", "counter", NULL, "Deferred records given their bytes later."},
	[F_MATERIALIZED_BYTES] = {"zcshim_materialized_bytes_total", "counter", NULL,
				  "Bytes copied into buffers of deferred records given their bytes later."},
	[F_MATERIALIZED_TOUCH] = {"zcshim_materialized_by_touch_total", "counter", NULL,
				  "Deferred records given their bytes because the program touched the buffer "
				  "(part of zcshim_materialized_total)."},
	[F_MATERIALIZE_ERRORS] = {"zcshim_materialize_errors_total", "counter", NULL,
				  "Deferred records that could not be given their bytes."},
	[F_FAULT_ZERO] = {"zcshim_zero_faults_total", "counter", NULL, "Faults on pages that no record held."},
	[F_FORK_UNFILLED] = {"zcshim_fork_unfilled_total", "counter", NULL,
			     "Forks from a signal handler inside the shim, when deferred records could not be filled first."},
	[F_OBSERVED] = {"zcshim_observed_bytes_total", "counter", "bucket",
			"Observe mode: bytes auto would have moved in the kernel, by destination and write size "
			"(tcp_64k: 64 KiB up to 256 KiB to a socket)."},
	[F_MAPS] = {"zcshim_maps_total", "counter", "outcome",
		    "Read-only file mappings followed (tracked) or refused (no descriptor of the shim's own)."},
};

/* Each counter's family and label value. */
struct row {
	enum fam fam;
	const char *value;
};

#define CALL(n) [ZC_calls_##n] = {F_CALLS, #n}
#define RW(n) [ZC_rw_##n] = {F_REWRITES, #n}, [ZC_rw_##n##_bytes] = {F_BYTES, #n}
#define FB(n) [ZC_fb_##n] = {F_FALLBACKS, #n},
#define OBS(n) [ZC_##n] = {F_OBSERVED, #n + 4}, /* "obs_tcp_4k" + 4: "tcp_4k" */
#define FBB(n) [ZC_bytes_fb_##n] = {F_FALLBACK_BYTES, #n},
#define REC(n) [ZC_records_##n] = {F_RECORDS, #n}
#define LEASE(n) [ZC_lease_##n] = {F_LEASES, #n}

static const struct row rows[ZC_NCOUNTERS] = {
	CALL(read), CALL(pread), CALL(readv), CALL(recv), CALL(write), CALL(pwrite), CALL(writev), CALL(send),
	CALL(sendmsg), CALL(sendfile), CALL(splice), CALL(copy_file_range),
	RW(sendfile), RW(splice), RW(copy_file_range),
	[ZC_bytes_from_buffer] = {F_BYTES, "from_buffer"}, [ZC_bytes_passthrough] = {F_BYTES, "passthrough"},
	[ZC_rw_mapped] = {F_MAPPED_REWRITES, NULL}, [ZC_rw_mapped_bytes] = {F_MAPPED_BYTES, NULL},
	REC(created), REC(dirty), REC(dropped), REC(unused), REC(skipped_stack), REC(skipped_steady),
	[ZC_guard_uffd] = {F_GUARD, "uffd"}, [ZC_guard_uffd_user] = {F_GUARD, "uffd_user"},
	[ZC_guard_none] = {F_GUARD, "none"},
	ZC_FALLBACKS(FB, ) ZC_FALLBACKS(FBB, ) /* every reason, from the list that makes the counters */
	[ZC_peer_error_kept] = {F_PEER_ERRORS, NULL},
	LEASE(granted), LEASE(denied), LEASE(busy), LEASE(broken), LEASE(released),
	[ZC_cap_lease_kept] = {F_CAP_LEASE, "kept"}, [ZC_cap_lease_failed] = {F_CAP_LEASE, "failed"},
	[ZC_cap_lease_threads_lost] = {F_CAP_LEASE_THREADS, NULL},
	[ZC_deferred_reads] = {F_DEFERRED_READS, NULL}, [ZC_deferred_bytes] = {F_DEFERRED_BYTES, NULL},
	[ZC_deferred_heads_carried] = {F_HEADS_CARRIED, NULL},
	[ZC_defer_unavailable] = {F_NOT_DEFERRED, "unavailable"},
	[ZC_defer_stepped_down] = {F_NOT_DEFERRED, "stepped_down"},
	[ZC_materialized] = {F_MATERIALIZED, NULL}, [ZC_materialized_bytes] = {F_MATERIALIZED_BYTES, NULL},
	[ZC_materialized_fault] = {F_MATERIALIZED_TOUCH, NULL},
	[ZC_materialize_errors] = {F_MATERIALIZE_ERRORS, NULL},
	[ZC_fault_zero] = {F_FAULT_ZERO, NULL}, [ZC_fork_unfilled] = {F_FORK_UNFILLED, NULL},
	[ZC_maps_tracked] = {F_MAPS, "tracked"}, [ZC_maps_refused] = {F_MAPS, "refused"},
	ZC_OBSERVED(OBS)
};

/* One process's snapshot, taken before anything is printed: a family's lines must stay together. */
struct proc {
	int pid;
	char comm[64];
	struct zc_stats s;
};

struct procs {
	struct proc *p;
	int n, cap;
};

/* add — keeps one snapshot; -1 when out of memory. */
static int add(struct procs *ps, int pid, const struct zc_stats *s)
{
	if (ps->n == ps->cap) {
		int cap = ps->cap ? 2 * ps->cap : 16;
		struct proc *p = realloc(ps->p, (size_t)cap * sizeof *p);
		if (!p) return -1;
		ps->p = p, ps->cap = cap;
	}
	struct proc *p = &ps->p[ps->n++];
	p->pid = pid;
	p->s = *s;
	zc_stat_comm(pid, p->comm, sizeof p->comm);
	return 0;
}

/* collect — zc_stat_each's callback when no PID is named. */
static void collect(int pid, const struct zc_stats *s, void *arg)
{
	if (add(arg, pid, s)) fprintf(stderr, "zcshim stat: out of memory, pid %d left out\n", pid);
}

/* utf8_len — length of the valid UTF-8 sequence at s (n bytes left), or 0 if it is not one. */
static int utf8_len(const unsigned char *s, size_t n)
{
	int len = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
		: s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	if (!len || (size_t)len > n) return 0;
	for (int i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80) return 0;
	/* overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 either */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
	    (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return len;
}

/* put_escaped — a label value (quotes too) or help text, escaped as the format says; a byte that
 * is not UTF-8 (a comm may hold any) becomes U+FFFD, since Prometheus refuses such a value. */
static void put_escaped(const char *v, int label)
{
	const unsigned char *s = (const unsigned char *)v;
	size_t n = strlen(v);
	for (size_t i = 0; i < n;) {
		int len = utf8_len(s + i, n - i);
		if (s[i] == '\\') fputs("\\\\", stdout);
		else if (s[i] == '\n') fputs("\\n", stdout);
		else if (s[i] == '"' && label) fputs("\\\"", stdout);
		else if (!len) fputs("\xef\xbf\xbd", stdout);
		else fwrite(s + i, 1, (size_t)len, stdout);
		i += len ? (size_t)len : 1;
	}
}

/* family — the HELP and TYPE lines and one sample per counter of family f for every process. */
static void family(enum fam f, const struct procs *ps)
{
	const struct family *F = &fams[f];
	printf("# HELP %s ", F->name);
	put_escaped(F->help, 0);
	printf("\n# TYPE %s %s\n", F->name, F->type);
	for (int k = 0; k < ps->n; k++) {
		const struct proc *p = &ps->p[k];
		for (int i = 0; i < ZC_NCOUNTERS; i++) {
			if (rows[i].fam != f) continue;
			printf("%s{pid=\"%d\",comm=\"", F->name, p->pid);
			put_escaped(p->comm, 1);
			if (F->label) printf("\",%s=\"%s", F->label, rows[i].value);
			printf("\"} %llu\n", (unsigned long long)p->s.v[i]);
		}
	}
}

/* unmapped — counters without a row, each named on stderr; their number. */
static int unmapped(void)
{
	int n = 0;
	for (int i = 0; i < ZC_NCOUNTERS; i++)
		if (rows[i].fam == F_NONE || (fams[rows[i].fam].label != NULL) != (rows[i].value != NULL))
			fprintf(stderr, "zcshim stat: counter %s has no Prometheus name (tools/stat_prom.c)\n", zc_counter_names[i]), n++;
	return n;
}

/* named — snapshots of the PIDs given; 0, 1 if one could not be read, 2 if one is not a PID. */
static int named(struct procs *ps, int npids, char *const *pids)
{
	int rc = 0;
	for (int k = 0; k < npids; k++) {
		char *end;
		long pid = strtol(pids[k], &end, 10);
		if (*end || pid <= 0 || pid > INT32_MAX) {
			fprintf(stderr, "zcshim stat: '%s' is not a process id\nusage: zcshim stat --prometheus [PID...]\n", pids[k]);
			return 2;
		}
	}
	for (int k = 0; k < npids; k++) {
		int pid = (int)strtol(pids[k], NULL, 10), dup = 0;
		struct zc_stats s;
		for (int j = 0; j < ps->n; j++) dup |= ps->p[j].pid == pid; /* a series appears once */
		if (dup) continue;
		if (zc_stat_load(pid, &s, 1)) rc = 1;
		else if (add(ps, pid, &s)) {
			fprintf(stderr, "zcshim stat: out of memory at pid %d\n", pid);
			return 1;
		}
	}
	return rc;
}

int zc_stat_prometheus(int npids, char *const *pids)
{
	struct procs ps = {0};
	int rc = 0;
	if (npids) {
		rc = named(&ps, npids, pids);
		if (rc == 2) return 2;
	} else if (zc_stat_each(collect, &ps) < 0) {
		perror("zcshim stat: /proc");
		return 1;
	}
	if (unmapped()) rc = 1;
	for (int f = F_NONE + 1; ps.n && f < F_COUNT; f++) family((enum fam)f, &ps);
	free(ps.p);
	/* a textfile collector must not get a cut file as if it were whole */
	if (fflush(stdout) || ferror(stdout)) {
		perror("zcshim stat: writing the metrics");
		return 1;
	}
	return rc;
}
