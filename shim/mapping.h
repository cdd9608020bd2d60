/* mapping.h — read-only file mappings the program writes from (Apache's EnableMMAP path). */
#ifndef ZC_MAPPING_H
#define ZC_MAPPING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct zc_match;

extern unsigned zc_map_live; /* mappings followed: 0 lets every wrapper skip this layer */

/* What fd named just before the mmap: the file a mapping follows must be the one it maps. */
struct zc_map_seen {
	uint32_t epoch; /* the number's epoch in the descriptor table (every interposed close or dup2 moves it) */
	dev_t dev;
	ino_t ino;
};

/* Before mmap: 1 if the mapping would be followed (read-only, of a regular file, big enough), with
 * what fd names now in *seen. */
int zc_map_want(size_t len, int prot, int flags, int fd, struct zc_map_seen *seen);
/* After a successful mmap zc_map_want asked for: followed, if fd still names what it saw. */
void zc_map_track(void *addr, size_t len, int fd, off_t off, const struct zc_map_seen *seen);
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
