/* zcshim.c — the command-line front end: dispatches to run, inspect, stat, check-config, bench,
 * systemd-dropin. */
#include "cmds.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Subcommands written in other files may be absent from a partial build. */
#pragma weak zc_cmd_inspect
#pragma weak zc_cmd_stat
#pragma weak zc_cmd_check_config
#pragma weak zc_cmd_bench
#pragma weak zc_cmd_systemd_dropin

static const char usage[] =
	"usage: zcshim run [--mode off|eager] [--stats FILE] [--lease require|prefer|off] [--quiet] -- CMD [ARGS...]\n"
	"       zcshim inspect [--json] BINARY\n"
	"       zcshim stat [--watch SECONDS] [PID]\n"
	"       zcshim stat --prometheus [PID...]\n"
	"       zcshim check-config [FILE]\n"
	"       zcshim bench [OPTIONS]   (see zcshim bench --help)\n"
	"       zcshim systemd-dropin [--user NAME] UNIT\n"
	"       zcshim [run options] -- CMD [ARGS...]   (same as run)\n";

/* zc_self_dir — the directory of this executable (build/ or PREFIX/bin). */
const char *zc_self_dir(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
		if (n <= 0) return ".";
		dir[n] = 0;
		char *slash = strrchr(dir, '/');
		if (slash) *slash = 0;
	}
	return dir;
}

/* zc_find_lib — libzcshim.so beside the binary (build/) or in ../lib (installed), resolved so that
 * it can be written into a unit file or LD_PRELOAD as it is. */
int zc_find_lib(char *out, size_t cap)
{
	const char *where[] = {"", "/../lib"};
	char p[PATH_MAX + 32], real[PATH_MAX];
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		snprintf(p, sizeof p, "%s%s/libzcshim.so", zc_self_dir(), where[i]);
		if (access(p, R_OK) || !realpath(p, real)) continue;
		if ((size_t)snprintf(out, cap, "%s", real) < cap) return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {{"run", zc_cmd_run}, {"inspect", zc_cmd_inspect}, {"stat", zc_cmd_stat},
		    {"check-config", zc_cmd_check_config}, {"bench", zc_cmd_bench},
		    {"systemd-dropin", zc_cmd_systemd_dropin}};
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[1], cmds[i].name)) continue;
		if (!cmds[i].fn) {
			fprintf(stderr, "zcshim: %s is not part of this build\n", argv[1]);
			return 2;
		}
		return cmds[i].fn(argc - 1, argv + 1);
	}
	if (argv[1][0] == '-') return zc_cmd_run(argc, argv); /* "zcshim --mode eager -- cmd" */
	fprintf(stderr, "zcshim: unknown command '%s'\n%s", argv[1], usage);
	return 2;
}
