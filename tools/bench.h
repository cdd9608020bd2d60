/* bench.h — shared declarations of `zcshim bench`: bench.c (options, plan, loop), bench_proc.c
 * (processes, CPU time, shim stats), bench_servers.c (scenarios) and bench_report.c (output). */
#ifndef ZC_BENCH_H
#define ZC_BENCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "observe.h"
#include "sha256.h"

struct zc_bench_result;
struct zc_bench_scenario;

/* The ways a case is run: the program as is, under the shim in one mode (default: ZCSHIM_MODE
 * left unset, used by --demo), and its native zero-copy equivalent. */
enum zc_bench_variant {
	ZC_BENCH_PLAIN,
	ZC_BENCH_EAGER,
	ZC_BENCH_DEFERRED,
	ZC_BENCH_AUTO,
	ZC_BENCH_OBSERVE,       /* counts what auto would move (obs_*), moves nothing itself */
	ZC_BENCH_DEFAULT,
	ZC_BENCH_FLOOR,         /* builtin only: progs/floor, the system calls the shim needs, no shim */
	ZC_BENCH_NATIVE,
	ZC_BENCH_NVARIANTS
};

#define ZC_BENCH_MAX_COUNTERS 160

/* Fixed for a whole bench run. */
struct zc_bench_env {
	char build[PATH_MAX];   /* directory of zcshim, libzcshim.so and progs/ */
	char lib[PATH_MAX];     /* libzcshim.so, "" when missing */
	char server[PATH_MAX];  /* progs/legacy_server */
	char client[PATH_MAX];  /* progs/legacy_client */
	char floor[PATH_MAX];   /* progs/floor */
	char tmp[PATH_MAX];     /* private temp directory (configs, logs, stats) */
	char www[PATH_MAX];     /* document root holding the payloads */
	char file[PATH_MAX];    /* the payload, www/payload.bin */
	char echo_file[PATH_MAX]; /* small payload for the overhead scenario */
	char stats_dir[PATH_MAX]; /* where the shim writes st.PID.json */
	char sha[65], echo_sha[65];
	uint64_t size, echo_size;
	int timeout_s;          /* per transfer */
	int pin;                /* servers on CPU 0, clients on CPU 1 (2+ CPUs, unless --no-pin) */
	enum zc_bench_variant variants[ZC_BENCH_NVARIANTS]; /* run order within a round */
	int nvariants;
};

/* One benchmark case: a scenario at one chunk size. */
struct zc_bench_case {
	char name[64];          /* display name, e.g. "builtin-tcp-discard/64K" */
	const struct zc_bench_scenario *sc;
	size_t chunk;           /* 0 for scenarios without a chunk parameter */
};

/* A scenario: how to run each of its variants once. */
struct zc_bench_scenario {
	const char *name;
	const char *help;
	int has_chunks;         /* expanded over --chunks */
	int has_native;         /* the native variant exists */
	/* returns NULL if runnable, else a static reason to skip */
	const char *(*available)(const struct zc_bench_env *env);
	void (*run)(const struct zc_bench_env *env, const struct zc_bench_case *c,
		    enum zc_bench_variant v, struct zc_bench_result *r);
};

/* Shim counters summed over the st.PID.json files of one run. */
struct zc_bench_counters {
	int files;              /* stats files found */
	char mode[16];          /* the mode the shim reported ("mixed" if files disagree), "" if none */
	int n;
	char name[ZC_BENCH_MAX_COUNTERS][40];
	uint64_t value[ZC_BENCH_MAX_COUNTERS];
};

/* One run: one variant of one case in one round. */
struct zc_bench_result {
	const struct zc_bench_case *c;
	enum zc_bench_variant variant;
	int round;
	int ok;                 /* transfer finished, payload verified, processes exited cleanly */
	int payload_ok;         /* the receiver's bytes matched the file (sha256 or samples) */
	char error[256];
	uint64_t bytes;         /* payload bytes received */
	double wall_s, cpu_s;   /* transfer wall time, server CPU (user+system, incl. children) */
	const char *cpu_method; /* how cpu_s was taken: "wait4", "cgroup2" or "proc-samples" */
	const char *check;      /* "sha256" or "sampled" (discard receiver) */
	char sha[65];
	uint64_t samples, bad_samples;
	double kernel_share;    /* -1 when unknown */
	struct zc_bench_counters counters;
};

extern const struct zc_bench_scenario zc_bench_scenarios[];
extern const int zc_bench_nscenarios;
extern const char *const zc_bench_variant_names[ZC_BENCH_NVARIANTS];
int zc_bench_is_shim(enum zc_bench_variant v);
const char *zc_bench_variant_mode(enum zc_bench_variant v);

/* bench_proc.c */
struct zc_bench_spawn {
	char *const *argv;
	const char *const *env;  /* extra NAME=VALUE entries, NULL-terminated, or NULL */
	int in, out, err;        /* fds for 0/1/2 in the child; -1 = /dev/null */
	int own_group;           /* setpgid(0, 0): the server's tree can be signalled as a group */
	int cpu;                 /* 1 + the CPU the child is pinned to; 0: not pinned */
	int cgroup_procs;        /* 1 + a cgroup.procs descriptor the child moves itself in with; 0: none */
};
pid_t zc_bench_spawn(const struct zc_bench_spawn *s);
int zc_bench_wait(pid_t pid, int timeout_ms, int *status, double *cpu_s);
void zc_bench_kill_group(pid_t pgid, int sig);
double zc_bench_group_cpu(pid_t pgid);
int zc_bench_wait_listen(int port, pid_t pid, int timeout_ms);
int zc_bench_free_port(void);
double zc_bench_now(void);
int zc_bench_status_ok(int status, const char *who, char *err, size_t errlen);
void zc_bench_shim_env(const struct zc_bench_env *env, enum zc_bench_variant v, const char **out,
		       size_t cap);
void zc_bench_collect_stats(const struct zc_bench_env *env, struct zc_bench_counters *c);
uint64_t zc_bench_counter(const struct zc_bench_counters *c, const char *name);
int zc_bench_write_file(const char *path, const char *text);
int zc_bench_find_exe(const char *name, char *out, size_t cap);
void zc_bench_rm_rf(const char *path);

/* A scenario left out, and why. */
struct zc_bench_skip {
	char scenario[32];
	char reason[96];
};

/* bench_cgroup.c — init: 0 when a cgroup v2 of our own could be made; new: a run's cgroup in dir,
 * returns its cgroup.procs descriptor (-1: none); cpu: its CPU seconds; end: kills what is left in
 * it and removes it; fini: removes ours. */
int zc_bench_cg_init(void);
int zc_bench_cg_new(char *dir, size_t cap);
double zc_bench_cg_cpu(const char *dir);
void zc_bench_cg_end(const char *dir);
void zc_bench_cg_fini(void);

/* bench_report.c */
struct zc_bench_summary {
	const struct zc_bench_case *c;
	enum zc_bench_variant variant;
	char label[32];         /* the variant's name in the table and plot, e.g. "default (eager)" */
	int n, failed;
	double cpu_med, cpu_min, cpu_max, mbs_med, mbs_min, mbs_max, share_med;
	double cpu_ratio, mbs_ratio; /* vs plain; -1 when unknown */
	double cpu_vs_native, mbs_vs_native; /* shim variants vs native; -1 when unknown */
	/* observe rows (bench_observe.c): the saving the cost model estimates from the obs_* bytes
	 * and the one measured in the same run (plain - auto of the case), CPU s per GiB of payload;
	 * obs_ratio = estimate / measured; share: obs bytes / payload, unknown: bytes the model has no
	 * entry for / payload; NAN when not known (no auto row, no run). */
	double obs_est, obs_measured, obs_ratio, obs_share, obs_unknown;
	char obs_model[160];    /* which model: this run's calibration, a costs file, the built-in table */
};
void zc_bench_summarize(const struct zc_bench_env *env, const struct zc_bench_result *rs, int nr,
			struct zc_bench_summary *out, int *nout);
void zc_bench_print_table(const struct zc_bench_summary *s, int n);
void zc_bench_print_reasons(const struct zc_bench_result *rs, int nr,
			    const struct zc_bench_summary *s, int ns);
int zc_bench_write_json(const char *path, const struct zc_bench_env *env,
			const struct zc_bench_result *rs, int nr, const struct zc_bench_summary *s,
			int ns, const struct zc_bench_skip *skips, int nskips, int rounds);
/* bench_observe.c — cal: the model measured in this run (builtin-tcp-read -> tcp, builtin-pipe ->
 * pipe, per chunk: plain - auto CPU per GiB auto moved in the kernel); then each observe summary's
 * estimate with cal (builtin scenarios) or base (the costs file or built-in table). Returns the
 * number of entries cal got. print: the estimate-vs-measured table on stdout. */
int zc_bench_observe(const struct zc_bench_result *rs, int nr, struct zc_bench_summary *s, int ns,
		     const struct zc_observe_model *base, struct zc_observe_model *cal);
void zc_bench_print_observe(const struct zc_bench_summary *s, int ns);
int zc_bench_plot(const char *path, const struct zc_bench_env *env,
		  const struct zc_bench_summary *s, int n);

#endif
