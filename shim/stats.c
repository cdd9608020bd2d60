/* stats.c — the counters, and their JSON dump at exit (stats_file, "%p" = pid). */
#include "stats.h"
#include "config.h"
#include "log.h"
#include "real.h"
#include "shim.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

static struct zc_stats stats_local;
__thread struct zc_obs_pending zc_obs;
__thread int zc_fb_why; /* a handler's write inside a write may take the outer one's reason: bytes only */
__thread int zc_stat_row;
__thread uint64_t *zc_stat_mine;
__thread struct zc_stats *zc_stat_mine_of;
struct zc_stats *zc_stats = &stats_local;

/* zc_count_slow — the thread's first count takes a free row (threads never give one back: when none
 * is left, the rest count in v with locked adds). */
void zc_count_slow(enum zc_counter c, uint64_t n)
{
	struct zc_stats *s = zc_stats;
	if (!zc_stat_row) {
		zc_stat_row = -1; /* first: a handler interrupting the search counts in v */
		for (int k = 0; k < ZC_STAT_ROWS; k++)
			if (!__atomic_exchange_n(&s->taken[k], 1, __ATOMIC_ACQ_REL)) {
				zc_stat_row = k + 1;
				break;
			}
	}
	if (zc_stat_row > 0) {
		/* the counters moved into the memfd since (zc_stats_publish): the same row there */
		zc_stat_mine = s->row[zc_stat_row - 1], zc_stat_mine_of = s;
		__atomic_fetch_add(&s->row[zc_stat_row - 1][c], n, __ATOMIC_RELAXED);
	} else {
		__atomic_fetch_add(&s->v[c], n, __ATOMIC_RELAXED);
	}
}

const char *const zc_counter_names[ZC_NCOUNTERS] = {
#define ZC_NAME(name) #name,
	ZC_COUNTERS(ZC_NAME)
#undef ZC_NAME
};

static int published = -1; /* the memfd holding the live counters, or -1 */

/* header — the fields a reader checks before trusting the counters. */
static void header(struct zc_stats *s)
{
	s->magic = ZC_STATS_MAGIC;
	s->ncounters = ZC_NCOUNTERS;
	s->pid = (int32_t)zc_raw_getpid();
}

/* zc_stats_init — counters start at zero in every process. */
void zc_stats_init(void)
{
	memset(zc_stats, 0, sizeof *zc_stats);
	zc_stat_row = 0, zc_stat_mine = NULL; /* the rows are free again; this is the only thread (constructor, forked child) */
	header(zc_stats);
}

/* zc_stats_publish — counters move into a memfd that `zcshim stat` maps via /proc/PID/fd. */
void zc_stats_publish(void)
{
	int fd = (int)syscall(SYS_memfd_create, ZC_STATS_MEMFD, MFD_CLOEXEC);
	if (fd < 0) {
		zc_log(ZC_LOG_INFO, "no live counters: memfd_create failed (errno %d)", errno);
		return;
	}
	void *p = MAP_FAILED;
	if (syscall(SYS_ftruncate, fd, sizeof(struct zc_stats)) == 0)
		p = mmap(NULL, sizeof(struct zc_stats), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		zc_raw_close(fd);
		return;
	}
	memcpy(p, zc_stats, sizeof(struct zc_stats));
	__atomic_store_n(&zc_stats, (struct zc_stats *)p, __ATOMIC_RELEASE);
	published = zc_high_fd(fd);
}

/* A process that chroots (vsftpd's sessions) cannot reach stats_file afterwards: it is opened before
 * (zc_stats_before_chroot), holding the counters so far, and rewritten at the end. */
static int pre_fd = -1;
static pid_t pre_pid;

/* zc_stats_reset — a forked child counts only its own calls, in a memfd of its own. */
void zc_stats_reset(void)
{
	int had = published >= 0;
	if (had) zc_close_own(published); /* the parent's, inherited: not ours to publish in */
	if (pre_fd >= 0) zc_close_own(pre_fd); /* the parent's stats file */
	pre_fd = -1;
	published = -1;
	zc_stats = &stats_local;
	zc_stats_init();
	if (had) zc_stats_publish();
}

/* zc_stats_format_json — {"pid":…, "mode":…, "counters": {"name": n, …}}, one counter a line. */
int zc_stats_format_json(char *out, size_t cap)
{
	char mode[16];
	zc_config_get(&zc_cfg, "mode", mode, sizeof mode);
	size_t n = (size_t)zc_log_format(out, cap, "{\n  \"pid\": %d,\n  \"mode\": \"%s\",\n  \"counters\": {\n",
					 (int)zc_raw_getpid(), mode);
	for (int i = 0; i < ZC_NCOUNTERS && n < cap; i++)
		n += (size_t)zc_log_format(out + n, cap - n, "    \"%s\": %lu%s\n", zc_counter_names[i],
					   (unsigned long)zc_stat_total(zc_stats, (enum zc_counter)i),
					   i + 1 < ZC_NCOUNTERS ? "," : "");
	if (n < cap) n += (size_t)zc_log_format(out + n, cap - n, "  }\n}\n");
	return n >= cap - 1 ? -1 : (int)n;
}

/* expand_path — the stats_file path with %p replaced by the pid. */
static void expand_path(char *out, size_t cap, const char *tmpl)
{
	size_t n = 0;
	for (const char *t = tmpl; *t && n + 24 < cap; t++) {
		if (t[0] == '%' && t[1] == 'p') {
			n += (size_t)zc_log_format(out + n, cap - n, "%d", (int)zc_raw_getpid());
			t++;
		} else {
			out[n++] = *t;
		}
	}
	out[n] = 0;
}

void zc_stats_before_chroot(void)
{
	char path[320], buf[8192];
	if (!zc_cfg.stats_file[0] || (pre_fd >= 0 && pre_pid == (pid_t)zc_raw_getpid())) return;
	expand_path(path, sizeof path - 16, zc_cfg.stats_file);
	int len = zc_stats_format_json(buf, sizeof buf), fd = zc_log_open_file(path, 1, 0);
	if (fd < 0) return;
	if (len > 0) zc_raw_write(fd, buf, (size_t)len);
	pre_fd = zc_high_fd(fd), pre_pid = (pid_t)zc_raw_getpid();
}

/* zc_stats_dump — writes the JSON to stats_file (plus suffix); silent when none is configured. */
void zc_stats_dump(const char *suffix)
{
	if (!zc_cfg.stats_file[0]) return;
	char path[320], buf[8192];
	expand_path(path, sizeof path - 16, zc_cfg.stats_file);
	strcat(path, suffix);
	int len = zc_stats_format_json(buf, sizeof buf);
	if (pre_fd >= 0 && !suffix[0] && pre_pid == (pid_t)zc_raw_getpid() && len > 0) {
		syscall(SYS_ftruncate, pre_fd, 0);
		syscall(SYS_pwrite64, pre_fd, buf, (size_t)len, 0);
		zc_close_own(pre_fd);
		pre_fd = -1;
		return;
	}
	/* never through a link, never blocking on a FIFO, never emptying a file that is not ours */
	int fd = zc_log_open_file(path, 1, 0);
	if (fd < 0 || len < 0) {
		zc_log(ZC_LOG_WARN, "cannot write stats to %s (errno %d: a symbolic link, FIFO or other user's file is "
		       "refused)", path, fd < 0 ? -fd : EOVERFLOW);
		if (fd >= 0) zc_raw_close(fd);
		return;
	}
	if (zc_raw_write(fd, buf, (size_t)len) != len) zc_log(ZC_LOG_WARN, "short write of stats to %s", path);
	zc_raw_close(fd);
}
