/* mapfiles.c — many threads map many files at once and write each mapping whole to a pipe, as
 * Apache's workers do under load: the shim opens its own descriptor for each newly mapped file in
 * several threads at the same time. A reader thread per writer checks every byte against what the
 * file holds (each 8-byte word names its file and offset), so a piece sent from another file, or
 * from another offset, is found. Prints "pieces N mismatches M"; exit 1 on any mismatch.
 * --stdio: each file is opened with fopen and closed with fclose, whose close the shim does not
 * see: the next file opened gets the same number, which the shim's table still says is the last.
 * --swap: the writers map one descriptor number that another thread keeps pointing at file after
 * file with dup2; a writer learns which file it mapped from the mapping's first word and sends that
 * file's number ahead of the piece, which must then hold that file (the number named another one by
 * the time the shim looked at it).
 *
 *   mapfiles --dir DIR [--threads 8] [--files 24] [--rounds 60] [--size BYTES] [--stdio | --swap]
 */
#include "progs.h"

#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static int nthreads = 8, nfiles = 24, rounds = 60, stdio, swap, swap_fd = -1, swap_stop;
static size_t size = 256 << 10;
static unsigned long pieces, mismatches;

/* file_of — the file thread t maps in round r (its reader expects the same one) */
static int file_of(int t, int r)
{
	return (t * 7 + r) % nfiles;
}

static void path_of(char *p, size_t n, int file)
{
	snprintf(p, n, "%s/m%03d.bin", dir, file);
}

static void make_files(void)
{
	char p[4096];
	for (int f = 0; f < nfiles; f++) {
		path_of(p, sizeof p, f);
		progs_word_file("mapfiles", p, f, size);
	}
}

struct job {
	int t, rfd;
};

/* reader — takes the writer's pieces in order and checks each word. */
static void *reader(void *arg)
{
	struct job *j = arg;
	uint64_t *b = malloc(size);
	for (int r = 0; r < rounds; r++) {
		int f = file_of(j->t, r);
		uint64_t named;
		if (swap) { /* the file the writer mapped, sent ahead of the piece */
			if (read(j->rfd, &named, sizeof named) != sizeof named) progs_die("mapfiles", "reader: read");
			f = (int)named;
		}
		size_t got = 0;
		while (got < size) {
			ssize_t n = read(j->rfd, (char *)b + got, size - got);
			if (n <= 0) progs_die("mapfiles", "reader: read");
			got += (size_t)n;
		}
		for (size_t k = 0; k < size / 8; k++)
			if (b[k] != progs_word(f, k * 8)) {
				fprintf(stderr, "thread %d round %d: file %d offset %zu holds file %llu offset %llu\n",
					j->t, r, f, k * 8, (unsigned long long)(b[k] >> 40), (unsigned long long)(b[k] & ((1ULL << 40) - 1)));
				__atomic_fetch_add(&mismatches, 1, __ATOMIC_RELAXED);
				break;
			}
		__atomic_fetch_add(&pieces, 1, __ATOMIC_RELAXED);
	}
	free(b);
	return NULL;
}

/* writer — maps file after file, closes the descriptor, writes the mapping whole, unmaps it. */
static void *writer(void *arg)
{
	int t = (int)(intptr_t)arg, p[2];
	char path[4096];
	pthread_t rd;
	if (pipe(p) < 0) progs_die("mapfiles", "pipe");
	struct job j = {t, p[0]};
	pthread_create(&rd, NULL, reader, &j);
	for (int r = 0; r < rounds; r++) {
		int f = file_of(t, r);
		path_of(path, sizeof path, f);
		FILE *fp = stdio ? fopen(path, "r") : NULL;
		int fd = swap ? swap_fd : fp ? fileno(fp) : open(path, O_RDONLY);
		if (fd < 0 || (stdio && !fp)) progs_die("mapfiles", path);
		char *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) progs_die("mapfiles", "mmap");
		if (swap) {
			uint64_t named = *(uint64_t *)m >> 40;
			if (write(p[1], &named, sizeof named) != sizeof named) progs_die("mapfiles", "write");
		} else if (fp) {
			fclose(fp);
		} else {
			close(fd);
		}
		for (size_t done = 0; done < size;) {
			ssize_t n = write(p[1], m + done, size - done);
			if (n <= 0) progs_die("mapfiles", "write");
			done += (size_t)n;
		}
		munmap(m, size);
	}
	pthread_join(rd, NULL);
	close(p[0]);
	close(p[1]);
	return NULL;
}

/* swapper — points the shared number at file after file until the writers are done. */
static void *swapper(void *arg)
{
	int *fds = arg;
	struct timespec pause = {0, 20000}; /* most mappings see no swap: followed, and then checked */
	for (unsigned k = 0; !__atomic_load_n(&swap_stop, __ATOMIC_RELAXED); k++) {
		if (dup2(fds[k % (unsigned)nfiles], swap_fd) < 0) progs_die("mapfiles", "dup2");
		nanosleep(&pause, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"dir", 1, 0, 'd'}, {"threads", 1, 0, 't'}, {"files", 1, 0, 'f'},
					     {"rounds", 1, 0, 'r'}, {"size", 1, 0, 's'}, {"stdio", 0, 0, 'i'}, {"swap", 0, 0, 'w'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 't': nthreads = atoi(optarg); break;
		case 'f': nfiles = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 's': size = (size_t)progs_size(optarg) & ~(size_t)7; break;
		case 'i': stdio = 1; break;
		case 'w': swap = 1; break;
		default: goto usage;
		}
	}
	if (!dir || nthreads < 1 || nthreads > 64 || nfiles < 1 || rounds < 1 || size < 8 || size > (1 << 30) || (stdio && swap)) goto usage;
	make_files();
	pthread_t th[64], sw;
	int *fds = NULL;
	if (swap) {
		char path[4096];
		fds = calloc((size_t)nfiles, sizeof *fds);
		for (int f = 0; f < nfiles; f++) {
			path_of(path, sizeof path, f);
			if ((fds[f] = open(path, O_RDONLY)) < 0) progs_die("mapfiles", path);
		}
		swap_fd = dup(fds[0]);
		pthread_create(&sw, NULL, swapper, fds);
	}
	for (int t = 0; t < nthreads; t++) pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t);
	for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
	if (swap) {
		__atomic_store_n(&swap_stop, 1, __ATOMIC_RELAXED);
		pthread_join(sw, NULL);
	}
	printf("pieces %lu mismatches %lu\n", pieces, mismatches);
	return mismatches ? 1 : 0;
usage:
	fprintf(stderr, "usage: mapfiles --dir DIR [--threads N<=64] [--files N] [--rounds N] [--size BYTES] [--stdio | --swap]\n");
	return 2;
}
