/* shim.h — state every wrapper consults: initialised yet, and re-entered on this thread? */
#ifndef ZC_SHIM_H
#define ZC_SHIM_H

#include <stddef.h>

extern int zc_on;                 /* set at the end of the constructor */
extern __thread int zc_depth;     /* >0 while the shim runs on this thread */
extern size_t zc_min_record;      /* smallest read worth recording */

/* zc_active — do shim work only once initialised and never re-entered (signal handlers, own I/O). */
static inline int zc_active(void)
{
	return __builtin_expect(__atomic_load_n(&zc_on, __ATOMIC_RELAXED) && !zc_depth, 1);
}

#endif
