/* real.h — the libc functions the shim wraps, resolved once with dlsym(RTLD_NEXT), and raw syscalls. */
#ifndef ZC_REAL_H
#define ZC_REAL_H

#include "exports.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* The wrapped names and their types come from exports.h; an alias (A) shares its target's slot. */
#define ZC_REAL_NONE(name, target, kind)
#define ZC_REAL_SYMS(X) ZC_EXPORTS(X, ZC_REAL_NONE)

#define ZC_REAL_TYPEDEF(name, ret, args, kind) typedef ret(*zc_real_##name##_t) args;
ZC_REAL_SYMS(ZC_REAL_TYPEDEF)
#undef ZC_REAL_TYPEDEF

struct zc_real {
#define ZC_REAL_FIELD(name, ret, args, kind) zc_real_##name##_t name;
	ZC_REAL_SYMS(ZC_REAL_FIELD)
#undef ZC_REAL_FIELD
};

extern struct zc_real zc_real;
extern int zc_real_ready; /* set once every symbol is resolved */

void zc_real_resolve(void);

/* zc_real_next — the next definition of name, for a wrapper called before the constructor (another
 * preload's constructor) that has no system call to fall back on; NULL if none or our own. */
void *zc_real_next(const char *name);

/* Raw syscalls: used before resolution and by the shim's own I/O. Return -1/errno like libc. */
#define zc_raw_write(fd, b, n) syscall(SYS_write, (fd), (b), (n))
#define zc_raw_read(fd, b, n) syscall(SYS_read, (fd), (b), (n))
#define zc_raw_close(fd) syscall(SYS_close, (fd))
#define zc_raw_getpid() syscall(SYS_getpid)
#define zc_raw_gettid() ((pid_t)syscall(SYS_gettid))
#define zc_raw_mprotect(a, n, p) syscall(SYS_mprotect, (a), (n), (p))
#define zc_raw_fcntl(fd, cmd, arg) syscall(SYS_fcntl, (fd), (cmd), (arg))

#endif
