/* edges_exec.c — starts a copy of itself ("dump") through one exec path and prints what the child's
 * environment was, beside what the parent's is (tests/e2e/test_edges.sh: inherit = off must reach
 * every path, and an environment of any size must arrive whole).
 *
 * usage: edges_exec MODE   MODE: execve execv execvp execvpe execl execlp execle posix_spawn
 *                                posix_spawnp system popen
 *        edges_exec dump   prints "n=<entries> preload=<LD_PRELOAD> sum=<checksum of the others>"
 * system and popen also print the shell's own LD_PRELOAD ("shell preload=...").
 * Entries a shell may add or change on the way (system, popen) are left out of n and sum: PWD,
 * OLDPWD, SHLVL, _. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *self;

/* counted — an entry that no shell touches on its way through. */
static int counted(const char *e)
{
	static const char *const skip[] = {"PWD=", "OLDPWD=", "SHLVL=", "_=", "LD_PRELOAD="};
	for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
		if (!strncmp(e, skip[i], strlen(skip[i]))) return 0;
	return 1;
}

static void dump(const char *who)
{
	unsigned long sum = 0, n = 0;
	const char *pre = getenv("LD_PRELOAD");
	for (char **e = environ; *e; e++)
		if (counted(*e)) { /* a shell may reorder: the sum of each entry's hash */
			unsigned long h = 5381;
			n++;
			for (const char *c = *e; *c; c++) h = h * 33 + (unsigned char)*c;
			sum += h;
		}
	printf("%s n=%lu preload=%s sum=%lx\n", who, n, pre ? pre : "(unset)", sum);
	fflush(stdout);
}

/* in_child — runs the exec MODE in a forked child; returns its exit status. */
static int in_child(const char *mode)
{
	char *argv[] = {(char *)self, "dump", NULL};
	pid_t pid = fork();
	if (pid == 0) {
		if (!strcmp(mode, "execve")) execve(self, argv, environ);
		else if (!strcmp(mode, "execv")) execv(self, argv);
		else if (!strcmp(mode, "execvp")) execvp(self, argv);
		else if (!strcmp(mode, "execvpe")) execvpe(self, argv, environ);
		else if (!strcmp(mode, "execl")) execl(self, self, "dump", (char *)NULL);
		else if (!strcmp(mode, "execlp")) execlp(self, self, "dump", (char *)NULL);
		else if (!strcmp(mode, "execle")) execle(self, self, "dump", (char *)NULL, environ);
		perror(mode);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return st;
}

int main(int argc, char **argv)
{
	if (argc != 2) return fprintf(stderr, "usage: edges_exec MODE|dump\n"), 2;
	self = argv[0];
	if (!strcmp(argv[1], "dump")) return dump("child"), 0;
	dump("parent");
	char *args[] = {(char *)self, "dump", NULL}, cmd[4096];
	const char *m = argv[1];
	/* the shell itself must not get the shim either: a builtin never goes through exec */
	snprintf(cmd, sizeof cmd, "echo \"shell preload=${LD_PRELOAD-(unset)}\"; exec '%s' dump", self);
	int st;
	pid_t pid;
	if (!strcmp(m, "posix_spawn") || !strcmp(m, "posix_spawnp")) {
		int e = m[11] ? posix_spawnp(&pid, self, NULL, NULL, args, environ) : posix_spawn(&pid, self, NULL, NULL, args, environ);
		if (e) return fprintf(stderr, "%s: %s\n", m, strerror(e)), 1;
		waitpid(pid, &st, 0);
	} else if (!strcmp(m, "system")) {
		st = system(cmd);
	} else if (!strcmp(m, "popen")) {
		FILE *f = popen(cmd, "r");
		char line[65536];
		if (!f) return perror("popen"), 1;
		while (fgets(line, sizeof line, f)) fputs(line, stdout);
		st = pclose(f);
	} else {
		st = in_child(m);
	}
	dump("after"); /* the parent's own environment is unchanged by the call */
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
