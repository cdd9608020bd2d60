/* defer.h — the deferred read: no copy of the buffer's page-aligned interior. */
#ifndef ZC_DEFER_H
#define ZC_DEFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ZC_DEFER_DECLINED (-2) /* not deferred: nothing changed, the caller reads as usual */

/* zc_defer_read — read(fd) (pos < 0) or pread(fd, pos) of n bytes into buf, deferred: returns n, or
 * ZC_DEFER_DECLINED (the read would come back short of the leased file's size, fd no longer names
 * the open file the table leased under generation gen, or the interior cannot be deferred). */
ssize_t zc_defer_read(int fd, void *buf, size_t n, off_t pos, uint64_t gen, off_t size);

#endif
