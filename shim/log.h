/* log.h — async-signal-safe logging: one write(2) per line, "zcshim[pid]: ...". */
#ifndef ZC_LOG_H
#define ZC_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum zc_log_level { ZC_LOG_ERROR, ZC_LOG_WARN, ZC_LOG_INFO, ZC_LOG_DEBUG };

/* Formats %s %d %u %ld %lu %zu %zd %x %c %%; never allocates. */
int zc_log_vformat(char *out, size_t cap, const char *fmt, va_list ap);
int zc_log_format(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void zc_log(enum zc_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void zc_log_set(int level, int fd);
/* Opens log_file/stats_file safely (no symlink, no FIFO, no file of another user, new files 0600);
 * truncate: empty an existing file; dev_ok: a character device is accepted. fd, or -errno. */
int zc_log_open_file(const char *path, int truncate, int dev_ok);

/* Logs a message once per process for a given static flag. */
#define ZC_LOG_ONCE(lvl, ...)                                                     \
	do {                                                                          \
		static int zc_once_;                                                      \
		if (!__atomic_exchange_n(&zc_once_, 1, __ATOMIC_RELAXED)) zc_log(lvl, __VA_ARGS__); \
	} while (0)

#endif
