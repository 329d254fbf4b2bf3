/* SPDX-License-Identifier: MIT */
/*
 * doorbell.h - let one consumer sleep until any producer has work for it.
 *
 * The lock-free rings never block; a consumer with nothing to do sleeps on
 * a doorbell instead. It wraps an eventfd, so the consumer can also wait in
 * poll(2) or zmq_poll() beside its other descriptors. Ringing costs a single
 * atomic operation while nobody sleeps: the waiter raises an "armed" flag
 * before sleeping, and only a ring that finds the flag raised writes to the
 * eventfd.
 *
 * The protocol, which avoids the lost wake-up (a producer queueing work
 * between the consumer's last check and its sleep):
 *
 *	for (;;) {
 *		if (take_work())                 // drain the queues first
 *			continue;
 *		mb_doorbell_arm(bell);           // 1. announce the sleep
 *		if (take_work())                 // 2. check again after arming
 *			continue;                // (a pending ring only causes
 *		                                 //  one spurious wake-up later)
 *		mb_doorbell_wait(bell, 100);     // 3. sleep
 *	}
 *
 * and on the producer side: queue the work, then mb_doorbell_ring(). Either
 * the producer's ring sees the flag raised in step 1 and writes the eventfd,
 * or the consumer's re-check in step 2 sees the queued work: both sides put
 * a full barrier between their store and their load, so one of the two
 * always observes the other.
 *
 * Threads: one waiter (arm, wait); any number of threads may ring at once.
 */
#ifndef MB_DOORBELL_H
#define MB_DOORBELL_H

struct mb_doorbell;

/* Create a doorbell. 0 and *ret on success; -errno from eventfd(2) or -ENOMEM. */
int mb_doorbell_new(struct mb_doorbell **ret);

/* Close and free it. NULL is fine; returns NULL. */
struct mb_doorbell *mb_doorbell_free(struct mb_doorbell *d);

/*
 * Wake the waiter if it has armed the doorbell; otherwise only a barrier
 * and a load. Call after the work is visible (queued).
 */
void mb_doorbell_ring(struct mb_doorbell *d);

/* Announce that the waiter is about to sleep; it must then re-check its work. */
void mb_doorbell_arm(struct mb_doorbell *d);

/*
 * Withdraw an arm when the re-check found work after all, so producers go
 * back to the cheap path. A ring already on its way is left pending.
 */
void mb_doorbell_disarm(struct mb_doorbell *d);

/*
 * Sleep until rung or timeout_ms pass (negative: no limit, 0: just look).
 * Arms the doorbell itself if the caller has not, but only an explicit
 * arm before the re-check is free of the lost wake-up. Disarms and
 * consumes pending rings before it returns. 1 if rung, 0 on timeout,
 * -errno if poll(2) or read(2) failed (-EINTR on a signal).
 */
int mb_doorbell_wait(struct mb_doorbell *d, int timeout_ms);

/*
 * The eventfd, readable while a ring is pending, for poll(2) or zmq_poll().
 * A caller polling it itself arms first and calls mb_doorbell_wait(d, 0)
 * when it becomes readable, to consume the ring.
 */
int mb_doorbell_fd(const struct mb_doorbell *d);

#endif /* MB_DOORBELL_H */
