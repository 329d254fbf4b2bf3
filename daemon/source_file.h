/* SPDX-License-Identifier: MIT */
/*
 * source_file.h - the state the parts of the file source share.
 *
 * Private to daemon/source_file.c (configuration, files, epochs, follow)
 * and daemon/file_rows.c (records into batch rows, counters, positions);
 * the rest of the daemon sees only mb_source_file_ops (source.h).
 *
 * Position. Every batch carries in its position field the number of
 * samples this source had emitted after its last row. The position hook
 * writes the place reading had reached after the last submitted batch
 * (or the place restored, until a batch goes out), MB_FILE_POS_BYTES
 * little-endian bytes:
 *	 0  4  magic "MBFP"
 *	 4  4  version (1)
 *	 8  4  flags: bit 0 set when shuffled (offset is then the rank)
 *	12  4  file index within the expanded path list
 *	16  4  epoch (0 for the first pass)
 *	20  4  row within the record (binary messages of several samples)
 *	24  8  offset of the next unread record in the file's uncompressed
 *	       content, or with shuffle the rank in the epoch's permutation
 *	32  8  samples emitted, equal to that batch's position field
 * The restore hook takes these bytes back and reading resumes right after
 * that place, so the batches that follow are cut exactly as they were:
 * streaming re-reads the file and passes over the records before offset
 * (and the first row rows of a binary message); shuffled epochs rebuild
 * the epoch's permutation, which follows from seed and epoch alone.
 */
#ifndef MB_SOURCE_FILE_H
#define MB_SOURCE_FILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "batch.h"
#include "config.h"
#include "feed.h"
#include "file_reader.h"
#include "file_store.h"
#include "file_stream.h"
#include "idx.h"
#include "ingest.h"
#include "log.h"
#include "sample.h"
#include "source.h"

#define MB_FILE_POS_BYTES 40u
#define MB_FILE_POS_VERSION 1u
#define MB_FILE_POS_SHUFFLED 1u

/* From the record callback and the row helpers: stop reading now (mb_ingest_stopping). */
#define MB_FILE_STOP 1

/* The values of the format key, in the order of its choices. */
enum file_format { FMT_AUTO, FMT_BINARY, FMT_CSV, FMT_LIBSVM, FMT_IDX };
#define FORMAT_CHOICES "auto|binary|csv|libsvm|idx"

/* How a kept record decodes (struct mb_file_store_row.kind). */
enum rec_kind { K_CSV = 1, K_LIBSVM, K_BIN, K_IDX };

/* A place in the input: what the position hook reports. */
struct file_pos {
	uint32_t flags;  /* MB_FILE_POS_SHUFFLED */
	uint32_t file;   /* index into paths */
	uint32_t epoch;  /* passes completed before this one */
	uint32_t row;    /* row within the record at offset */
	uint64_t offset; /* next unread record, or rank with shuffle */
	uint64_t rows;   /* samples emitted */
};

/* One file source instance; the run thread owns everything but the pub_ fields. */
struct mb_source {
	struct mb_ingest *ing;          /* shared ingest state */
	unsigned index;                 /* feed and stats slot */
	struct mb_source_stats *stats;  /* this source's counters */
	char name[MB_CFG_NAME_BYTES];   /* NAME of [source.NAME], for log lines */
	char **paths;                   /* files, globs expanded */
	size_t n_paths;                 /* how many */
	char **labels;                  /* IDX labels files: none, one, or one per path */
	size_t n_labels;                /* how many */
	enum file_format format;        /* format key */
	uint32_t targets;               /* targets key: values before the features of a CSV line */
	uint32_t epochs;                /* epochs key; 0 forever */
	bool shuffle;                   /* shuffle key */
	bool follow;                    /* follow key */
	uint64_t seed;                  /* seed key */
	struct mb_file_reader *reader;  /* block reads */
	struct mb_file_stream *stream;  /* gzip and framing */
	int wake_fd;                    /* eventfd: wake() writes, the idle waits poll it */
	struct mb_log_limit limit;      /* caps reject lines */

	/* The file being read. */
	uint32_t file;                  /* its index */
	uint32_t epoch;                 /* current pass */
	int fd;                         /* open descriptor, -1 between files */
	dev_t dev;                      /* device of what fd refers to, to notice rotation */
	ino_t ino;                      /* inode of what fd refers to, to notice rotation */
	enum mb_text_fmt text_fmt;      /* text files: the format of this file, 0 until known */
	bool idx_checked;               /* IDX: the header was checked against the labels */
	struct mb_idx_header *idx;      /* IDX header of each file (shuffle decodes with them) */
	uint8_t *lab;                   /* the loaded labels file */
	size_t lab_len;                 /* its bytes */
	long lab_from;                  /* index into labels of what lab holds, -1 for none */
	struct mb_idx_header lab_hdr;   /* its header */

	/* Output. */
	bool have_shape;                /* shape is agreed */
	struct mb_shape shape;          /* the shape every row has */
	struct mb_feed *feed;           /* where batches come from and go */
	struct mb_batch *batch;         /* the batch being filled, or NULL */
	float *scratch;                 /* a row for validating records while loading */
	struct file_pos at;             /* position after the last committed row */
	struct mb_diag fail;            /* why the current file cannot be read on */
	struct mb_file_store *store;    /* shuffle: every record; NULL when streaming */
	int file_err;                   /* the last file-level failure, for run()'s result */

	/* Continuing from a checkpoint (the restore hook). */
	bool resuming;                  /* reading starts at resume, not at the beginning */
	struct file_pos resume;         /* the place after the last batch learned from */
	uint32_t first_row;             /* the next binary message's rows before this one are passed over */

	/* The position after the last submitted batch, for other threads (a seqlock). */
	_Atomic uint64_t pub_seq;       /* odd while being written; release after the fields */
	_Atomic uint64_t pub_flags_file; /* flags << 32 | file */
	_Atomic uint64_t pub_epoch_row; /* epoch << 32 | row */
	_Atomic uint64_t pub_offset;    /* offset */
	_Atomic uint64_t pub_rows;      /* rows; 0 until the first batch */
};

/*
 * The record callback of the stream (mb_file_record_fn, ctx the source):
 * decodes the record into the next batch row (or, while loading for a
 * shuffle, validates it and keeps it in s->store). 0 to go on,
 * MB_FILE_STOP, or -errno with s->fail filled when the file cannot be
 * read on.
 */
int mb_file_rows_record(void *ctx, const struct mb_file_record *rec);

/* Decode kept sample r into the next batch row; 0, MB_FILE_STOP, or -EPROTO. */
int mb_file_rows_emit_kept(struct mb_source *s, const struct mb_file_store_row *r);

/* Hand the batch being filled to the trainer, and publish the position after it. */
void mb_file_rows_submit(struct mb_source *s);

/* Publish s->at as the position (after a submit, and after a restore). */
void mb_file_rows_publish(struct mb_source *s);

/* Write the position after the last submitted batch (any thread); bytes, 0 for none, -ENOBUFS. */
long mb_file_rows_position(struct mb_source *s, void *buf, size_t cap);

#endif /* MB_SOURCE_FILE_H */
