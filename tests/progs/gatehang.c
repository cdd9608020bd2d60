/* gatehang.c — a write that must not wait for another thread's transfer (a review found each of
 * these hanging under the shim's first in-flight rule). Thread A writes 16 MiB from a file
 * mapping to a blocking loopback socket whose peer does not read yet; then:
 *   lone     the main thread writes one byte to the same socket: the write returns at once, as
 *            without the shim (the socket's lock is let go while A sleeps for room)
 *   dontwait the same with send(MSG_DONTWAIT)
 *   longjmp  A is taken out of its write by a handler's siglongjmp (the classic timeout idiom);
 *            a reader drains; the main thread's one-byte write returns
 *   vfork    two threads blocked writing a full pipe; a vfork child whose exec fails _exits; the
 *            pipe is drained; a one-byte write to it returns
 * Prints "gatehang CASE: write returned N"; exit 9 when the write is still blocked after 5 s.
 *
 *   gatehang --dir DIR CASE
 */
#include "progs.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define FS (16 << 20)

static int s, r, p[2];
static char *map;
static sigjmp_buf jb;
static volatile sig_atomic_t jumped;

static void on_alarm(int x)
{
	static const char m[] = "gatehang: the write is still blocked after 5 s\n";
	(void)x;
	if (write(2, m, sizeof m - 1)) {}
	_exit(9);
}

static void on_usr1(int x)
{
	(void)x;
	siglongjmp(jb, 1);
}

static void *sender(void *a)
{
	if (a && sigsetjmp(jb, 1)) {
		jumped = 1;
		for (;;) pause(); /* as a timed-out worker that waits to be told what next */
	}
	if (write(s, map, FS) < 0) {}
	return NULL;
}

static void *drain(void *a)
{
	static char b[1 << 16];
	(void)a;
	while (read(r, b, sizeof b) > 0) {}
	return NULL;
}

static void *pipe_writer(void *a)
{
	static char b[65536];
	(void)a;
	if (write(p[1], b, sizeof b) < 0) {}
	return NULL;
}

static void setup_socket(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/gatehang.bin", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	char *b = malloc(FS);
	if (fd < 0 || !b) progs_die("gatehang", path);
	memset(b, 'a', FS);
	if (progs_write_all(fd, b, FS) < 0) progs_die("gatehang", "write file");
	free(b);
	close(fd); /* read-only from here: a writable descriptor would keep the shim's lease away */
	if ((fd = open(path, O_RDONLY)) < 0) progs_die("gatehang", path);
	if ((map = mmap(NULL, FS, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) progs_die("gatehang", "mmap");
	close(fd);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &al) < 0)
		progs_die("gatehang", "listen");
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) < 0 || progs_connect(s, &a) < 0) progs_die("gatehang", "connect");
	if ((r = accept(l, NULL, NULL)) < 0) progs_die("gatehang", "accept");
	close(l);
}

int main(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[1], "--dir")) goto usage;
	const char *c = argv[3];
	pthread_t a, d, w1, w2;
	ssize_t k;
	if (!strcmp(c, "lone") || !strcmp(c, "dontwait") || !strcmp(c, "longjmp")) {
		int lj = !strcmp(c, "longjmp");
		setup_socket(argv[2]);
		if (lj) {
			struct sigaction sa = {.sa_handler = on_usr1};
			sigaction(SIGUSR1, &sa, NULL);
		}
		pthread_create(&a, NULL, sender, lj ? (void *)1 : NULL);
		usleep(300 * 1000); /* A is asleep for room by now */
		if (lj) {
			pthread_kill(a, SIGUSR1);
			while (!jumped) usleep(1000);
			pthread_create(&d, NULL, drain, NULL);
		}
		signal(SIGALRM, on_alarm);
		alarm(5);
		k = !strcmp(c, "dontwait") ? send(s, "x", 1, MSG_DONTWAIT) : write(s, "x", 1);
		if (k < 0 && errno == EAGAIN) k = 0; /* a full socket may say so: the call returned */
	} else if (!strcmp(c, "vfork")) {
		char junk[4096] = {0}, b[65536];
		if (pipe(p) < 0) progs_die("gatehang", "pipe");
		fcntl(p[1], F_SETPIPE_SZ, 4096);
		if (write(p[1], junk, sizeof junk) < 0) {} /* full */
		pthread_create(&w1, NULL, pipe_writer, NULL);
		pthread_create(&w2, NULL, pipe_writer, NULL);
		usleep(200 * 1000); /* both blocked in write, counted in flight */
		pid_t ch = vfork();
		if (ch == 0) {
			execl("/nonexistent/gatehang", "x", (char *)NULL);
			_exit(127);
		}
		waitpid(ch, NULL, 0);
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		for (int i = 0; i < 200; i++) { /* drains until both writers are done */
			while (read(p[0], b, sizeof b) > 0) {}
			usleep(5000);
		}
		pthread_join(w1, NULL);
		pthread_join(w2, NULL);
		while (read(p[0], b, sizeof b) > 0) {}
		signal(SIGALRM, on_alarm);
		alarm(5);
		k = write(p[1], "x", 1);
	} else {
		goto usage;
	}
	printf("gatehang %s: write returned %zd\n", c, k);
	fflush(stdout);
	_exit(0);
usage:
	fprintf(stderr, "usage: gatehang --dir DIR lone|dontwait|longjmp|vfork\n");
	return 2;
}
