/* secure_unshare.c — unshare(CLONE_NEWUSER) before or after a file->stdout copy loop (README, "The
 * lease thread"): a process with a second thread gets EINVAL, so the shim's lease thread must not
 * exist before the first lease.
 * usage: secure_unshare before|after FILE — "before": unshare, then copy FILE to stdout in 64 KiB
 * chunks of a page-aligned buffer; "after": copy first. Prints on stderr the threads seen before
 * unshare and its result; exit 0 when unshare succeeded, 3 when it failed, 1 on a setup error. */
#include "progs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

/* threads — entries of /proc/self/task. */
static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	if (!d) progs_die("secure_unshare", "/proc/self/task");
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') n++;
	closedir(d);
	return n;
}

/* copy — the classic read/write loop (the shim may take a lease on the file here). */
static void copy(const char *path)
{
	char *buf;
	ssize_t r;
	int fd = open(path, O_RDONLY);
	if (fd < 0 || posix_memalign((void **)&buf, 4096, 65536)) progs_die("secure_unshare", path);
	while ((r = read(fd, buf, 65536)) > 0)
		for (ssize_t off = 0, w; off < r; off += w)
			if ((w = write(1, buf + off, (size_t)(r - off))) < 0) progs_die("secure_unshare", "write");
	if (r < 0) progs_die("secure_unshare", "read");
	close(fd);
	free(buf);
}

/* try_unshare — one line: threads seen, then unshare's result. */
static int try_unshare(void)
{
	int n = threads();
	int rc = unshare(CLONE_NEWUSER);
	fprintf(stderr, "threads %d unshare %s\n", n, rc ? strerror(errno) : "ok");
	return rc ? 3 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "before") && strcmp(argv[1], "after"))) {
		fprintf(stderr, "usage: secure_unshare before|after FILE\n");
		return 1;
	}
	int before = !strcmp(argv[1], "before"), rc = 0;
	if (before) rc = try_unshare();
	copy(argv[2]);
	if (!before) rc = try_unshare();
	return rc;
}
