/* cmds.h — subcommands of the zcshim launcher; each returns the process exit status. */
#ifndef ZC_CMDS_H
#define ZC_CMDS_H

#include <stddef.h>

int zc_cmd_run(int argc, char **argv);          /* tools/run.c */
int zc_cmd_inspect(int argc, char **argv);      /* tools/inspect.c */
int zc_cmd_stat(int argc, char **argv);         /* tools/stat.c */
int zc_cmd_check_config(int argc, char **argv); /* tools/check_config.c */
int zc_cmd_bench(int argc, char **argv);        /* tools/bench.c */
int zc_cmd_systemd_dropin(int argc, char **argv); /* tools/systemd_dropin.c */

/* Directory holding the running zcshim binary (for libzcshim.so and test programs). */
const char *zc_self_dir(void);
/* The libzcshim.so this zcshim uses, as an absolute path without "..": beside the binary (build/) or
 * in ../lib (installed); 0, or -1 if neither is readable. */
int zc_find_lib(char *out, size_t cap);

#endif
