/* SPDX-License-Identifier: MIT */
/*
 * snapshot.h - snapshot messages: a model's shape, counters and parameters.
 */
#ifndef MB_SNAPSHOT_H
#define MB_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "mb_proto.h"
#include "diag.h"

/* Everything in a snapshot but the parameters. */
struct mb_snap_info {
	enum mb_model_kind kind;                /* model kind */
	uint32_t n_layers;                      /* weight layers */
	uint32_t sizes[MB_MAX_LAYERS + 1];      /* input, hidden..., output widths */
	enum mb_act act[MB_MAX_LAYERS];         /* activation of each layer's output */
	uint64_t version;                       /* model version (optimizer steps) */
	uint64_t samples;                       /* samples trained */
	uint64_t batches;                       /* batches trained */
	float cost;                             /* recent cost */
	uint64_t timestamp_ns;                  /* wall clock at encoding */
	uint32_t n_params;                      /* parameters, derived from sizes */
	uint32_t crc;                           /* CRC32C of the parameter bytes (filled by encode/decode) */
};

/* Parameters the shape in info needs, or 0 if it is invalid or over a limit. */
size_t mb_snap_param_count(const struct mb_snap_info *info);

/* Bytes of the encoded body (frame 2), or 0 if info is invalid. */
size_t mb_snap_size(const struct mb_snap_info *info);

/*
 * Encode info and params into buf; compute n_params and the CRC (info's own
 * fields are ignored); timestamp_ns and the counters are written as given.
 * Return bytes, or -ENOBUFS, -EDOM for a non-finite parameter, -EINVAL for
 * an unknown kind or activation or a zero size, -E2BIG over a limit.
 */
long mb_snap_encode(void *buf, size_t cap, const struct mb_snap_info *info, const float *params);

/*
 * Validate a snapshot body: magic, version, kind, shape limits, exact
 * length, parameter count, CRC. On success fill *ret and point *ret_params
 * at the little-endian parameter bytes inside buf (use mb_snap_params_copy).
 * On failure return -errno with *diag and leave *ret, *ret_params untouched:
 * -ENODATA empty, -EBADMSG magic, truncated, trailing, unknown kind, flags,
 * activation or non-zero reserved/padding (MB_R_FLAGS), CRC; -EPROTONOSUPPORT
 * version; -E2BIG layers 0 or over MB_MAX_LAYERS, a size 0 or over
 * MB_MAX_FEATURES, too many parameters; -EINVAL n_params disagreeing with
 * the sizes (MB_R_COUNT_MISMATCH); -EDOM a non-finite parameter.
 */
int mb_snap_decode(const void *buf, size_t len, struct mb_snap_info *ret, const uint8_t **ret_params,
		   struct mb_diag *diag);

/* Copy n little-endian float32 values to host floats. */
void mb_snap_params_copy(float *dst, const uint8_t *src, size_t n);

#endif /* MB_SNAPSHOT_H */
