/* SPDX-License-Identifier: MIT */
/*
 * daemon_harness.h - run the real minibatchd in a temporary directory.
 *
 * The integration tests start the daemon binary with every endpoint an
 * ipc socket inside a fresh mkdtemp directory (no tcp), talk to it over
 * ZeroMQ, and stop it. Whatever happens to a test, an exit handler kills
 * a daemon still running and removes the directory, so no process and
 * no file is left behind.
 */
#ifndef MB_TESTS_DAEMON_HARNESS_H
#define MB_TESTS_DAEMON_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dataset.h"
#include "snapshot.h"

#define HARNESS_MAX_ARGS 64 /* -o overrides a test may add */

/* One daemon process and its directory. */
struct harness {
	char dir[256];        /* the runtime directory, removed by harness_stop */
	pid_t pid;            /* the daemon, 0 when not running */
	void *zctx;           /* the test's ZeroMQ context */
	char log[300];        /* the daemon's stderr, inside dir */
	int status;           /* wait status once it exited */
};

/*
 * Start the daemon with the standard overrides (runtime_dir = the new
 * directory, snapshots on ipc://snapshots, control on ipc://control, one
 * zmq PULL source "in" bound on ipc://ingest) followed by opts, a
 * NULL-terminated list of "section.key=value" (a later one wins). Waits
 * until the control socket answers. 0, or -1 (the test fails).
 */
int harness_start(struct harness *h, const char *const *opts);

/* The same without the zmq source "in": opts declare every source. */
int harness_start_without_source(struct harness *h, const char *const *opts);

/*
 * Send sig to the daemon and wait up to timeout_ms for it to exit; returns
 * its wait status, or -1 if it had to be killed. The directory stays until
 * harness_stop.
 */
int harness_signal_wait(struct harness *h, int sig, int timeout_ms);

/* Wait up to timeout_ms for the daemon to exit on its own; its wait status, or -1 (then killed). */
int harness_wait_exit(struct harness *h, int timeout_ms);

/*
 * SIGTERM the daemon (if still running) and wait up to timeout_ms for it;
 * returns its wait status (0 too if it had already exited cleanly), or -1
 * if it had to be killed. Then removes the directory.
 */
int harness_stop(struct harness *h, int timeout_ms);

/* Lines of the daemon's log that hold text. */
unsigned harness_log_count(const struct harness *h, const char *text);

/* True when the daemon's log holds text. */
bool harness_log_contains(const struct harness *h, const char *text);

/* Print the daemon's log to stderr (when a test fails, to see why). */
void harness_dump_log(const struct harness *h);

/* "ipc://DIR/name" for a socket of the daemon. */
void harness_endpoint(const struct harness *h, const char *name, char *buf, size_t cap);

/*
 * Send one control request and wait up to 5 s for the reply, written
 * NUL-terminated to buf. 0, or -1 on a timeout or an error.
 */
int harness_control(struct harness *h, const char *request, char *buf, size_t cap);

/*
 * A number from a JSON reply: the first "key": after the first occurrence
 * of anchor (NULL: from the start). NAN when absent or null.
 */
double harness_json_num(const char *json, const char *anchor, const char *key);

/* Poll "stats" until the trainer has learned at least samples rows, up to timeout_ms. */
bool harness_wait_trained(struct harness *h, uint64_t samples, int timeout_ms);

/*
 * Encode rows [first, first + count) of ds as one binary message with U8
 * features (Fashion-MNIST pixels are k/255 exactly). Returns the length
 * written to buf (cap bytes), or 0 if it does not fit.
 */
size_t harness_encode_u8(const struct mb_dataset *ds, uint32_t first, uint32_t count, void *buf, size_t cap);

/*
 * A socket of type (ZMQ_PUSH, ZMQ_XPUB, ...) connected to the daemon's
 * socket name ("ingest"), or NULL when it cannot be made or connected.
 */
void *harness_connect(struct harness *h, int type, const char *name);

/*
 * Load Fashion-MNIST train and t10k from mb_test_fashion_dir(). 0, or -1
 * after a message (the test program then fails).
 */
int harness_load_fashion(struct mb_dataset **ret_train, struct mb_dataset **ret_test);

/* A SUB socket connected to the daemon's snapshots, subscribed to topic. */
void *harness_subscribe(struct harness *h, const char *topic);

/*
 * Receive one snapshot within timeout_ms and copy its body into *ret_body
 * (malloc'd, caller frees) with its length. 0, or -1 on timeout.
 */
int harness_recv_snapshot(void *sub, int timeout_ms, uint8_t **ret_body, size_t *ret_len);

/*
 * Receive snapshots for up to timeout_ms until one has learned at least
 * samples rows (older ones still queued are skipped); as above.
 */
int harness_recv_snapshot_after(void *sub, uint64_t samples, int timeout_ms, uint8_t **ret_body,
				size_t *ret_len);

/*
 * Rebuild the model from a snapshot body and score it on ds: the fraction
 * classified right, or -1 when the snapshot is invalid.
 */
double harness_score(const uint8_t *body, size_t len, const struct mb_dataset *ds);

/* Remove dir with everything in it, subdirectories included. */
void harness_remove_tree(const char *dir);

/*
 * A datagram socket bound at dir/notify for the daemon's sd_notify
 * messages (set NOTIFY_SOCKET to path). Its fd, or -1.
 */
int harness_notify_socket(const char *dir, char *path, size_t cap);

/*
 * Append the notify datagrams arriving on fd within ms to buf (cap bytes,
 * NUL-terminated), each followed by '|'.
 */
void harness_collect_notify(int fd, int ms, char *buf, size_t cap);

/*
 * The newest checkpoint version in dir among complete files (ckpt-N.mbck,
 * renamed into place), -1 when none; *ret_temps (if not NULL) counts the
 * temporary ones still being written.
 */
int64_t harness_newest_ckpt(const char *dir, unsigned *ret_temps);

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t harness_now_ms(void);

/*
 * A TCP port on 127.0.0.1 that was free a moment ago (another process may
 * take it before the caller binds it), or -1.
 */
int harness_free_port(void);

#endif /* MB_TESTS_DAEMON_HARNESS_H */
