/* secure_prog.c — the program test_secure.sh installs setuid root: says whether it runs in
 * secure-execution mode and whether the shim is loaded in it (its live-counters memfd is open),
 * on stdout only, so anything on stderr came from someone else.
 * usage: secure_prog — prints "secure 1 shim yes" and "pid N", exit 0. */
#include "progs.h"

#include <dirent.h>
#include <sys/auxv.h>
#include <unistd.h>

/* shim_loaded — a descriptor of this process is the shim's memfd "zcshim-stats". */
static int shim_loaded(void)
{
	char path[300], link[256];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = 0;
	while (d && (e = readdir(d))) {
		snprintf(path, sizeof path, "/proc/self/fd/%.200s", e->d_name);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n > 0 && (link[n] = 0, strstr(link, "memfd:zcshim-stats"))) found = 1;
	}
	if (d) closedir(d);
	return found;
}

int main(void)
{
	printf("secure %lu shim %s\npid %d\n", getauxval(AT_SECURE), shim_loaded() ? "yes" : "no", (int)getpid());
	return 0;
}
