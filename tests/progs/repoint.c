/* repoint.c — a copy loop reads one descriptor number while another thread points that number at
 * file after file with dup2, as a program that swaps a log or a cache file under a reader would.
 * Each read must come from one file, whichever the number named when it ran: every 8-byte word
 * names its file and offset, and a checker thread at the pipe's far end finds a chunk whose words
 * come from two files, or from the wrong offsets. A read at the end of a file rewinds it.
 * Prints "chunks N mixed M"; exit 1 if any chunk is mixed.
 *
 *   repoint --dir DIR [--files 8] [--chunks 4000] [--chunk BYTES] [--pause-us 200]
 */
#include "progs.h"

#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <time.h>

static const char *dir;
static int nfiles = 8, number = -1, stop, pipefd[2];
static long chunks = 4000, pause_us = 200;
static size_t chunk = 64 << 10, size = 1 << 20;
static unsigned long checked, mixed;

/* make_files — nfiles files of size bytes, each word naming its file and offset; opened read-only */
static int *make_files(void)
{
	int *fds = calloc((size_t)nfiles, sizeof *fds);
	char p[4096];
	for (int f = 0; f < nfiles; f++) {
		snprintf(p, sizeof p, "%s/r%03d.bin", dir, f);
		progs_word_file("repoint", p, f, size);
		if ((fds[f] = open(p, O_RDONLY)) < 0) progs_die("repoint", p);
	}
	return fds;
}

/* swapper — points the number at file after file until the copy loop is done. */
static void *swapper(void *arg)
{
	int *fds = arg;
	struct timespec t = {0, pause_us * 1000};
	for (unsigned k = 1; !__atomic_load_n(&stop, __ATOMIC_RELAXED); k++) {
		if (dup2(fds[k % (unsigned)nfiles], number) < 0) progs_die("repoint", "dup2");
		nanosleep(&t, NULL);
	}
	return NULL;
}

/* checker — takes the chunks in order; each must be one file's words at consecutive offsets. */
static void *checker(void *arg)
{
	uint64_t *b = malloc(chunk);
	(void)arg;
	for (;;) {
		uint32_t len;
		size_t got = 0;
		if (read(pipefd[0], &len, sizeof len) != sizeof len) break;
		while (got < len) {
			ssize_t n = read(pipefd[0], (char *)b + got, len - got);
			if (n <= 0) progs_die("repoint", "checker: read");
			got += (size_t)n;
		}
		for (size_t k = 1; k < len / 8; k++)
			if (b[k] != b[0] + 8 * k) {
				if (mixed++ < 5)
					fprintf(stderr, "chunk %lu: word %zu is file %llu offset %llu after file %llu offset %llu\n", checked, k,
						(unsigned long long)(b[k] >> 40), (unsigned long long)(b[k] & ((1ULL << 40) - 1)),
						(unsigned long long)(b[0] >> 40), (unsigned long long)(b[0] & ((1ULL << 40) - 1)));
				break;
			}
		checked++;
	}
	free(b);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"dir", 1, 0, 'd'}, {"files", 1, 0, 'f'}, {"chunks", 1, 0, 'n'},
					     {"chunk", 1, 0, 'c'}, {"pause-us", 1, 0, 'p'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'f': nfiles = atoi(optarg); break;
		case 'n': chunks = atol(optarg); break;
		case 'c': chunk = (size_t)progs_size(optarg) & ~(size_t)7; break;
		case 'p': pause_us = atol(optarg); break;
		default: goto usage;
		}
	}
	if (!dir || nfiles < 2 || chunks < 1 || chunk < 8 || chunk > size || pause_us < 0 || pause_us > 999999) goto usage;
	int *fds = make_files();
	if ((number = dup(fds[0])) < 0 || pipe(pipefd) < 0) progs_die("repoint", "dup");
	/* 16 bytes into a page: the read has an unaligned head and tail, as a malloc'd buffer has */
	char *buf = (char *)aligned_alloc(4096, chunk + 4096) + 16;
	pthread_t sw, ck;
	pthread_create(&ck, NULL, checker, NULL);
	pthread_create(&sw, NULL, swapper, fds);
	for (long k = 0; k < chunks;) {
		ssize_t n = read(number, buf, chunk);
		if (n < 0) progs_die("repoint", "read");
		if (n < (ssize_t)chunk) { /* the end of whichever file: from its start again */
			if (lseek(number, 0, SEEK_SET) < 0) progs_die("repoint", "lseek");
			continue;
		}
		uint32_t len = (uint32_t)n;
		if (write(pipefd[1], &len, sizeof len) != sizeof len || write(pipefd[1], buf, (size_t)n) != n)
			progs_die("repoint", "write");
		k++;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(sw, NULL);
	close(pipefd[1]);
	pthread_join(ck, NULL);
	printf("chunks %lu mixed %lu\n", checked, mixed);
	return mixed ? 1 : 0;
usage:
	fprintf(stderr, "usage: repoint --dir DIR [--files N>=2] [--chunks N] [--chunk BYTES] [--pause-us N]\n");
	return 2;
}
