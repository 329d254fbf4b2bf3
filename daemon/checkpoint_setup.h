/* SPDX-License-Identifier: MIT */
/*
 * checkpoint_setup.h - checkpoints at start: where they live, and carrying
 * on from the newest good one.
 *
 * The directory is [checkpoint] dir: a path; empty for $STATE_DIRECTORY
 * (what systemd's StateDirectory= sets) and no checkpoints without it;
 * "auto" for $STATE_DIRECTORY, else /var/lib/minibatchd as root, else
 * $XDG_STATE_HOME/minibatchd or ~/.local/state/minibatchd; "none" for no
 * checkpoints. A directory named outright must be usable or the daemon
 * does not start; one chosen automatically that is not only turns
 * checkpoints off, with a warning.
 *
 * At start, before any thread runs, the newest checkpoint that checks is
 * loaded: a damaged one is logged with the reason and the next older one
 * tried. Its model must have the configured shape, else the daemon stops
 * with both shapes named. The trainer takes model, optimizer, counters
 * and version, each source its counters and position, matched by name.
 */
#ifndef MB_DAEMON_CHECKPOINT_SETUP_H
#define MB_DAEMON_CHECKPOINT_SETUP_H

#include <limits.h>

#include "checkpoint_state.h"
#include "checkpoint_store.h"
#include "config.h"
#include "trainer.h"

/* Checkpoints as the daemon runs them. */
struct mb_ckpt_setup {
	struct mb_ckpt_store *store;                    /* NULL: checkpoints off */
	char dir[PATH_MAX];                             /* the directory chosen, "" when off */
	struct mb_ckpt_source_ref refs[MB_MAX_SOURCES]; /* the running sources; the caller fills n_refs of them */
	unsigned n_refs;                                /* entries of refs */
	char *config_text;                              /* the effective configuration, for the CONFIG section */
};

/*
 * Choose the directory and open the store (cs->store stays NULL when
 * checkpoints are off), and keep the configuration's text. 0, or -errno,
 * logged: a directory named outright that cannot be used, -ENOMEM.
 */
int mb_ckpt_setup_open(struct mb_ckpt_setup *cs, const struct mb_config *c);

/*
 * Carry on from the newest valid checkpoint, if there is one (see the top
 * of this file); cs->refs must be filled. 0, also with no checkpoint at
 * all, or -errno, logged: the daemon must not start.
 */
int mb_ckpt_setup_restore(struct mb_ckpt_setup *cs, struct mb_trainer *t);

/* Close the store and free what cs holds. */
void mb_ckpt_setup_release(struct mb_ckpt_setup *cs);

#endif /* MB_DAEMON_CHECKPOINT_SETUP_H */
