/* edges_libother.c — another preloaded library whose constructor makes I/O and descriptor calls
 * before (or after) the shim's constructor ran: every wrapper must work with zc_real still empty
 * (tests/e2e/test_edges.sh, either LD_PRELOAD order). Prints one line on stderr when all went well. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* fail — reports the call that went wrong; the constructor goes on (the exit status tells). */
static int failed;
static void fail(const char *what)
{
	const char *e = strerror(errno);
	failed = 1;
	write(2, "edges_libother: ", 16), write(2, what, strlen(what)), write(2, ": ", 2);
	write(2, e, strlen(e)), write(2, "\n", 1);
}

__attribute__((constructor)) static void other_init(void)
{
	char b[64];
	int p[2], s[2];
	int d = dup(2);
	if (d < 0) fail("dup");
	if (fcntl(d, F_SETFD, FD_CLOEXEC) < 0 || fcntl(d, F_GETFD) != FD_CLOEXEC) fail("fcntl");
	if (dup2(d, d) != d) fail("dup2 same");
	if (dup2(d, d + 1) != d + 1 || close(d + 1) < 0) fail("dup2");
	if (dup3(d, d + 1, O_CLOEXEC) != d + 1 || close(d + 1) < 0) fail("dup3");
	if (close(d) < 0) fail("close");
	if (pipe(p) < 0 || write(p[1], "ping", 4) != 4 || read(p[0], b, sizeof b) != 4) fail("pipe/read/write");
	else if (close(p[0]) < 0 || close(p[1]) < 0) fail("close pipe");
	if (pipe2(p, O_CLOEXEC) < 0 || close(p[0]) < 0 || close(p[1]) < 0) fail("pipe2");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0 || send(s[0], "x", 1, 0) != 1 || recv(s[1], b, 1, 0) != 1) fail("socketpair");
	else if (close_range((unsigned)s[0], (unsigned)s[0], 0) < 0 || close(s[1]) < 0) fail("close_range");
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (l < 0) fail("socket");
	else if (accept(l, NULL, NULL) >= 0 || accept4(l, NULL, NULL, 0) >= 0) fail("accept");
	else close(l);
	int f = open("/proc/self/stat", O_RDONLY);
	if (f < 0 || pread(f, b, 8, 0) != 8 || lseek(f, 0, SEEK_CUR) != 0) fail("pread/lseek");
	struct iovec v = {b, 8};
	if (f >= 0 && (readv(f, &v, 1) != 8 || close(f) < 0)) fail("readv");
	char *m = malloc(100);
	m = realloc(m, 4000);
	free(m);
	free(NULL);
	if (!failed) write(2, "edges_libother: ok\n", 19);
}
