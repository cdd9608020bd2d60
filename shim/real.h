/* real.h — the libc functions the shim wraps, resolved once with dlsym(RTLD_NEXT). */
#ifndef ZC_REAL_H
#define ZC_REAL_H

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* X(name, return type, parameter list): one list makes the typedefs, the table and the resolver. */
#define ZC_REAL_SYMS(X)                                                                    \
	X(read, ssize_t, (int, void *, size_t))                                                \
	X(pread64, ssize_t, (int, void *, size_t, off_t))                                      \
	X(readv, ssize_t, (int, const struct iovec *, int))                                    \
	X(preadv64, ssize_t, (int, const struct iovec *, int, off_t))                          \
	X(recv, ssize_t, (int, void *, size_t, int))                                           \
	X(recvfrom, ssize_t, (int, void *, size_t, int, struct sockaddr *, socklen_t *))       \
	X(recvmsg, ssize_t, (int, struct msghdr *, int))                                       \
	X(write, ssize_t, (int, const void *, size_t))                                         \
	X(pwrite64, ssize_t, (int, const void *, size_t, off_t))                               \
	X(writev, ssize_t, (int, const struct iovec *, int))                                   \
	X(send, ssize_t, (int, const void *, size_t, int))                                     \
	X(sendto, ssize_t, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(sendmsg, ssize_t, (int, const struct msghdr *, int))                                 \
	X(sendfile64, ssize_t, (int, int, off_t *, size_t))                                    \
	X(splice, ssize_t, (int, off_t *, int, off_t *, size_t, unsigned int))                 \
	X(copy_file_range, ssize_t, (int, off_t *, int, off_t *, size_t, unsigned int))        \
	X(lseek64, off_t, (int, off_t, int))                                                   \
	X(close, int, (int))                                                                   \
	X(close_range, int, (unsigned int, unsigned int, int))                                 \
	X(dup, int, (int))                                                                     \
	X(dup2, int, (int, int))                                                               \
	X(dup3, int, (int, int, int))                                                          \
	X(socket, int, (int, int, int))                                                        \
	X(accept4, int, (int, struct sockaddr *, socklen_t *, int))                           \
	X(pipe2, int, (int *, int))                                                            \
	X(socketpair, int, (int, int, int, int *))                                                          \
	X(fcntl64, int, (int, int, ...))                                                       \
	X(execve, int, (const char *, char *const[], char *const[]))                           \
	X(execvpe, int, (const char *, char *const[], char *const[]))                           \
	X(free, void, (void *))                                                                \
	X(realloc, void *, (void *, size_t))                                                   \
	X(munmap, int, (void *, size_t))                                                       \
	X(madvise, int, (void *, size_t, int))                                                 \
	X(mremap, void *, (void *, size_t, size_t, int, ...))                                  \
	X(mprotect, int, (void *, size_t, int))                                                \
	X(mmap64, void *, (void *, size_t, int, int, int, off_t))

#define ZC_REAL_TYPEDEF(name, ret, args) typedef ret(*zc_real_##name##_t) args;
ZC_REAL_SYMS(ZC_REAL_TYPEDEF)
#undef ZC_REAL_TYPEDEF

struct zc_real {
#define ZC_REAL_FIELD(name, ret, args) zc_real_##name##_t name;
	ZC_REAL_SYMS(ZC_REAL_FIELD)
#undef ZC_REAL_FIELD
};

extern struct zc_real zc_real;
extern int zc_real_ready; /* set once every symbol is resolved */

void zc_real_resolve(void);

/* Raw syscalls: used before resolution and by the shim's own I/O. Return -1/errno like libc. */
#define zc_raw_write(fd, b, n) syscall(SYS_write, (fd), (b), (n))
#define zc_raw_read(fd, b, n) syscall(SYS_read, (fd), (b), (n))
#define zc_raw_close(fd) syscall(SYS_close, (fd))
#define zc_raw_getpid() syscall(SYS_getpid)
#define zc_raw_gettid() ((pid_t)syscall(SYS_gettid))
#define zc_raw_mprotect(a, n, p) syscall(SYS_mprotect, (a), (n), (p))
#define zc_raw_fcntl(fd, cmd, arg) syscall(SYS_fcntl, (fd), (cmd), (arg))

#endif
