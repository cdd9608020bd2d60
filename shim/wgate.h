/* wgate.h — writes in flight per descriptor, so a header and file data sent as two calls stay
 * together as the program's one call would have kept them (wgate.c). */
#ifndef ZC_WGATE_H
#define ZC_WGATE_H

#include <stdint.h>
#include <sys/types.h>

#define ZC_WGATE_FDS 65536 /* descriptors covered; a split on a higher one needs one writer ever */

struct zc_wgate_slot {
	uint32_t count; /* write-side calls in flight (a stray leave makes it huge: no split ever again) */
	uint32_t holder; /* the thread holding a split (0: none); waiters sleep on this word */
	char pad[56];    /* a line each: threads writing neighbouring descriptors do not share one */
};
extern struct zc_wgate_slot *zc_wgate_tab; /* zero pages until a descriptor is written */

/* zc_wgate_init — the table (at load); without it every call below does nothing and returns 0. */
void zc_wgate_init(void);
/* zc_wgate_covers — fd has a slot in the table (splits on it can be gated). */
static inline int zc_wgate_covers(int fd)
{
	return (unsigned)fd < ZC_WGATE_FDS && zc_wgate_tab;
}
void zc_wgate_wait(int fd);
/* zc_wgate_enter — a write-side call on fd begins: counted in flight; waits while another thread's
 * split holds fd. Returns the token zc_wgate_leave takes (0: fd is not covered). Inline: every
 * write passes here. The count is raised before the holder is looked at, and a split takes the
 * holder before it looks at the count (both sequentially consistent): one of them sees the other. */
static inline int zc_wgate_enter(int fd)
{
	if (!zc_wgate_covers(fd)) return 0;
	__atomic_fetch_add(&zc_wgate_tab[fd].count, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&zc_wgate_tab[fd].holder, __ATOMIC_SEQ_CST)) zc_wgate_wait(fd);
	return 1;
}
static inline void zc_wgate_leave(int fd, int token)
{
	if (token) __atomic_fetch_sub(&zc_wgate_tab[fd].count, 1, __ATOMIC_RELEASE);
}
/* zc_wgate_split_begin — the caller (counted in flight on fd) is the only writer in flight: fd is
 * held until zc_wgate_split_end, and writes arriving meanwhile wait. 0: another write is in flight. */
int zc_wgate_split_begin(int fd);
void zc_wgate_split_end(int fd);
/* In a forked child: the parent's other threads are not writing here. */
void zc_wgate_atfork_child(void);

#endif
