/* SPDX-License-Identifier: MIT */
/*
 * checkpoint.h - the checkpoint container: numbered sections, each with a
 * CRC, and a CRC over the whole file, so that any damage is refused.
 *
 * This module only builds and checks the bytes; writing them safely (temp
 * file, fsync, rename, fsync of the directory) is the daemon's job.
 */
#ifndef MB_CHECKPOINT_H
#define MB_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/mb_proto.h"
#include "diag.h"

/* One section: an id and its payload bytes (a view, never owned). */
struct mb_ckpt_section {
	uint32_t id;      /* enum mb_ckpt_section_id; readers skip ids they do not know */
	const void *data; /* payload */
	size_t len;       /* payload bytes */
};

/* A decoded checkpoint: views into the buffer given to mb_ckpt_decode(). */
struct mb_ckpt {
	uint32_t n_sections;                         /* sections in the file */
	struct mb_ckpt_section sec[MB_MAX_SECTIONS]; /* in file order */
};

/*
 * Bytes the encoding of the n sections takes, or 0 when n is not
 * 1..MB_MAX_SECTIONS or the total overflows.
 */
size_t mb_ckpt_size(const struct mb_ckpt_section *secs, size_t n);

/*
 * Encode n sections into buf. Returns the bytes written, -EINVAL for a
 * section count out of range or an id given twice, -E2BIG when the total
 * does not fit a long, -ENOBUFS when cap is too small.
 */
long mb_ckpt_encode(void *buf, size_t cap, const struct mb_ckpt_section *secs, size_t n);

/*
 * Validate a checkpoint of len bytes and fill *ret with views of its
 * sections. Returns 0, or -errno with *diag: -ENODATA no bytes or no
 * section (MB_R_EMPTY), -EBADMSG magic, truncated, trailing, non-zero
 * reserved or padding bytes (MB_R_FLAGS), a CRC mismatch of a section or
 * of the whole file (MB_R_CRC), -EPROTONOSUPPORT version, -E2BIG more
 * than MB_MAX_SECTIONS. *ret is untouched on failure.
 */
int mb_ckpt_decode(const void *buf, size_t len, struct mb_ckpt *ret, struct mb_diag *diag);

/* The first section with id, or NULL. */
const struct mb_ckpt_section *mb_ckpt_find(const struct mb_ckpt *ck, uint32_t id);

#endif /* MB_CHECKPOINT_H */
