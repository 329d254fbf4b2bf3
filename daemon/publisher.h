/* SPDX-License-Identifier: MIT */
/*
 * publisher.h - the thread that owns the snapshot (XPUB) sockets.
 *
 * It waits for the trainer's handover (daemon/handover.h), encodes the
 * snapshot (lib/snapshot.h) and sends it as two frames, the topic (the
 * model's name) and the body. XPUB with ZMQ_XPUB_VERBOSE shows it every
 * subscription, and a new subscriber is sent the latest snapshot at once
 * instead of waiting for the next one. Sends never block: a subscriber
 * that falls ZMQ_SNDHWM snapshots behind loses the excess.
 */
#ifndef MB_DAEMON_PUBLISHER_H
#define MB_DAEMON_PUBLISHER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "handover.h"

struct mb_publisher_cfg {
	void *zmq_ctx;                /* the daemon's context */
	const char *endpoints;        /* comma list to bind; may be empty */
	const char *runtime_dir;      /* for relative ipc:// paths */
	const char *topic;            /* the model's name, 1..MB_MAX_TOPIC_BYTES bytes */
	uint32_t sndhwm;              /* snapshots queued per subscriber */
	struct mb_handover *handover; /* where snapshots come from */
};

/* Figures, relaxed atomics. */
struct mb_publisher_stats {
	_Atomic uint64_t sent;          /* snapshots sent (new ones and resends) */
	_Atomic uint64_t subscriptions; /* subscriptions seen */
	_Atomic uint64_t version;       /* model version of the latest snapshot sent */
};

struct mb_publisher;

/*
 * Create the socket and bind it, on the calling thread so a bad endpoint
 * is reported before the daemon is ready. 0 and *ret, or -errno with err
 * (cap bytes) saying why.
 */
int mb_publisher_new(const struct mb_publisher_cfg *cfg, struct mb_publisher **ret, char *err, size_t cap);

/* Close the socket and free; run() must have returned. NULL is fine. */
struct mb_publisher *mb_publisher_free(struct mb_publisher *p);

/* The thread body: send snapshots until stopped, then send the last one pending. 0 or -errno. */
int mb_publisher_run(struct mb_publisher *p);

/* Ask run() to send what is pending and return (after the trainer has stopped). */
void mb_publisher_stop(struct mb_publisher *p);

const struct mb_publisher_stats *mb_publisher_stats(const struct mb_publisher *p);

#endif /* MB_DAEMON_PUBLISHER_H */
