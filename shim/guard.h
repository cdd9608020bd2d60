/* guard.h — buffer integrity: page protection, the SIGSEGV handler, alternate signal stacks. */
#ifndef ZC_GUARD_H
#define ZC_GUARD_H

#include <signal.h>
#include <stddef.h>

void zc_guard_init(void);
/* Write-protects [lo, lo+len) (page aligned); 0 or -errno. */
int zc_guard_protect(void *lo, size_t len);
void zc_guard_unprotect(void *lo, size_t len);
/* sigaction(SIGSEGV) from the program: kept as the chained action, ours stays installed. */
int zc_guard_sigaction(const struct sigaction *act, struct sigaction *old);

#endif
