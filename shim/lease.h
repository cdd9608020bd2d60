/* lease.h — read leases on source files, their break signal handled by a thread of the shim's own. */
#ifndef ZC_LEASE_H
#define ZC_LEASE_H

#include <stdint.h>

/* Before reading from a source: take its lease if not asked yet. Returns the enum zc_lease_state. */
int zc_lease_prepare(int fd, uint64_t gen, int current_state);
/* Around a rewrite from fd: enter returns 0 if the source may still be read (lease not broken). */
int zc_lease_enter(int fd);
void zc_lease_leave(int fd);
/* The descriptor number was closed: its broken mark goes with it. */
void zc_lease_forget(int fd);
/* The program itself sets a lease, F_SETSIG or F_SETOWN on fd: ours goes back first. */
void zc_lease_hand_over(int fd);
/* Who hears of a break (the record table): called from the lease thread with the descriptor. */
void zc_lease_on_break(void (*fn)(int fd));
/* Before exec: give every lease back (the signal would reach no thread afterwards). */
void zc_lease_release_all(void);
/* In a forked child: leases belong to the parent's thread. */
void zc_lease_atfork_child(void);

#endif
