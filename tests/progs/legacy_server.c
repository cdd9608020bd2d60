/* legacy_server.c — a plain "legacy" file server with no shim awareness: serves one file to
 * each TCP connection on 127.0.0.1 (or to stdout) with the classic copy loops of real servers.
 *
 * usage: legacy_server --file PATH [--port N] [--stdout] [--loop L] [--chunk BYTES]
 *        [--buffer aligned|malloc|stack] [--nonblock] [--header] [--conns N] [--sndbuf BYTES]
 * loops: read-write (read+write), pread-writev (pread64+writev, header iov on the first chunk,
 * like nginx), read-send (read+send, fresh malloc per chunk with --buffer malloc, like python),
 * sendfile (the native upper bound), echo (reads the connection and writes it back: never a
 * file copy, for overhead measurements; --file is then unused).
 * Exit status: 0 done, 1 runtime error (message on stderr), 2 bad options. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "progs.h"

#define MAX_STACK_CHUNK (1u << 20)

static const char HEADER[] = "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n";

enum loop { LOOP_READ_WRITE, LOOP_PREAD_WRITEV, LOOP_READ_SEND, LOOP_SENDFILE, LOOP_ECHO };
enum buffer { BUF_ALIGNED, BUF_MALLOC, BUF_STACK };

struct opts {
	const char *file;
	int port, to_stdout, nonblock, header, conns, sndbuf;
	enum loop loop;
	enum buffer buffer;
	size_t chunk;
};

/* one destination (socket or stdout) and its epoll instance when non-blocking */
struct out {
	int fd, ep, nonblock;
};

/* usage — prints the usage line and exits 2. */
static void usage(void)
{
	fprintf(stderr, "usage: legacy_server --file PATH [--port N] [--stdout] "
			"[--loop read-write|pread-writev|read-send|sendfile|echo] [--chunk BYTES[K|M]] "
			"[--buffer aligned|malloc|stack] [--nonblock] [--header] [--conns N] "
			"[--sndbuf BYTES]\n");
	exit(2);
}

/* die — prints "legacy_server: what: strerror(errno)" and exits 1. */
static void die(const char *what)
{
	progs_die("legacy_server", what);
}

/* parse_size — a byte count with an optional K/M/G/T suffix (progs_size: shim/size.h); -1 if malformed. */
static long long parse_size(const char *s)
{
	return progs_size(s);
}

/* pick — index of s in the NULL-terminated list names, or usage() if absent. */
static int pick(const char *s, const char *const *names)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	usage();
	return -1;
}

/* parse_opts — fills o from the command line; bad options exit 2. */
static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const char *const loops[] = {"read-write", "pread-writev", "read-send", "sendfile",
					    "echo", NULL};
	static const char *const bufs[] = {"aligned", "malloc", "stack", NULL};
	static const struct option lo[] = {
		{"port", 1, 0, 'p'},   {"file", 1, 0, 'f'},     {"loop", 1, 0, 'l'},
		{"chunk", 1, 0, 'c'},  {"buffer", 1, 0, 'b'},   {"nonblock", 0, 0, 'n'},
		{"header", 0, 0, 'H'}, {"conns", 1, 0, 'N'},    {"sndbuf", 1, 0, 's'},
		{"stdout", 0, 0, 'o'}, {"help", 0, 0, 'h'},     {0, 0, 0, 0},
	};
	long long v;
	int c;
	*o = (struct opts){.chunk = 65536, .conns = 1};
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p': v = parse_size(optarg); if (v < 0 || v > 65535) usage(); o->port = (int)v; break;
		case 'f': o->file = optarg; break;
		case 'l': o->loop = (enum loop)pick(optarg, loops); break;
		case 'c': v = parse_size(optarg); if (v < 1 || v > (1LL << 30)) usage(); o->chunk = (size_t)v; break;
		case 'b': o->buffer = (enum buffer)pick(optarg, bufs); break;
		case 'n': o->nonblock = 1; break;
		case 'H': o->header = 1; break;
		case 'N': v = parse_size(optarg); if (v < 1 || v > 1000000) usage(); o->conns = (int)v; break;
		case 's': v = parse_size(optarg); if (v < 1 || v > (1LL << 30)) usage(); o->sndbuf = (int)v; break;
		case 'o': o->to_stdout = 1; break;
		default: usage();
		}
	}
	if (optind != argc || (!o->file && o->loop != LOOP_ECHO))
		usage();
	if (o->buffer == BUF_STACK && o->chunk > MAX_STACK_CHUNK)
		usage();
	if (o->to_stdout && (o->loop == LOOP_READ_SEND || o->loop == LOOP_ECHO))
		usage(); /* send() and echo need a socket */
}

/* wait_ready — blocks in epoll until fd is ready for events (non-blocking mode only). */
static void wait_ready(const struct out *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.fd = w->fd};
	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		die("epoll_ctl");
	while (epoll_wait(w->ep, &ev, 1, -1) < 0)
		if (errno != EINTR)
			die("epoll_wait");
}

/* again — whether a failed call should wait for readiness and retry (EAGAIN or EINTR). */
static int again(const struct out *w, uint32_t events)
{
	if (errno == EINTR)
		return 1;
	if (w->nonblock && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wait_ready(w, events);
		return 1;
	}
	return 0;
}

/* write_all — writes len bytes with write() or send(), resending from the middle after a
 * partial write or EAGAIN, like nginx. */
static void write_all(const struct out *w, const char *buf, size_t len, int use_send)
{
	while (len > 0) {
		ssize_t n = use_send ? send(w->fd, buf, len, 0) : write(w->fd, buf, len);
		if (n < 0) {
			if (again(w, EPOLLOUT))
				continue;
			die(use_send ? "send" : "write");
		}
		buf += n, len -= (size_t)n;
	}
}

/* writev_all — writes a header iov plus a data iov, advancing through them on partial writes. */
static void writev_all(const struct out *w, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t n = writev(w->fd, iov, cnt);
		if (n < 0) {
			if (again(w, EPOLLOUT))
				continue;
			die("writev");
		}
		while (cnt > 0 && (size_t)n >= iov->iov_len)
			n -= (ssize_t)iov->iov_len, iov++, cnt--;
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
}

/* read_some — read() or pread() that retries EINTR; returns bytes (0 at EOF). */
static size_t read_some(int fd, char *buf, size_t len, off_t *off)
{
	ssize_t n;
	do
		n = off ? pread(fd, buf, len, *off) : read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		die(off ? "pread" : "read");
	if (off)
		*off += n;
	return (size_t)n;
}

/* loop_sendfile — the native path: sendfile() chunk bytes at a time until EOF. */
static void loop_sendfile(const struct out *w, int file, size_t chunk)
{
	off_t off = 0;
	for (;;) {
		ssize_t n = sendfile(w->fd, file, &off, chunk);
		if (n == 0)
			return;
		if (n < 0 && !again(w, EPOLLOUT))
			die("sendfile");
	}
}

/* loop_echo — reads the connection and writes every byte back until the peer shuts down. */
static void loop_echo(const struct out *w, char *buf, size_t chunk)
{
	for (;;) {
		ssize_t n = read(w->fd, buf, chunk);
		if (n == 0)
			return;
		if (n < 0) {
			if (again(w, EPOLLIN))
				continue;
			die("read");
		}
		write_all(w, buf, (size_t)n, 0);
	}
}

/* loop_copy — the read/pread + write/writev/send copy loops through a user buffer. */
static void loop_copy(const struct opts *o, const struct out *w, int file, char *buf)
{
	off_t off = 0;
	int first = 1;
	for (;; first = 0) {
		char *b = buf;
		if (o->loop == LOOP_READ_SEND && o->buffer == BUF_MALLOC && !(b = malloc(o->chunk)))
			die("malloc");
		size_t n = read_some(file, b, o->chunk, o->loop == LOOP_PREAD_WRITEV ? &off : NULL);
		if (n > 0 && o->loop == LOOP_PREAD_WRITEV) {
			struct iovec iov[2] = {{(void *)HEADER, sizeof(HEADER) - 1}, {b, n}};
			int hdr = first && o->header;
			writev_all(w, iov + !hdr, 1 + hdr);
		} else if (n > 0) {
			write_all(w, b, n, o->loop == LOOP_READ_SEND);
		}
		if (b != buf)
			free(b);
		if (n == 0)
			return;
	}
}

/* serve — sends the file (or echoes) to one destination. */
static void serve(const struct opts *o, const struct out *w, char *buf)
{
	if (o->loop == LOOP_ECHO) {
		loop_echo(w, buf, o->chunk);
		return;
	}
	int file = open(o->file, O_RDONLY | O_CLOEXEC);
	if (file < 0)
		die(o->file);
	if (o->header && o->loop != LOOP_PREAD_WRITEV)
		write_all(w, HEADER, sizeof(HEADER) - 1, 0);
	if (o->loop == LOOP_SENDFILE)
		loop_sendfile(w, file, o->chunk);
	else
		loop_copy(o, w, file, buf);
	close(file);
}

/* serve_stack — serve() with the buffer as a VLA on this function's stack (--buffer stack). */
static void serve_stack(const struct opts *o, const struct out *w)
{
	char buf[o->chunk];
	serve(o, w, buf);
}

/* serve_fd — sets up non-blocking mode for fd, serves it, and tears down. */
static void serve_fd(const struct opts *o, int fd, char *heap_buf)
{
	struct out w = {.fd = fd, .ep = -1, .nonblock = o->nonblock};
	if (o->nonblock) {
		struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			die("fcntl");
		if ((w.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || epoll_ctl(w.ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll");
	}
	if (o->buffer == BUF_STACK)
		serve_stack(o, &w);
	else
		serve(o, &w, heap_buf);
	if (w.ep >= 0)
		close(w.ep);
}

/* listen_on — a listening socket on 127.0.0.1:port; the bound port goes to *bound. */
static int listen_on(int port, int *bound)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0)
		die("bind/listen");
	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("getsockname");
	*bound = ntohs(a.sin_port);
	return fd;
}

/* accept_one — accepts the next connection, retrying EINTR. */
static int accept_one(int lfd)
{
	int fd;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		if (errno != EINTR)
			die("accept");
	return fd;
}

/* alloc_buffer — the reused heap buffer (aligned or malloc); NULL for the stack mode. */
static char *alloc_buffer(const struct opts *o)
{
	void *p = NULL;
	if (o->buffer == BUF_STACK || o->loop == LOOP_SENDFILE)
		return NULL;
	if (o->buffer == BUF_ALIGNED && posix_memalign(&p, 4096, o->chunk) != 0)
		p = NULL;
	if (o->buffer == BUF_MALLOC)
		p = malloc(o->chunk);
	if (!p)
		die("buffer allocation");
	return p;
}

/* main — parses options, then serves --conns connections one after another (or stdout once). */
int main(int argc, char **argv)
{
	struct opts o;
	int port;
	parse_opts(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	char *buf = alloc_buffer(&o);
	if (o.to_stdout) {
		serve_fd(&o, STDOUT_FILENO, buf);
		free(buf);
		return 0;
	}
	int lfd = listen_on(o.port, &port);
	printf("port %d\n", port);
	if (fflush(stdout) != 0)
		die("stdout");
	for (int i = 0; i < o.conns; i++) {
		int fd = accept_one(lfd);
		if (o.sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o.sndbuf, sizeof(o.sndbuf)) < 0)
			die("SO_SNDBUF");
		serve_fd(&o, fd, buf);
		if (close(fd) < 0)
			die("close");
	}
	close(lfd);
	free(buf);
	return 0;
}
