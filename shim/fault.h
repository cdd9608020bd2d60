/* fault.h — the fault thread: answers userfaultfd missing-page faults on deferred buffers. */
#ifndef ZC_FAULT_H
#define ZC_FAULT_H

/* Starts the thread that reads uffd's fault messages (once per process). 0, or -1 if it cannot run. */
int zc_fault_start(int uffd);
/* 1 on the fault thread itself. */
int zc_fault_thread(void);
/* 1 when every unmap, zap or move of a registered range the kernel reported (userfaultfd events)
 * has been applied to the records; 0 when that is not known now (then ask the kernel). */
int zc_fault_settled(void);
/* On the fault thread: reads the messages waiting (a fill gets EAGAIN until an event is read). */
void zc_fault_drain(void);
/* In a forked child: the thread does not exist there; the next start makes a new one. */
void zc_fault_atfork_child(void);

#endif
