/* rewrite.h — turns a matched write into sendfile/splice/copy_file_range with write's exact semantics. */
#ifndef ZC_REWRITE_H
#define ZC_REWRITE_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#define ZC_PASS (-100000) /* "perform the original call" */

enum zc_call { ZC_CALL_WRITE, ZC_CALL_PWRITE, ZC_CALL_WRITEV, ZC_CALL_SEND, ZC_CALL_SENDMSG };

/* One write-like call, described the same way whatever its libc name. */
struct zc_wreq {
	int fd;
	int call;     /* enum zc_call */
	const struct iovec *iov;  /* write/pwrite/send: the one buffer; after zc_rewrite's copy-in: all */
	const struct iovec *uiov; /* writev: the program's vector, not yet known to be readable */
	const struct msghdr *msg; /* sendmsg: the program's header, idem */
	int iovcnt;
	int flags;    /* send/sendmsg flags */
	off_t pos;    /* pwrite position */
	const struct sockaddr *addr; /* sendto */
	socklen_t alen;
};

/* Bytes written, -errno (as the original call would have failed), or ZC_PASS. */
ssize_t zc_rewrite(const struct zc_wreq *w);

#endif
