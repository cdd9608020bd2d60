/* wgate.h — writes in flight per descriptor, so a header and file data sent as two calls stay
 * together as the program's one call would have kept them (wgate.c). */
#ifndef ZC_WGATE_H
#define ZC_WGATE_H

#include <stdint.h>
#include <sys/types.h>

#define ZC_WGATE_FDS 65536         /* descriptors covered; a split on a higher one needs one writer ever */
#define ZC_WGATE_SPLIT 0x80000000u /* in a word: a split holds the descriptor; the rest counts calls */

struct zc_wgate_slot {
	uint32_t word;
	pid_t owner;  /* the thread holding the split (0: none, or not yet written) */
	char pad[56]; /* a line each: threads writing neighbouring descriptors do not share one */
};
extern struct zc_wgate_slot *zc_wgate_tab; /* zero pages until a descriptor is written */

/* zc_wgate_init — the table (at load); without it every call below does nothing and returns 0. */
void zc_wgate_init(void);
/* zc_wgate_covers — fd has a word in the table (splits on it can be gated). */
static inline int zc_wgate_covers(int fd)
{
	return (unsigned)fd < ZC_WGATE_FDS && zc_wgate_tab;
}
void zc_wgate_wait(int fd);
/* zc_wgate_enter — a write-side call on fd begins: counted in flight; waits while another thread's
 * split holds fd. Returns the token zc_wgate_leave takes (0: fd is not covered). Inline: every
 * write passes here. */
static inline int zc_wgate_enter(int fd)
{
	if (!zc_wgate_covers(fd)) return 0;
	if (__atomic_fetch_add(&zc_wgate_tab[fd].word, 1, __ATOMIC_ACQ_REL) & ZC_WGATE_SPLIT) zc_wgate_wait(fd);
	return 1;
}
static inline void zc_wgate_leave(int fd, int token)
{
	if (token) __atomic_fetch_sub(&zc_wgate_tab[fd].word, 1, __ATOMIC_RELEASE);
}
/* zc_wgate_split_begin — the caller (counted in flight on fd) is the only writer in flight: fd is
 * held until zc_wgate_split_end, and writes arriving meanwhile wait. 0: another write is in flight. */
int zc_wgate_split_begin(int fd);
void zc_wgate_split_end(int fd);
/* In a forked child: the parent's other threads are not writing here. */
void zc_wgate_atfork_child(void);

#endif
