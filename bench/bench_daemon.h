/* SPDX-License-Identifier: MIT */
/*
 * bench_daemon.h - what the ingest and latency benchmarks share: start the
 * real minibatchd in a temporary runtime directory, ask its control socket,
 * and build sample messages from Fashion-MNIST rows.
 *
 * Unlike the test harness, the ingest endpoint is the caller's (ipc or
 * tcp), checkpoints and metrics are off, and nothing here needs CUnit.
 */
#ifndef MB_BENCH_DAEMON_H
#define MB_BENCH_DAEMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dataset.h"
#include "mb_proto.h"

/* -o overrides a benchmark may add to the standard ones. */
#define BENCH_DAEMON_MAX_OPTS 32

/* One daemon process and its directory. */
struct bench_daemon {
	char dir[256]; /* runtime directory (ipc sockets, the log), removed by stop */
	char log[300]; /* the daemon's stdout and stderr, inside dir */
	pid_t pid;     /* the daemon, 0 when not running */
	void *zctx;    /* ZeroMQ context for control requests, owned */
};

/*
 * Start the daemon binary at path with runtime_dir = a new temporary
 * directory, control on ipc://control, snapshots on ipc://snapshots, no
 * metrics listener, no checkpoints, then opts (NULL-terminated
 * "section.key=value", a later one wins). Waits until the control socket
 * answers. 0, or -1 after a message on stderr (the directory is removed).
 */
int bench_daemon_start(struct bench_daemon *d, const char *path, const char *const *opts);

/* "ipc://DIR/name" for one of the daemon's sockets. */
void bench_daemon_endpoint(const struct bench_daemon *d, const char *name, char *buf, size_t cap);

/*
 * One control request on a fresh REQ socket, reply NUL-terminated in buf.
 * 0, or -1 when there was no reply within timeout_ms.
 */
int bench_daemon_control(struct bench_daemon *d, const char *request, int timeout_ms, char *buf,
			 size_t cap);

/* The first number after "key": in a JSON reply; -1 when absent. */
double bench_json_num(const char *json, const char *key);

/*
 * Poll "status" (one REQ socket, a pause of poll_us microseconds between
 * requests) until the trainer has learned at
 * least samples rows. 0, or -1 when timeout_ms passed first or the daemon died.
 */
int bench_daemon_wait_trained(struct bench_daemon *d, uint64_t samples, unsigned poll_us, int timeout_ms);

/* SIGTERM the daemon, reap it (SIGKILL after 10 s), remove the directory. */
void bench_daemon_stop(struct bench_daemon *d);

/* Print the daemon's log to stderr, to see why it failed. */
void bench_daemon_dump_log(const struct bench_daemon *d);

/* CLOCK_MONOTONIC in seconds. */
double bench_now(void);

/*
 * Load the Fashion-MNIST training set from $FASHION_MNIST_DIR, or the
 * Debian package's directory. 0, or -1 after a message.
 */
int bench_load_fashion(struct mb_dataset **ret);

/* A set of prebuilt binary sample messages, sent in a cycle. */
struct bench_msgs {
	uint8_t *buf;        /* count messages of len bytes each, back to back */
	size_t len;          /* bytes of one message (all rows per message give the same) */
	uint32_t count;      /* distinct messages */
	uint32_t per_msg;    /* samples in each message */
};

/*
 * Encode consecutive rows of ds (wrapping around) into count messages of
 * per_msg samples each, features as elem (U8 with scale 1/255, or F32).
 * 0, or -errno.
 */
int bench_msgs_build(const struct mb_dataset *ds, uint32_t per_msg, uint32_t count, enum mb_elem elem,
		     struct bench_msgs *ret);

/* Message i of the cycle (i modulo count). */
const void *bench_msgs_get(const struct bench_msgs *m, uint64_t i);

/* Release what bench_msgs_build allocated; a zeroed set is fine. */
void bench_msgs_free(struct bench_msgs *m);

#endif /* MB_BENCH_DAEMON_H */
