/* SPDX-License-Identifier: MIT */
/*
 * ring.h - a bounded lock-free queue of pointers.
 *
 * The ingest threads hand full batches to the trainer, and the trainer hands
 * empty ones back, through these rings; no lock is ever taken, so a stalled
 * thread never holds up the others for longer than its own operation.
 *
 * Design: Dmitry Vyukov's bounded multi-producer multi-consumer queue. Each
 * cell carries a sequence number that says whose turn it is: a producer may
 * fill the cell at position p when its sequence equals p, a consumer may
 * empty it when its sequence equals p + 1. Positions are 32-bit and are
 * compared by signed difference, so they wrap past 2^32 without harm; that
 * is why the capacity is limited to MB_RING_MAX_CAPACITY.
 *
 * Threads: every operation is safe from any number of threads at once.
 * mb_ring_push() may be called by any number of producers and mb_ring_pop()
 * by any number of consumers concurrently; a producer may also pop (the
 * feed's drop-oldest policy steals back its own queued batches that way).
 * Neither blocks nor spins waiting for another thread: when a cell is not
 * yet released by a slower thread the call reports full or empty.
 * mb_ring_new() and mb_ring_free() are not concurrent with anything.
 *
 * Atomics and the operations they pair with:
 *  - cell.seq: the producer's release store (after writing cell.data) pairs
 *    with the consumer's acquire load, so a popped pointer's target is fully
 *    visible to the consumer; the consumer's release store (after reading
 *    cell.data) pairs with the next producer's acquire load of the same cell,
 *    so the producer never overwrites data a consumer is still reading.
 *  - tail (next position to push) and head (next position to pop): claimed
 *    by relaxed compare-and-swap; they only order claims among producers or
 *    among consumers, all data ordering goes through cell.seq.
 *  - mb_ring_depth() reads head and tail relaxed: an estimate for metrics.
 * Head and tail live on separate cache lines, and each cell on its own, so
 * producers and consumers do not invalidate each other's lines.
 */
#ifndef MB_RING_H
#define MB_RING_H

#include <stdbool.h>
#include <stdint.h>

/* The largest capacity: positions must stay within half the 32-bit range. */
#define MB_RING_MAX_CAPACITY (1u << 30)

struct mb_ring;

/*
 * Create an empty ring of capacity slots. 0 and *ret on success; -EINVAL
 * unless capacity is a power of two in 2..MB_RING_MAX_CAPACITY; -ENOMEM.
 */
int mb_ring_new(uint32_t capacity, struct mb_ring **ret);

/*
 * Like mb_ring_new() but with the position counters starting at start
 * instead of 0, so tests can cross the 2^32 wrap point without pushing
 * four billion items. Behaviour is otherwise identical.
 */
int mb_ring_new_at(uint32_t capacity, uint32_t start, struct mb_ring **ret);

/* Free the ring (not the pointers it holds). NULL is fine; returns NULL. */
struct mb_ring *mb_ring_free(struct mb_ring *r);

/*
 * Append p. true on success; false when the ring is full, or when p is NULL
 * (NULL is the empty marker of mb_ring_pop() and cannot be queued).
 */
bool mb_ring_push(struct mb_ring *r, void *p);

/* Remove and return the oldest pointer, or NULL when the ring is empty. */
void *mb_ring_pop(struct mb_ring *r);

/*
 * Pointers queued: exact when no operation is in flight, otherwise a
 * value between the depths before and after; for metrics only.
 */
uint32_t mb_ring_depth(const struct mb_ring *r);

/* The capacity given to mb_ring_new(). */
uint32_t mb_ring_capacity(const struct mb_ring *r);

#endif /* MB_RING_H */
