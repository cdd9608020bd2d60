/* legacy_client.c — benchmark receiver: reads a payload from 127.0.0.1:PORT or stdin until EOF
 * and prints "bytes N sha256 HEX" (the SHA-256 of what it received after --skip N bytes).
 *
 * usage: legacy_client (--port N | --pipe) [--skip N] [--discard [--verify FILE]]
 *        legacy_client --port N --echo FILE [--msg BYTES]
 * --discard makes the sender the bottleneck: recv(MSG_TRUNC) drops the bytes in the kernel
 * without copying them (stdin: splice to /dev/null), so no full digest is possible; with
 * --verify FILE it peeks up to 64 bytes at every receive position and compares them with the
 * file, printing "bytes N sampled K bad M". --echo sends FILE in --msg byte messages (default 64),
 * reads each one back and hashes what came back (overhead measurements).
 * Exit status: 0 done, 1 runtime error, 2 bad options. */
#include "../../tools/sha256.c"

#include <getopt.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "progs.h"

#define SAMPLE 64

struct copts {
	int port, pipe, discard;
	long long skip;
	const char *verify, *echo;
	size_t msg;
};

/* usage — prints the usage line and exits 2. */
static void usage(void)
{
	fprintf(stderr, "usage: legacy_client (--port N | --pipe) [--skip N] [--discard [--verify FILE]]"
			" | --port N --echo FILE [--msg BYTES]\n");
	exit(2);
}

/* die — prints "legacy_client: what: strerror(errno)" and exits 1. */
static void die(const char *what)
{
	progs_die("legacy_client", what);
}

/* number — a non-negative byte count with an optional K/M/G suffix, or usage(). */
static long long number(const char *s)
{
	long long v = progs_size(s);
	if (v < 0)
		usage();
	return v;
}

/* parse_opts — fills o from the command line; bad combinations exit 2. */
static void parse_opts(int argc, char **argv, struct copts *o)
{
	static const struct option lo[] = {
		{"port", 1, 0, 'p'},    {"pipe", 0, 0, 'P'}, {"discard", 0, 0, 'd'},
		{"skip", 1, 0, 's'},    {"verify", 1, 0, 'v'}, {"echo", 1, 0, 'e'},
		{"msg", 1, 0, 'm'},     {"help", 0, 0, 'h'}, {0, 0, 0, 0},
	};
	int c;
	*o = (struct copts){.port = -1, .msg = 64};
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p': o->port = (int)number(optarg); if (o->port < 1 || o->port > 65535) usage(); break;
		case 'P': o->pipe = 1; break;
		case 'd': o->discard = 1; break;
		case 's': o->skip = number(optarg); break;
		case 'v': o->verify = optarg; break;
		case 'e': o->echo = optarg; break;
		case 'm': o->msg = (size_t)number(optarg); if (o->msg < 1 || o->msg > 65536) usage(); break;
		default: usage();
		}
	}
	if (optind != argc || o->pipe == (o->port > 0) || (o->verify && !o->discard))
		usage();
	if (o->echo && (o->pipe || o->discard || o->skip))
		usage();
}

/* connect_port — a TCP connection to 127.0.0.1:port. */
static int connect_port(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	return fd;
}

/* read_some — read() retrying EINTR; returns bytes, 0 at EOF. */
static size_t read_some(int fd, void *buf, size_t len)
{
	ssize_t n;
	while ((n = read(fd, buf, len)) < 0)
		if (errno != EINTR)
			die("read");
	return (size_t)n;
}

/* skip_bytes — consumes and drops the first n bytes (the header); exits 1 if EOF comes first. */
static void skip_bytes(int fd, long long n)
{
	char buf[4096];
	while (n > 0) {
		size_t got = read_some(fd, buf, n < (long long)sizeof(buf) ? (size_t)n : sizeof(buf));
		if (got == 0) {
			fprintf(stderr, "legacy_client: EOF inside the %lld skipped bytes\n", n);
			exit(1);
		}
		n -= (long long)got;
	}
}

/* receive_hash — reads to EOF into a 64 KiB buffer, hashing everything. */
static void receive_hash(int fd)
{
	static char buf[1 << 16];
	struct zc_bench_sha256 s;
	char hex[65];
	size_t n;
	zc_bench_sha256_init(&s);
	while ((n = read_some(fd, buf, sizeof(buf))) > 0)
		zc_bench_sha256_update(&s, buf, n);
	unsigned long long total = s.len;
	zc_bench_sha256_hex(&s, hex);
	printf("bytes %llu sha256 %s\n", total, hex);
}

/* map_file — maps a whole file read-only; its size goes to *size. */
static const unsigned char *map_file(const char *path, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		die(path);
	*size = (size_t)st.st_size;
	void *p = *size ? mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	if (p == MAP_FAILED)
		die("mmap");
	close(fd);
	return p;
}

/* discard_socket — drops everything with recv(MSG_TRUNC); with a reference file, first peeks
 * up to SAMPLE bytes at each position and compares them with the file there. */
static void discard_socket(int fd, const char *verify)
{
	static unsigned char sample[SAMPLE]; /* static: far from the stack top for the long MSG_TRUNC */
	unsigned long long total = 0, samples = 0, bad = 0;
	size_t ref_size = 0;
	const unsigned char *ref = verify ? map_file(verify, &ref_size) : NULL;
	for (;;) {
		ssize_t n;
		if (verify) {
			while ((n = recv(fd, sample, sizeof(sample), MSG_PEEK)) < 0)
				if (errno != EINTR)
					die("recv(MSG_PEEK)");
			if (n == 0)
				break;
			samples++;
			if (total + (size_t)n > ref_size || memcmp(ref + total, sample, (size_t)n) != 0)
				bad++;
		}
		while ((n = recv(fd, sample, 4u << 20, MSG_TRUNC)) < 0)
			if (errno != EINTR)
				die("recv(MSG_TRUNC)");
		if (n == 0)
			break;
		total += (unsigned long long)n;
	}
	if (verify)
		printf("bytes %llu sampled %llu bad %llu\n", total, samples, bad);
	else
		printf("bytes %llu\n", total);
}

/* discard_pipe — drops stdin by splicing it to /dev/null. */
static void discard_pipe(int fd)
{
	unsigned long long total = 0;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ssize_t n;
	if (null < 0)
		die("/dev/null");
	while ((n = splice(fd, NULL, null, NULL, 1u << 20, SPLICE_F_MOVE)) != 0) {
		if (n < 0 && errno != EINTR)
			die("splice");
		if (n > 0)
			total += (unsigned long long)n;
	}
	printf("bytes %llu\n", total);
}

/* write_all — writes len bytes, retrying partial writes and EINTR. */
static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("write");
		p += n, len -= (size_t)n;
	}
}

/* echo_file — sends the file in msg-byte messages, reading each echo back before the next. */
static void echo_file(int sock, const char *path, size_t msg)
{
	char out[65536], in[65536], hex[65];
	struct zc_bench_sha256 s;
	size_t n;
	int file = open(path, O_RDONLY | O_CLOEXEC);
	if (file < 0)
		die(path);
	zc_bench_sha256_init(&s);
	while ((n = read_some(file, out, msg)) > 0) {
		write_all(sock, out, n);
		for (size_t got = 0; got < n;) {
			size_t m = read_some(sock, in, n - got);
			if (m == 0) {
				fprintf(stderr, "legacy_client: EOF from the echo server\n");
				exit(1);
			}
			zc_bench_sha256_update(&s, in, m);
			got += m;
		}
	}
	if (shutdown(sock, SHUT_WR) < 0)
		die("shutdown");
	if (read_some(sock, in, sizeof(in)) != 0) {
		fprintf(stderr, "legacy_client: extra bytes from the echo server\n");
		exit(1);
	}
	unsigned long long total = s.len;
	zc_bench_sha256_hex(&s, hex);
	printf("bytes %llu sha256 %s\n", total, hex);
	close(file);
}

/* main — connects or takes stdin, then receives in the requested way. */
int main(int argc, char **argv)
{
	struct copts o;
	parse_opts(argc, argv, &o);
	int fd = o.pipe ? STDIN_FILENO : connect_port(o.port);
	if (o.echo) {
		echo_file(fd, o.echo, o.msg);
		return 0;
	}
	skip_bytes(fd, o.skip);
	if (o.discard && o.pipe)
		discard_pipe(fd);
	else if (o.discard)
		discard_socket(fd, o.verify);
	else
		receive_hash(fd);
	return fflush(stdout) == 0 ? 0 : 1;
}
