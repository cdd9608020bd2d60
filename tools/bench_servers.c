/* bench_servers.c — the scenarios of `zcshim bench`: how each server is configured, started,
 * fed to a receiver that checks the payload, measured and stopped, for each variant. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 24

/* A server under test, from start to stop. */
struct server {
	pid_t pid;              /* also its process group */
	int port;
	int stop_sig;           /* 0: exits by itself after the transfer */
	double cpu0;            /* group CPU seconds when the transfer started */
	char cg[PATH_MAX];      /* its cgroup v2 (bench_cgroup.c), or "" */
};

/* What one run of a scenario needs: commands, receiver, expected payload, and the storage the
 * argument vectors point into. */
struct plan {
	char *srv[MAX_ARGS], *cli[MAX_ARGS], *curl[MAX_ARGS];
	int port;               /* preset port; 0 = the builtin server prints "port N" */
	int to_pipe;            /* server stdout -> client stdin (no socket) */
	int use_curl;           /* receiver is curl | legacy_client --pipe */
	int stop_sig;           /* 0 = the server exits by itself after the transfer */
	const char *shim_extra; /* one more setting for the shim variants (a deployment fix), or NULL */
	const char *scheme;     /* of the URL the client fetches: NULL for http */
	const char *expect_sha;
	uint64_t expect_size;
	char chunk[24], port_s[16], url[128], tmo[16], conf[PATH_MAX + 32], exe[PATH_MAX],
		arg[PATH_MAX + 64];
};

/* fail — records the first error of a run. */
static void fail(struct zc_bench_result *r, const char *fmt, const char *a, const char *b)
{
	/* the result is tested so that long paths are truncated without a format warning */
	if (r->ok && snprintf(r->error, sizeof(r->error), fmt, a, b) >= (int)sizeof(r->error))
		memcpy(r->error + sizeof(r->error) - 4, "...", 4);
	r->ok = 0;
}

/* log_line — the last line of the server's stderr log (the error, after any traceback). */
static const char *log_line(const struct zc_bench_env *env, char *buf, size_t cap)
{
	char path[PATH_MAX + 16], line[512];
	snprintf(path, sizeof(path), "%s/server.log", env->tmp);
	FILE *f = fopen(path, "re");
	buf[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] && cap > 0) {
			size_t n = strlen(line) < cap - 1 ? strlen(line) : cap - 1;
			memcpy(buf, line, n);
			buf[n] = 0;
		}
	}
	if (f)
		fclose(f);
	return buf;
}

/* open_log — truncates and opens the server's stderr log. */
static int open_log(const struct zc_bench_env *env)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/server.log", env->tmp);
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

/* read_all_fd — reads a pipe to EOF (or timeout) into buf, NUL-terminated. */
static void read_all_fd(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t len = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (len + 1 < cap && poll(&p, 1, timeout_ms) > 0) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len) && timeout_ms != 0 && cap == 64)
			break; /* the "port N" line is all we wait for */
	}
	buf[len] = 0;
}

/* start_server — spawns the server in its own group with the variant's environment and waits
 * until it is ready; 0 or -1 (error recorded). *out_fd gets its stdout for the pipe scenario. */
static int start_server(const struct zc_bench_env *env, const struct plan *p,
			enum zc_bench_variant v, struct server *s, int *out_fd,
			struct zc_bench_result *r)
{
	const char *shim_env[5] = {NULL};
	int pfd[2], logfd = open_log(env);
	char line[64], msg[200];
	if (zc_bench_is_shim(v)) {
		zc_bench_shim_env(env, v, shim_env, 4);
		for (int k = 0; k < 4; k++)
			if (!shim_env[k]) { shim_env[k] = p->shim_extra; break; }
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		fail(r, "pipe: %s%s", strerror(errno), "");
		return -1;
	}
	/* stdout: the "port N" line or the pipe payload for the builtin server, else the log */
	/* a persistent server is measured in a cgroup of its own where one can be made */
	int cgfd = p->stop_sig ? zc_bench_cg_new(s->cg, sizeof(s->cg)) : -1;
	if (cgfd < 0)
		s->cg[0] = 0;
	struct zc_bench_spawn sp = {.argv = p->srv, .env = shim_env, .in = -1,
				    .out = p->port && !p->to_pipe ? logfd : pfd[1], .err = logfd,
				    .own_group = 1, .cpu = env->pin ? 1 : 0, .cgroup_procs = cgfd + 1};
	s->pid = zc_bench_spawn(&sp);
	if (cgfd >= 0)
		close(cgfd);
	s->stop_sig = p->stop_sig;
	close(pfd[1]);
	if (logfd >= 0)
		close(logfd);
	if (s->pid < 0) {
		close(pfd[0]);
		fail(r, "fork: %s%s", strerror(errno), "");
		return -1;
	}
	if (p->to_pipe) {
		*out_fd = pfd[0];
		return 0;
	}
	s->port = p->port;
	if (!p->port) {
		read_all_fd(pfd[0], line, sizeof(line), env->timeout_s * 1000);
		if (sscanf(line, "port %d", &s->port) != 1)
			s->port = -1;
	}
	close(pfd[0]);
	if (s->port <= 0 || zc_bench_wait_listen(s->port, s->pid, 10000) < 0) {
		snprintf(msg, sizeof(msg), "%s did not start listening", p->srv[0]);
		fail(r, "%s: %s", msg, log_line(env, line, sizeof(line)));
		return -1;
	}
	if (p->stop_sig)
		usleep(50000); /* let worker processes finish starting before the CPU baseline */
	s->cpu0 = s->cg[0] ? zc_bench_cg_cpu(s->cg) : zc_bench_group_cpu(s->pid);
	return 0;
}

/* stop_server — measures the server's CPU for the transfer, then stops its whole group. */
static void stop_server(const struct zc_bench_env *env, struct server *s, struct zc_bench_result *r)
{
	int status = 0;
	double cpu_total = 0, cpu1 = 0;
	char line[160];
	if (s->pid <= 0)
		return;
	if (s->stop_sig) {
		cpu1 = s->cg[0] ? zc_bench_cg_cpu(s->cg) : zc_bench_group_cpu(s->pid);
		zc_bench_kill_group(s->pid, s->stop_sig);
	}
	if (zc_bench_wait(s->pid, s->stop_sig ? 10000 : env->timeout_s * 1000, &status, &cpu_total) < 0) {
		zc_bench_kill_group(s->pid, SIGKILL);
		zc_bench_wait(s->pid, 5000, &status, NULL);
		fail(r, "server %s: %s", s->stop_sig ? "did not stop" : "did not exit", "killed");
	} else if (!(s->stop_sig && WIFSIGNALED(status) && WTERMSIG(status) == s->stop_sig) &&
		   !zc_bench_status_ok(status, "server", line, sizeof(line))) {
		/* (a server may simply die of the signal that stops it: vsftpd does) */
		char tail[160];
		fail(r, "%s: %s", line, log_line(env, tail, sizeof(tail)));
	}
	zc_bench_kill_group(s->pid, SIGKILL); /* stragglers, if any */
	if (s->cg[0])
		zc_bench_cg_end(s->cg);
	r->cpu_s = (s->stop_sig ? cpu1 : cpu_total) - s->cpu0;
	r->cpu_method = !s->stop_sig ? "wait4" : s->cg[0] ? "cgroup2" : "proc-samples";
	s->pid = -1;
}

/* parse_client — checks the receiver's "bytes N sha256 HEX" or "bytes N sampled K bad M". */
static void parse_client(const char *out, const struct plan *p, struct zc_bench_result *r)
{
	unsigned long long bytes = 0, k = 0, bad = 0;
	char hex[65] = "", got[32], want[32];
	if (sscanf(out, "bytes %llu sha256 %64s", &bytes, hex) == 2) {
		r->check = "sha256";
		snprintf(r->sha, sizeof(r->sha), "%s", hex);
	} else if (sscanf(out, "bytes %llu sampled %llu bad %llu", &bytes, &k, &bad) == 3) {
		r->check = "sampled";
		r->samples = k, r->bad_samples = bad;
	} else {
		fail(r, "receiver printed no result%s%s", "", "");
		return;
	}
	r->bytes = bytes;
	snprintf(got, sizeof(got), "%llu", bytes);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)p->expect_size);
	if (bytes != p->expect_size)
		fail(r, "PAYLOAD MISMATCH: received %s bytes, expected %s", got, want);
	else if (*hex && strcmp(hex, p->expect_sha) != 0)
		fail(r, "PAYLOAD MISMATCH: sha256 %s, expected %s", hex, p->expect_sha);
	else if (!*hex && (bad > 0 || k == 0)) {
		snprintf(got, sizeof(got), "%llu", bad);
		snprintf(want, sizeof(want), "%llu", k);
		fail(r, "PAYLOAD MISMATCH: %s bad of %s sampled positions", got, want);
	} else {
		r->payload_ok = 1;
	}
}

/* wait_receiver — waits for one receiver process; kills it on timeout. */
static void wait_receiver(const struct zc_bench_env *env, pid_t pid, const char *who,
			  struct zc_bench_result *r)
{
	int status;
	char msg[160];
	if (pid < 0) {
		fail(r, "cannot start %s%s", who, "");
		return;
	}
	if (zc_bench_wait(pid, env->timeout_s * 1000, &status, NULL) < 0) {
		kill(pid, SIGKILL);
		zc_bench_wait(pid, 5000, &status, NULL);
		fail(r, "%s timed out (%s)", who, "killed");
	} else if (!zc_bench_status_ok(status, who, msg, sizeof(msg))) {
		fail(r, "%s%s", msg, "");
	}
}

/* receive — runs the receiver (legacy_client, or curl | legacy_client --pipe) to completion. */
static void receive(const struct zc_bench_env *env, const struct plan *p, int srv_out,
		    struct zc_bench_result *r)
{
	int out[2], mid[2] = {-1, -1};
	char buf[512];
	pid_t curl = -1;
	if (pipe2(out, O_CLOEXEC) < 0 || (p->use_curl && pipe2(mid, O_CLOEXEC) < 0)) {
		fail(r, "pipe: %s%s", strerror(errno), "");
		return;
	}
	if (p->use_curl) {
		struct zc_bench_spawn cs = {.argv = p->curl, .in = -1, .out = mid[1], .err = 2, .cpu = env->pin ? 2 : 0};
		curl = zc_bench_spawn(&cs);
		close(mid[1]);
	}
	struct zc_bench_spawn ls = {.argv = p->cli, .in = p->use_curl ? mid[0] : srv_out,
				    .out = out[1], .err = 2, .cpu = env->pin ? 2 : 0};
	pid_t cli = zc_bench_spawn(&ls);
	close(out[1]);
	if (mid[0] >= 0)
		close(mid[0]);
	if (p->use_curl)
		wait_receiver(env, curl, "curl", r);
	wait_receiver(env, cli, "legacy_client", r);
	read_all_fd(out[0], buf, sizeof(buf), 0);
	close(out[0]);
	parse_client(buf, p, r);
}

/* set_port — fills the port-dependent arguments (client port, URL). */
static void set_port(struct plan *p, int port)
{
	snprintf(p->port_s, sizeof(p->port_s), "%d", port);
	snprintf(p->url, sizeof(p->url), "%s://127.0.0.1:%d/payload.bin", p->scheme ? p->scheme : "http", port);
}

/* kernel_share — bytes moved by kernel calls over all bytes the shim accounted for; -1 if none. */
static double kernel_share(const struct zc_bench_counters *c)
{
	double k = (double)(zc_bench_counter(c, "rw_sendfile_bytes") +
			    zc_bench_counter(c, "rw_splice_bytes") +
			    zc_bench_counter(c, "rw_copy_file_range_bytes"));
	double u = (double)(zc_bench_counter(c, "bytes_passthrough") +
			    zc_bench_counter(c, "bytes_from_buffer"));
	return k + u > 0 ? k / (k + u) : -1;
}

/* run_plan — one measured transfer: start, receive, stop, collect the shim's stats. */
static void run_plan(const struct zc_bench_env *env, struct plan *p, enum zc_bench_variant v,
		     struct zc_bench_result *r)
{
	struct server s = {.pid = -1};
	int srv_out = -1;
	struct zc_bench_counters junk;
	zc_bench_collect_stats(env, &junk); /* leftovers of an earlier failed run */
	double t0 = zc_bench_now();
	if (start_server(env, p, v, &s, &srv_out, r) == 0) {
		set_port(p, s.port);
		if (!p->to_pipe)
			t0 = zc_bench_now();
		receive(env, p, srv_out, r);
		r->wall_s = zc_bench_now() - t0;
	}
	if (srv_out >= 0)
		close(srv_out);
	stop_server(env, &s, r);
	zc_bench_collect_stats(env, &r->counters);
	r->kernel_share = kernel_share(&r->counters);
	if (zc_bench_is_shim(v) && r->counters.files == 0)
		fprintf(stderr, "zcshim bench: %s %s: no stats file from the shim\n", r->c->name,
			zc_bench_variant_names[v]);
}

/* args — fills a NULL-terminated argument vector from a NULL-terminated list. */
static void args(char **argv, const char *const *list)
{
	int i = 0;
	for (; list[i] && i < MAX_ARGS - 1; i++)
		argv[i] = (char *)list[i];
	argv[i] = NULL;
}

/* serve — a persistent server: its configuration text (len as snprintf returned it into cap bytes)
 * written to p->conf, its executable found, and the plan run with argv {exe, rest...}, where
 * "@conf" stands for the configuration's path. */
static void serve(const struct zc_bench_env *env, struct plan *p, enum zc_bench_variant v, struct zc_bench_result *r,
		  const char *text, int len, size_t cap, const char *exe, const char *const *rest)
{
	const char *argv[MAX_ARGS];
	int n = 0;
	if (len < 0 || (size_t)len >= cap || zc_bench_write_file(p->conf, text) < 0 ||
	    zc_bench_find_exe(exe, p->exe, sizeof(p->exe))) {
		fail(r, "cannot write %s%s", p->conf, "");
		return;
	}
	argv[n++] = p->exe;
	for (; *rest && n < MAX_ARGS - 1; rest++)
		argv[n++] = strcmp(*rest, "@conf") ? *rest : p->conf;
	argv[n] = NULL;
	args(p->srv, argv);
	run_plan(env, p, v, r);
}

/* client_port — the receiver connects to the server; discard mode verifies by sampling. */
static void client_port(const struct zc_bench_env *env, struct plan *p, int discard)
{
	const char *const plain[] = {env->client, "--port", p->port_s, NULL};
	const char *const drop[] = {env->client, "--port", p->port_s, "--discard", "--verify",
				    env->file, NULL};
	args(p->cli, discard ? drop : plain);
}

/* init_plan — common defaults: the full payload, checked against its sha256. */
static void init_plan(const struct zc_bench_env *env, struct plan *p)
{
	memset(p, 0, sizeof(*p));
	p->expect_sha = env->sha;
	p->expect_size = env->size;
	snprintf(p->tmo, sizeof(p->tmo), "%d", env->timeout_s);
}

/* builtin — legacy_server read+write at the case's chunk (native: its sendfile loop), into one
 * malloc'd buffer (unaligned: a head and a tail to copy), or a page-aligned one (mode 3: TCP read). */
static void builtin(const struct zc_bench_env *env, const struct zc_bench_case *c,
		    enum zc_bench_variant v, struct zc_bench_result *r, int mode)
{
	struct plan p;
	init_plan(env, &p);
	snprintf(p.chunk, sizeof(p.chunk), "%zu", c->chunk);
	const char *loop = v == ZC_BENCH_NATIVE ? "sendfile" : "read-write";
	const char *const srv[] = {env->server, "--file", env->file, "--loop", loop, "--chunk",
				   p.chunk, "--buffer", mode == 3 ? "aligned" : "malloc",
				   mode == 2 ? "--stdout" : "--port", mode == 2 ? NULL : "0", NULL};
	/* floor: the same chunks, the calls the shim needs and no bookkeeping (tests/progs/floor.c) */
	const char *const flo[] = {env->floor, "--port", "0", "shim", env->file, p.chunk, NULL};
	const char *const flo_aligned[] = {env->floor, "--aligned", "--port", "0", "shim", env->file, p.chunk, NULL};
	const char *const flo_pipe[] = {env->floor, "shim", env->file, p.chunk, NULL};
	args(p.srv, v != ZC_BENCH_FLOOR ? srv : mode == 2 ? flo_pipe : mode == 3 ? flo_aligned : flo);
	if (mode == 2) {
		const char *const cli[] = {env->client, "--pipe", NULL};
		args(p.cli, cli);
		p.to_pipe = 1;
	} else {
		client_port(env, &p, mode == 0);
	}
	run_plan(env, &p, v, r);
}

/* run_tcp_discard — builtin server to a receiver that drops the bytes (sender-bound). */
static void run_tcp_discard(const struct zc_bench_env *env, const struct zc_bench_case *c,
			    enum zc_bench_variant v, struct zc_bench_result *r)
{
	builtin(env, c, v, r, 0);
}

/* run_tcp_read — builtin server to a receiver that reads and hashes everything. */
static void run_tcp_read(const struct zc_bench_env *env, const struct zc_bench_case *c,
			 enum zc_bench_variant v, struct zc_bench_result *r)
{
	builtin(env, c, v, r, 1);
}

/* run_aligned — builtin server with a page-aligned buffer to a reading receiver. */
static void run_aligned(const struct zc_bench_env *env, const struct zc_bench_case *c,
			enum zc_bench_variant v, struct zc_bench_result *r)
{
	builtin(env, c, v, r, 3);
}

/* run_pipe — builtin server writing to a pipe read by the receiver. */
static void run_pipe(const struct zc_bench_env *env, const struct zc_bench_case *c,
		     enum zc_bench_variant v, struct zc_bench_result *r)
{
	builtin(env, c, v, r, 2);
}

/* run_overhead — an echo server whose I/O never matches a copy: what the shim costs. */
static void run_overhead(const struct zc_bench_env *env, const struct zc_bench_case *c,
			 enum zc_bench_variant v, struct zc_bench_result *r)
{
	struct plan p;
	(void)c;
	init_plan(env, &p);
	p.expect_sha = env->echo_sha;
	p.expect_size = env->echo_size;
	const char *const srv[] = {env->server, "--loop", "echo", "--chunk", "4096", "--port", "0",
				   NULL};
	const char *const cli[] = {env->client, "--port", p.port_s, "--echo", env->echo_file,
				   "--msg", "64", NULL};
	args(p.srv, srv);
	args(p.cli, cli);
	run_plan(env, &p, v, r);
}

/* http_plan — a persistent HTTP server on a fresh port, fetched with curl | legacy_client. */
static void http_plan(const struct zc_bench_env *env, struct plan *p, int stop_sig)
{
	const char *const curl[] = {"curl", "-sS", "-f", "--noproxy", "*", "--max-time", p->tmo,
				    "-o", "-", p->url, NULL};
	const char *const cli[] = {env->client, "--pipe", NULL};
	p->port = zc_bench_free_port();
	set_port(p, p->port);
	p->use_curl = 1;
	p->stop_sig = stop_sig;
	args(p->curl, curl);
	args(p->cli, cli);
}

static const char NGINX_CONF[] =
	"# generated by zcshim bench\n"
	"%s"
	"daemon off;\nmaster_process on;\nworker_processes 1;\n"
	"pid %s/nginx.pid;\nerror_log %s/nginx.err warn;\n"
	"events { worker_connections 64; }\n"
	"http {\n"
	"    access_log off;\n"
	"    sendfile %s;\n"
	"    default_type application/octet-stream;\n"
	"    client_body_temp_path %s/ngx_body;\n    proxy_temp_path %s/ngx_proxy;\n"
	"    fastcgi_temp_path %s/ngx_fastcgi;\n    uwsgi_temp_path %s/ngx_uwsgi;\n"
	"    scgi_temp_path %s/ngx_scgi;\n"
	"    server {\n        listen 127.0.0.1:%d;\n        root %s;\n    }\n"
	"}\n";

/* run_nginx — nginx with `sendfile off` (plain, shim variants) or `sendfile on` (native). */
static void run_nginx(const struct zc_bench_env *env, const struct zc_bench_case *c,
		      enum zc_bench_variant v, struct zc_bench_result *r)
{
	struct plan p;
	char text[16384];
	const char *t = env->tmp;
	(void)c;
	init_plan(env, &p);
	http_plan(env, &p, SIGTERM);
	int len = snprintf(text, sizeof(text), NGINX_CONF, geteuid() == 0 ? "user root;\n" : "", t, t,
		 v == ZC_BENCH_NATIVE ? "on" : "off", t, t, t, t, t, p.port, env->www);
	snprintf(p.conf, sizeof(p.conf), "%s/nginx.conf", t);
	snprintf(p.arg, sizeof(p.arg), "%s/nginx.err", t);
	serve(env, &p, v, r, text, len, sizeof(text), "nginx", (const char *const[]){"-e", p.arg, "-p", t, "-c", "@conf", NULL});
}

static const char APACHE_CONF[] =
	"# generated by zcshim bench: Debian's defaults but the sendfile switch\n"
	"ServerRoot \"%s\"\nPidFile %s/httpd.pid\nListen 127.0.0.1:%d\n"
	"LoadModule mpm_event_module %s/mod_mpm_event.so\n"
	"LoadModule authz_core_module %s/mod_authz_core.so\n"
	"User nobody\nGroup nogroup\nErrorLog %s/apache.err\nLogLevel warn\nServerName localhost\n"
	"Mutex file:%s default\nDocumentRoot %s\n<Directory %s>\n    Require all granted\n</Directory>\n"
	"EnableSendfile %s\nEnableMMAP On\n";

/* run_apache — Apache 2.4 as Debian ships it (EnableSendfile Off, EnableMMAP On: mmap + writev)
 * for plain and shim variants, EnableSendfile On for native. Its workers run as nobody and may not
 * lease root's file: the shim variants get the documented fix for a root master whose workers drop
 * privileges, keep_cap_lease = on. */
static void run_apache(const struct zc_bench_env *env, const struct zc_bench_case *c,
		       enum zc_bench_variant v, struct zc_bench_result *r)
{
	struct plan p;
	char text[16384];
	const char *t = env->tmp, *mods = "/usr/lib/apache2/modules";
	(void)c;
	init_plan(env, &p);
	http_plan(env, &p, SIGTERM);
	p.shim_extra = "ZCSHIM_KEEP_CAP_LEASE=on";
	int len = snprintf(text, sizeof(text), APACHE_CONF, t, t, p.port, mods, mods, t, t, env->www, env->www,
			   v == ZC_BENCH_NATIVE ? "On" : "Off");
	snprintf(p.conf, sizeof(p.conf), "%s/apache.conf", t);
	serve(env, &p, v, r, text, len, sizeof(text), "apache2", (const char *const[]){"-f", "@conf", "-DFOREGROUND", NULL});
}

static const char VSFTPD_CONF[] =
	"# generated by zcshim bench: anonymous downloads, the copy path or sendfile\n"
	"listen=YES\nlisten_address=127.0.0.1\nlisten_port=%d\nbackground=NO\n"
	"anonymous_enable=YES\nlocal_enable=NO\nwrite_enable=NO\nanon_root=%s\nno_anon_password=YES\n"
	"secure_chroot_dir=/var/run/vsftpd/empty\nxferlog_enable=NO\nuse_sendfile=%s\n";

/* run_vsftpd — vsftpd's anonymous sessions (chrooted, as ftp, from a raw clone) with use_sendfile=NO
 * (plain, shim variants: read+write 64K) or YES (native). Its sessions drop root: the shim variants
 * get keep_cap_lease = on, as for Apache. CPU: the sessions leave the server's process group and
 * exit after each transfer: its cgroup counts them (bench_cgroup.c). */
static void run_vsftpd(const struct zc_bench_env *env, const struct zc_bench_case *c,
		       enum zc_bench_variant v, struct zc_bench_result *r)
{
	struct plan p;
	char text[4096];
	(void)c;
	init_plan(env, &p);
	p.scheme = "ftp";
	http_plan(env, &p, SIGTERM);
	p.shim_extra = "ZCSHIM_KEEP_CAP_LEASE=on";
	mkdir("/var/run/vsftpd", 0755), mkdir("/var/run/vsftpd/empty", 0755);
	int len = snprintf(text, sizeof(text), VSFTPD_CONF, p.port, env->www, v == ZC_BENCH_NATIVE ? "YES" : "NO");
	snprintf(p.conf, sizeof(p.conf), "%s/vsftpd.conf", env->tmp);
	serve(env, &p, v, r, text, len, sizeof(text), "vsftpd", (const char *const[]){"@conf", NULL});
}

static const char LIGHTTPD_CONF[] =
	"# generated by zcshim bench\n"
	"server.document-root = \"%s\"\n"
	"server.bind = \"127.0.0.1\"\n"
	"server.port = %d\n"
	"server.network-backend = \"%s\"\n"
	"server.errorlog = \"%s/lighttpd.err\"\n"
	"mimetype.assign = (\"\" => \"application/octet-stream\")\n";

/* run_lighttpd — lighttpd with network-backend "write" (plain, shim variants) or "sendfile"
 * (native). */
static void run_lighttpd(const struct zc_bench_env *env, const struct zc_bench_case *c,
			 enum zc_bench_variant v, struct zc_bench_result *r)
{
	struct plan p;
	char text[16384];
	(void)c;
	init_plan(env, &p);
	http_plan(env, &p, SIGTERM);
	int len = snprintf(text, sizeof(text), LIGHTTPD_CONF, env->www, p.port,
		 v == ZC_BENCH_NATIVE ? "sendfile" : "write", env->tmp);
	snprintf(p.conf, sizeof(p.conf), "%s/lighttpd.conf", env->tmp);
	serve(env, &p, v, r, text, len, sizeof(text), "lighttpd", (const char *const[]){"-D", "-f", "@conf", NULL});
}

static const char PY_SENDFILE[] =
	"# zcshim bench: http.server whose file copy is socket.sendfile (the native variant)\n"
	"import http.server, sys\n"
	"class H(http.server.SimpleHTTPRequestHandler):\n"
	"    def copyfile(self, source, outputfile):\n"
	"        self.connection.sendfile(source)\n"
	"port, root = int(sys.argv[1]), sys.argv[2]\n"
	"handler = lambda *a, **k: H(*a, directory=root, **k)\n"
	"with http.server.ThreadingHTTPServer(('127.0.0.1', port), handler) as s:\n"
	"    try:\n        s.serve_forever()\n    except KeyboardInterrupt:\n        pass\n";

/* python_exe — the system python3 (Debian's) if present, else python3 from PATH. */
static int python_exe(char *out, size_t cap)
{
	return zc_bench_find_exe("/usr/bin/python3", out, cap) == 0
		       ? 0
		       : zc_bench_find_exe("python3", out, cap);
}

/* run_python — `python3 -m http.server` (plain, shim variants) or a socket.sendfile handler
 * (native). */
static void run_python(const struct zc_bench_env *env, const struct zc_bench_case *c,
		       enum zc_bench_variant v, struct zc_bench_result *r)
{
	struct plan p;
	(void)c;
	init_plan(env, &p);
	http_plan(env, &p, SIGINT);
	snprintf(p.conf, sizeof(p.conf), "%s/sendfile_server.py", env->tmp);
	if (python_exe(p.exe, sizeof(p.exe)) < 0 || zc_bench_write_file(p.conf, PY_SENDFILE) < 0) {
		fail(r, "cannot prepare python%s%s", "", "");
		return;
	}
	const char *const plain[] = {p.exe, "-m", "http.server", p.port_s, "--bind", "127.0.0.1",
				     "--directory", env->www, NULL};
	const char *const native[] = {p.exe, p.conf, p.port_s, env->www, NULL};
	args(p.srv, v == ZC_BENCH_NATIVE ? native : plain);
	run_plan(env, &p, v, r);
}

/* run_socat — socat FILE -> TCP-LISTEN, one connection (native: the builtin sendfile server). */
static void run_socat(const struct zc_bench_env *env, const struct zc_bench_case *c,
		      enum zc_bench_variant v, struct zc_bench_result *r)
{
	struct plan p;
	init_plan(env, &p);
	if (v == ZC_BENCH_NATIVE) {
		const char *const srv[] = {env->server, "--file", env->file, "--loop", "sendfile",
					   "--chunk", "65536", "--port", "0", NULL};
		args(p.srv, srv);
	} else {
		p.port = zc_bench_free_port();
		snprintf(p.arg, sizeof(p.arg), "FILE:%s", env->file);
		snprintf(p.conf, sizeof(p.conf), "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr", p.port);
		if (zc_bench_find_exe("socat", p.exe, sizeof(p.exe)) < 0) {
			fail(r, "socat not found%s%s", "", "");
			return;
		}
		const char *const srv[] = {p.exe, "-u", p.arg, p.conf, NULL};
		args(p.srv, srv);
	}
	(void)c;
	client_port(env, &p, 0);
	run_plan(env, &p, v, r);
}

/* have — NULL if all named programs are found, else a reason naming the first missing one. */
static const char *have(const char *a, const char *b)
{
	static char why[96];
	char path[PATH_MAX];
	const char *miss = zc_bench_find_exe(a, path, sizeof(path)) ? a
			   : b && zc_bench_find_exe(b, path, sizeof(path)) ? b : NULL;
	if (!miss)
		return NULL;
	snprintf(why, sizeof(why), "%s not installed", miss);
	return why;
}

/* avail_* — whether a scenario's programs are installed. */
static const char *avail_builtin(const struct zc_bench_env *env) { (void)env; return NULL; }
static const char *avail_nginx(const struct zc_bench_env *env) { (void)env; return have("nginx", "curl"); }
static const char *avail_lighttpd(const struct zc_bench_env *env) { (void)env; return have("lighttpd", "curl"); }
static const char *avail_apache(const struct zc_bench_env *env) { (void)env; return have("apache2", "curl"); }
static const char *avail_vsftpd(const struct zc_bench_env *env) { (void)env; return have("vsftpd", "curl"); }
static const char *avail_socat(const struct zc_bench_env *env) { (void)env; return have("socat", NULL); }

/* avail_python — python3 and curl present. */
static const char *avail_python(const struct zc_bench_env *env)
{
	char path[PATH_MAX];
	(void)env;
	return python_exe(path, sizeof(path)) < 0 ? "python3 not installed" : have("curl", NULL);
}

const struct zc_bench_scenario zc_bench_scenarios[] = {
	{"builtin-tcp-discard", "legacy_server read+write (malloc'd buffer) -> TCP; receiver drops bytes with "
	 "recv(MSG_TRUNC), payload verified by sampling (sender-bound). native: sendfile loop",
	 1, 1, avail_builtin, run_tcp_discard},
	{"builtin-tcp-read", "legacy_server read+write (malloc'd buffer) -> TCP; receiver reads and sha256s "
	 "everything. native: sendfile loop", 1, 1, avail_builtin, run_tcp_read},
	{"builtin-aligned", "builtin-tcp-read with a page-aligned buffer (no head or tail to copy)",
	 1, 1, avail_builtin, run_aligned},
	{"builtin-pipe", "legacy_server read+write (malloc'd buffer) -> stdout pipe -> legacy_client --pipe. "
	 "native: sendfile into the pipe", 1, 1, avail_builtin, run_pipe},
	{"nginx", "nginx 'sendfile off' (pread+writev 32K, non-blocking), curl | legacy_client. "
	 "native: 'sendfile on'", 0, 1, avail_nginx, run_nginx},
	{"apache", "Apache 2.4, Debian's defaults: EnableSendfile Off, EnableMMAP On (mmap 4M pieces + "
	 "writev), workers as nobody; shim: keep_cap_lease=on. native: EnableSendfile On", 0, 1, avail_apache,
	 run_apache},
	{"vsftpd", "vsftpd use_sendfile=NO, anonymous FTP (read+write 64K in a chrooted session as ftp), "
	 "curl | legacy_client; shim: keep_cap_lease=on. native: use_sendfile=YES", 0, 1, avail_vsftpd, run_vsftpd},
	{"lighttpd", "lighttpd network-backend \"write\" (pread+write 16K). native: \"sendfile\"",
	 0, 1, avail_lighttpd, run_lighttpd},
	{"python", "python3 -m http.server (read+send 64K, new buffer per chunk). native: a "
	 "handler using socket.sendfile", 0, 1, avail_python, run_python},
	{"socat", "socat -u FILE -> TCP-LISTEN (read+write 8K). native: builtin sendfile server "
	 "(64K)", 0, 1, avail_socat, run_socat},
	{"overhead", "builtin echo server, 64-byte ping-pong over loopback (up to 1M): I/O the "
	 "shim never rewrites, so shim/plain is its cost (CPU per GiB echoed). no native variant",
	 0, 0, avail_builtin,
	 run_overhead},
};
const int zc_bench_nscenarios = sizeof(zc_bench_scenarios) / sizeof(zc_bench_scenarios[0]);
