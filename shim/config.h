/* config.h — the shim's settings: built-in defaults < config file < ZCSHIM_<KEY> environment. */
#ifndef ZC_CONFIG_H
#define ZC_CONFIG_H

#include <stddef.h>

/* observe: nothing guarded, leased or rewritten; reads are noted and writes classified as auto would
 * treat them (counted in obs_* and fb_*), for an estimate before switching it on */
enum zc_mode { ZC_MODE_OFF, ZC_MODE_EAGER, ZC_MODE_DEFERRED, ZC_MODE_AUTO, ZC_MODE_OBSERVE };
enum zc_lease_policy { ZC_LEASE_REQUIRE, ZC_LEASE_PREFER, ZC_LEASE_OFF };

#define ZC_CONFIG_MAX_KEYS 16
#define ZC_CONFIG_LINE_MAX 1024      /* a longer line is refused whole, never cut */
#define ZC_CONFIG_FILE_MAX (1 << 20) /* a larger config file is refused */
#define ZC_CONFIG_SYSTEM_FILE "/etc/zcshim.conf"

struct zc_config {
	int mode;           /* enum zc_mode */
	long min_bytes_tcp; /* smallest transfer rewritten to a TCP socket */
	long min_bytes_pipe;
	long min_bytes_file;
	int unix_sockets;   /* rewrite to AF_UNIX stream sockets too */
	int stack_buffers;  /* guard buffers on the thread's stack (opt-in, see zcshim.conf) */
	long guard_min_bytes; /* smallest read whose buffer eager mode guards */
	long defer_min_bytes; /* smallest read deferred (deferred and auto modes) */
	long align_min_bytes; /* smallest malloc made page-aligned (deferred and auto modes); 0: none */
	int lease;          /* enum zc_lease_policy */
	int log_level;      /* enum zc_log_level */
	char log_file[256];
	char stats_file[256]; /* "%p" becomes the pid */
	int inherit;        /* keep the shim in LD_PRELOAD of exec'd programs */
	int lease_signal;
	int keep_cap_lease; /* a root process keeps CAP_LEASE alone across its own setuid (interpose_cred.c) */
	int origin[ZC_CONFIG_MAX_KEYS]; /* ZC_ORIGIN_* per key, parallel to zc_config_keys */
};

enum { ZC_ORIGIN_DEFAULT, ZC_ORIGIN_FILE, ZC_ORIGIN_ENV };

/* One row per key, in the order of zcshim.conf. */
struct zc_config_key {
	const char *name;
	const char *def;      /* default, as text */
	const char *accepted; /* shown in errors */
};
extern const struct zc_config_key zc_config_keys[];
extern const int zc_config_nkeys;

extern struct zc_config zc_cfg;

void zc_config_defaults(struct zc_config *c);
/* Sets one key from text. Returns 0, or -1 after one line on err_fd naming origin, key, value,
 * what is accepted; the key then keeps its previous value. origin_kind: ZC_ORIGIN_*. */
int zc_config_set(struct zc_config *c, const char *key, const char *val, const char *origin, int err_fd);
/* Parses a whole file's text; returns the number of bad lines. */
int zc_config_parse_text(struct zc_config *c, const char *text, const char *path, int err_fd);
/* The same for size bytes that may hold NUL bytes (each line holding one is a bad line). */
int zc_config_parse_buf(struct zc_config *c, const char *text, size_t size, const char *path, int err_fd);
/* Loads a file by path; returns bad lines, or -1 if it cannot be read or is not a regular file
 * (one line on err_fd; never blocks on a FIFO or tty). */
int zc_config_load_file(struct zc_config *c, const char *path, int err_fd);
/* Secure-execution mode (AT_SECURE): defaults, then system_path only if it is a regular file owned
 * by root and not writable by group or others; no environment, nothing printed. Returns 0, bad
 * lines, or -1 when the file was present but not trusted. */
int zc_config_load_secure(struct zc_config *c, const char *system_path);
/* Applies ZCSHIM_<KEY> from envp; returns bad values. */
int zc_config_load_env(struct zc_config *c, char *const *envp, int err_fd);
/* Full lookup (defaults, ZCSHIM_CONF or /etc/zcshim.conf, environment); returns bad entries. */
int zc_config_load(struct zc_config *c, char *const *envp, int err_fd);
/* Current value of a key as text (for check-config and the stats header). */
int zc_config_get(const struct zc_config *c, const char *key, char *out, size_t cap);

#endif
