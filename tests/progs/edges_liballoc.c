/* edges_liballoc.c — a small allocator of its own (bump allocation from anonymous mappings), preloaded
 * beside the shim: a pointer it hands out must never reach glibc's free. Its constructor allocates,
 * reallocates and frees before the shim's constructor may have run (tests/e2e/test_edges.sh).
 * A free of a pointer it does not own aborts, as glibc's would. */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAGIC 0x5a4c4c4f43ULL
#define ARENA (64UL << 20)

struct hdr {
	uint64_t magic;
	size_t size;
};

static char *arena;
static size_t used;

/* take — n bytes aligned to al (a power of two, at least 16), with a header just before. */
static void *take(size_t n, size_t al)
{
	if (al < 16) al = 16;
	if (!__atomic_load_n(&arena, __ATOMIC_ACQUIRE)) {
		char *a = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		char *none = NULL;
		if (a == MAP_FAILED) return NULL;
		if (!__atomic_compare_exchange_n(&arena, &none, a, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) munmap(a, ARENA);
	}
	size_t need = n + al + sizeof(struct hdr), at = __atomic_fetch_add(&used, need, __ATOMIC_RELAXED);
	if (at + need > ARENA) return errno = ENOMEM, NULL;
	uintptr_t p = ((uintptr_t)arena + at + sizeof(struct hdr) + al - 1) & ~(uintptr_t)(al - 1);
	struct hdr *h = (struct hdr *)p - 1;
	h->magic = MAGIC, h->size = n;
	return (void *)p;
}

/* own — the header of one of our pointers; abort on anything else. */
static struct hdr *own(void *p)
{
	if ((char *)p < arena || (char *)p >= arena + ARENA || ((struct hdr *)p - 1)->magic != MAGIC) {
		write(2, "edges_liballoc: free of a pointer it does not own\n", 50);
		abort();
	}
	return (struct hdr *)p - 1;
}

void *malloc(size_t n) { return take(n, 16); }
void free(void *p) { if (p) own(p)->magic = MAGIC + 1; }
void *calloc(size_t a, size_t b) { return a && b > SIZE_MAX / a ? NULL : take(a * b, 16); } /* fresh mappings are zero */
void *memalign(size_t al, size_t n) { return take(n, al); }
void *aligned_alloc(size_t al, size_t n) { return take(n, al); }
void *valloc(size_t n) { return take(n, 4096); }
void *pvalloc(size_t n) { return take((n + 4095) & ~4095UL, 4096); }
#ifndef NO_POSIX_MEMALIGN
int posix_memalign(void **out, size_t al, size_t n) { void *p = take(n, al); if (!p) return ENOMEM; *out = p; return 0; }
#endif
size_t malloc_usable_size(void *p) { return p ? own(p)->size : 0; }

void *realloc(void *p, size_t n)
{
	void *q = take(n, 16);
	if (p && q) {
		size_t old = own(p)->size;
		memcpy(q, p, old < n ? old : n);
		free(p);
	}
	return q;
}

__attribute__((constructor)) static void alloc_init(void)
{
	char *p = malloc(64);
	p = realloc(p, 100000);
	free(p);
	free(malloc(10));
	write(2, "edges_liballoc: ok\n", 19);
}
