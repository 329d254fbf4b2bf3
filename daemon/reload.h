/* SPDX-License-Identifier: MIT */
/*
 * reload.h - read the configuration again and apply what can change live.
 *
 * SIGHUP (on the main thread) and the control command "reload" both end
 * here. The configuration is read exactly as at start-up (the same -c
 * file or default file, the same -o overrides: daemon/config_args.h) and
 * checked in full, then compared with the one running. What the daemon
 * can change while it runs is applied: the optimizer's learning rate,
 * schedule and other parameters, and the publishing cadences, by the
 * trainer thread between two steps; the log level at once. Any other
 * difference (the model's shape, a source, an endpoint, the batch size)
 * refuses the whole reload with an error naming the key, and the running
 * configuration stays exactly as it was. systemd hears RELOADING=1 and
 * then READY=1 either way: the daemon keeps running.
 */
#ifndef MB_DAEMON_RELOAD_H
#define MB_DAEMON_RELOAD_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "config_args.h"
#include "trainer.h"

#define MB_RELOAD_MAX_CHANGED 64u /* keys one reload reports as changed */
#define MB_RELOAD_KEY_BYTES   96u /* one dotted key name, with its NUL */
#define MB_RELOAD_TIMEOUT_MS  10000 /* longest wait for the trainer to take the new settings */

/* The keys a reload changed, in the order of the key table. */
struct mb_reload_changes {
	unsigned n;                                            /* keys in keys[] */
	char keys[MB_RELOAD_MAX_CHANGED][MB_RELOAD_KEY_BYTES]; /* dotted names, "optimizer.lr" */
};

/*
 * Compare a running configuration with a new one (both finished). 0 with
 * the keys that differ in *ret, every one of them live; or -EPERM with
 * *err ("ORIGIN: KEY: why") naming the first key that differs but cannot
 * change while the daemon runs. A pure function.
 */
int mb_reload_diff(const struct mb_config *running, const struct mb_config *next, struct mb_reload_changes *ret,
		   struct mb_cfg_err *err);

struct mb_reload_cfg {
	const struct mb_config_args *args;  /* how start-up read the configuration */
	const struct mb_config *running;    /* the start-up configuration; stays the caller's and unchanged */
	struct mb_trainer *trainer;         /* takes the optimizer and publishing settings */
};

/* Outcomes, relaxed atomics for the metrics. */
struct mb_reload_stats {
	_Atomic uint64_t applied; /* reloads applied (changing something or not) */
	_Atomic uint64_t refused; /* reloads refused: a bad file, or a change that needs a restart */
};

struct mb_reload;

/* Create the reloader. 0 and *ret, or -ENOMEM. */
int mb_reload_new(const struct mb_reload_cfg *cfg, struct mb_reload **ret);

/* Free it, and the configurations reloads read; NULL is fine. Returns NULL. */
struct mb_reload *mb_reload_free(struct mb_reload *r);

/*
 * Reload now, from any thread (calls are serialised). 0 with the changed
 * keys in *ret; or -errno with *err saying why nothing was applied (the
 * file's error, or the key that cannot change live). Logs the outcome and
 * tells systemd RELOADING=1, then READY=1.
 */
int mb_reload_run(struct mb_reload *r, struct mb_reload_changes *ret, struct mb_cfg_err *err);

/* The outcome counters. */
const struct mb_reload_stats *mb_reload_stats(const struct mb_reload *r);

#endif /* MB_DAEMON_RELOAD_H */
