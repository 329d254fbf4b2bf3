/* SPDX-License-Identifier: MIT */
/*
 * source.h - the ops table every ingest source fills (fio's engine model).
 *
 * A source family (source_zmq.c, source_file.c, source_null.c) fills one
 * const struct mb_source_ops; main.c checks the table at start-up and runs
 * each source instance on a thread of its own, which owns its sockets or
 * its io_uring. A source decodes samples straight into the rows of a batch
 * taken from its feed (lib/feed.h) and submits the batch when it is full
 * or has lingered; the trainer takes batches from every feed.
 */
#ifndef MB_SOURCE_H
#define MB_SOURCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define MB_SOURCE_OPS_VERSION 1
#define MB_MAX_SOURCES 32

struct mb_ingest;
struct mb_source;
struct mb_source_cfg;

/* Per-source counters, read by control and metrics without locks. */
struct mb_source_stats {
	_Atomic uint64_t received;            /* samples that arrived (valid or not) */
	_Atomic uint64_t queued;              /* samples put into a batch */
	_Atomic uint64_t dropped;             /* valid samples dropped by backpressure policy */
	_Atomic uint64_t rejected;            /* messages or lines refused by a decoder */
	_Atomic uint64_t rejected_by[MB_R_MAX_]; /* the same, by reason */
	_Atomic uint64_t bytes;               /* bytes received or read */
};

struct mb_source_ops {
	int version;        /* MB_SOURCE_OPS_VERSION */
	const char *name;   /* "zmq", "file", "null": the type= key of a source section */
	/* Create an instance from its configuration; -errno with *why set on failure. */
	int (*create)(const struct mb_source_cfg *cfg, struct mb_ingest *ing, unsigned index,
		      struct mb_source **ret, const char **why);
	/* The thread body: ingest until mb_ingest_stopping(), return 0 or -errno. */
	int (*run)(struct mb_source *s);
	/* Wake run() so it notices the stop flag promptly (called from another thread). */
	void (*wake)(struct mb_source *s);
	/* Write the position for a checkpoint (file sources); return bytes, 0 if none. */
	long (*position)(struct mb_source *s, void *buf, size_t cap);
	/*
	 * Optional, for sources with a position: before run() starts, resume
	 * right after pos, len bytes the position hook wrote in an earlier
	 * process, so the batches that follow are cut as they were. 0, or
	 * -errno (-EINVAL: not a position of this source as it is configured
	 * now). A checkpoint records the position of the last batch learned
	 * from by reading the position hook, then taking from the source's
	 * feed (daemon/trainer.c): such a source must queue each batch and
	 * update its position so that no reader sees the one without the other.
	 */
	int (*restore)(struct mb_source *s, const void *pos, size_t len);
	/* Free everything create() made; called after run() returned. */
	void (*destroy)(struct mb_source *s);
};

extern const struct mb_source_ops mb_source_zmq_ops;
extern const struct mb_source_ops mb_source_file_ops;

/* Find a source family by its name; NULL if unknown. */
const struct mb_source_ops *mb_source_ops_find(const char *name);

/* Check a table's version and required hooks; -EINVAL with *why. */
int mb_source_ops_check(const struct mb_source_ops *ops, const char **why);

#endif /* MB_SOURCE_H */
