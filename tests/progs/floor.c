/* floor.c — what the system calls of an exact deferred read+write cost without the shim (a
 * measurement, not a test): each chunk of FILE goes to stdout (a pipe or a socket) the way native
 * sendfile sends it, or with the calls the shim makes for a read into a malloc'd buffer (16 bytes
 * past a page boundary, as glibc places it) and its write, added stage by stage. Prints the
 * process's CPU per GiB (CLOCK_PROCESS_CPUTIME_ID) and the calls per chunk, on stderr.
 * usage: floor [--aligned] [--port N] MODE FILE [CHUNK]   (CHUNK: bytes, K or M suffix; default
 *        64K; --aligned: a page-aligned buffer, no head or tail to read; --port: to the first
 *        connection on 127.0.0.1:N instead of stdout, N 0: a free port, printed as "port N")
 *   native  sendfile(stdout, FILE) per chunk, as the builtin server's native loop
 *   send    the transfer only, from a second descriptor (splice into a pipe, sendfile to a socket)
 *   lease   send + fcntl(F_GETLEASE): the descriptor still names the leased file
 *   seek    lease + lseek: the file offset moves as read moves it
 *   shim    seek + one preadv of the tail and the next chunk's head into a carry, and the head's
 *           memcpy from it: the bytes outside the page-aligned interior; to a socket also the
 *           poll that asks whether the peer closed */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static double cpu_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end == 'K' || *end == 'k') v <<= 10, end++;
	else if (*end == 'M' || *end == 'm') v <<= 20, end++;
	return *end || !v ? 0 : (size_t)v;
}

/* accept_one — the first connection on 127.0.0.1:port becomes stdout; port 0: any free port,
 * printed first as "port N" (as legacy_server prints it for zcshim bench). */
static int accept_one(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&a, &al) < 0)
		return -1;
	if (!port) printf("port %d\n", ntohs(a.sin_port)), fflush(stdout);
	int c = accept(l, NULL, NULL);
	close(l);
	return c < 0 || dup2(c, 1) < 0 ? -1 : close(c);
}

static const struct option opts[] = {{"aligned", no_argument, NULL, 'a'}, {"port", required_argument, NULL, 'p'}, {0}};

static int usage(void)
{
	fprintf(stderr, "usage: floor [--aligned] [--port N] native|send|lease|seek|shim FILE [CHUNK]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int aligned = 0, port = 0, port_set = 0;
	for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		if (c == 'a') aligned = 1;
		else if (c == 'p' && (port = atoi(optarg)) >= 0 && port < 65536 && *optarg) port_set = 1;
		else return usage();
	}
	argc -= optind - 1, argv += optind - 1;
	if (argc < 3 || argc > 4) return usage();
	const char *modes[] = {"native", "send", "lease", "seek", "shim"};
	int stage = -1;
	for (int i = 0; i < 5; i++)
		if (!strcmp(argv[1], modes[i])) stage = i;
	size_t chunk = argc == 4 ? parse_size(argv[3]) : 65536;
	if (stage < 0 || chunk < 2 * PAGE) return usage();
	if (port_set && accept_one(port) < 0) return perror("listen"), 3;
	int f = open(argv[2], O_RDONLY), d = f < 0 ? -1 : open(argv[2], O_RDONLY);
	struct stat st, out;
	if (d < 0 || fstat(f, &st) < 0 || fstat(1, &out) < 0) return perror(argv[2]), 3;
	int pipe_out = S_ISFIFO(out.st_mode);
	char *mem = malloc(chunk + 2 * PAGE), *carry = malloc(PAGE);
	if (!mem || !carry) return 3;
	char *b = (char *)(((unsigned long)mem + PAGE - 1) & ~(PAGE - 1)) + (aligned ? 0 : 16); /* glibc's place */
	size_t head = aligned ? 0 : PAGE - 16, tail = (chunk - head) % PAGE;
	long calls = 0, chunks = 0;
	double t0 = cpu_s();
	for (off_t o = 0; o + (off_t)chunk <= st.st_size; o += (off_t)chunk, chunks++) {
		if (stage == 0) {
			off_t so = o;
			for (size_t left = chunk; left; calls++) {
				ssize_t r = sendfile(1, f, &so, left);
				if (r <= 0) return perror("sendfile"), 1;
				left -= (size_t)r;
			}
			continue;
		}
		if (stage >= 2) fcntl(f, F_GETLEASE), calls++;
		if (stage >= 3) lseek(f, (off_t)chunk, SEEK_CUR), calls++;
		if (stage >= 4 && !aligned) {
			struct iovec v[2] = {{b + chunk - tail, tail}, {carry, head}};
			if (preadv(f, v, 2, o + (off_t)(chunk - tail)) < 0) return perror("preadv"), 1;
			memcpy(b, carry, head);
			calls++;
		}
		if (stage >= 4 && !pipe_out) poll(&(struct pollfd){.fd = 1, .events = POLLRDHUP}, 1, 0), calls++;
		off_t so = o;
		for (size_t left = chunk; left; calls++) {
			ssize_t r = pipe_out ? splice(d, &so, 1, NULL, left, 0) : sendfile(1, d, &so, left);
			if (r <= 0) return perror("transfer"), 1;
			left -= (size_t)r;
		}
	}
	/* the file's last, shorter piece goes too (the payload stays whole), not counted as a chunk */
	for (off_t so = chunks * (off_t)chunk; so < st.st_size;) {
		ssize_t r = pipe_out ? splice(d, &so, 1, NULL, (size_t)(st.st_size - so), 0) : sendfile(1, d, &so, (size_t)(st.st_size - so));
		if (r <= 0) return perror("transfer"), 1;
	}
	double cpu = cpu_s() - t0, gib = (double)chunks * (double)chunk / (double)(1UL << 30);
	fprintf(stderr, "floor %s chunk %zu to %s: cpu_s_per_gib %.3f calls_per_chunk %.2f\n", argv[1], chunk,
		pipe_out ? "pipe" : "socket", gib > 0 ? cpu / gib : 0.0, chunks ? (double)calls / (double)chunks : 0.0);
	return 0;
}
