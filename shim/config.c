/* config.c — parses zcshim.conf and ZCSHIM_* variables; a bad value is reported and ignored. */
#include "config.h"
#include "log.h"
#include "real.h"
#include "size.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>

struct zc_config zc_cfg;

const struct zc_config_key zc_config_keys[] = {
	{"mode", "auto", "off, eager, deferred, auto, observe"},
	{"min_bytes_tcp", "262144", "a byte count 0..1G, suffix K or M allowed"},
	{"min_bytes_pipe", "4096", "a byte count 0..1G, suffix K or M allowed"},
	{"min_bytes_file", "65536", "a byte count 0..1G, suffix K or M allowed"},
	{"unix_sockets", "off", "on, off"},
	{"lease", "require", "require, prefer, off"},
	{"log_level", "warn", "error, warn, info, debug"},
	{"log_file", "", "a path, or empty for stderr"},
	{"stats_file", "", "a path (%p becomes the pid), or empty for none"},
	{"inherit", "on", "on, off"},
	{"lease_signal", "SIGRTMAX-2", "a real-time signal: SIGRTMIN+N, SIGRTMAX-N or its number"},
	{"stack_buffers", "off", "on, off"},
	{"guard_min_bytes", "65536", "a byte count 4K..1G, suffix K or M allowed"},
	{"defer_min_bytes", "32768", "a byte count 8K..1G, suffix K or M allowed"},
	{"keep_cap_lease", "off", "on, off"},
	{"align_min_bytes", "32768", "0 (off), or a byte count 8K..1G, suffix K or M allowed"},
};
const int zc_config_nkeys = sizeof zc_config_keys / sizeof zc_config_keys[0];

/* key_index — position of a key in zc_config_keys, or -1. */
static int key_index(const char *key)
{
	for (int i = 0; i < zc_config_nkeys; i++)
		if (!strcmp(zc_config_keys[i].name, key)) return i;
	return -1;
}

/* parse_word — index of val among the choices, or -1. */
static int parse_word(const char *val, const char *const *choices)
{
	for (int i = 0; choices[i]; i++)
		if (!strcasecmp(val, choices[i])) return i;
	return -1;
}

/* parse_bool — on/off and the usual synonyms. */
static int parse_bool(const char *val)
{
	static const char *const on[] = {"on", "yes", "true", "1", NULL};
	static const char *const off[] = {"off", "no", "false", "0", NULL};
	if (parse_word(val, on) >= 0) return 1;
	if (parse_word(val, off) >= 0) return 0;
	return -1;
}

/* parse_bytes — "65536", "64K", "1M" (size.h, units K and M); -1 when malformed or above 1 GiB. */
static long parse_bytes(const char *val)
{
	uint64_t v;
	if (zc_size_parse(val, ZC_SIZE_KM, &v) || v > (1ULL << 30)) return -1;
	return (long)v;
}

/* parse_signal — SIGRTMIN+N, SIGRTMAX-N or a number inside the real-time range. */
static int parse_signal(const char *val)
{
	long v, d;
	char *end;
	/* offsets are bounded before adding: a huge one must be rejected, not overflow */
	if (!strncasecmp(val, "SIGRTMIN", 8)) {
		d = val[8] ? strtol(val + 8, &end, 10) : 0;
		if (val[8] && (*end || val[8] != '+')) return -1;
		if (d < 0 || d > 64) return -1;
		v = SIGRTMIN + d;
	} else if (!strncasecmp(val, "SIGRTMAX", 8)) {
		d = val[8] ? strtol(val + 8, &end, 10) : 0;
		if (val[8] && (*end || val[8] != '-')) return -1;
		if (d < -64 || d > 0) return -1;
		v = SIGRTMAX + d;
	} else {
		if (!isdigit((unsigned char)*val)) return -1;
		v = strtol(val, &end, 10);
		if (*end) return -1;
	}
	return (v >= SIGRTMIN && v <= SIGRTMAX) ? (int)v : -1;
}

/* clipn — n bytes of a value as they may appear in a message: at most 300, control bytes (NUL
 * too) escaped. */
static const char *clipn(const char *v, size_t len, char *out, size_t cap)
{
	size_t n = 0, i = 0;
	for (; i < len && n + 5 < cap && n < 300; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (ch >= 0x20 && ch != 0x7f) out[n++] = (char)ch;
		else n += (size_t)zc_log_format(out + n, cap - n, "\\x%c%c", "0123456789abcdef"[ch >> 4], "0123456789abcdef"[ch & 15]);
	}
	if (i < len && n + 4 < cap) memcpy(out + n, "...", 3), n += 3;
	out[n] = 0;
	return out;
}

/* clip — a NUL-terminated value, clipped and escaped as clipn does. */
static const char *clip(const char *v, char *out, size_t cap)
{
	return clipn(v, strlen(v), out, cap);
}

/* say — one message line on err_fd; the newline survives any truncation. */
static void say(int err_fd, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = zc_log_vformat(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	if (err_fd >= 0) zc_raw_write(err_fd, line, (size_t)n);
}

/* bad — the one line a bad value gets: origin, key, value, what is accepted. */
static int bad(int err_fd, const char *origin, const char *key, const char *val, const char *accepted)
{
	char v[320], k[160], o[320];
	say(err_fd, "zcshim: %s: bad value '%s' for %s (accepted: %s); keeping the previous value", clip(origin, o, sizeof o),
	    clip(val, v, sizeof v), clip(key, k, sizeof k), accepted);
	return -1;
}

/* zc_config_set — validates and stores one key. */
int zc_config_set(struct zc_config *c, const char *key, const char *val, const char *origin, int err_fd)
{
	static const char *const modes[] = {"off", "eager", "deferred", "auto", "observe", NULL};
	static const char *const leases[] = {"require", "prefer", "off", NULL};
	static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
	int i = key_index(key);
	if (i < 0) {
		char v[320], k[160], o[320], keys[400];
		size_t kn = 0;
		for (int j = 0; j < zc_config_nkeys; j++)
			kn += (size_t)zc_log_format(keys + kn, sizeof keys - kn, "%s%s", j ? ", " : "", zc_config_keys[j].name);
		say(err_fd, "zcshim: %s: unknown key '%s' (value '%s' ignored; keys: %s)", clip(origin, o, sizeof o),
		    clip(key, k, sizeof k), clip(val, v, sizeof v), keys);
		return -1;
	}
	const char *acc = zc_config_keys[i].accepted;
	long v;
	switch (i) {
	case 0: v = parse_word(val, modes); if (v < 0) return bad(err_fd, origin, key, val, acc); c->mode = (int)v; break;
	case 1: v = parse_bytes(val); if (v < 0) return bad(err_fd, origin, key, val, acc); c->min_bytes_tcp = v; break;
	case 2: v = parse_bytes(val); if (v < 0) return bad(err_fd, origin, key, val, acc); c->min_bytes_pipe = v; break;
	case 3: v = parse_bytes(val); if (v < 0) return bad(err_fd, origin, key, val, acc); c->min_bytes_file = v; break;
	case 4: v = parse_bool(val); if (v < 0) return bad(err_fd, origin, key, val, acc); c->unix_sockets = (int)v; break;
	case 5: v = parse_word(val, leases); if (v < 0) return bad(err_fd, origin, key, val, acc); c->lease = (int)v; break;
	case 6: v = parse_word(val, levels); if (v < 0) return bad(err_fd, origin, key, val, acc); c->log_level = (int)v; break;
	case 7:
		if (strlen(val) >= sizeof c->log_file) return bad(err_fd, origin, key, val, "a path shorter than 256 bytes");
		strcpy(c->log_file, val);
		break;
	case 8:
		if (strlen(val) >= sizeof c->stats_file) return bad(err_fd, origin, key, val, "a path shorter than 256 bytes");
		strcpy(c->stats_file, val);
		break;
	case 9: v = parse_bool(val); if (v < 0) return bad(err_fd, origin, key, val, acc); c->inherit = (int)v; break;
	case 10: v = parse_signal(val); if (v < 0) return bad(err_fd, origin, key, val, acc); c->lease_signal = (int)v; break;
	case 11: v = parse_bool(val); if (v < 0) return bad(err_fd, origin, key, val, acc); c->stack_buffers = (int)v; break;
	case 12: v = parse_bytes(val); if (v < 4096) return bad(err_fd, origin, key, val, acc); c->guard_min_bytes = v; break;
	case 13: v = parse_bytes(val); if (v < 8192) return bad(err_fd, origin, key, val, acc); c->defer_min_bytes = v; break;
	case 14: v = parse_bool(val); if (v < 0) return bad(err_fd, origin, key, val, acc); c->keep_cap_lease = (int)v; break;
	case 15: v = parse_bytes(val); if (v < 0 || (v && v < 8192)) return bad(err_fd, origin, key, val, acc); c->align_min_bytes = v; break;
	}
	return 0;
}

/* zc_config_defaults — every key at its documented default. */
void zc_config_defaults(struct zc_config *c)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < zc_config_nkeys; i++) zc_config_set(c, zc_config_keys[i].name, zc_config_keys[i].def, "default", 2);
}

/* trim — strips blanks at both ends, in place. */
static char *trim(char *s)
{
	while (isspace((unsigned char)*s)) s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
	return s;
}

/* parse_line — one line of a file, NUL-terminated, at most ZC_CONFIG_LINE_MAX - 1 bytes; 0 or -1. */
static int parse_line(struct zc_config *c, char *line, const char *origin, int err_fd)
{
	char *hash = strchr(line, '#');
	if (hash) *hash = 0;
	char *s = trim(line);
	if (!*s) return 0;
	char *eq = strchr(s, '=');
	if (!eq) {
		char v[320];
		say(err_fd, "zcshim: %s: expected 'key = value', got '%s'", origin, clip(s, v, sizeof v));
		return -1;
	}
	*eq = 0;
	char *key = trim(s), *val = trim(eq + 1);
	if (zc_config_set(c, key, val, origin, err_fd) < 0) return -1;
	c->origin[key_index(key)] = ZC_ORIGIN_FILE;
	return 0;
}

/* unreadable_line — a line refused as a whole (too long, or holding a NUL byte): never cut short
 * and its start used, since the start alone can mean something else ("1" of "1000"). */
static int unreadable_line(const char *p, size_t len, const char *origin, int err_fd)
{
	char v[320];
	if (memchr(p, 0, len))
		say(err_fd, "zcshim: %s: NUL byte in line '%s' (accepted: text lines 'key = value'); line ignored", origin,
		    clipn(p, len, v, sizeof v));
	else
		say(err_fd, "zcshim: %s: line of %zu bytes '%s' (accepted: lines shorter than %d bytes); line ignored", origin,
		    len, clipn(p, len, v, sizeof v), ZC_CONFIG_LINE_MAX);
	return -1;
}

/* zc_config_parse_buf — "key = value" lines; '#' starts a comment; returns bad lines. */
int zc_config_parse_buf(struct zc_config *c, const char *text, size_t size, const char *path, int err_fd)
{
	int bad_lines = 0, lineno = 0;
	const char *p = text, *end = text + size;
	while (p < end) {
		char line[ZC_CONFIG_LINE_MAX], origin[320], o[300];
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		zc_log_format(origin, sizeof origin, "%s:%d", clip(path, o, sizeof o), lineno);
		if (len >= sizeof line || memchr(p, 0, len)) bad_lines -= unreadable_line(p, len, origin, err_fd);
		else {
			memcpy(line, p, len);
			line[len] = 0;
			bad_lines -= parse_line(c, line, origin, err_fd);
		}
		p = nl ? nl + 1 : end;
	}
	return bad_lines;
}

/* zc_config_parse_text — zc_config_parse_buf of a NUL-terminated text. */
int zc_config_parse_text(struct zc_config *c, const char *text, const char *path, int err_fd)
{
	return zc_config_parse_buf(c, text, strlen(text), path, err_fd);
}

/* open_conf — a config file opened without blocking (a FIFO or tty would stall the constructor);
 * regular files only. fd, or -1 after one line on err_fd. */
static int open_conf(const char *path, struct stat *st, int err_fd)
{
	char p[320];
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || syscall(SYS_fstat, fd, st) < 0) {
		say(err_fd, "zcshim: cannot read config file %s (errno %d); using defaults", clip(path, p, sizeof p), errno);
		if (fd >= 0) zc_raw_close(fd);
		return -1;
	}
	const char *kind = S_ISREG(st->st_mode) ? NULL : S_ISDIR(st->st_mode) ? "a directory" : S_ISFIFO(st->st_mode) ? "a FIFO"
			   : S_ISCHR(st->st_mode) ? "a character device" : "not a regular file";
	if (!kind && st->st_size > ZC_CONFIG_FILE_MAX) kind = "larger than 1 MiB";
	if (kind) {
		say(err_fd, "zcshim: config file %s is %s (accepted: a regular file up to 1 MiB); using defaults",
		    clip(path, p, sizeof p), kind);
		zc_raw_close(fd);
		return -1;
	}
	return fd;
}

/* read_conf — reads an open config file with raw syscalls into a private mapping (no stdio) and
 * parses it; closes fd. Returns bad lines, or -1. */
static int read_conf(struct zc_config *c, int fd, const struct stat *st, const char *path, int err_fd)
{
	char p[320];
	size_t cap = (size_t)st->st_size + 4096, len = 0; /* room for a file that grows meanwhile */
	char *text = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (text == MAP_FAILED) {
		zc_raw_close(fd);
		say(err_fd, "zcshim: cannot read config file %s (out of memory); using defaults", clip(path, p, sizeof p));
		return -1;
	}
	ssize_t r;
	while (len < cap && (r = zc_raw_read(fd, text + len, cap - len)) > 0) len += (size_t)r;
	zc_raw_close(fd);
	int n = zc_config_parse_buf(c, text, len, path, err_fd);
	syscall(SYS_munmap, text, cap);
	return n;
}

/* zc_config_load_file — reads a whole file by path. */
int zc_config_load_file(struct zc_config *c, const char *path, int err_fd)
{
	struct stat st;
	int fd = open_conf(path, &st, err_fd);
	return fd < 0 ? -1 : read_conf(c, fd, &st, path, err_fd);
}

/* zc_config_load_secure — secure-execution mode (setuid, setgid, file capabilities): the caller's
 * environment and every file it could name are ignored; the system file counts only when root
 * owns it and nobody else may write it. Nothing is printed: stderr belongs to the caller. */
int zc_config_load_secure(struct zc_config *c, const char *system_path)
{
	struct stat st;
	zc_config_defaults(c);
	int fd = open_conf(system_path, &st, -1);
	if (fd < 0) return 0; /* absent, or not a regular file: the built-in defaults */
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		zc_raw_close(fd);
		return -1;
	}
	return read_conf(c, fd, &st, system_path, -1);
}

/* zc_config_load_env — ZCSHIM_MODE=eager and so on; ZCSHIM_CONF is the file, not a key. */
int zc_config_load_env(struct zc_config *c, char *const *envp, int err_fd)
{
	int bad_vals = 0;
	for (char *const *e = envp; e && *e; e++) {
		if (strncmp(*e, "ZCSHIM_", 7) || !strncmp(*e, "ZCSHIM_CONF=", 12)) continue;
		const char *eq = strchr(*e, '=');
		if (!eq) continue;
		char key[64], origin[80];
		size_t kl = (size_t)(eq - *e) - 7;
		if (kl >= sizeof key) kl = sizeof key - 1;
		for (size_t i = 0; i < kl; i++) key[i] = (char)tolower((unsigned char)(*e)[7 + i]);
		key[kl] = 0;
		zc_log_format(origin, sizeof origin, "environment ZCSHIM_%s", *e + 7);
		origin[strcspn(origin, "=")] = 0;
		if (zc_config_set(c, key, eq + 1, origin, err_fd) < 0) bad_vals++;
		else c->origin[key_index(key)] = ZC_ORIGIN_ENV;
	}
	return bad_vals;
}

/* env_get — getenv over an explicit environment. */
static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (char *const *e = envp; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
	return NULL;
}

/* zc_config_load — the whole lookup order of DESIGN.md section 4. */
int zc_config_load(struct zc_config *c, char *const *envp, int err_fd)
{
	int bad_n = 0;
	zc_config_defaults(c);
	const char *path = env_get(envp, "ZCSHIM_CONF");
	if (!(path && *path) && syscall(SYS_faccessat, AT_FDCWD, ZC_CONFIG_SYSTEM_FILE, R_OK) == 0) path = ZC_CONFIG_SYSTEM_FILE;
	if (path && *path) {
		int r = zc_config_load_file(c, path, err_fd);
		bad_n += r < 0 ? 1 : r;
	}
	bad_n += zc_config_load_env(c, envp, err_fd);
	return bad_n;
}

/* zc_config_get — a key's current value as text. */
int zc_config_get(const struct zc_config *c, const char *key, char *out, size_t cap)
{
	static const char *const modes[] = {"off", "eager", "deferred", "auto", "observe"};
	static const char *const leases[] = {"require", "prefer", "off"};
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	switch (key_index(key)) {
	case 0: return zc_log_format(out, cap, "%s", modes[c->mode]);
	case 1: return zc_log_format(out, cap, "%ld", c->min_bytes_tcp);
	case 2: return zc_log_format(out, cap, "%ld", c->min_bytes_pipe);
	case 3: return zc_log_format(out, cap, "%ld", c->min_bytes_file);
	case 4: return zc_log_format(out, cap, "%s", c->unix_sockets ? "on" : "off");
	case 5: return zc_log_format(out, cap, "%s", leases[c->lease]);
	case 6: return zc_log_format(out, cap, "%s", levels[c->log_level]);
	case 7: return zc_log_format(out, cap, "%s", c->log_file);
	case 8: return zc_log_format(out, cap, "%s", c->stats_file);
	case 9: return zc_log_format(out, cap, "%s", c->inherit ? "on" : "off");
	case 10: return zc_log_format(out, cap, "%d", c->lease_signal);
	case 11: return zc_log_format(out, cap, "%s", c->stack_buffers ? "on" : "off");
	case 12: return zc_log_format(out, cap, "%ld", c->guard_min_bytes);
	case 13: return zc_log_format(out, cap, "%ld", c->defer_min_bytes);
	case 14: return zc_log_format(out, cap, "%s", c->keep_cap_lease ? "on" : "off");
	case 15: return zc_log_format(out, cap, "%ld", c->align_min_bytes);
	}
	return -1;
}
