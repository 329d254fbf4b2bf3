/* SPDX-License-Identifier: MIT */
/*
 * checkpoint_state.h - what the daemon puts in a checkpoint, and how it
 * comes back.
 *
 * The sections (ids in proto/mb_proto.h):
 *  MODEL    a snapshot body: shape, model version, samples, batches, cost
 *           and the parameters, so any snapshot reader can load it;
 *  OPTIM    mb_optim_state_save() of the optimizer;
 *  COUNTERS the trainer's counters and moving averages, and each source's
 *           counters tagged with its name;
 *  RNG      the trainer's generator (it seeds the model a reset makes);
 *  SOURCES  each file source's position after the last batch the model
 *           learned from, tagged with the source's name;
 *  CONFIG   the configuration in force, as text (informative).
 * The payloads of COUNTERS, RNG and SOURCES are the daemon's own: a u32
 * version (1), then little-endian fields, names as u32 length and bytes:
 *  COUNTERS u64 samples, u64 batches, u64 skipped, u32 flags (bit 0: the
 *           cost average holds a value, bit 1: the accuracy average
 *           does), u32 n, f64 cost, f64 accuracy, then n times: name,
 *           u64 received, queued, dropped, rejected, bytes;
 *  RNG      u32 n, then n times: name, MB_RNG_STATE_BYTES of state;
 *  SOURCES  u32 n, then n times: name, u32 length, the position bytes.
 * A decoder refuses another version, a length running past the end and
 * bytes left over, so a checkpoint that decodes is whole.
 */
#ifndef MB_DAEMON_CHECKPOINT_STATE_H
#define MB_DAEMON_CHECKPOINT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "config.h"
#include "diag.h"
#include "holdout.h"
#include "optim.h"
#include "rng.h"
#include "snapshot.h"
#include "source.h"

#define MB_CKPT_STATE_VERSION 1u
#define MB_CKPT_POS_MAX_BYTES 256u /* one source's position */

/* One source's share: counters and its place in its input. */
struct mb_ckpt_source {
	char name[MB_CFG_NAME_BYTES];       /* NAME of [source.NAME]: how a restart finds the source */
	bool has_counters;                  /* the counters below were in the checkpoint */
	uint64_t received;                  /* samples that arrived */
	uint64_t queued;                    /* samples put into a batch */
	uint64_t dropped;                   /* samples dropped by the backpressure policy */
	uint64_t rejected;                  /* messages or lines refused */
	uint64_t bytes;                     /* bytes received or read */
	uint32_t pos_len;                   /* bytes of pos; 0: no position to resume from */
	uint8_t pos[MB_CKPT_POS_MAX_BYTES]; /* what the source's position hook wrote */
};

/* The trainer's counters. */
struct mb_ckpt_counters {
	uint64_t samples;     /* rows learned from */
	uint64_t batches;     /* optimizer steps taken */
	uint64_t skipped;     /* steps the guard refused */
	bool cost_primed;     /* cost holds a value (the average saw a batch) */
	bool accuracy_primed; /* accuracy holds a value */
	double cost;          /* moving average of the progressive cost */
	double accuracy;      /* moving average of the progressive accuracy */
	bool has_holdout;     /* the trainer scores a holdout: holdout below is meaningful */
	struct mb_holdout_counters holdout; /* its counters, so a restart holds out the same samples */
};

/*
 * Everything one checkpoint holds. Encoding reads params, optim and
 * config; decoding fills params_le, optim_state and config with views
 * into the checkpoint's buffer, which must outlive them.
 */
struct mb_ckpt_state {
	struct mb_snap_info info;                  /* MODEL: shape, version, samples, batches, cost, time */
	const float *params;                       /* encode: info.n_params parameters */
	const uint8_t *params_le;                  /* decode: the little-endian parameters */
	const struct mb_optim *optim;              /* encode: the optimizer; NULL: no OPTIM section */
	const uint8_t *optim_state;                /* decode: the OPTIM payload, NULL if absent */
	size_t optim_len;                          /* decode: its bytes */
	bool has_counters;                         /* decode: COUNTERS was present (encode: always written) */
	struct mb_ckpt_counters counters;          /* COUNTERS, the trainer's part */
	bool has_rng;                              /* RNG holds the trainer's generator */
	uint8_t rng[MB_RNG_STATE_BYTES];           /* its state (mb_rng_save) */
	unsigned n_sources;                        /* entries of src */
	struct mb_ckpt_source src[MB_MAX_SOURCES]; /* COUNTERS' and SOURCES' per-source parts */
	const char *config;                        /* CONFIG text, not NUL-terminated when decoded; may be NULL */
	size_t config_len;                         /* its bytes */
};

/* Buffers an encoder keeps from one checkpoint to the next (one thread). */
struct mb_ckpt_buf {
	uint8_t *model;   /* the MODEL payload */
	size_t model_cap; /* its bytes allocated */
	uint8_t *optim;   /* the OPTIM payload */
	size_t optim_cap; /* its bytes allocated */
	uint8_t *small;   /* COUNTERS, RNG and SOURCES, one after the other */
	size_t small_cap; /* its bytes allocated */
	uint8_t *out;     /* the encoded file */
	size_t out_cap;   /* its bytes allocated */
	size_t len;       /* bytes of the file in out after mb_ckpt_state_encode */
};

/*
 * Encode st as a checkpoint file into b->out (b->len bytes), growing b's
 * buffers as needed. 0, -ENOMEM, or the encoders' errors (-EDOM for a
 * non-finite parameter, -EINVAL for a bad shape or a name too long).
 */
int mb_ckpt_state_encode(const struct mb_ckpt_state *st, struct mb_ckpt_buf *b);

/* Free b's buffers; b may be used again. */
void mb_ckpt_buf_release(struct mb_ckpt_buf *b);

/*
 * Decode the sections of a checked container into *ret (views into the
 * container's buffer). 0, or -errno with *diag: MODEL missing (-ENODATA)
 * or not a valid snapshot body (its error), a daemon section of another
 * version (-EPROTONOSUPPORT), cut short or with bytes left over
 * (-EBADMSG), more sources than MB_MAX_SOURCES or a name or position over
 * its limit (-E2BIG). *ret is untouched on failure.
 */
int mb_ckpt_state_decode(const struct mb_ckpt *ck, struct mb_ckpt_state *ret, struct mb_diag *diag);

/* The entry of the source called name, or NULL. */
const struct mb_ckpt_source *mb_ckpt_state_source(const struct mb_ckpt_state *st, const char *name);

/* A running source, as a checkpoint sees it. */
struct mb_ckpt_source_ref {
	const char *name;                /* NAME of [source.NAME] */
	unsigned index;                  /* its feed and stats slot */
	const struct mb_source_ops *ops; /* its family */
	struct mb_source *src;           /* the instance */
	struct mb_source_stats *stats;   /* its counters */
};

/*
 * Before the sources run: give each one its counters and, through its
 * restore hook, its position from st, matched by name. A source the
 * checkpoint does not name starts afresh. 0, or the -errno of the first
 * restore hook that refused (*failed gets that source's index in refs).
 */
int mb_ckpt_state_restore_sources(const struct mb_ckpt_state *st, const struct mb_ckpt_source_ref *refs,
				  unsigned n, unsigned *failed);

#endif /* MB_DAEMON_CHECKPOINT_STATE_H */
