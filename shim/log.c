/* log.c — async-signal-safe logging with a small formatter of its own (no stdio, no malloc), and
 * the one way the shim opens the files it writes (log_file, stats_file). */
#include "log.h"
#include "real.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int log_level = ZC_LOG_WARN;
static int log_fd = 2;

/* zc_log_set — level and destination chosen by the configuration. */
void zc_log_set(int level, int fd)
{
	log_level = level;
	log_fd = fd;
}

/* put_num — appends an unsigned number in base 10 or 16. */
static size_t put_num(char *out, size_t pos, size_t cap, uint64_t v, int base, int neg)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % (unsigned)base];
		v /= (unsigned)base;
	} while (v);
	if (neg && pos < cap) out[pos++] = '-';
	while (n && pos < cap) out[pos++] = tmp[--n];
	return pos;
}

/* zc_log_vformat — a printf subset; returns the length written (NUL-terminated, truncated). */
int zc_log_vformat(char *out, size_t cap, const char *fmt, va_list ap)
{
	size_t pos = 0;
	if (cap == 0) return 0;
	cap--; /* room for NUL */
	for (const char *f = fmt; *f && pos < cap; f++) {
		if (*f != '%') {
			out[pos++] = *f;
			continue;
		}
		int lng = 0;
		f++;
		while (*f == 'l' || *f == 'z') {
			lng = 1;
			f++;
		}
		switch (*f) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s) s = "(null)";
			while (*s && pos < cap) out[pos++] = *s++;
			break;
		}
		case 'd': {
			int64_t v = lng ? va_arg(ap, long) : va_arg(ap, int);
			pos = put_num(out, pos, cap, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10, v < 0); /* LONG_MIN too */
			break;
		}
		case 'u':
			pos = put_num(out, pos, cap, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, 0);
			break;
		case 'x':
			pos = put_num(out, pos, cap, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, 0);
			break;
		case 'p':
			out[pos++] = '0';
			if (pos < cap) out[pos++] = 'x';
			pos = put_num(out, pos, cap, (uintptr_t)va_arg(ap, void *), 16, 0);
			break;
		case 'c':
			out[pos++] = (char)va_arg(ap, int);
			break;
		case '%':
			out[pos++] = '%';
			break;
		default:
			out[pos++] = '?';
			break;
		}
		if (!*f) break;
	}
	out[pos] = 0;
	return (int)pos;
}

/* zc_log_format — zc_log_vformat with variadic arguments. */
int zc_log_format(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = zc_log_vformat(out, cap, fmt, ap);
	va_end(ap);
	return n;
}

/* zc_log — one line, one write(2), prefixed with the pid; errno is preserved. */
void zc_log(enum zc_log_level lvl, const char *fmt, ...)
{
	if ((int)lvl > log_level) return;
	int saved = errno;
	char line[512];
	size_t n = (size_t)zc_log_format(line, sizeof line, "zcshim[%d]: ", (int)zc_raw_getpid());
	va_list ap;
	va_start(ap, fmt);
	n += (size_t)zc_log_vformat(line + n, sizeof line - n - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	zc_raw_write(log_fd, line, n);
	errno = saved;
}

/* usable — an existing file the shim may write: a regular file of ours with no other name (not one
 * planted for us under a predictable name), or a character device (a tty, /dev/null) if dev_ok. */
static int usable(int fd, int dev_ok)
{
	struct stat st;
	if (syscall(SYS_fstat, fd, &st) < 0) return -errno;
	if (dev_ok && S_ISCHR(st.st_mode)) return 0;
	if (!S_ISREG(st.st_mode)) return -EINVAL;
	if (st.st_uid != (uid_t)syscall(SYS_geteuid) || st.st_nlink != 1) return -EPERM;
	return 0;
}

/* zc_log_open_file — opens path for writing: never through a symbolic link (O_NOFOLLOW), never
 * blocking (O_NONBLOCK: a FIFO without reader fails, one with a reader is refused), new files 0600,
 * an existing file only if usable() (then emptied when truncate). fd, or -errno. */
int zc_log_open_file(const char *path, int truncate, int dev_ok)
{
	int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | (truncate ? 0 : O_APPEND);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CREAT | O_EXCL, 0600);
	if (fd >= 0 || errno != EEXIST) return fd >= 0 ? fd : -errno; /* new: ours, empty */
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags);
	if (fd < 0) return -errno;
	int err = usable(fd, dev_ok);
	if (!err && truncate && syscall(SYS_ftruncate, fd, 0) < 0) err = -errno;
	if (err) {
		zc_raw_close(fd);
		return err;
	}
	syscall(SYS_fcntl, fd, F_SETFL, flags & ~O_NONBLOCK); /* writes to a tty block as the program's own would */
	return fd;
}
