/* secure_memfd.c — a process that looks like one under the shim to `zcshim stat` (a memfd named
 * "zcshim-stats" with valid counters) and shrinks it to 0 and back in a loop: a reader that maps
 * it instead of reading it gets SIGBUS when the size drops under it.
 * Every 64 shrinks it stays whole for 1 ms, so a correct reader also succeeds on a loaded machine.
 * usage: secure_memfd SECONDS — prints "ready" on stdout once the memfd exists, exits after SECONDS. */
#include "progs.h"
#include "../../shim/stats.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct zc_stats s = {.magic = ZC_STATS_MAGIC, .ncounters = ZC_NCOUNTERS};
	if (argc != 2) {
		fprintf(stderr, "usage: secure_memfd SECONDS\n");
		return 1;
	}
	time_t end = time(NULL) + atoi(argv[1]);
	int fd = memfd_create(ZC_STATS_MEMFD, MFD_CLOEXEC);
	s.pid = (int32_t)getpid();
	if (fd < 0 || pwrite(fd, &s, sizeof s, 0) != (ssize_t)sizeof s) progs_die("secure_memfd", "memfd");
	printf("ready\n");
	fflush(stdout);
	for (unsigned i = 1; time(NULL) < end; i++) {
		/* empty, then whole again: a reader between its size check and its copy sees either */
		if (ftruncate(fd, 0) || pwrite(fd, &s, sizeof s, 0) != (ssize_t)sizeof s) progs_die("secure_memfd", "resize");
		if (i % 64 == 0) usleep(1000);
	}
	return 0;
}
