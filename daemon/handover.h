/* SPDX-License-Identifier: MIT */
/*
 * handover.h - parameter snapshots from the trainer to the publisher.
 *
 * A lock-free triple buffer: the trainer fills the back slot (one memcpy
 * of the parameters plus the snapshot header) and swaps it with the
 * middle one; the publisher, woken through an eventfd, swaps the middle
 * slot with its front one and encodes from there at leisure. Neither
 * side ever waits for the other, and the trainer's cost is the copy:
 * a slow publisher only means some snapshots are never sent.
 *
 * Threads: one writer (mb_handover_alloc, _back, _publish), one reader
 * (mb_handover_fetch, _fd).
 */
#ifndef MB_DAEMON_HANDOVER_H
#define MB_DAEMON_HANDOVER_H

#include <stddef.h>

#include "snapshot.h"

/* One snapshot: what to encode. */
struct mb_handover_slot {
	struct mb_snap_info info; /* shape and counters */
	float *params;            /* info.n_params values, host floats */
	size_t cap;               /* floats allocated at params */
};

struct mb_handover;

/* An empty handover (no slots allocated yet). 0 and *ret, or -errno. */
int mb_handover_new(struct mb_handover **ret);

/* Free it; NULL is fine. Returns NULL. */
struct mb_handover *mb_handover_free(struct mb_handover *h);

/* Writer: make every slot hold n_params floats; call before the first publish. -ENOMEM. */
int mb_handover_alloc(struct mb_handover *h, size_t n_params);

/* Writer: the slot to fill next; it stays the writer's until mb_handover_publish. */
struct mb_handover_slot *mb_handover_back(struct mb_handover *h);

/* Writer: hand the back slot over and make the fd readable. */
void mb_handover_publish(struct mb_handover *h);

/*
 * Reader: the newest published slot if one arrived since the last call,
 * else NULL. The slot stays valid and unchanged until the next call.
 * Also consumes the fd's readiness.
 */
const struct mb_handover_slot *mb_handover_fetch(struct mb_handover *h);

/* An eventfd, readable while a published slot waits for mb_handover_fetch. */
int mb_handover_fd(const struct mb_handover *h);

#endif /* MB_DAEMON_HANDOVER_H */
