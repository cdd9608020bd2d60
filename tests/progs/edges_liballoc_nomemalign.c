/* edges_liballoc_nomemalign.c — edges_liballoc without posix_memalign: an allocator whose free
 * aborts on a pointer it does not own, where posix_memalign resolves to another library's (glibc's).
 * The shim must not page-align malloc through that one (tests/e2e/test_align.sh). */
#define NO_POSIX_MEMALIGN
#include "edges_liballoc.c"
