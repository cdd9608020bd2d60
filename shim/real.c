/* real.c — resolves the next definition of every wrapped libc name, refusing our own. */
#include "real.h"
#include "log.h"

#include <dlfcn.h>
#include <string.h>

struct zc_real zc_real;
int zc_real_ready;

/* resolve_one — dlsym(RTLD_NEXT), refusing a pointer that is the shim's own wrapper. */
static void *resolve_one(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	Dl_info self, found;
	if (p && dladdr((void *)zc_real_resolve, &self) && dladdr(p, &found) &&
	    self.dli_fbase == found.dli_fbase) {
		zc_log(ZC_LOG_ERROR, "refusing %s: it resolves to the shim itself", name);
		return NULL;
	}
	return p;
}

/* zc_real_resolve — fills the table once; a missing symbol leaves its slot NULL (pass through by syscall). */
void zc_real_resolve(void)
{
	struct zc_real r;
	memset(&r, 0, sizeof r);
#define ZC_REAL_RESOLVE(name, ret, args) r.name = (zc_real_##name##_t)resolve_one(#name);
	ZC_REAL_SYMS(ZC_REAL_RESOLVE)
#undef ZC_REAL_RESOLVE
	zc_real = r;
	__atomic_store_n(&zc_real_ready, 1, __ATOMIC_RELEASE);
}
