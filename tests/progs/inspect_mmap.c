/* inspect_mmap.c — sends a file the way Apache does with `EnableMMAP On`: maps it read-only and
 * shared in pieces of at most 4 MiB and writes each with writev (the header before the first);
 * no read() and no stdio data path (messages go through fprintf). test_inspect.sh inspects it for the mmap-path finding.
 * usage: inspect_mmap FILE [HEADER] — HEADER (if any) then FILE's bytes on stdout, exit 0. */
#include "progs.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define PIECE (4 << 20)

/* send_all — writev of iov[0..n) to fd until every byte has gone; -1 on error. */
static int send_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct stat st;
	int fd;

	if (argc < 2 || argc > 3) {
		errno = EINVAL;
		progs_die("inspect_mmap", "usage: inspect_mmap FILE [HEADER]");
	}
	if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st))
		progs_die("inspect_mmap", argv[1]);
	const char *hdr = argc > 2 ? argv[2] : "";
	for (off_t off = 0; off < st.st_size || (off == 0 && *hdr); off += PIECE) {
		size_t len = st.st_size - off < PIECE ? (size_t)(st.st_size - off) : PIECE;
		void *m = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off) : NULL;
		if (m == MAP_FAILED)
			progs_die("inspect_mmap", "mmap");
		struct iovec iov[2] = { { (void *)hdr, strlen(hdr) }, { m, len } };
		int first = *hdr ? 0 : 1;
		if (send_all(1, iov + first, 2 - first))
			progs_die("inspect_mmap", "writev");
		if (m)
			munmap(m, len);
		hdr = "";
		if (!len)
			break;
	}
	close(fd);
	return 0;
}
