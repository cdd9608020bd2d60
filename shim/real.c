/* real.c — resolves the next definition of every wrapped libc name, refusing our own. */
#include "real.h"
#include "log.h"

#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

struct zc_real zc_real;
int zc_real_ready;

static uintptr_t self_lo, self_hi; /* where the shim's own code is mapped */

/* find_self — the PT_LOAD extent of the object that contains this function. */
static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t me = (uintptr_t)arg, lo = UINTPTR_MAX, hi = 0;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD) continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo) lo = a;
		if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
	}
	if (me < lo || me >= hi) return 0;
	self_lo = lo, self_hi = hi;
	return 1;
}

/* resolve_one — dlsym(RTLD_NEXT), refusing a pointer that is the shim's own wrapper. */
static void *resolve_one(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (p && (uintptr_t)p >= self_lo && (uintptr_t)p < self_hi) {
		zc_log(ZC_LOG_ERROR, "refusing %s: it resolves to the shim itself", name);
		return NULL;
	}
	return p;
}

/* find_self_once — the shim's own extent, looked up before the first resolution. */
static void find_self_once(void)
{
	if (!__atomic_load_n(&self_hi, __ATOMIC_ACQUIRE)) dl_iterate_phdr(find_self, (void *)(uintptr_t)zc_real_resolve);
}

/* zc_real_next — resolves one name on demand (before the constructor ran). */
void *zc_real_next(const char *name)
{
	find_self_once();
	return resolve_one(name);
}

/* zc_real_resolve — fills the table once; a missing symbol leaves its slot NULL (pass through by syscall). */
void zc_real_resolve(void)
{
	struct zc_real r;
	memset(&r, 0, sizeof r);
	find_self_once();
#define ZC_REAL_RESOLVE(name, ret, args, kind) r.name = (zc_real_##name##_t)resolve_one(#name);
	ZC_REAL_SYMS(ZC_REAL_RESOLVE)
#undef ZC_REAL_RESOLVE
	zc_real = r;
	__atomic_store_n(&zc_real_ready, 1, __ATOMIC_RELEASE);
}
