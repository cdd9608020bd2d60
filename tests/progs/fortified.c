/* fortified.c — built with -D_FORTIFY_SOURCE=2 -O2 (Makefile): calls each I/O name on a buffer the
 * shim has recorded and guarded, and prints what every call returned, for a run without the shim
 * to be compared with a run under it (tests/e2e/test_edges.sh).
 *
 * usage: fortified FILE NAME...   FILE: at least 256 KiB. For each NAME (a libc name such as
 * __pread_chk, recvmmsg, pwritev2, called by that name; "fortify:read", "fortify:pread",
 * "fortify:recv", "fortify:recvfrom": the plain call, which the fortified headers turn into
 * __read_chk, __pread_chk, __recv_chk, __recvfrom_chk; or "none"), first a read of 64 KiB of FILE into the
 * buffer and a write of it to a pipe (which the shim rewrites and guards), then the call itself on
 * that same buffer. Prints "NAME = result [errno text] sum" lines; an unknown NAME exits 2. */
#include "progs.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHUNK 65536

static int src, pipe_rd, pipe_wr, sk[2], out_fd;
static unsigned char *buf;
static volatile size_t chunk = CHUNK; /* not a constant: fortified calls go to the _chk names */

/* sum — a checksum of n bytes, to compare the data as well as the counts. */
static unsigned long sum(const unsigned char *p, ssize_t n)
{
	unsigned long h = 5381;
	for (ssize_t i = 0; i < n; i++) h = h * 33 + p[i];
	return h;
}

static void report(const char *name, ssize_t r, const unsigned char *data, ssize_t n)
{
	if (r < 0) printf("%s = -1 %s\n", name, strerror(errno));
	else printf("%s = %zd %lx\n", name, r, sum(data, n));
}

/* drain — empties the pipe and both sockets, so the next write never blocks. */
static void drain(void)
{
	static unsigned char sink[CHUNK];
	while (read(pipe_rd, sink, sizeof sink) > 0) continue;
	while (recv(sk[1], sink, sizeof sink, MSG_DONTWAIT) > 0) continue;
	while (recv(sk[0], sink, sizeof sink, MSG_DONTWAIT) > 0) continue;
}

/* prime — the buffer now holds file bytes [0, 64K) and was written to the pipe (rewritten, guarded). */
static void prime(void)
{
	drain();
	if (pread(src, buf, CHUNK, 0) != CHUNK || write(pipe_wr, buf, CHUNK) != CHUNK) {
		perror("prime");
		exit(3);
	}
	drain();
	if (send(sk[1], "hello", 5, 0) != 5) exit(3); /* for the receives */
	lseek(src, 65536, SEEK_SET);
}

/* out_sum — what the last write to the output file left there. */
static unsigned long out_sum(void)
{
	static unsigned char o[4 * CHUNK];
	ssize_t n = pread(out_fd, o, sizeof o, 0);
	return sum(o, n);
}

/* sock_sum — what reached the peer socket. */
static unsigned long sock_sum(void)
{
	static unsigned char o[4 * CHUNK];
	ssize_t n = 0, r;
	while ((r = recv(sk[1], o + n, sizeof o - (size_t)n, MSG_DONTWAIT)) > 0) n += r;
	return sum(o, n);
}

typedef ssize_t (*rd_fn)(int, void *, size_t);
typedef ssize_t (*prd_fn)(int, void *, size_t, off_t);
typedef ssize_t (*rdchk_fn)(int, void *, size_t, size_t);
typedef ssize_t (*prdchk_fn)(int, void *, size_t, off_t, size_t);
typedef ssize_t (*rv_fn)(int, const struct iovec *, int);
typedef ssize_t (*prv_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t (*prv2_fn)(int, const struct iovec *, int, off_t, int);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*recvchk_fn)(int, void *, size_t, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*recvfromchk_fn)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);
typedef int (*recvmmsg_fn)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
typedef ssize_t (*wr_fn)(int, const void *, size_t);
typedef ssize_t (*pwr_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef int (*sendmmsg_fn)(int, struct mmsghdr *, unsigned int, int);

/* is — NAME is one of the space-separated names in list. */
static int is(const char *name, const char *list)
{
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n])) return 1;
	return 0;
}

/* sized — the primed buffer, through a call whose alloc_size tells the compiler its size. */
__attribute__((noinline, alloc_size(1))) static void *sized(size_t n)
{
	return n ? buf : NULL;
}

/* fortify — one of the calls _FORTIFY_SOURCE rewrites: the buffer's size is known, the count is
 * not. what: read (__read_chk), pread (__pread_chk), recv (__recv_chk), recvfrom (__recvfrom_chk). */
static int fortify(const char *what)
{
	struct sockaddr_storage a;
	socklen_t al = sizeof a;
	unsigned char *b = sized(4 * CHUNK);
	ssize_t r;
	if (!strcmp(what, "read")) r = read(src, b, chunk);
	else if (!strcmp(what, "pread")) r = pread(src, b, chunk, 65536); /* __pread64_chk with 64-bit off_t names */
	else if (!strcmp(what, "recv")) r = recv(sk[0], b, chunk, 0);
	else if (!strcmp(what, "recvfrom")) r = recvfrom(sk[0], b, chunk, 0, (struct sockaddr *)&a, &al);
	else return -1;
	printf("fortify:%s = ", what);
	report(what, r, b, r);
	return 0;
}

/* one_read — NAME reads into the primed buffer. Returns 0, or -1 when it is no read-side name. */
static int one_read(const char *name, void *f)
{
	struct iovec v[2] = {{buf, CHUNK / 2}, {buf + CHUNK / 2, CHUNK / 2}};
	struct msghdr m = {.msg_iov = v, .msg_iovlen = 2};
	struct mmsghdr mm = {.msg_hdr = m};
	ssize_t r;
	if (is(name, "read __read")) r = ((rd_fn)f)(src, buf, CHUNK);
	else if (is(name, "__read_chk")) r = ((rdchk_fn)f)(src, buf, CHUNK, CHUNK);
	else if (is(name, "pread pread64 __pread64")) r = ((prd_fn)f)(src, buf, CHUNK, 65536);
	else if (is(name, "__pread_chk __pread64_chk")) r = ((prdchk_fn)f)(src, buf, CHUNK, 65536, CHUNK);
	else if (is(name, "readv")) r = ((rv_fn)f)(src, v, 2);
	else if (is(name, "preadv preadv64")) r = ((prv_fn)f)(src, v, 2, 65536);
	else if (is(name, "preadv2 preadv64v2")) {
		r = ((prv2_fn)f)(src, v, 2, 65536, 0); /* like preadv */
		report(name, r, buf, r), prime();
		r = ((prv2_fn)f)(src, v, 2, -1, 0); /* like readv */
		report(name, r, buf, r), prime();
		r = ((prv2_fn)f)(src, v, 2, 65536, RWF_HIPRI); /* with a flag */
	} else if (is(name, "recv")) r = ((recv_fn)f)(sk[0], buf, CHUNK, 0);
	else if (is(name, "__recv_chk")) r = ((recvchk_fn)f)(sk[0], buf, CHUNK, CHUNK, 0);
	else if (is(name, "recvfrom")) r = ((recvfrom_fn)f)(sk[0], buf, CHUNK, 0, NULL, NULL);
	else if (is(name, "__recvfrom_chk")) r = ((recvfromchk_fn)f)(sk[0], buf, CHUNK, CHUNK, 0, NULL, NULL);
	else if (is(name, "recvmsg")) r = ((recvmsg_fn)f)(sk[0], &m, 0);
	else if (is(name, "recvmmsg")) r = ((recvmmsg_fn)f)(sk[0], &mm, 1, MSG_DONTWAIT, NULL), r = r == 1 ? (ssize_t)mm.msg_len : r;
	else return -1;
	report(name, r, buf, r);
	return 0;
}

/* one_write — NAME writes the primed buffer: to the pipe, the output file or the socket. */
static int one_write(const char *name, void *f)
{
	struct iovec v[2] = {{buf, CHUNK / 2}, {buf + CHUNK / 2, CHUNK / 2}};
	struct msghdr m = {.msg_iov = v, .msg_iovlen = 2};
	struct mmsghdr mm[2] = {{.msg_hdr = m}, {.msg_hdr = m}};
	ssize_t r;
	unsigned char sink[CHUNK];
	if (is(name, "write __write")) r = ((wr_fn)f)(pipe_wr, buf, CHUNK), report(name, r, sink, read(pipe_rd, sink, CHUNK));
	else if (is(name, "writev")) r = ((rv_fn)f)(pipe_wr, v, 2), report(name, r, sink, read(pipe_rd, sink, CHUNK));
	else if (is(name, "pwrite pwrite64 __pwrite64")) r = ((pwr_fn)f)(out_fd, buf, CHUNK, 4096), printf("%s = %zd %lx\n", name, r, out_sum());
	else if (is(name, "pwritev pwritev64")) r = ((prv_fn)f)(out_fd, v, 2, 8192), printf("%s = %zd %lx\n", name, r, out_sum());
	else if (is(name, "pwritev2 pwritev64v2")) {
		r = ((prv2_fn)f)(pipe_wr, v, 2, -1, 0); /* like writev */
		report(name, r, sink, read(pipe_rd, sink, CHUNK)), prime();
		r = ((prv2_fn)f)(out_fd, v, 2, 12288, RWF_DSYNC), printf("%s = %zd %lx\n", name, r, out_sum());
	} else if (is(name, "send __send")) r = ((send_fn)f)(sk[0], buf, CHUNK, 0), printf("%s = %zd %lx\n", name, r, sock_sum());
	else if (is(name, "sendto")) r = ((sendto_fn)f)(sk[0], buf, CHUNK, 0, NULL, 0), printf("%s = %zd %lx\n", name, r, sock_sum());
	else if (is(name, "sendmsg")) r = ((sendmsg_fn)f)(sk[0], &m, 0), printf("%s = %zd %lx\n", name, r, sock_sum());
	else if (is(name, "sendmmsg")) r = ((sendmmsg_fn)f)(sk[0], mm, 2, 0), printf("%s = %zd %u %u %lx\n", name, r, mm[0].msg_len, mm[1].msg_len, sock_sum());
	else return -1;
	return 0;
}

int main(int argc, char **argv)
{
	int p[2];
	if (argc < 3) {
		fprintf(stderr, "usage: fortified FILE NAME...\n");
		return 2;
	}
	buf = malloc(4 * CHUNK);
	if (!buf || (src = open(argv[1], O_RDONLY)) < 0 || pipe2(p, O_NONBLOCK) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sk) < 0 || (out_fd = open(argv[1], O_RDONLY)) < 0) {
		perror("setup");
		return 3;
	}
	char out[4096];
	snprintf(out, sizeof out, "%s.out", argv[1]);
	close(out_fd);
	if ((out_fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0) return 3;
	pipe_rd = p[0], pipe_wr = p[1];
	fcntl(pipe_wr, F_SETPIPE_SZ, 4 * CHUNK);
	int sz = 4 * CHUNK;
	setsockopt(sk[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	setsockopt(sk[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	fcntl(pipe_wr, F_SETFL, 0); /* blocking writes, non-blocking drain */
	for (int i = 2; i < argc; i++) {
		prime();
		if (!strcmp(argv[i], "none")) continue;
		if (!strncmp(argv[i], "fortify:", 8)) {
			if (fortify(argv[i] + 8) < 0) return fprintf(stderr, "fortified: no call for %s\n", argv[i]), 2;
			continue;
		}
		void *f = dlsym(RTLD_DEFAULT, argv[i]); /* the name itself, whoever defines it first */
		if (!f || (one_read(argv[i], f) < 0 && one_write(argv[i], f) < 0)) {
			fprintf(stderr, "fortified: no call for %s\n", argv[i]);
			return 2;
		}
		fflush(stdout);
	}
	return 0;
}
