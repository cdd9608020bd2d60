/* mapping.h — read-only file mappings the program writes from (Apache's EnableMMAP path). */
#ifndef ZC_MAPPING_H
#define ZC_MAPPING_H

#include <stddef.h>
#include <sys/types.h>

struct zc_match;

extern unsigned zc_map_live; /* mappings followed: 0 lets every wrapper skip this layer */

/* After a successful mmap: a read-only mapping of a regular file, big enough, is followed. */
void zc_map_track(void *addr, size_t len, int prot, int flags, int fd, off_t off);
/* [p, p+n) is unmapped, remapped or reprotected: mappings overlapping it are no longer followed. */
void zc_map_forget_range(const void *p, size_t n);
/* [p, p+n) lies whole in a followed mapping: m says which bytes of which file (m->mapped = 1). */
int zc_map_match(const void *p, size_t n, struct zc_match *m);
/* The file a match named is held until then: the write from it is done. */
void zc_map_release(const struct zc_match *m);
/* The lease thread's tick: descriptors no mapping has named for a while are released; 1: some left. */
int zc_map_expire(void);
/* In a forked child: a fresh lock (the table is the parent's copy, its leases inherited). */
void zc_map_atfork_child(void);

#endif
