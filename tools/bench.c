/* bench.c — `zcshim bench`: options, payload preparation, and the interleaved run loop that
 * measures each scenario plain, under the shim in each selected mode, and with its native
 * zero-copy equivalent. */
#include "bench.h"
#include "cmds.h"
#include "size.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHUNKS 16
#define ECHO_MAX (1u << 20)

/* Options of one bench invocation. */
struct bench_opts {
	int want[32];           /* selected scenario indexes, in order */
	int nwant;
	size_t chunks[MAX_CHUNKS];
	int nchunks;
	uint64_t size;
	int rounds, timeout_s, no_pin;
	enum zc_bench_variant modes[ZC_BENCH_NVARIANTS]; /* shim variants, in run order */
	int nmodes;
	const char *json, *plot, *costs;
	char json_buf[PATH_MAX], plot_buf[PATH_MAX];
	struct zc_observe_model model; /* observe rows outside this run's calibration: --costs or built in */
};

/* usage — the one-line usage on stderr; returns 2 for the caller to exit with. */
static int usage(void)
{
	fprintf(stderr, "usage: zcshim bench [--scenarios LIST] [--chunks LIST] [--modes LIST] "
			"[--size BYTES] [--rounds N] [--json FILE] [--plot FILE] [--costs FILE] "
			"[--timeout SEC] [--no-pin] [--quick] [--demo] [--help]\n");
	return 2;
}

/* help — documents the options and the scenarios on stdout. */
static int help(void)
{
	printf("zcshim bench — server CPU per GiB and throughput: plain vs. under the shim vs. native\n\n"
	       "Each scenario runs its variants interleaved (plain eager deferred native, plain eager\n"
	       "deferred native, ...) for --rounds rounds. plain: the program as is. eager, deferred,\n"
	       "auto: the same program with LD_PRELOAD=libzcshim.so ZCSHIM_MODE=<that mode> (--modes).\n"
	       "native: its zero-copy equivalent. Every run's payload is checked against the file's\n"
	       "sha256; a mismatch fails the bench (exit 1).\n\n"
	       "Figures: server CPU s/GiB (user+system of the server and its children during the\n"
	       "transfer), MB/s (wall time of the transfer), kernel-share (bytes the shim moved with\n"
	       "sendfile/splice/copy_file_range over all bytes it saw), medians (min-max) over rounds,\n"
	       "ratios to plain (CPU, MB/s) and each shim variant's CPU ratio to native.\n"
	       "Builtin servers and socat are timed by wait4(); persistent servers run in a cgroup v2\n"
	       "of their own, whose cpu.stat counts exited threads and children exactly (python's\n"
	       "per-request threads, vsftpd's sessions); without a writable cgroup v2, by /proc\n"
	       "samples of the server's process tree: schedstat (ns), or clock ticks (10 ms) once a\n"
	       "thread has exited. Each run's \"cpu_method\" in the JSON says which.\n\n"
	       "options:\n"
	       "  --scenarios LIST  comma-separated names, or 'all' (default) or 'builtin'\n"
	       "  --chunks LIST     chunk sizes of the builtin scenarios (default 4K,16K,64K,256K,1M)\n"
	       "  --modes LIST      shim modes to run, from eager, deferred, auto, observe (default\n"
	       "                    eager,deferred). observe rows: the CPU saving the cost model estimates\n"
	       "                    from the bytes auto would move, next to plain - auto measured here.\n"
	       "                    floor (builtin scenarios): progs/floor, without the shim, makes the\n"
	       "                    system calls an exact deferred chunk needs (F_GETLEASE, lseek, the\n"
	       "                    head and tail's preadv, to a socket a poll, the transfer): what no\n"
	       "                    bookkeeping of the shim's could go below\n"
	       "  --size BYTES      payload size, suffixes K M G (default 256M)\n"
	       "  --rounds N        rounds per scenario (default 3)\n"
	       "  --json FILE       results (default BUILD/bench/results.json)\n"
	       "  --plot FILE       SVG chart via gnuplot (default BUILD/bench/plot.svg)\n"
	       "  --costs FILE      cost model of the observe rows of other than builtin scenarios (default:\n"
	       "                    the built-in table). With plain and auto of builtin-tcp-read or\n"
	       "                    builtin-pipe, this run's figures go to BUILD/bench/costs.txt\n"
	       "  --timeout SEC     limit per transfer (default 120)\n"
	       "  --no-pin          do not pin servers to CPU 0 and clients to CPU 1 (pinned when 2+ CPUs)\n"
	       "  --quick           all scenarios, 32M, 1 round, chunk 64K\n"
	       "  --demo            builtin-tcp-read and builtin-pipe at 64K, nginx; 256M, 3 rounds; one\n"
	       "                    shim variant in the shim's default mode (ZCSHIM_MODE not set)\n"
	       "  --help            this text\n\nscenarios:\n");
	for (int i = 0; i < zc_bench_nscenarios; i++)
		printf("  %-20s %s\n", zc_bench_scenarios[i].name, zc_bench_scenarios[i].help);
	printf("\nA scenario whose programs are missing prints \"skip: NAME: REASON\".\n");
	return 0;
}

/* parse_size — a byte count with an optional K/M/G/T suffix (size.h); 0 if malformed. */
static uint64_t parse_size(const char *s)
{
	uint64_t v;
	return zc_size_parse(s, ZC_SIZE_ALL, &v) ? 0 : v;
}

/* add_scenario — selects one scenario by name (or a group); -1 if unknown. */
static int add_scenario(struct bench_opts *o, const char *name)
{
	int found = 0;
	for (int i = 0; i < zc_bench_nscenarios; i++) {
		const char *n = zc_bench_scenarios[i].name;
		if (strcmp(name, n) == 0 || strcmp(name, "all") == 0 ||
		    (strcmp(name, "builtin") == 0 && strncmp(n, "builtin-", 8) == 0)) {
			int dup = 0;
			for (int j = 0; j < o->nwant; j++)
				dup |= o->want[j] == i;
			if (!dup && o->nwant < 32)
				o->want[o->nwant++] = i;
			found = 1;
		}
	}
	return found ? 0 : -1;
}

/* parse_list — splits a comma list, calling add for each item; -1 on any bad item. */
static int parse_list(struct bench_opts *o, const char *list, int scen)
{
	char buf[512], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", list);
	if (scen)
		o->nwant = 0;
	else
		o->nchunks = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (scen && add_scenario(o, t) < 0)
			return -1;
		if (!scen) {
			uint64_t v = parse_size(t);
			if (v == 0 || v > (1u << 30) || o->nchunks == MAX_CHUNKS)
				return -1;
			o->chunks[o->nchunks++] = (size_t)v;
		}
	}
	return (scen ? o->nwant : o->nchunks) > 0 ? 0 : -1;
}

/* mode_variant — the variant --modes names NAME (a shim mode, or floor); -1 if none (default is
 * not for --modes). */
static int mode_variant(const char *name)
{
	if (strcmp(name, zc_bench_variant_names[ZC_BENCH_FLOOR]) == 0)
		return ZC_BENCH_FLOOR;
	for (int v = ZC_BENCH_EAGER; v <= ZC_BENCH_OBSERVE; v++)
		if (strcmp(name, zc_bench_variant_names[v]) == 0)
			return v;
	return -1;
}

/* parse_modes — the shim variants of --modes, in order; -1 on an unknown, repeated or no mode. */
static int parse_modes(struct bench_opts *o, const char *list)
{
	char buf[128], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", list);
	o->nmodes = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int v = mode_variant(t);
		for (int j = 0; j < o->nmodes; j++)
			v = (int)o->modes[j] == v ? -1 : v;
		if (v < 0)
			return -1;
		o->modes[o->nmodes++] = (enum zc_bench_variant)v;
	}
	return o->nmodes > 0 ? 0 : -1;
}

/* preset — defaults, then the --quick or --demo preset; explicit options override both. */
static void preset(struct bench_opts *o, int argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	o->size = 256u << 20, o->rounds = 3, o->timeout_s = 120;
	parse_list(o, "4K,16K,64K,256K,1M", 0);
	parse_list(o, "all", 1);
	parse_modes(o, "eager,deferred");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			o->size = 32u << 20, o->rounds = 1;
			parse_list(o, "64K", 0);
		} else if (strcmp(argv[i], "--demo") == 0) {
			/* what a user gets without configuring anything: the shim's default mode against
			 * plain and native, at nginx's order of chunk size, to TCP and to a pipe */
			o->size = 256u << 20, o->rounds = 3;
			parse_list(o, "64K", 0);
			o->modes[0] = ZC_BENCH_DEFAULT, o->nmodes = 1;
			parse_list(o, "builtin-tcp-read,builtin-pipe,nginx", 1);
		}
	}
}

/* parse_opts — 0 to run, 1 after --help, 2 on bad options (usage printed). */
static int parse_opts(struct bench_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{"scenarios", 1, 0, 's'}, {"chunks", 1, 0, 'c'}, {"size", 1, 0, 'S'},
		{"rounds", 1, 0, 'r'},    {"json", 1, 0, 'j'},   {"plot", 1, 0, 'p'},
		{"timeout", 1, 0, 't'},   {"quick", 0, 0, 'q'},  {"demo", 0, 0, 'd'},
		{"no-pin", 0, 0, 'P'},    {"modes", 1, 0, 'm'},  {"help", 0, 0, 'h'},
		{"costs", 1, 0, 'C'},     {0, 0, 0, 0},
	};
	int c;
	preset(o, argc, argv);
	optind = 0; /* glibc: full re-initialisation, the launcher may have used getopt */
	opterr = 1;
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (c) {
		case 's': if (parse_list(o, optarg, 1) < 0) return usage(); break;
		case 'c': if (parse_list(o, optarg, 0) < 0) return usage(); break;
		case 'm': if (parse_modes(o, optarg) < 0) return usage(); break;
		case 'S': if (!(o->size = parse_size(optarg))) return usage(); break;
		case 'r': o->rounds = atoi(optarg); if (o->rounds < 1 || o->rounds > 1000) return usage(); break;
		case 't': o->timeout_s = atoi(optarg); if (o->timeout_s < 1) return usage(); break;
		case 'j': o->json = optarg; break;
		case 'p': o->plot = optarg; break;
		case 'C': o->costs = optarg; break;
		case 'q': case 'd': break; /* applied by preset() */
		case 'P': o->no_pin = 1; break;
		case 'h': help(); return 1;
		default: return usage();
		}
	}
	if (optind != argc)
		return usage();
	if (o->costs) {
		char why[PATH_MAX + 128];
		if (zc_observe_load(&o->model, o->costs, stderr, why, sizeof(why)) < 0) {
			fprintf(stderr, "zcshim bench: %s\n", why);
			return 2;
		}
	} else {
		zc_observe_builtin(&o->model);
	}
	return 0;
}

/* fill_payload — writes size pseudo-random bytes (xorshift64*) to path and hashes them. */
static int fill_payload(const char *path, uint64_t size, char sha[65])
{
	static uint64_t block[1 << 17];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	struct zc_bench_sha256 s;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	zc_bench_sha256_init(&s);
	for (uint64_t done = 0; done < size;) {
		size_t n = size - done < sizeof(block) ? (size_t)(size - done) : sizeof(block);
		for (size_t i = 0; i < sizeof(block) / 8; i++) {
			x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
			block[i] = x * 0x2545f4914f6cdd1dULL;
		}
		zc_bench_sha256_update(&s, block, n);
		if (write(fd, block, n) != (ssize_t)n) {
			close(fd);
			return -1;
		}
		done += n;
	}
	zc_bench_sha256_hex(&s, sha);
	int bad = fdatasync(fd) < 0; /* no writeback in the middle of the measurements */
	bad |= close(fd) < 0;
	return bad ? -1 : 0;
}

/* join — out = a "/" b; -1 if it does not fit. */
static int join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s/%s", a, b);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* set_variants — the run order within a round: plain, the shim variants (when the library was
 * built), native. */
static void set_variants(struct zc_bench_env *env, const struct bench_opts *o)
{
	env->variants[env->nvariants++] = ZC_BENCH_PLAIN;
	for (int k = 0; k < o->nmodes; k++)
		if (env->lib[0] || o->modes[k] == ZC_BENCH_FLOOR)
			env->variants[env->nvariants++] = o->modes[k];
	env->variants[env->nvariants++] = ZC_BENCH_NATIVE;
}

/* setup_env — paths, temp dirs and payload files; 0 or -1 (message printed). */
static int setup_env(struct zc_bench_env *env, const struct bench_opts *o)
{
	const char *dir = zc_self_dir(), *tmpdir = getenv("TMPDIR");
	memset(env, 0, sizeof(*env));
	snprintf(env->build, sizeof(env->build), "%s", dir ? dir : ".");
	if (join(env->lib, sizeof(env->lib), env->build, "libzcshim.so") ||
	    join(env->server, sizeof(env->server), env->build, "progs/legacy_server") ||
	    join(env->client, sizeof(env->client), env->build, "progs/legacy_client") ||
	    join(env->floor, sizeof(env->floor), env->build, "progs/floor")) {
		fprintf(stderr, "zcshim bench: path too long: %s\n", env->build);
		return -1;
	}
	if (access(env->lib, R_OK) != 0)
		env->lib[0] = 0;
	if (access(env->server, X_OK) || access(env->client, X_OK) || access(env->floor, X_OK)) {
		fprintf(stderr, "zcshim bench: %s, %s or %s missing: run make first\n", env->server,
			env->client, env->floor);
		return -1;
	}
	env->timeout_s = o->timeout_s;
	set_variants(env, o);
	/* the server and its client on separate CPUs: less noise, and the client of a real server is elsewhere */
	env->pin = !o->no_pin && sysconf(_SC_NPROCESSORS_ONLN) >= 2;
	if (join(env->tmp, sizeof(env->tmp), tmpdir && *tmpdir ? tmpdir : "/tmp", "zcbench.XXXXXX") ||
	    !mkdtemp(env->tmp)) {
		fprintf(stderr, "zcshim bench: mkdtemp %s: %s\n", env->tmp, strerror(errno));
		return -1;
	}
	if (join(env->www, sizeof(env->www), env->tmp, "www") ||
	    join(env->stats_dir, sizeof(env->stats_dir), env->tmp, "stats") ||
	    join(env->file, sizeof(env->file), env->www, "payload.bin") ||
	    join(env->echo_file, sizeof(env->echo_file), env->www, "echo.bin")) {
		fprintf(stderr, "zcshim bench: path too long: %s\n", env->tmp);
		return -1;
	}
	env->size = o->size;
	env->echo_size = o->size < ECHO_MAX ? o->size : ECHO_MAX;
	/* servers that drop privileges (nginx, lighttpd as root) must read these and write stats */
	if (chmod(env->tmp, 0755) || mkdir(env->www, 0755) || mkdir(env->stats_dir, 01777) ||
	    chmod(env->stats_dir, 01777) || fill_payload(env->file, env->size, env->sha) ||
	    fill_payload(env->echo_file, env->echo_size, env->echo_sha)) {
		fprintf(stderr, "zcshim bench: preparing %s: %s\n", env->tmp, strerror(errno));
		return -1;
	}
	return 0;
}

/* size_name — "64K", "1M" or plain bytes. */
static void size_name(char *out, size_t cap, size_t v)
{
	if (v >= (1u << 20) && v % (1u << 20) == 0)
		snprintf(out, cap, "%zuM", v >> 20);
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(out, cap, "%zuK", v >> 10);
	else
		snprintf(out, cap, "%zu", v);
}

/* make_cases — expands the selected, available scenarios over the chunk sizes; skipped
 * scenarios are printed and recorded. Returns the number of cases. */
static int make_cases(const struct bench_opts *o, const struct zc_bench_env *env,
		      struct zc_bench_case *cases, struct zc_bench_skip *skips, int *nskips)
{
	int n = 0;
	char sz[24];
	for (int i = 0; i < o->nwant; i++) {
		const struct zc_bench_scenario *sc = &zc_bench_scenarios[o->want[i]];
		const char *why = sc->available(env);
		if (why) {
			printf("skip: %s: %s\n", sc->name, why);
			snprintf(skips[*nskips].scenario, sizeof(skips[0].scenario), "%s", sc->name);
			snprintf(skips[(*nskips)++].reason, sizeof(skips[0].reason), "%s", why);
			continue;
		}
		for (int k = 0; k < (sc->has_chunks ? o->nchunks : 1); k++) {
			cases[n].sc = sc;
			cases[n].chunk = sc->has_chunks ? o->chunks[k] : 0;
			size_name(sz, sizeof(sz), cases[n].chunk);
			snprintf(cases[n].name, sizeof(cases[n].name), sc->has_chunks ? "%s/%s" : "%s",
				 sc->name, sz);
			n++;
		}
	}
	fflush(stdout);
	return n;
}

/* variant_on — whether variant v runs for a case (native only where it exists, floor for the
 * builtin server's chunks of 8 KiB and more). */
static int variant_on(const struct zc_bench_case *c, enum zc_bench_variant v)
{
	if (v == ZC_BENCH_FLOOR)
		return c->sc->has_chunks && c->chunk >= 8192; /* a page-aligned interior to leave out */
	return v != ZC_BENCH_NATIVE || c->sc->has_native;
}

/* warm — reads path through once, so every run starts with it in the page cache: this machine
 * gives cached pages back now and then (a few MiB a minute of a 512 MiB file, 23 GiB free), and
 * the run that read them from disk again paid for it alone. */
static void warm(const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return;
	while (read(fd, buf, sizeof(buf)) > 0) {}
	close(fd);
}

/* run_one — one measured run of a case's variant; prints progress and any failure. */
static void run_one(const struct zc_bench_env *env, const struct zc_bench_case *c,
		    enum zc_bench_variant v, int round, struct zc_bench_result *r, int k, int total)
{
	memset(r, 0, sizeof(*r));
	r->c = c, r->variant = v;
	r->round = round, r->ok = 1, r->kernel_share = -1;
	fprintf(stderr, "[%d/%d] %s %s round %d\n", k, total, c->name, zc_bench_variant_names[v], round);
	warm(env->file);
	c->sc->run(env, c, v, r);
	if (!r->ok)
		fprintf(stderr, "FAIL: %s %s round %d: %s\n", c->name, zc_bench_variant_names[v], round,
			r->error);
}

/* run_all — the measurements, variants interleaved within each round; returns runs done. */
static int run_all(const struct zc_bench_env *env, const struct zc_bench_case *cases, int ncases,
		   int rounds, struct zc_bench_result *rs)
{
	int total = 0, k = 0;
	for (int i = 0; i < ncases; i++)
		for (int j = 0; j < env->nvariants; j++)
			total += variant_on(&cases[i], env->variants[j]) * rounds;
	for (int i = 0; i < ncases; i++)
		for (int round = 1; round <= rounds; round++)
			for (int j = 0; j < env->nvariants; j++) {
				if (!variant_on(&cases[i], env->variants[j]))
					continue;
				run_one(env, &cases[i], env->variants[j], round, &rs[k], k + 1, total);
				k++;
			}
	return k;
}

/* default_path — BUILD/bench/NAME, creating the directory. */
static const char *default_path(const struct zc_bench_env *env, char *buf, size_t cap,
				const char *name)
{
	char dir[PATH_MAX];
	if (join(dir, sizeof(dir), env->build, "bench") == 0)
		mkdir(dir, 0755);
	return join(buf, cap, dir, name) == 0 ? buf : name;
}

/* write_costs — this run's calibration as a costs file, BUILD/bench/costs.txt, for
 * `zcshim run --observe --costs`. */
static void write_costs(const struct zc_bench_env *env, const struct zc_observe_model *cal, int rounds)
{
	char path[PATH_MAX], head[512], date[32];
	time_t now = time(NULL);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	snprintf(head, sizeof(head),
		 "zcshim cost model measured by zcshim bench on %s (%ld CPUs), %d round%s, payload %llu bytes:\n"
		 "server CPU per GiB plain minus under auto (medians), per GiB auto moved in the kernel.\n"
		 "Use: zcshim run --observe --costs %s -- CMD", date, sysconf(_SC_NPROCESSORS_ONLN), rounds,
		 rounds == 1 ? "" : "s", (unsigned long long)env->size,
		 default_path(env, path, sizeof(path), "costs.txt"));
	if (zc_observe_write(cal, path, head) < 0)
		fprintf(stderr, "zcshim bench: cannot write %s: %s\n", path, strerror(errno));
	else
		fprintf(stderr, "costs: %s\n", path);
}

/* report — table, JSON and plot; returns 0 or 1 if the JSON could not be written. */
static int report(struct bench_opts *o, const struct zc_bench_env *env,
		  const struct zc_bench_result *rs, int nr, const struct zc_bench_skip *skips,
		  int nskips)
{
	struct zc_bench_summary *sum = calloc((size_t)nr + 1, sizeof(*sum));
	struct zc_observe_model cal;
	int ns = 0, bad = 0;
	if (!sum)
		return 1;
	zc_bench_summarize(env, rs, nr, sum, &ns);
	zc_bench_print_table(sum, ns);
	zc_bench_print_reasons(rs, nr, sum, ns);
	fflush(stdout); /* the table whole before the file names on stderr, also into one file */
	if (zc_bench_observe(rs, nr, sum, ns, &o->model, &cal))
		write_costs(env, &cal, o->rounds);
	zc_bench_print_observe(sum, ns);
	fflush(stdout);
	if (!o->json)
		o->json = default_path(env, o->json_buf, sizeof(o->json_buf), "results.json");
	if (!o->plot)
		o->plot = default_path(env, o->plot_buf, sizeof(o->plot_buf), "plot.svg");
	if (zc_bench_write_json(o->json, env, rs, nr, sum, ns, skips, nskips, o->rounds) < 0) {
		fprintf(stderr, "zcshim bench: cannot write %s: %s\n", o->json, strerror(errno));
		bad = 1;
	} else {
		fprintf(stderr, "results: %s\n", o->json);
	}
	int p = zc_bench_plot(o->plot, env, sum, ns);
	if (p == 0)
		fprintf(stderr, "plot: %s\n", o->plot);
	else if (p < 0)
		fprintf(stderr, "plot: %s failed\n", o->plot);
	else
		fprintf(stderr, "plot: skipped (%s)\n", p == 1 ? "gnuplot not installed" : "no successful run");
	free(sum);
	return bad;
}

/* zc_cmd_bench — the `zcshim bench` subcommand; exit status 0, 1 (a run failed), 2 (usage). */
int zc_cmd_bench(int argc, char **argv)
{
	struct bench_opts o;
	struct zc_bench_env env;
	struct zc_bench_skip skips[34];
	struct zc_bench_case cases[32 * MAX_CHUNKS];
	int nskips = 0, failed = 0, rc = parse_opts(&o, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (setup_env(&env, &o) < 0) {
		if (env.tmp[0])
			zc_bench_rm_rf(env.tmp);
		return 1;
	}
	if (!env.lib[0]) {
		printf("skip: shim variants: %s/libzcshim.so not built\n", env.build);
		snprintf(skips[nskips].scenario, sizeof(skips[0].scenario), "shim-variants");
		snprintf(skips[nskips++].reason, sizeof(skips[0].reason), "libzcshim.so not built");
	}
	fprintf(stderr, "payload: %llu bytes, sha256 %s\n", (unsigned long long)env.size, env.sha);
	fprintf(stderr, "server CPU of persistent servers: %s\n", zc_bench_cg_init() == 0 ? "cgroup v2 cpu.stat (exact)"
		: "/proc samples (no writable cgroup v2: exited threads and children in clock ticks)");
	int ncases = make_cases(&o, &env, cases, skips, &nskips);
	struct zc_bench_result *rs = calloc((size_t)(ncases * o.rounds * env.nvariants + 1), sizeof(*rs));
	if (!rs) {
		zc_bench_rm_rf(env.tmp);
		return 1;
	}
	int nr = run_all(&env, cases, ncases, o.rounds, rs);
	for (int i = 0; i < nr; i++)
		failed += !rs[i].ok;
	rc = report(&o, &env, rs, nr, skips, nskips);
	if (failed)
		fprintf(stderr, "zcshim bench: %d of %d runs FAILED (see \"error\" in %s)\n", failed, nr,
			o.json);
	free(rs);
	zc_bench_cg_fini();
	zc_bench_rm_rf(env.tmp);
	return failed || rc ? 1 : 0;
}
