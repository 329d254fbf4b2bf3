/* SPDX-License-Identifier: MIT */
/*
 * file_stream.h - turn the blocks of a file into whole records.
 *
 * A file arrives as blocks of arbitrary size (daemon/file_reader.h). The
 * stream inflates gzip (detected by its magic), works out the framing of
 * the content (binary sample messages, text lines, or an IDX header
 * followed by fixed-size items), and hands every complete record to a
 * callback. Records lie wherever the blocks cut them: most are handed out
 * straight from the block, and only the one a cut falls into is copied
 * together into a carry buffer first. The stream counts offsets in the
 * uncompressed content, which is what a checkpoint position names.
 */
#ifndef MB_FILE_STREAM_H
#define MB_FILE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "idx.h"
#include "mb_proto.h"

/* How the content divides into records. */
enum mb_file_frame {
	MB_FILE_FRAME_AUTO = 0, /* not known yet: detect from the first bytes */
	MB_FILE_FRAME_BINARY,   /* sample messages back to back ("MBSM" ...) */
	MB_FILE_FRAME_TEXT,     /* lines ending in '\n' (CSV or libsvm) */
	MB_FILE_FRAME_IDX,      /* an IDX header, then count items of equal size */
};

/* One record for the callback. */
struct mb_file_record {
	const uint8_t *p;            /* its bytes: a line without '\n', a whole message, one IDX item */
	size_t len;                  /* how many */
	uint64_t offset;             /* where it starts in the uncompressed content */
	uint64_t end;                /* where the next record starts */
	uint64_t number;             /* text: 1-based line; binary: 0-based message; IDX: 0-based item */
	const struct mb_diag *reject; /* non-NULL: the framing refused this record (p is NULL) */
};

/*
 * Called for every record in order. Return 0 to go on; anything else stops
 * the push at once and is returned from it (the stream is then only fit
 * for mb_file_stream_begin or free).
 */
typedef int (*mb_file_record_fn)(void *ctx, const struct mb_file_record *rec);

/* The most bytes one record may take, by framing. */
#define MB_FILE_STREAM_MAX_LINE MB_MAX_LINE_BYTES
#define MB_FILE_STREAM_MAX_MSG  MB_MAX_MSG_BYTES

struct mb_file_stream;

/*
 * A stream for content of framing frame (AUTO: detect per file), inflating
 * into chunks of out_bytes. 0 and *ret, -EINVAL, or -ENOMEM.
 */
int mb_file_stream_new(enum mb_file_frame frame, size_t out_bytes, struct mb_file_stream **ret);

/* Free the stream; NULL is fine. Returns NULL. */
struct mb_file_stream *mb_file_stream_free(struct mb_file_stream *fs);

/* Start a new file: forget the carry, the gzip state and the detected framing. */
void mb_file_stream_begin(struct mb_file_stream *fs);

/*
 * Feed the next n raw bytes of the file. Calls fn for each record that
 * completes. 0 when every complete record was handed out; fn's non-zero
 * return; or -errno with *diag (reason, offset) when the content is
 * corrupt in a way no later byte can repair: a broken gzip stream, a
 * binary header that makes no sense, an IDX file with more items than its
 * header announces. The file cannot be read on after that.
 */
int mb_file_stream_push(struct mb_file_stream *fs, const uint8_t *p, size_t n, mb_file_record_fn fn,
			void *ctx, struct mb_diag *diag);

/*
 * The file ended: hand out a last text line that lacks its '\n'. 0, fn's
 * non-zero return, or -EBADMSG with *diag when the file stops inside a
 * binary message, an IDX header or item, or a gzip member, or holds fewer
 * IDX items than announced.
 */
int mb_file_stream_end(struct mb_file_stream *fs, mb_file_record_fn fn, void *ctx, struct mb_diag *diag);

/* The framing in use (AUTO until the first four bytes were seen). */
enum mb_file_frame mb_file_stream_frame(const struct mb_file_stream *fs);

/* True when the file is gzip (known after its first two bytes). */
bool mb_file_stream_gzip(const struct mb_file_stream *fs);

/* The IDX header once it was read, else NULL. */
const struct mb_idx_header *mb_file_stream_idx(const struct mb_file_stream *fs);

/* Offset in the uncompressed content just past the last whole record. */
uint64_t mb_file_stream_offset(const struct mb_file_stream *fs);

#endif /* MB_FILE_STREAM_H */
