/* interpose_exec.c — new program images and children: exec*, posix_spawn*, system, popen.
 * inherit = off takes the shim out of the child's LD_PRELOAD on every one of these paths.
 * Environments and argument lists are copied into anonymous mappings of their exact size (never
 * the host's malloc, never a fixed array): whatever their size, they reach the child whole. */
#include "config.h"
#include "detect.h"
#include "interpose.h"
#include "lease.h"
#include "log.h"
#include "real.h"
#include "shim.h"
#include "stats.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

extern char **environ;

/* NEXT — the real function, looked up now when the constructor has not run yet (another preload's
 * constructor calls it); these names have no single system call to fall back on. */
#define NEXT(name) (zc_real.name ? zc_real.name : (zc_real_##name##_t)zc_real_next(#name))

/* A block of memory of our own, released with unmap(). */
struct block {
	void *p;
	size_t len;
};

/* map — n bytes of fresh zeroed memory by system call (the host's allocator is not ours to use). */
static void *map(struct block *b, size_t n)
{
	void *p = (void *)syscall(SYS_mmap, NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b->p = p == MAP_FAILED ? NULL : p;
	b->len = b->p ? n : 0;
	return b->p;
}

static void unmap(struct block *b)
{
	if (b->p) syscall(SYS_munmap, b->p, b->len);
	b->p = NULL;
}

/* filtering — inherit = off, once the configuration is known (before it: pass everything on). */
static int filtering(void)
{
	return __atomic_load_n(&zc_on, __ATOMIC_ACQUIRE) && !zc_cfg.inherit;
}

/* strip — writes "LD_PRELOAD=<every entry of var but ours>" at out; returns the end past its NUL. */
static char *strip(char *out, const char *var)
{
	char *o = out + 11;
	memcpy(out, "LD_PRELOAD=", 11);
	for (const char *p = var + 11; *p;) {
		size_t len = strcspn(p, ": ");
		if (len && !memmem(p, len, "libzcshim", 9)) {
			if (o > out + 11) *o++ = ':';
			memcpy(o, p, len), o += len;
		}
		p += len;
		while (*p == ':' || *p == ' ') p++;
	}
	*o++ = 0;
	return o;
}

/* filter_env — envp without the shim in LD_PRELOAD, in one mapping of its exact size (b); envp
 * itself when inherit is on, or when memory runs out (then the child keeps the shim: logged). */
static char *const *filter_env(char *const *envp, struct block *b)
{
	b->p = NULL;
	if (!envp || !filtering()) return envp;
	size_t n = 0, text = 0;
	for (; envp[n]; n++)
		if (!strncmp(envp[n], "LD_PRELOAD=", 11)) text += strlen(envp[n]) + 1;
	char **out = map(b, (n + 1) * sizeof *out + text);
	if (!out) {
		zc_log(ZC_LOG_WARN, "inherit = off: no memory for the environment, the child keeps the shim");
		return envp;
	}
	char *t = (char *)(out + n + 1);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(envp[i], "LD_PRELOAD=", 11)) {
			out[i] = envp[i];
			continue;
		}
		out[i] = t;
		t = strip(t, envp[i]);
	}
	out[n] = NULL;
	return out;
}

/* before_exec — leases go back: their signal would reach no thread in the new image. Deferred
 * buffers get their bytes first: an exec that fails leaves them to a program with no lease. */
static void before_exec(void)
{
	if (!zc_active()) return;
	int saved = errno;
	enter();
	zc_detect_fill_all();
	zc_lease_release_all();
	/* the new image reuses the pid: keep this one's counters apart (a fork+exec child has none) */
	for (int i = 0; i < ZC_NCOUNTERS; i++)
		if (zc_stat_total(zc_stats, (enum zc_counter)i)) {
			zc_stats_dump(".exec");
			break;
		}
	leave();
	errno = saved;
}

/* finish — releases the copies an exec or spawn made; errno kept (the call's answer). */
static int finish(int r, struct block *a, struct block *b)
{
	int saved = errno;
	unmap(a), unmap(b);
	errno = saved;
	return r;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	struct block b, none = {0};
	before_exec();
	char *const *env = filter_env(envp, &b);
	int r = zc_real.execve ? zc_real.execve(path, argv, env) : (int)syscall(SYS_execve, path, argv, env);
	return finish(r, &b, &none);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	struct block b, none = {0};
	zc_real_execvpe_t f = NEXT(execvpe);
	if (!f) return errno = ENOSYS, -1;
	before_exec();
	int r = f(file, argv, filter_env(envp, &b));
	return finish(r, &b, &none);
}

EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* collect — the variadic exec forms' arguments as an array in a mapping of their exact size;
 * with env set, the pointer after the terminating NULL (execle) is stored there. */
static char **collect(const char *arg0, va_list ap, struct block *b, char *const **env)
{
	va_list count;
	size_t n = 1;
	va_copy(count, ap);
	if (arg0)
		while (va_arg(count, char *)) n++;
	va_end(count);
	char **argv = map(b, (n + 1) * sizeof *argv);
	if (!argv) return NULL;
	argv[0] = (char *)arg0;
	for (size_t i = 1; arg0 && i <= n; i++) argv[i] = va_arg(ap, char *); /* argv[n] is the NULL */
	if (env) *env = va_arg(ap, char *const *);
	return argv;
}

EXPORT int execl(const char *path, const char *arg, ...)
{
	struct block b, none = {0};
	va_list ap;
	va_start(ap, arg);
	char **argv = collect(arg, ap, &b, NULL);
	va_end(ap);
	if (!argv) return errno = ENOMEM, -1;
	return finish(execve(path, argv, environ), &b, &none);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	struct block b, none = {0};
	va_list ap;
	va_start(ap, arg);
	char **argv = collect(arg, ap, &b, NULL);
	va_end(ap);
	if (!argv) return errno = ENOMEM, -1;
	return finish(execvpe(file, argv, environ), &b, &none);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	struct block b, none = {0};
	char *const *envp = NULL;
	va_list ap;
	va_start(ap, arg);
	char **argv = collect(arg, ap, &b, &envp);
	va_end(ap);
	if (!argv) return errno = ENOMEM, -1;
	return finish(execve(path, argv, envp), &b, &none);
}

/* posix_spawn returns its error instead of setting errno: the copy is released the same way. */
EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	struct block b, none = {0};
	zc_real_posix_spawn_t f = NEXT(posix_spawn);
	if (!f) return ENOSYS;
	return finish(f(pid, path, fa, at, argv, filter_env(envp, &b)), &b, &none);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	struct block b, none = {0};
	zc_real_posix_spawnp_t f = NEXT(posix_spawnp);
	if (!f) return ENOSYS;
	return finish(f(pid, file, fa, at, argv, filter_env(envp, &b)), &b, &none);
}

/* system() and popen() start their child with libc's internal spawn and the global environ: no
 * argument to filter. While at least one of them runs, environ points to a filtered copy; the
 * last one out puts the program's array back. Decided over re-implementing them (their signal
 * handling, pclose's bookkeeping are libc's own) and over editing LD_PRELOAD in the program's
 * array for good (getenv would see it). The cost, documented in the README: during system(),
 * another thread's getenv("LD_PRELOAD") reads the filtered value; a setenv made meanwhile keeps
 * its new array (and the copy it points into is then never released). */
static struct {
	pthread_mutex_t lock;
	int users;
	char **saved, **filtered;
	struct block b;
} swap = {PTHREAD_MUTEX_INITIALIZER, 0, NULL, NULL, {NULL, 0}};

/* env_enter — the first caller swaps environ for the filtered copy; 1 if the caller must leave. */
static int env_enter(void)
{
	if (!filtering() || zc_depth) return 0;
	int saved = errno;
	pthread_mutex_lock(&swap.lock);
	if (swap.users++ == 0) {
		swap.saved = environ;
		swap.filtered = (char **)filter_env(environ, &swap.b);
		environ = swap.filtered;
	}
	pthread_mutex_unlock(&swap.lock);
	errno = saved;
	return 1;
}

/* env_leave — the last caller restores environ, unless the program replaced it meanwhile. */
static void env_leave(void)
{
	int saved = errno;
	pthread_mutex_lock(&swap.lock);
	if (--swap.users == 0) {
		if (environ == swap.filtered) environ = swap.saved, unmap(&swap.b);
		else swap.b.p = NULL; /* replaced by a setenv: its new array may point into the copy */
	}
	pthread_mutex_unlock(&swap.lock);
	errno = saved;
}

/* zc_exec_atfork_child — a child forked while another thread was inside system() or popen() gets
 * the program's own environment back and a lock nobody holds. */
void zc_exec_atfork_child(void)
{
	if (swap.users && environ == swap.filtered) environ = swap.saved;
	swap.users = 0;
	swap.b.p = NULL; /* the copy stays mapped in the child: nobody else points into it now */
	pthread_mutex_init(&swap.lock, NULL);
}

EXPORT int system(const char *cmd)
{
	zc_real_system_t f = NEXT(system);
	if (!f) return errno = ENOSYS, -1;
	if (!cmd) return f(cmd); /* "is there a shell": starts no child */
	int in = env_enter(), r = f(cmd);
	if (in) env_leave();
	return r;
}

EXPORT FILE *popen(const char *cmd, const char *mode)
{
	zc_real_popen_t f = NEXT(popen);
	if (!f) return errno = ENOSYS, NULL;
	int in = env_enter();
	FILE *r = f(cmd, mode);
	if (in) env_leave();
	return r;
}

/* _exit — no destructor runs (vsftpd's sessions end this way): leases go back, since a forked child
 * may keep the file open with nobody left to answer a break, and the counters are written, as at
 * exit(). Deferred buffers are not filled: nothing runs in this process any more. */
EXPORT void _exit(int status)
{
	if (zc_active()) {
		enter();
		zc_raw_clone_check(); /* else a raw clone's child writes its parent's counters as its own */
		zc_lease_release_all();
		zc_stats_dump("");
		leave();
	}
	zc_real__exit_t f = zc_real._exit;
	if (f) f(status);
	for (;;) syscall(SYS_exit_group, status);
}

EXPORT void _Exit(int status) __attribute__((alias("_exit")));
