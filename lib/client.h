/* SPDX-License-Identifier: MIT */
/*
 * client.h - talking to minibatchd from another process.
 *
 * Four small things, each owning at most one ZeroMQ socket and so used
 * from one thread:
 *  - a producer (PUSH, or PUB with a topic) that gathers samples into
 *    binary sample messages, or text lines into text messages;
 *  - a subscriber (SUB) that receives snapshot messages and validates them;
 *  - a control client (REQ) that sends one request and waits for the JSON
 *    reply, with a timeout that never leaves the socket stuck;
 *  - a model view that turns a snapshot into a model and scores data with
 *    the trainer's own forward code.
 * Each object takes the ZeroMQ context from its configuration, or makes
 * (and later terminates) one of its own when given NULL.
 */
#ifndef MB_CLIENT_H
#define MB_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mb_proto.h"
#include "diag.h"
#include "model.h"
#include "snapshot.h"

/* Samples per message when the configuration leaves it 0. */
#define MB_CLIENT_DEFAULT_BATCH 256u
/* Send, close and request timeout when the configuration leaves it 0. */
#define MB_CLIENT_DEFAULT_TIMEOUT_MS 5000
/* Bytes of one text message the producer gathers before sending it. */
#define MB_CLIENT_TEXT_MSG_BYTES (256u << 10)
/* Largest control reply accepted. */
#define MB_CLIENT_MAX_REPLY_BYTES (1u << 20)
/* Longest endpoint or path the helpers below write. */
#define MB_CLIENT_MAX_ENDPOINT 1024u

/* ---- Where the daemon listens ---- */

/*
 * The daemon's runtime directory by its own rule: $RUNTIME_DIRECTORY, else
 * /run/minibatchd as root, else $XDG_RUNTIME_DIR/minibatchd. Writes it to
 * buf and returns 0; -ENOENT when none applies (not root, neither variable
 * set), -ENAMETOOLONG when it does not fit.
 */
int mb_client_runtime_dir(char *buf, size_t cap);

/*
 * The ipc endpoint of one of the daemon's sockets ("ingest", "snapshots",
 * "control") in runtime directory dir: "ipc://DIR/NAME". 0 or -ENAMETOOLONG.
 */
int mb_client_endpoint(const char *dir, const char *name, char *buf, size_t cap);

/* ---- CURVE: encryption and authentication on the network ---- */

/*
 * A daemon with CURVE on (minibatchd.conf [security]) serves every tcp://
 * endpoint as a CURVE server and lets in only clients whose public key it
 * was given; its ipc:// endpoints stay plain. The *_curve constructors
 * below take a client's keys and use them on every endpoint but ipc://
 * and inproc:// ones; with NULL keys they are the plain constructors.
 *
 * A key file holds one key as ZeroMQ's z85 text (40 characters) on a line
 * of its own; blank lines and lines starting with '#' are ignored. A key
 * pair is two files, NAME.key (the secret key, mode 0600) and NAME.pub
 * (the public key): see mb_client_keypair_write.
 */

#define MB_CLIENT_KEY_Z85_BYTES 40u /* a CURVE key as z85 text, without its NUL */

/* A CURVE client's keys, as z85 text. */
struct mb_client_curve {
	char server_key[MB_CLIENT_KEY_Z85_BYTES + 1]; /* the daemon's public key (its server.pub) */
	char public_key[MB_CLIENT_KEY_Z85_BYTES + 1]; /* this client's public key */
	char secret_key[MB_CLIENT_KEY_Z85_BYTES + 1]; /* this client's secret key */
};

/*
 * Read the key in the key file at path into ret (z85, NUL-terminated).
 * 0, or -errno: -EBADMSG when the file holds no valid z85 key of
 * MB_CLIENT_KEY_Z85_BYTES characters, -E2BIG when it is over 4 KiB;
 * ret untouched on failure.
 */
int mb_client_key_read(const char *path, char ret[MB_CLIENT_KEY_Z85_BYTES + 1]);

/*
 * Make a new CURVE key pair and write it into directory dir as NAME.key
 * (the secret key, mode 0600) and NAME.pub (the public key, mode 0644).
 * Neither file may exist yet (-EEXIST). 0, or -errno with nothing left
 * behind; -ENOTSUP when this libzmq has no CURVE.
 */
int mb_client_keypair_write(const char *dir, const char *name);

/*
 * The keys of a CURVE client: the daemon's public key from
 * server_key_file (its server.pub), and the client's key pair from the
 * secret key file key_file (NAME.key; the public key is derived from it).
 * 0, or -errno from mb_client_key_read; *ret untouched on failure.
 */
int mb_client_curve_load(const char *server_key_file, const char *key_file, struct mb_client_curve *ret);

/* ---- Producer: samples to the daemon's ingest socket ---- */

struct mb_producer_cfg {
	const char *endpoint;  /* where to connect: "ipc://PATH", "tcp://HOST:PORT" */
	const char *topic;     /* NULL or "": a PUSH socket; else a PUB socket, each message a
	                        * topic frame then the payload frame */
	uint32_t batch;        /* samples (or text lines) per message, at most
	                        * MB_MAX_SAMPLES_PER_MSG; 0 for MB_CLIENT_DEFAULT_BATCH */
	uint32_t n_features;   /* features per sample; 0 for a producer of text lines only */
	uint32_t n_targets;    /* targets per sample, at most MB_MAX_TARGETS */
	enum mb_elem elem;     /* how features travel; 0 means MB_ELEM_F32 */
	float scale, offset;   /* F16 and U8: stored = round((x - offset) / scale) */
	bool weighted;         /* every sample carries a weight */
	int timeout_ms;        /* how long one send, or the close, may wait for the daemon;
	                        * 0 for MB_CLIENT_DEFAULT_TIMEOUT_MS, -1 forever */
	void *zmq_ctx;         /* ZeroMQ context to use, or NULL to own one */
};

struct mb_producer;

/*
 * Connect a producer. The connection itself is made in the background, so
 * a missing daemon shows up as -EAGAIN from a later send, not here.
 * -EINVAL on a bad configuration, -errno from ZeroMQ otherwise.
 */
int mb_producer_new(const struct mb_producer_cfg *cfg, struct mb_producer **ret);

/*
 * mb_producer_new with CURVE keys, used when the endpoint is not ipc:// or
 * inproc://; curve NULL: no CURVE. A daemon that refuses the keys shows
 * up as -EAGAIN from the sends, as a missing daemon does.
 */
int mb_producer_new_curve(const struct mb_producer_cfg *cfg, const struct mb_client_curve *curve,
			  struct mb_producer **ret);

/*
 * Append count samples: x is count x n_features, y count x n_targets (NULL
 * when n_targets is 0), w count weights (NULL gives weight 1). A message
 * goes out each time batch samples have gathered. Returns how many samples
 * were taken (count, or fewer when a send failed part way), or -errno when
 * none was (-EAGAIN: the daemon did not take a message within the timeout);
 * samples taken but not sent stay queued for the next append or flush.
 */
int mb_producer_append(struct mb_producer *p, const float *x, const float *y, const float *w,
		       uint32_t count);

/*
 * Append one CSV or libsvm line (len bytes, with or without its '\n'); lines
 * go out batch at a time, or sooner when a message would pass
 * MB_CLIENT_TEXT_MSG_BYTES. Returns 1 when the line was taken (a send that
 * fails keeps the lines gathered for the next flush, which reports it),
 * -E2BIG for a line over MB_MAX_LINE_BYTES, -errno from an earlier send.
 */
int mb_producer_send_line(struct mb_producer *p, const char *line, size_t len);

/* Send whatever is gathered, samples or lines. 0 or -errno; on failure it stays gathered. */
int mb_producer_flush(struct mb_producer *p);

/* Samples and lines sent so far (handed to ZeroMQ), and messages. */
uint64_t mb_producer_sent(const struct mb_producer *p);
uint64_t mb_producer_messages(const struct mb_producer *p);

/*
 * Flush, then close the socket, waiting up to the timeout for ZeroMQ to
 * deliver what is queued. Returns 0, or the flush's -errno. Frees p either way.
 */
int mb_producer_close(struct mb_producer *p);

/* Free without flushing (what is gathered is lost); NULL is fine. Returns NULL. */
struct mb_producer *mb_producer_free(struct mb_producer *p);

/* ---- Subscriber: snapshots from the daemon's publisher ---- */

struct mb_subscriber_cfg {
	const char *endpoint; /* the daemon's snapshot endpoint */
	const char *topic;    /* model name to follow; NULL or "" for every model */
	void *zmq_ctx;        /* ZeroMQ context to use, or NULL to own one */
};

/* One received and validated snapshot; owns its bytes. */
struct mb_client_snap {
	char topic[MB_MAX_TOPIC_BYTES + 1]; /* the model's name, NUL-terminated */
	struct mb_snap_info info;           /* shape and counters */
	const uint8_t *params;              /* little-endian parameters inside body */
	uint8_t *body;                      /* the whole snapshot body (frame 2) */
	size_t len;                         /* bytes of body */
	uint64_t received_ns;               /* wall clock (ns since the epoch) at arrival */
};

/* Free a snapshot; NULL is fine. Returns NULL. */
struct mb_client_snap *mb_client_snap_free(struct mb_client_snap *s);

struct mb_subscriber;

/* Connect a subscriber. -EINVAL on a bad configuration, -errno from ZeroMQ. */
int mb_subscriber_new(const struct mb_subscriber_cfg *cfg, struct mb_subscriber **ret);

/* mb_subscriber_new with CURVE keys (see mb_producer_new_curve); curve NULL: no CURVE. */
int mb_subscriber_new_curve(const struct mb_subscriber_cfg *cfg, const struct mb_client_curve *curve,
			    struct mb_subscriber **ret);

/* Free a subscriber (closing its socket); NULL is fine. Returns NULL. */
struct mb_subscriber *mb_subscriber_free(struct mb_subscriber *s);

/*
 * Wait up to timeout_ms (-1 forever, 0 not at all) for the next snapshot,
 * validate it and hand it over in *ret (free with mb_client_snap_free).
 * -ETIMEDOUT when none came, -EINTR when a signal interrupted the wait,
 * -EBADMSG and the decoder's other codes (with *diag) for a message that
 * is not a valid snapshot: it is consumed, so the next call moves on.
 */
int mb_subscriber_recv(struct mb_subscriber *s, int timeout_ms, struct mb_client_snap **ret,
		       struct mb_diag *diag);

/*
 * Like mb_subscriber_recv, but once one snapshot has come, take every one
 * already queued and keep only the newest valid one: what a viewer that
 * fell behind wants. Invalid ones are skipped when a valid one follows.
 */
int mb_subscriber_latest(struct mb_subscriber *s, int timeout_ms, struct mb_client_snap **ret,
			 struct mb_diag *diag);

/* ---- Control client: one request, one JSON reply ---- */

struct mb_client;

/* Connect a control client to the daemon's control endpoint. -EINVAL or -errno. */
int mb_client_new(const char *endpoint, void *zmq_ctx, struct mb_client **ret);

/*
 * mb_client_new with CURVE keys (see mb_producer_new_curve), kept for the
 * sockets made anew after a timeout; curve NULL: no CURVE.
 */
int mb_client_new_curve(const char *endpoint, void *zmq_ctx, const struct mb_client_curve *curve,
			struct mb_client **ret);

/* Free a control client; NULL is fine. Returns NULL. */
struct mb_client *mb_client_free(struct mb_client *c);

/*
 * Send request (a command word such as MB_CTL_STATUS, optionally a space
 * and an argument) and wait up to timeout_ms (0 for the default, -1
 * forever) for the reply, handed over NUL-terminated in *ret_reply (free
 * it). -ETIMEDOUT when the daemon did not answer in time (the socket is
 * then made anew, so the client stays usable), -E2BIG for a request over
 * MB_MAX_CONTROL_BYTES or a reply over MB_CLIENT_MAX_REPLY_BYTES, -EINTR
 * when a signal interrupted the wait.
 */
int mb_client_request(struct mb_client *c, const char *request, int timeout_ms, char **ret_reply);

/* ---- Model view: a snapshot as a model ---- */

/*
 * Build a model from a snapshot that scores up to max_batch rows per
 * forward pass (mb_model_from_snap). Free it with mb_model_free.
 */
int mb_client_model(const struct mb_client_snap *snap, uint32_t max_batch, struct mb_model **ret);

/* What a model makes of a labelled data set. */
struct mb_client_score {
	uint64_t rows;    /* rows scored */
	double cost;      /* mean cost over the rows */
	uint64_t correct; /* rows classified right (classifiers) */
	double accuracy;  /* correct / rows for classifiers, NaN for regression */
};

/* Classes a classifier tells apart (its confusion matrix is that squared), 0 for regression. */
uint32_t mb_client_n_classes(const struct mb_model *m);

/*
 * Score rows of x (rows x n_inputs) against y (rows x the model's targets)
 * in slices of the model's max_batch. When confusion is not NULL (and the
 * model a classifier) add each row to confusion[true * n + predicted],
 * n being mb_client_n_classes. -EINVAL when a class label is out of range,
 * -EDOM when the cost is not finite; *ret untouched on failure.
 */
int mb_client_score(struct mb_model *m, const float *x, const float *y, uint64_t rows,
		    uint64_t *confusion, struct mb_client_score *ret);

/*
 * Predict rows of x: the outputs (rows x n_outputs) into out and, for a
 * classifier, the predicted class of each row into cls; either may be NULL.
 */
int mb_client_predict(struct mb_model *m, const float *x, uint64_t rows, float *out, uint32_t *cls);

#endif /* MB_CLIENT_H */
