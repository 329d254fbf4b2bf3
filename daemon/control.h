/* SPDX-License-Identifier: MIT */
/*
 * control.h - the control socket: a REP socket answering one-line commands.
 *
 * Commands (proto/mb_proto.h): "status" and "stats" report figures as a
 * JSON object; "snapshot" makes the trainer publish now; "pause" and
 * "resume" stop and restart reading from every source; "reload" reads the
 * configuration again and applies what can change live (daemon/reload.h),
 * replying {"ok":true,"changed":["optimizer.lr",...]} or {"ok":false,
 * "error":"FILE:LINE: KEY: why"}; "save" writes a checkpoint now,
 * {"ok":true,"path":FILE,"version":N}; "reset" starts the model and the
 * optimizer afresh, {"ok":true,"version":N} (the version moves on). Save
 * and reset are carried out by the trainer between two steps; the reply
 * waits for them. Every request gets
 * exactly one reply, {"ok":false,"error":"..."} for anything unknown,
 * malformed or over MB_MAX_CONTROL_BYTES, so a client never hangs.
 *
 * status: {"ok":true,"state":"running|paused|stopping","model":NAME,
 *   "version":N,"samples":N,"batches":N,"skipped":N,"cost":X,
 *   "accuracy":X,"samples_per_s":X,"snapshots":N,"lr":X,"rollbacks":N,
 *   "peers_refused":N[,"holdout":{"every":K,"samples":N,"scored":N,
 *   "cost":X,"accuracy":X,"cost_average":X,"accuracy_average":X}]}
 * (holdout: only with eval.holdout_every, daemon/holdout.h;
 * peers_refused: connections refused on CURVE endpoints, daemon/zap.h;
 * lr: the learning rate of the next step, schedule applied; rollbacks:
 * times the divergence guard restored the last good state)
 * stats: the same plus "sources":[{"name":NAME,"type":"zmq|file",
 *   "received":N,"queued":N,"dropped":N,"rejected":N,"bytes":N,
 *   "rejected_by":{"magic":N,...every reason...}},...]
 * A figure not known yet (cost before the first batch) is null.
 */
#ifndef MB_DAEMON_CONTROL_H
#define MB_DAEMON_CONTROL_H

#include <stddef.h>

#include "config.h"
#include "ingest.h"
#include "publisher.h"
#include "reload.h"
#include "trainer.h"

#define MB_CONTROL_REPLY_BYTES (64u << 10) /* the longest reply */

struct mb_control_cfg {
	void *zmq_ctx;                   /* the daemon's context */
	const char *endpoint;            /* REP endpoint */
	const char *runtime_dir;         /* for a relative ipc:// path */
	const char *model_name;          /* reported as "model" */
	const struct mb_config *config;  /* source names and types */
	struct mb_ingest *ing;           /* source figures, pause */
	struct mb_trainer *trainer;      /* training figures, snapshot requests */
	struct mb_publisher *publisher;  /* publishing figures; may be NULL */
	struct mb_reload *reload;        /* "reload"; NULL: the command is refused */
};

struct mb_control;

/* Create the REP socket and bind it on the calling thread. 0 and *ret, or -errno with err. */
int mb_control_new(const struct mb_control_cfg *cfg, struct mb_control **ret, char *err, size_t cap);

/* Close the socket and free; run() must have returned. NULL is fine. */
struct mb_control *mb_control_free(struct mb_control *c);

/* The thread body: answer requests until stopped. 0 or -errno. */
int mb_control_run(struct mb_control *c);

/* Wake run() to return. */
void mb_control_stop(struct mb_control *c);

/*
 * Answer one request of len bytes into out (cap bytes, NUL-terminated);
 * returns the reply's length. The run thread calls it for each request.
 */
size_t mb_control_answer(struct mb_control *c, const char *req, size_t len, char *out, size_t cap);

#endif /* MB_DAEMON_CONTROL_H */
