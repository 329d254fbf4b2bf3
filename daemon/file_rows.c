/* SPDX-License-Identifier: MIT */
/*
 * file_rows.c - the file source's records, decoded into batch rows.
 *
 * Each record the stream cuts out becomes rows of the current batch: a
 * text line one row, a binary message as many as it holds, an IDX image
 * one row with its label from the paired labels file. The first record
 * fixes the shape with the other sources; a record that fails to decode,
 * has another shape or a target the model cannot take is counted by its
 * reason and skipped. Full batches go to the trainer at once, and the
 * position after each is published for checkpoints.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "source_file.h"
#include "wire.h"

#define FEED_WAIT_MS 50             /* longest wait for a free batch before looking at the stop flag */
#define LABELS_MAX_BYTES (1u << 30) /* an IDX labels file, inflated */

/* Open the position for writing and write s->at into it; readers wait until publish_end(). */
static void publish_begin(struct mb_source *s)
{
	uint64_t seq = atomic_load_explicit(&s->pub_seq, memory_order_relaxed);
	atomic_store_explicit(&s->pub_seq, seq + 1, memory_order_relaxed);
	/*
	 * Release stores pair with the reader's acquire loads of the same
	 * fields: a reader that sees any new field also sees the odd count
	 * stored before it, and retries. (Release stores rather than a fence,
	 * which ThreadSanitizer cannot follow.)
	 */
	atomic_store_explicit(&s->pub_flags_file, (uint64_t)s->at.flags << 32 | s->at.file, memory_order_release);
	atomic_store_explicit(&s->pub_epoch_row, (uint64_t)s->at.epoch << 32 | s->at.row, memory_order_release);
	atomic_store_explicit(&s->pub_offset, s->at.offset, memory_order_release);
	atomic_store_explicit(&s->pub_rows, s->at.rows, memory_order_release);
}

static void publish_end(struct mb_source *s)
{
	uint64_t seq = atomic_load_explicit(&s->pub_seq, memory_order_relaxed);
	/* Pairs with the acquire load of the reader: the fields (and a batch queued meanwhile) are seen first. */
	atomic_store_explicit(&s->pub_seq, seq + 1, memory_order_release);
}

/* Make s->at visible to mb_file_rows_position() (see source_file.h). */
void mb_file_rows_publish(struct mb_source *s)
{
	publish_begin(s);
	publish_end(s);
}

/*
 * Hand over the batch being filled (see source_file.h). The batch is
 * queued while the position is open for writing, so a reader never sees
 * the batch queued and the position from before it, nor the reverse: the
 * trainer relies on that to record the position of a batch it learned
 * from (daemon/trainer.c).
 */
void mb_file_rows_submit(struct mb_source *s)
{
	if (!s->batch)
		return;
	s->batch->position = s->at.rows;
	publish_begin(s);
	mb_feed_submit(s->feed, s->batch);
	publish_end(s);
	s->batch = NULL;
}

/* A free row of the current batch, waiting for a batch if none is free; MB_FILE_STOP when stopping. */
static int slot(struct mb_source *s, float **x, float **y)
{
	while (!s->batch) {
		s->batch = mb_feed_acquire_blocking(s->feed, FEED_WAIT_MS);
		if (!s->batch && mb_ingest_stopping(s->ing))
			return MB_FILE_STOP;
	}
	*x = mb_batch_x(s->batch, s->batch->rows);
	*y = mb_batch_y(s->batch, s->batch->rows);
	return 0;
}

/* Commit the row slot() handed out, now that s->at says where reading stands after it. */
static void commit(struct mb_source *s, float w)
{
	mb_batch_commit_row(s->batch, w);
	atomic_fetch_add_explicit(&s->stats->queued, 1, memory_order_relaxed);
	s->at.rows++;
	if (mb_batch_full(s->batch))
		mb_file_rows_submit(s);
}

/* Count a refused record by reason and log it (rate-limited). */
static void reject(struct mb_source *s, const struct mb_diag *d)
{
	enum mb_reason r = d->reason > MB_R_OK && d->reason < MB_R_MAX_ ? d->reason : MB_R_MAX_;
	atomic_fetch_add_explicit(&s->stats->rejected, 1, memory_order_relaxed);
	if (r < MB_R_MAX_)
		atomic_fetch_add_explicit(&s->stats->rejected_by[r], 1, memory_order_relaxed);
	if (d->line)
		mb_log_limited(&s->limit, LOG_WARNING, "source %s: %s:%zu: %s", s->name, s->paths[s->file], d->line,
			       d->text);
	else
		mb_log_limited(&s->limit, LOG_WARNING, "source %s: %s: offset %zu: %s", s->name,
			       s->paths[s->file], d->offset, d->text);
}

static void received(struct mb_source *s, uint64_t n)
{
	atomic_fetch_add_explicit(&s->stats->received, n, memory_order_relaxed);
}

/* Agree on the shape of the first record; later records must match it. */
static int fix_shape(struct mb_source *s, const struct mb_shape *want, struct mb_diag *d)
{
	if (s->have_shape) {
		if (want->n_features == s->shape.n_features && want->n_targets == s->shape.n_targets)
			return 0;
		return mb_diag_set(d, -EINVAL, MB_R_DIM_MISMATCH, 0, 0,
				   "sample has %u features and %u targets, this source's first had %u and %u",
				   want->n_features, want->n_targets, s->shape.n_features, s->shape.n_targets);
	}
	int err = mb_ingest_shape_agree(s->ing, want, d);
	if (err < 0)
		return err;
	err = mb_ingest_feed(s->ing, s->index, &s->feed);
	if (err < 0)
		return mb_diag_set(d, err, MB_R_TOO_BIG, 0, 0, "no batches for %u features: %s", want->n_features,
				   strerror(-err));
	s->scratch = malloc(((size_t)want->n_features + want->n_targets + 1) * sizeof *s->scratch);
	if (!s->scratch)
		return -ENOMEM;
	s->shape = *want;
	s->have_shape = true;
	return 0;
}

/* ---- Records ---- */

/* True for a text line that holds no sample: blank, or a '#' comment. */
static bool line_is_skipped(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
		i++;
	return i == len || p[i] == '#';
}

/* Where a row decodes to: the batch when streaming, scratch while loading. */
static int row_dest(struct mb_source *s, float **x, float **y)
{
	if (s->store) {
		*x = s->scratch;
		*y = s->scratch + s->shape.n_features;
		return 0;
	}
	return slot(s, x, y);
}

/* The shape of the first text line: the agreed one, or probed from a CSV line. */
static int text_shape(struct mb_source *s, const struct mb_file_record *rec, struct mb_diag *d)
{
	struct mb_shape want;
	uint32_t nt = s->targets ? s->targets : 1;

	if (mb_ingest_shape(s->ing, &want) == 0)
		return fix_shape(s, &want, d);
	if (s->text_fmt == MB_TEXT_LIBSVM) {
		want.n_features = mb_ingest_cfg(s->ing)->n_features;
		want.n_targets = 1;
		if (!want.n_features)
			return mb_diag_set(d, -EINVAL, MB_R_DIM_MISMATCH, 0, 0,
					   "libsvm lines do not tell the feature count: set the model's inputs");
	} else {
		int err = mb_text_probe_features(rec->p, rec->len, MB_TEXT_CSV, nt, &want.n_features);
		if (err < 0)
			return mb_diag_set(d, err, err == -E2BIG ? MB_R_TOO_BIG : MB_R_COLUMNS, 0, 0,
					   "first CSV line has no features after its %u target column(s)", nt);
		want.n_targets = nt;
	}
	return fix_shape(s, &want, d);
}

static int keep_row(struct mb_source *s, const struct mb_file_record *rec, uint8_t kind, uint32_t aux)
{
	struct mb_file_store_row row = {.len = (uint32_t)rec->len, .aux = aux, .file = (uint16_t)s->file,
					.kind = kind};
	int err = mb_file_store_keep(s->store, rec->p, rec->len, &row.p);
	if (err < 0)
		return err;
	return mb_file_store_add_row(s->store, &row);
}

static int text_record(struct mb_source *s, const struct mb_file_record *rec)
{
	struct mb_diag d = {0};
	struct mb_text_cursor c;
	float *x, *y;
	int err;

	if (line_is_skipped(rec->p, rec->len))
		return 0;
	received(s, 1);
	if (!s->text_fmt)
		s->text_fmt = s->format == FMT_CSV      ? MB_TEXT_CSV
			      : s->format == FMT_LIBSVM ? MB_TEXT_LIBSVM
							: mb_text_detect(rec->p, rec->len);
	if (!s->have_shape && (err = text_shape(s, rec, &d)) < 0)
		goto out_reject;
	err = row_dest(s, &x, &y);
	if (err)
		return err;
	mb_text_cursor_init(&c, rec->p, rec->len, s->text_fmt, &s->shape);
	err = mb_text_next(&c, x, y, &d);
	if (err < 0)
		goto out_reject;
	if (err == 0)
		return 0;
	err = mb_ingest_check_targets(s->ing, y, &d);
	if (err < 0)
		goto out_reject;
	if (s->store)
		return keep_row(s, rec, s->text_fmt == MB_TEXT_CSV ? K_CSV : K_LIBSVM, (uint32_t)rec->number);
	s->at.offset = rec->end;
	s->at.row = 0;
	commit(s, 1.0f);
	return 0;

out_reject:
	d.line = (size_t)rec->number;
	d.offset = (size_t)rec->offset;
	reject(s, &d);
	return 0;
}

/* Keep a binary message and each of its valid rows. */
static int keep_binary(struct mb_source *s, const struct mb_file_record *rec, const struct mb_sample_view *v)
{
	struct mb_file_store_row row = {.len = (uint32_t)rec->len, .file = (uint16_t)s->file, .kind = K_BIN};
	struct mb_sample_view kept;
	int err = mb_file_store_keep(s->store, rec->p, rec->len, &row.p);
	if (err < 0)
		return err;
	/* Parse the kept copy: the view must point into the store, not the read buffer. */
	if (mb_sample_bin_parse(row.p, rec->len, &s->shape, &kept, NULL) < 0)
		return -EPROTO;
	err = mb_file_store_add_view(s->store, &kept, &row.aux);
	if (err < 0)
		return err;
	for (uint32_t i = 0; i < v->count; i++) {
		struct mb_diag d = {0};
		mb_sample_view_row(v, i, NULL, s->scratch + s->shape.n_features, NULL);
		if (mb_ingest_check_targets(s->ing, s->scratch + s->shape.n_features, &d) < 0) {
			d.offset = (size_t)rec->offset;
			reject(s, &d);
			continue;
		}
		row.sub = i;
		err = mb_file_store_add_row(s->store, &row);
		if (err < 0)
			return err;
	}
	return 0;
}

static int binary_record(struct mb_source *s, const struct mb_file_record *rec)
{
	struct mb_sample_view v;
	struct mb_diag d = {0};
	float *x, *y, w;
	int err;

	err = mb_sample_bin_parse(rec->p, rec->len, s->have_shape ? &s->shape : NULL, &v, &d);
	if (err < 0) {
		received(s, 1);
		goto out_reject;
	}
	received(s, v.count);
	if (!s->have_shape) {
		struct mb_shape want = {v.n_features, v.n_targets};
		if ((err = fix_shape(s, &want, &d)) < 0)
			goto out_reject;
	}
	if (s->store)
		return keep_binary(s, rec, &v);
	/* Resuming inside this message: its first rows were learned from before the restart. */
	uint32_t first = s->first_row < v.count ? s->first_row : v.count;
	s->first_row = 0;
	for (uint32_t i = first; i < v.count; i++) {
		err = slot(s, &x, &y);
		if (err)
			return err;
		mb_sample_view_row(&v, i, x, y, &w);
		if (mb_ingest_check_targets(s->ing, y, &d) < 0) {
			d.offset = (size_t)rec->offset;
			reject(s, &d);
			continue;
		}
		s->at.offset = i + 1 < v.count ? rec->offset : rec->end;
		s->at.row = i + 1 < v.count ? i + 1 : 0;
		commit(s, w);
	}
	return 0;

out_reject:
	d.offset += (size_t)rec->offset;
	reject(s, &d);
	return 0;
}

/* The labels file paired with file i; -errno with *d. */
static int load_labels(struct mb_source *s, uint32_t i, struct mb_diag *d)
{
	long from = s->n_labels == 1 ? 0 : (long)i;

	if (!s->n_labels)
		return mb_diag_set(d, -EINVAL, MB_R_COUNT_MISMATCH, 0, 0, "IDX images need a labels file (labels=)");
	if (s->lab_from == from)
		return 0;
	free(s->lab);
	s->lab = NULL;
	s->lab_from = -1;
	int err = mb_file_slurp(s->labels[from], LABELS_MAX_BYTES, &s->lab, &s->lab_len);
	if (err < 0)
		return mb_diag_set(d, err, MB_R_EMPTY, 0, 0, "cannot read labels %s: %s", s->labels[from],
				   strerror(-err));
	if ((err = mb_idx_parse_header(s->lab, s->lab_len, &s->lab_hdr, d)) < 0 ||
	    (err = mb_idx_check_size(&s->lab_hdr, s->lab_len, d)) < 0)
		return err;
	s->lab_from = from;
	return 0;
}

/* The first IDX record of a file: check the header against the labels and the shape. */
static int idx_begin(struct mb_source *s, struct mb_diag *d)
{
	const struct mb_idx_header *h = mb_file_stream_idx(s->stream);
	int err;

	if ((err = load_labels(s, s->file, d)) < 0 || (err = mb_idx_check_pair(h, &s->lab_hdr, d)) < 0)
		return err;
	struct mb_shape want = {(uint32_t)h->record_elems, 1};
	if ((err = fix_shape(s, &want, d)) < 0)
		return err;
	s->idx[s->file] = *h;
	s->idx_checked = true;
	return 0;
}

static int idx_record(struct mb_source *s, const struct mb_file_record *rec)
{
	const struct mb_idx_header *h = &s->idx[s->file];
	struct mb_diag d = {0};
	float *x, *y;
	int err;

	received(s, 1);
	uint8_t label = mb_idx_label(&s->lab_hdr, s->lab, (uint32_t)rec->number);
	err = row_dest(s, &x, &y);
	if (err)
		return err;
	if (mb_idx_record_floats(h, rec->p, x) < 0) {
		mb_diag_set(&d, -EDOM, MB_R_NONFINITE, 0, (size_t)rec->offset, "IDX record %llu holds NaN or infinity",
			    (unsigned long long)rec->number);
		reject(s, &d);
		return 0;
	}
	y[0] = label;
	if (mb_ingest_check_targets(s->ing, y, &d) < 0) {
		d.offset = (size_t)rec->offset;
		reject(s, &d);
		return 0;
	}
	if (s->store)
		return keep_row(s, rec, K_IDX, label);
	s->at.offset = rec->end;
	s->at.row = 0;
	commit(s, 1.0f);
	return 0;
}

/* Every record of the stream comes here (see source_file.h). */
int mb_file_rows_record(void *ctx, const struct mb_file_record *rec)
{
	struct mb_source *s = ctx;

	if (rec->reject) {
		received(s, 1);
		reject(s, rec->reject);
		return 0;
	}
	if (mb_ingest_stopping(s->ing))
		return MB_FILE_STOP;
	switch (mb_file_stream_frame(s->stream)) {
	case MB_FILE_FRAME_TEXT:
		return text_record(s, rec);
	case MB_FILE_FRAME_BINARY:
		return binary_record(s, rec);
	case MB_FILE_FRAME_IDX:
		if (!s->idx_checked) {
			int err = idx_begin(s, &s->fail);
			if (err < 0)
				return err;
		}
		return idx_record(s, rec);
	default:
		return -EPROTO;
	}
}

/* Decode a kept sample into the next batch row and commit it. */
int mb_file_rows_emit_kept(struct mb_source *s, const struct mb_file_store_row *r)
{
	float *x, *y, w = 1.0f;
	int err = slot(s, &x, &y);
	if (err)
		return err;
	switch (r->kind) {
	case K_CSV:
	case K_LIBSVM: {
		struct mb_text_cursor c;
		mb_text_cursor_init(&c, r->p, r->len, r->kind == K_CSV ? MB_TEXT_CSV : MB_TEXT_LIBSVM, &s->shape);
		if (mb_text_next(&c, x, y, NULL) != 1)
			return -EPROTO;
		break;
	}
	case K_BIN:
		mb_sample_view_row(mb_file_store_view(s->store, r->aux), r->sub, x, y, &w);
		break;
	case K_IDX:
		if (mb_idx_record_floats(&s->idx[r->file], r->p, x) < 0)
			return -EPROTO;
		y[0] = (float)r->aux;
		break;
	default:
		return -EPROTO;
	}
	commit(s, w);
	return 0;
}

/* The position after the last submitted batch; the layout is in source_file.h. */
long mb_file_rows_position(struct mb_source *s, void *buf, size_t cap)
{
	uint64_t seq0, seq1, ff, er, off, rows;

	if (cap < MB_FILE_POS_BYTES)
		return -ENOBUFS;
	do {
		seq0 = atomic_load_explicit(&s->pub_seq, memory_order_acquire);
		/* Acquire: pairs with the release stores in publish_begin(), and keeps the second count after them. */
		ff = atomic_load_explicit(&s->pub_flags_file, memory_order_acquire);
		er = atomic_load_explicit(&s->pub_epoch_row, memory_order_acquire);
		off = atomic_load_explicit(&s->pub_offset, memory_order_acquire);
		rows = atomic_load_explicit(&s->pub_rows, memory_order_acquire);
		seq1 = atomic_load_explicit(&s->pub_seq, memory_order_relaxed);
	} while (seq0 != seq1 || (seq0 & 1));
	if (seq0 == 0)
		return 0;

	struct mb_wire w;
	mb_wire_init(&w, buf, cap);
	mb_wire_put_bytes(&w, "MBFP", 4);
	mb_wire_put_u32(&w, MB_FILE_POS_VERSION);
	mb_wire_put_u32(&w, (uint32_t)(ff >> 32));
	mb_wire_put_u32(&w, (uint32_t)ff);
	mb_wire_put_u32(&w, (uint32_t)(er >> 32));
	mb_wire_put_u32(&w, (uint32_t)er);
	mb_wire_put_u64(&w, off);
	mb_wire_put_u64(&w, rows);
	return mb_wire_ok(&w) ? (long)w.off : -ENOBUFS;
}
