/* check_config.c — `zcshim check-config [FILE]`: validates a file and the ZCSHIM_* environment. */
#include "cmds.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static const char cc_usage[] = "usage: zcshim check-config [FILE]   (default: $ZCSHIM_CONF, else /etc/zcshim.conf)\n";

int zc_cmd_check_config(int argc, char **argv)
{
	struct zc_config c;
	const char *path = NULL;
	int bad;
	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))) {
		fputs(cc_usage, stderr);
		return 2;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(cc_usage, stdout);
		return 0;
	}
	zc_config_defaults(&c);
	if (argc == 2) path = argv[1];
	else if (getenv("ZCSHIM_CONF") && *getenv("ZCSHIM_CONF")) path = getenv("ZCSHIM_CONF");
	else if (access("/etc/zcshim.conf", F_OK) == 0) path = "/etc/zcshim.conf";
	bad = 0;
	if (path) {
		int r = zc_config_load_file(&c, path, 2);
		bad += r < 0 ? 1 : r;
	}
	bad += zc_config_load_env(&c, environ, 2);
	static const char *const from[] = {"default", "file", "environment"};
	printf("%-16s %-22s %s\n", "KEY", "VALUE", "FROM");
	for (int i = 0; i < zc_config_nkeys; i++) {
		char v[300];
		zc_config_get(&c, zc_config_keys[i].name, v, sizeof v);
		printf("%-16s %-22s %s\n", zc_config_keys[i].name, v[0] ? v : "(empty)",
		       c.origin[i] == ZC_ORIGIN_FILE ? path : from[c.origin[i]]);
	}
	if (bad) fprintf(stderr, "zcshim check-config: %d bad entr%s\n", bad, bad == 1 ? "y" : "ies");
	return bad ? 1 : 0;
}
