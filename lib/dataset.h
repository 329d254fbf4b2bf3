/* SPDX-License-Identifier: MIT */
/*
 * dataset.h - a whole labelled file in memory, for tools, tests and benches.
 *
 * The daemon streams files instead (daemon/source_file.c); this loader is
 * for the places that want all rows at once: evaluation, benchmarks, the
 * real-data tests. Reads gzip transparently.
 */
#ifndef MB_DATASET_H
#define MB_DATASET_H

#include <stdint.h>

#include "diag.h"
#include "sample.h"

struct mb_dataset {
	uint32_t count;      /* rows */
	uint32_t n_features; /* features per row */
	uint32_t n_targets;  /* targets per row (1 for class labels) */
	float *x;            /* count x n_features, row-major */
	float *y;            /* count x n_targets */
};

/*
 * Load an IDX images file and its labels file (each optionally .gz) as one
 * source: n_features = product of the image dims, bytes scaled by 1/255,
 * labels as class indices. -errno with *diag on failure.
 */
int mb_dataset_load_idx(const char *images, const char *labels, struct mb_dataset **ret,
			struct mb_diag *diag);

/*
 * Load a sample file of any format (binary records, CSV, libsvm; gz or not),
 * detected from its content: "MBSM" starts binary records back to back,
 * anything else is text (mb_text_detect). shape may be NULL; its non-zero
 * fields are required of every record, shape->n_features is needed for
 * libsvm, CSV probes it from the first line, text n_targets 0 means 1.
 * Sample weights are dropped. The first bad record or line fails the load
 * with its diag (offsets from the start of the file, text prefixed with the
 * file name); a file without a sample is -ENODATA.
 */
int mb_dataset_load(const char *path, const struct mb_shape *shape, struct mb_dataset **ret,
		    struct mb_diag *diag);

/* Fashion-MNIST from dir ("train" or "t10k" set, -EINVAL otherwise), .gz files or plain. */
int mb_dataset_load_fashion(const char *dir, const char *set, struct mb_dataset **ret,
			    struct mb_diag *diag);

/*
 * Read a whole file, inflating gzip (recognised by its magic bytes 1f 8b;
 * concatenated members inflate to their concatenation); caller frees *ret.
 * -errno from open/read, -E2BIG when the content passes max_bytes, -EBADMSG
 * for corrupt or cut gzip data. An empty file gives a 0-byte buffer.
 */
int mb_file_slurp(const char *path, size_t max_bytes, uint8_t **ret, size_t *ret_len);

/*
 * Inflate gzip bytes (or copy plain ones) of at most max_out bytes; caller
 * frees *ret. -E2BIG past max_out, -EBADMSG for corrupt or cut gzip data.
 */
int mb_inflate_mem(const uint8_t *in, size_t len, size_t max_out, uint8_t **ret, size_t *ret_len);

/* Free a dataset; NULL is fine. Returns NULL. */
struct mb_dataset *mb_dataset_free(struct mb_dataset *ds);

#endif /* MB_DATASET_H */
