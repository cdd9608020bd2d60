/* exports.h — the one list of libc names the shim exports. The version script (zcshim.map.in),
 * the real-symbol table (real.h), `zcshim inspect` (tools/inspect.h) and the tests
 * (build/exports.txt, from exports.txt.in) are all generated from it. Only macros: cpp reads it
 * to write the map, so it holds no declarations of its own.
 *
 * F(name, ret, params, kind): a wrapper of its own; the next definition is resolved into zc_real.name.
 * A(name, target, kind): the same code exported under a second libc name (an alias of target).
 * kind: READ (the kernel fills a buffer), WRITE (a buffer goes out), ZEROCOPY (no user buffer),
 * SEEK, MAP (mmap: new memory), MEM (memory given back or changed), FD (descriptor life cycle),
 * EXEC (a new program image or child), SIG (SIGPIPE's disposition, watched, never changed), CRED
 * (a change of user id: keep_cap_lease, interpose_cred.c). READ, WRITE, ZEROCOPY, SEEK and MAP are
 * data paths: the names `zcshim inspect` reports.
 *
 * Completeness: every public name of glibc 2.36 (`nm -D --defined-only libc.so.6`) that moves
 * data between a descriptor and a user buffer is here. Left out, on purpose: aio_read/aio_write
 * and lio_listio (glibc's helper threads call its internal pread/pwrite; the guard sees their
 * stores), process_vm_readv/writev, vmsplice, getrandom, readlink*, getdents64, msgrcv, mq_receive
 * (not a file-to-descriptor copy loop; a store into a guarded buffer is still seen by the guard),
 * and GLIBC_PRIVATE names (__recv, __sendmmsg, *_nocancel: only glibc itself binds to them). */
#ifndef ZC_EXPORTS_H
#define ZC_EXPORTS_H

#define ZC_EXPORTS(F, A)                                                                              \
	F(read, ssize_t, (int, void *, size_t), READ)                                                 \
	A(__read, read, READ)                                                                         \
	F(__read_chk, ssize_t, (int, void *, size_t, size_t), READ)                                   \
	F(pread64, ssize_t, (int, void *, size_t, off_t), READ)                                       \
	A(pread, pread64, READ)                                                                       \
	A(__pread64, pread64, READ)                                                                   \
	F(__pread64_chk, ssize_t, (int, void *, size_t, off_t, size_t), READ)                         \
	A(__pread_chk, __pread64_chk, READ)                                                           \
	F(readv, ssize_t, (int, const struct iovec *, int), READ)                                     \
	F(preadv64, ssize_t, (int, const struct iovec *, int, off_t), READ)                           \
	A(preadv, preadv64, READ)                                                                     \
	F(preadv64v2, ssize_t, (int, const struct iovec *, int, off_t, int), READ)                    \
	A(preadv2, preadv64v2, READ)                                                                  \
	F(recv, ssize_t, (int, void *, size_t, int), READ)                                            \
	F(__recv_chk, ssize_t, (int, void *, size_t, size_t, int), READ)                              \
	F(recvfrom, ssize_t, (int, void *, size_t, int, struct sockaddr *, socklen_t *), READ)        \
	F(__recvfrom_chk, ssize_t, (int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *), READ) \
	F(recvmsg, ssize_t, (int, struct msghdr *, int), READ)                                        \
	F(recvmmsg, int, (int, struct mmsghdr *, unsigned int, int, struct timespec *), READ)         \
	F(write, ssize_t, (int, const void *, size_t), WRITE)                                         \
	A(__write, write, WRITE)                                                                      \
	F(pwrite64, ssize_t, (int, const void *, size_t, off_t), WRITE)                               \
	A(pwrite, pwrite64, WRITE)                                                                    \
	A(__pwrite64, pwrite64, WRITE)                                                                \
	F(writev, ssize_t, (int, const struct iovec *, int), WRITE)                                   \
	F(pwritev64, ssize_t, (int, const struct iovec *, int, off_t), WRITE)                         \
	A(pwritev, pwritev64, WRITE)                                                                  \
	F(pwritev64v2, ssize_t, (int, const struct iovec *, int, off_t, int), WRITE)                  \
	A(pwritev2, pwritev64v2, WRITE)                                                               \
	F(send, ssize_t, (int, const void *, size_t, int), WRITE)                                     \
	A(__send, send, WRITE)                                                                        \
	F(sendto, ssize_t, (int, const void *, size_t, int, const struct sockaddr *, socklen_t), WRITE) \
	F(sendmsg, ssize_t, (int, const struct msghdr *, int), WRITE)                                 \
	F(sendmmsg, int, (int, struct mmsghdr *, unsigned int, int), WRITE)                           \
	F(sendfile64, ssize_t, (int, int, off_t *, size_t), ZEROCOPY)                                 \
	A(sendfile, sendfile64, ZEROCOPY)                                                             \
	F(splice, ssize_t, (int, off_t *, int, off_t *, size_t, unsigned int), ZEROCOPY)              \
	F(copy_file_range, ssize_t, (int, off_t *, int, off_t *, size_t, unsigned int), ZEROCOPY)     \
	F(lseek64, off_t, (int, off_t, int), SEEK)                                                    \
	A(lseek, lseek64, SEEK)                                                                       \
	F(mmap64, void *, (void *, size_t, int, int, int, off_t), MAP)                                \
	A(mmap, mmap64, MAP)                                                                          \
	F(close, int, (int), FD)                                                                      \
	F(close_range, int, (unsigned int, unsigned int, int), FD)                                    \
	F(dup, int, (int), FD)                                                                        \
	F(dup2, int, (int, int), FD)                                                                  \
	F(dup3, int, (int, int, int), FD)                                                             \
	F(fcntl64, int, (int, int, ...), FD)                                                          \
	A(fcntl, fcntl64, FD)                                                                         \
	F(socket, int, (int, int, int), FD)                                                           \
	F(accept, int, (int, struct sockaddr *, socklen_t *), FD)                                     \
	F(accept4, int, (int, struct sockaddr *, socklen_t *, int), FD)                               \
	F(pipe, int, (int *), FD)                                                                     \
	F(pipe2, int, (int *, int), FD)                                                               \
	F(socketpair, int, (int, int, int, int *), FD)                                                \
	F(execve, int, (const char *, char *const[], char *const[]), EXEC)                            \
	F(execvpe, int, (const char *, char *const[], char *const[]), EXEC)                           \
	F(execv, int, (const char *, char *const[]), EXEC)                                            \
	F(execvp, int, (const char *, char *const[]), EXEC)                                           \
	F(execl, int, (const char *, const char *, ...), EXEC)                                        \
	F(execlp, int, (const char *, const char *, ...), EXEC)                                       \
	F(execle, int, (const char *, const char *, ...), EXEC)                                       \
	F(posix_spawn, int, (pid_t *, const char *, const posix_spawn_file_actions_t *,               \
			     const posix_spawnattr_t *, char *const[], char *const[]), EXEC)          \
	F(posix_spawnp, int, (pid_t *, const char *, const posix_spawn_file_actions_t *,              \
			      const posix_spawnattr_t *, char *const[], char *const[]), EXEC)         \
	F(system, int, (const char *), EXEC)                                                          \
	F(popen, FILE *, (const char *, const char *), EXEC)                                          \
	F(_exit, void, (int), EXEC)                                                                   \
	A(_Exit, _exit, EXEC)                                                                         \
	F(malloc, void *, (size_t), MEM)                                                              \
	F(free, void, (void *), MEM)                                                                  \
	F(realloc, void *, (void *, size_t), MEM)                                                     \
	F(munmap, int, (void *, size_t), MEM)                                                         \
	F(madvise, int, (void *, size_t, int), MEM)                                                   \
	F(mremap, void *, (void *, size_t, size_t, int, ...), MEM)                                    \
	F(mprotect, int, (void *, size_t, int), MEM)                                                  \
	F(sigaction, int, (int, const struct sigaction *, struct sigaction *), SIG)                   \
	A(__sigaction, sigaction, SIG)                                                                \
	F(signal, sighandler_t, (int, sighandler_t), SIG)                                             \
	A(bsd_signal, signal, SIG)                                                                    \
	A(ssignal, signal, SIG)                                                                       \
	F(sysv_signal, sighandler_t, (int, sighandler_t), SIG)                                        \
	A(__sysv_signal, sysv_signal, SIG)                                                            \
	F(sigset, sighandler_t, (int, sighandler_t), SIG)                                             \
	F(siginterrupt, int, (int, int), SIG)                                                         \
	F(setuid, int, (uid_t), CRED)                                                                 \
	F(seteuid, int, (uid_t), CRED)                                                                \
	F(setreuid, int, (uid_t, uid_t), CRED)                                                        \
	F(setresuid, int, (uid_t, uid_t, uid_t), CRED)                                                \
	F(chroot, int, (const char *), CRED)                                                          \
	F(setrlimit, int, (__rlimit_resource_t, const struct rlimit *), CRED)                         \
	F(setrlimit64, int, (__rlimit_resource_t, const struct rlimit64 *), CRED)                     \
	F(prlimit, int, (pid_t, enum __rlimit_resource, const struct rlimit *, struct rlimit *), CRED) \
	F(prlimit64, int, (pid_t, enum __rlimit_resource, const struct rlimit64 *, struct rlimit64 *), CRED)

#endif
