/* lease.h — read leases on source files, their break signal handled by a thread of the shim's own. */
#ifndef ZC_LEASE_H
#define ZC_LEASE_H

#include <stdint.h>

/* Before reading from a source: take its lease if not asked yet. Returns the enum zc_lease_state. */
int zc_lease_prepare(int fd, uint64_t gen, int current_state);
/* zc_lease_predict — observe mode: the state zc_lease_prepare would reach, without taking a lease
 * (HELD when the process owns the file or has CAP_LEASE; a writer holding it open is not seen).
 * Nothing is stored in the table: a lease state there would be acted on at close. */
int zc_lease_predict(int fd, uint64_t gen, int current_state);
/* Around a rewrite from a leased source: zc_fdtab_lease_enter, then zc_fdtab_sent (the state lives there). */
/* The program itself sets a lease, F_SETSIG or F_SETOWN on fd: ours goes back first. */
void zc_lease_hand_over(int fd);
/* The program is about to close fd: a lease on it is released, or kept until its data has left. */
void zc_lease_closing(int fd);
/* Who hears of a break (the record table): called from the lease thread with the descriptor. */
void zc_lease_on_break(void (*fn)(int fd));
/* The calling thread kept CAP_LEASE through a change of user id, the lease thread lost it: a new one
 * is started from the caller and takes over every held lease's signal. */
void zc_lease_new_thread(void);
/* The lease thread is started now (the program is about to forbid new threads: RLIMIT_NPROC). */
void zc_lease_prestart(void);
/* Idle work of another layer, done by the lease thread every 50 ms after zc_lease_wake until fn
 * returns 0 (mapping.c: descriptors of files no mapping names any more). */
void zc_lease_on_tick(int (*fn)(void));
int zc_lease_wake(void); /* 0: no lease thread here, nothing will tick */
/* Before exec and at exit: give every lease back (the signal would reach no thread afterwards). */
void zc_lease_release_all(void);
/* In a forked child: leases belong to the parent's thread; torn: the descriptor table was lost. */
void zc_lease_atfork_child(int torn);

#endif
