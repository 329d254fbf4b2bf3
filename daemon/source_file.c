/* SPDX-License-Identifier: MIT */
/*
 * source_file.c - the file source: samples from files, read with io_uring.
 *
 * [source.NAME] type = file reads the files of path (a comma list; globs
 * expand in sorted order) one after another, epochs times (0: forever).
 * daemon/file_reader.c keeps queue_depth reads of block_kib each in flight
 * on registered buffers; daemon/file_stream.c inflates gzip and cuts the
 * content into records; daemon/file_rows.c decodes each record straight
 * into the next row of a batch from the source's feed and submits full
 * batches. This file reads the configuration and walks the files: epochs,
 * shuffle, follow. A file source never drops a sample: when the trainer
 * falls behind and the pool is empty, it stops reading until a batch comes
 * back. Checkpoint positions are described in daemon/source_file.h.
 *
 * Formats (format = auto detects each file from its first bytes): binary
 * sample messages back to back; CSV or libsvm lines; IDX images paired
 * with the IDX labels file named by labels (one per path, or one for all).
 * A bad text line or a bad binary message whose length is still sound is
 * counted by reason and skipped; a binary header that makes no sense, a
 * broken gzip stream or an IDX file that disagrees with its labels ends
 * that file (there is no way to find the next record) and reading goes on
 * with the next file.
 *
 * shuffle = true reads every file once into memory (daemon/file_store.h,
 * at most MB_FILE_STORE_MAX_BYTES of records) and then emits a permutation
 * of all samples per epoch, drawn from a generator seeded from seed and
 * the epoch's number, so the order is the same on every run with that
 * seed, and a restart from a checkpoint can take up any epoch.
 *
 * Batches are cut every batch.size rows, never by time (linger), except
 * when following a file: then a partial batch goes out once it lingered,
 * since the file has no end at which it would. So a restart from a
 * checkpoint, which resumes right after a batch, cuts the same batches.
 *
 * follow = true reads the files and then keeps reading the last one as it
 * grows, like tail -F: a file whose path now names another inode (rotated)
 * is read to its end and the new one opened from its start; a file that
 * shrank (truncated) is read again from its start. epochs and shuffle do
 * not apply.
 *
 * Setting MINIBATCHD_NO_IO_URING=1 in the environment reads with pread(2),
 * as happens on its own when io_uring is refused with EPERM or ENOSYS.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rng.h"
#include "shuffle.h"
#include "source_file.h"
#include "wire.h"

#define IDLE_WAIT_MS 100         /* pause, and follow's wait for the file to grow */
#define SHUFFLE_CHECK_ROWS 4096u /* shuffled rows between looks at the pause flag */
#define FOLLOW_RESTARTED 2       /* follow_check: reading starts over (not MB_FILE_STOP) */

/* A sentence for create()'s *why: per thread, like the configuration getters. */
static _Thread_local char why_buf[512];

static const char *why_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *why_fmt(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof why_buf, fmt, ap);
	va_end(ap);
	return why_buf;
}

/* ---- Configuration ---- */

static bool has_glob_magic(const char *p)
{
	return strpbrk(p, "*?[") != NULL;
}

/* Expand a comma list of paths and globs into *ret (NULL-terminated). */
static int expand_paths(const char *name, const char *key, const char *list, char ***ret, size_t *ret_n,
			const char **why)
{
	char **items = NULL, **out = NULL;
	size_t n_items = 0, n = 0;
	int err = mb_cfg_list_split(list ? list : "", &items, &n_items);
	if (err < 0)
		return err;
	for (size_t i = 0; i < n_items; i++) {
		glob_t g;
		const char *one[] = {items[i]};
		char **found = (char **)one;
		size_t n_found = 1;
		bool globbed = false;
		if (has_glob_magic(items[i])) {
			int gr = glob(items[i], 0, NULL, &g);
			if (gr == GLOB_NOMATCH) {
				*why = why_fmt("source %s: %s: %s matches no file", name, key, items[i]);
				err = -ENOENT;
				goto out_free;
			}
			if (gr != 0) {
				err = -ENOMEM;
				goto out_free;
			}
			globbed = true;
			found = g.gl_pathv;
			n_found = g.gl_pathc;
		}
		char **grown = realloc(out, (n + n_found + 1) * sizeof *out);
		if (!grown) {
			if (globbed)
				globfree(&g);
			err = -ENOMEM;
			goto out_free;
		}
		out = grown;
		for (size_t k = 0; k < n_found; k++) {
			out[n] = strdup(found[k]);
			if (!out[n]) {
				if (globbed)
					globfree(&g);
				err = -ENOMEM;
				goto out_free;
			}
			out[++n] = NULL;
		}
		if (globbed)
			globfree(&g);
	}
	mb_cfg_list_free(items);
	*ret = out;
	*ret_n = n;
	return 0;

out_free:
	for (size_t k = 0; k < n; k++)
		free(out[k]);
	free(out);
	mb_cfg_list_free(items);
	return err;
}

static char **paths_free(char **p)
{
	for (size_t i = 0; p && p[i]; i++)
		free(p[i]);
	free(p);
	return NULL;
}

/* Read the keys of [source.NAME] into s. */
static int read_cfg(struct mb_source *s, const struct mb_source_cfg *cfg, struct mb_file_reader_cfg *rc,
		    const char **why)
{
	uint32_t depth, block_kib;
	bool sqpoll;
	int fmt, err;

	if ((err = mb_source_cfg_enum(cfg, "format", FORMAT_CHOICES, &fmt, why)) < 0 ||
	    (err = mb_source_cfg_u32(cfg, "targets", &s->targets, why)) < 0 ||
	    (err = mb_source_cfg_u32(cfg, "epochs", &s->epochs, why)) < 0 ||
	    (err = mb_source_cfg_bool(cfg, "shuffle", &s->shuffle, why)) < 0 ||
	    (err = mb_source_cfg_bool(cfg, "follow", &s->follow, why)) < 0 ||
	    (err = mb_source_cfg_u64(cfg, "seed", &s->seed, why)) < 0 ||
	    (err = mb_source_cfg_u32(cfg, "queue_depth", &depth, why)) < 0 ||
	    (err = mb_source_cfg_u32(cfg, "block_kib", &block_kib, why)) < 0 ||
	    (err = mb_source_cfg_bool(cfg, "sqpoll", &sqpoll, why)) < 0)
		return err;
	s->format = (enum file_format)fmt;

	err = expand_paths(s->name, "path", mb_source_cfg_get(cfg, "path"), &s->paths, &s->n_paths, why);
	if (err < 0)
		return err;
	if (!s->n_paths) {
		*why = why_fmt("source %s: path names no file", s->name);
		return -EINVAL;
	}
	if (s->n_paths > UINT16_MAX) {
		*why = why_fmt("source %s: path names %zu files, more than %u", s->name, s->n_paths, UINT16_MAX);
		return -E2BIG;
	}
	err = expand_paths(s->name, "labels", mb_source_cfg_get(cfg, "labels"), &s->labels, &s->n_labels, why);
	if (err < 0)
		return err;
	if (s->n_labels > 1 && s->n_labels != s->n_paths) {
		*why = why_fmt("source %s: labels names %zu files for %zu in path: give one, or one per path",
			       s->name, s->n_labels, s->n_paths);
		return -EINVAL;
	}
	if (s->format == FMT_IDX && !s->n_labels) {
		*why = why_fmt("source %s: format idx needs labels (the IDX labels file)", s->name);
		return -EINVAL;
	}
	if (s->follow && (s->shuffle || s->format == FMT_IDX)) {
		*why = why_fmt("source %s: follow reads a growing file: it cannot be combined with %s", s->name,
			       s->shuffle ? "shuffle" : "format idx");
		return -EINVAL;
	}
	if (s->format == FMT_LIBSVM && s->targets > 1) {
		*why = why_fmt("source %s: libsvm lines carry one label, not %u targets", s->name, s->targets);
		return -EINVAL;
	}

	const char *no = getenv("MINIBATCHD_NO_IO_URING");
	*rc = (struct mb_file_reader_cfg){
		.queue_depth = depth,
		.block_bytes = (size_t)block_kib << 10,
		.sqpoll = sqpoll,
		.use_pread = no && *no && strcmp(no, "0") != 0,
	};
	return 0;
}

static enum mb_file_frame frame_of(enum file_format f)
{
	switch (f) {
	case FMT_BINARY:
		return MB_FILE_FRAME_BINARY;
	case FMT_CSV:
	case FMT_LIBSVM:
		return MB_FILE_FRAME_TEXT;
	case FMT_IDX:
		return MB_FILE_FRAME_IDX;
	default:
		return MB_FILE_FRAME_AUTO;
	}
}

static void destroy(struct mb_source *s);

/* Tell the log once how the reader reads, when it is not the plain io_uring path. */
static void log_reader(const struct mb_source *s)
{
	int why = 0;
	unsigned notes = mb_file_reader_notes(s->reader, &why);

	if (notes & MB_FILE_READER_NO_URING)
		mb_log(LOG_NOTICE, "source %s: io_uring refused (%s): reading with pread(2)", s->name, strerror(why));
	else if (!mb_file_reader_uses_uring(s->reader))
		mb_log(LOG_NOTICE, "source %s: MINIBATCHD_NO_IO_URING is set: reading with pread(2)", s->name);
	if (notes & MB_FILE_READER_NO_SQPOLL)
		mb_log(LOG_NOTICE, "source %s: io_uring SQPOLL refused: submitting without it", s->name);
	if (notes & MB_FILE_READER_NO_FIXED)
		mb_log(LOG_NOTICE, "source %s: io_uring buffer registration refused (RLIMIT_MEMLOCK?): plain reads",
		       s->name);
}

/* The create hook: read the configuration, set up the reader and the stream. */
static int create(const struct mb_source_cfg *cfg, struct mb_ingest *ing, unsigned index, struct mb_source **ret,
		  const char **why)
{
	struct mb_file_reader_cfg rc;
	struct mb_source *s;
	int err;

	*why = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->ing = ing;
	s->index = index;
	s->fd = -1;
	s->wake_fd = -1;
	s->lab_from = -1;
	s->stats = mb_ingest_stats(ing, index);
	snprintf(s->name, sizeof s->name, "%s", cfg->name);
	s->limit.what = s->name;
	if (!s->stats) {
		*why = why_fmt("source %s: index %u is out of range", s->name, index);
		err = -EINVAL;
		goto out_destroy;
	}
	err = read_cfg(s, cfg, &rc, why);
	if (err < 0)
		goto out_destroy;
	s->idx = calloc(s->n_paths, sizeof *s->idx);
	if (!s->idx) {
		err = -ENOMEM;
		goto out_destroy;
	}
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		err = -errno;
		*why = why_fmt("source %s: eventfd: %s", s->name, strerror(errno));
		goto out_destroy;
	}
	err = mb_file_reader_new(&rc, &s->reader);
	if (err < 0) {
		*why = why_fmt("source %s: io_uring setup: %s", s->name, strerror(-err));
		goto out_destroy;
	}
	err = mb_file_stream_new(frame_of(s->format), rc.block_bytes, &s->stream);
	if (err < 0)
		goto out_destroy;
	log_reader(s);
	*ret = s;
	return 0;

out_destroy:
	if (!*why)
		*why = why_fmt("source %s: %s", s->name, strerror(-err));
	destroy(s);
	return err;
}

/* ---- Reading files ---- */

/* Sleep up to ms or until wake(); when following, hand over a lingering partial batch first. MB_FILE_STOP when stopping. */
static int idle(struct mb_source *s, int ms)
{
	if (s->follow && s->batch && s->batch->rows &&
	    mb_batch_lingered(s->batch, mb_batch_now_ns(), mb_ingest_cfg(s->ing)->linger_ms))
		mb_file_rows_submit(s);
	struct pollfd pfd = {.fd = s->wake_fd, .events = POLLIN};
	if (!mb_ingest_stopping(s->ing) && poll(&pfd, 1, ms) > 0) {
		uint64_t v;
		if (read(s->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
			return -errno;
	}
	return mb_ingest_stopping(s->ing) ? MB_FILE_STOP : 0;
}

/* Wait while paused. */
static int pause_point(struct mb_source *s)
{
	while (mb_ingest_paused(s->ing)) {
		int err = idle(s, IDLE_WAIT_MS);
		if (err)
			return err;
	}
	return mb_ingest_stopping(s->ing) ? MB_FILE_STOP : 0;
}

/* Open file i and point the reader and the stream at its start. */
static int open_file(struct mb_source *s, uint32_t i)
{
	struct stat st;
	int fd = open(s->paths[i], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	int err = mb_file_reader_start(s->reader, fd, 0);
	if (err < 0) {
		close(fd);
		return err;
	}
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->file = i;
	s->text_fmt = 0;
	s->idx_checked = false;
	s->fail = (struct mb_diag){0};
	mb_file_stream_begin(s->stream);
	s->at.file = i;
	s->at.offset = 0;
	s->at.row = 0;
	return 0;
}

static void close_file(struct mb_source *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* A file-level failure: log it once, remember it, count a data fault by its reason. */
static int file_failed(struct mb_source *s, int err, const struct mb_diag *d)
{
	if (d && d->reason > MB_R_OK && d->reason < MB_R_MAX_) {
		atomic_fetch_add_explicit(&s->stats->rejected, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->stats->rejected_by[d->reason], 1, memory_order_relaxed);
		mb_log(LOG_ERR, "source %s: %s: offset %zu: %s; the rest of the file is skipped", s->name,
		       s->paths[s->file], d->offset, d->text);
	} else {
		mb_log(LOG_ERR, "source %s: %s: %s; the rest of the file is skipped", s->name, s->paths[s->file],
		       strerror(-err));
	}
	s->file_err = err;
	return err;
}

/*
 * In follow mode at the end of the file: has the path been rotated to a new
 * file or the file truncated? FOLLOW_RESTARTED when reading starts over
 * (set up here), 0 to wait for growth, MB_FILE_STOP, or -errno. broken: the file
 * failed and only a new file (or a truncation) can bring data again.
 */
static int follow_check(struct mb_source *s, bool *draining, bool broken)
{
	const char *path = s->paths[s->file];
	struct stat st, now;
	int err;

	if (s->fd < 0) {
		/* The replacement of a rotated file could not be opened yet. */
		err = open_file(s, s->file);
		if (err == -ENOENT)
			return 0;
		return err < 0 ? err : FOLLOW_RESTARTED;
	}
	if (fstat(s->fd, &now) < 0)
		return -errno;
	if (stat(path, &st) == 0 && (st.st_ino != s->ino || st.st_dev != s->dev)) {
		if (!*draining && !broken) {
			/* The writer may have added to the old file just before the rename: one more look. */
			*draining = true;
			return FOLLOW_RESTARTED;
		}
		*draining = false;
		if (!broken) {
			/* A last line without its '\n' is complete now. */
			err = mb_file_stream_end(s->stream, mb_file_rows_record, s, &s->fail);
			if (err == MB_FILE_STOP)
				return MB_FILE_STOP;
			if (err < 0)
				file_failed(s, err, &s->fail);
		}
		close_file(s);
		mb_log(LOG_NOTICE, "source %s: %s was replaced: reading the new file", s->name, path);
		err = open_file(s, s->file);
		if (err == -ENOENT)
			return 0;
		return err < 0 ? err : FOLLOW_RESTARTED;
	}
	*draining = false;
	if ((uint64_t)now.st_size < mb_file_reader_offset(s->reader)) {
		mb_log(LOG_NOTICE, "source %s: %s was truncated: reading it again from the start", s->name, path);
		mb_file_stream_begin(s->stream);
		s->text_fmt = 0;
		s->at.offset = 0;
		s->at.row = 0;
		s->fail = (struct mb_diag){0};
		err = mb_file_reader_start(s->reader, s->fd, 0);
		return err < 0 ? err : FOLLOW_RESTARTED;
	}
	return 0;
}

/* Open file i and wait for it to appear when following. */
static int open_or_wait(struct mb_source *s, uint32_t i, bool follow)
{
	for (;;) {
		int err = open_file(s, i);
		if (err != -ENOENT || !follow)
			return err;
		err = idle(s, IDLE_WAIT_MS);
		if (err)
			return err;
	}
}

/*
 * The record callback while resuming: records that end before the
 * checkpoint's place were learned from before the restart; the one that
 * starts there may be a binary message partly learned from.
 */
static int resume_record(void *ctx, const struct mb_file_record *rec)
{
	struct mb_source *s = ctx;
	if (s->resuming) {
		if (rec->end <= s->resume.offset)
			return 0;
		if (rec->offset == s->resume.offset)
			s->first_row = s->resume.row;
		s->resuming = false;
	}
	return mb_file_rows_record(ctx, rec);
}

/*
 * Read file i from start to end; 0, MB_FILE_STOP, or -errno for this
 * file. With follow, go on reading as it grows until stopped: a failure
 * then waits for the file to be replaced or truncated.
 */
static int read_file(struct mb_source *s, uint32_t i, bool follow)
{
	bool draining = false, broken = false;
	mb_file_record_fn fn = s->resuming ? resume_record : mb_file_rows_record;
	int err;

	s->file = i;
	err = open_or_wait(s, i, follow);
	if (err == MB_FILE_STOP)
		return MB_FILE_STOP;
	if (err < 0)
		return file_failed(s, err, NULL);
	for (;;) {
		const uint8_t *p = NULL;
		if ((err = pause_point(s)))
			break;
		long n = broken || s->fd < 0 ? 0 : mb_file_reader_next(s->reader, &p);
		if (n == 0 && !follow) {
			err = mb_file_stream_end(s->stream, fn, s, &s->fail);
			if (err < 0)
				file_failed(s, err, &s->fail);
			break;
		}
		if (n == 0) {
			err = follow_check(s, &draining, broken);
			if (err == MB_FILE_STOP)
				break;
			if (err == FOLLOW_RESTARTED)
				broken = false;
			if (err < 0) {
				file_failed(s, err, &s->fail);
				broken = true;
			}
			if (err <= 0 && (err = idle(s, IDLE_WAIT_MS)))
				break;
			continue;
		}
		if (n > 0) {
			draining = false;
			atomic_fetch_add_explicit(&s->stats->bytes, (uint64_t)n, memory_order_relaxed);
			err = mb_file_stream_push(s->stream, p, (size_t)n, fn, s, &s->fail);
			if (err == MB_FILE_STOP)
				break;
			if (err == 0)
				continue;
		} else {
			err = (int)n;
		}
		file_failed(s, err, &s->fail);
		if (!follow)
			break;
		broken = true;
	}
	close_file(s);
	return err;
}

/* ---- Shuffled epochs ---- */

/* The seed of epoch's permutation: a function of the source's seed and the epoch's number alone. */
static uint64_t epoch_seed(uint64_t seed, uint32_t epoch)
{
	uint64_t z = seed + 0x9E3779B97F4A7C15ull * ((uint64_t)epoch + 1);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Read every file into the store, then emit a fresh permutation per epoch. */
static int run_shuffled(struct mb_source *s)
{
	struct mb_rng rng;
	uint32_t *perm = NULL;
	/* Loading reads everything: the place to resume at applies to the epochs. */
	bool resume = s->resuming;
	s->resuming = false;
	int err = mb_file_store_new(&s->store);
	if (err < 0)
		return err;
	for (uint32_t i = 0; i < s->n_paths; i++) {
		err = read_file(s, i, false);
		if (err == MB_FILE_STOP)
			return MB_FILE_STOP;
		/* The store's refusals come without a reason; a framing fault has one. */
		if (err == -ENOMEM || (err == -E2BIG && s->fail.reason == MB_R_OK)) {
			mb_log(LOG_ERR, "source %s: the files do not fit in memory for shuffle (limit %llu MiB)",
			       s->name, (unsigned long long)(MB_FILE_STORE_MAX_BYTES >> 20));
			return err;
		}
	}
	uint32_t n = mb_file_store_rows(s->store);
	if (!n)
		return s->file_err ? s->file_err : -ENODATA;
	mb_log(LOG_INFO, "source %s: %u samples (%llu MiB of records) in memory for shuffled epochs", s->name, n,
	       (unsigned long long)(mb_file_store_bytes(s->store) >> 20));
	perm = malloc((size_t)n * sizeof *perm);
	if (!perm)
		return -ENOMEM;
	uint32_t first_epoch = 0, first_k = 0;
	if (resume) {
		first_epoch = s->resume.epoch;
		first_k = s->resume.offset < n ? (uint32_t)s->resume.offset : n;
		if (s->resume.offset > n || s->resume.rows != (uint64_t)first_epoch * n + s->resume.offset)
			mb_log(LOG_WARNING, "source %s: the files hold %u samples, not what the checkpoint's position "
			       "says: they changed, and the samples learned from after the restart will differ", s->name, n);
	}
	s->at.flags = MB_FILE_POS_SHUFFLED;
	s->at.file = 0;
	s->at.row = 0;
	for (s->epoch = first_epoch; !s->epochs || s->epoch < s->epochs; s->epoch++) {
		mb_rng_seed(&rng, epoch_seed(s->seed, s->epoch));
		mb_shuffle_perm(perm, n, &rng);
		s->at.epoch = s->epoch;
		for (uint32_t k = s->epoch == first_epoch ? first_k : 0; k < n; k++) {
			if (k % SHUFFLE_CHECK_ROWS == 0 && (err = pause_point(s)))
				goto out_free_perm;
			s->at.offset = (uint64_t)k + 1;
			err = mb_file_rows_emit_kept(s, mb_file_store_row(s->store, perm[k]));
			if (err)
				goto out_free_perm;
		}
	}
	err = 0;
out_free_perm:
	free(perm);
	return err;
}

/* Stream every file per epoch (from the restored place, if any); follow keeps reading the last one. */
static int run_streaming(struct mb_source *s)
{
	for (s->epoch = s->resuming ? s->resume.epoch : 0; !s->epochs || s->epoch < s->epochs; s->epoch++) {
		uint64_t before = s->at.rows + atomic_load_explicit(&s->stats->rejected, memory_order_relaxed);
		bool whole = !s->resuming; /* a resumed pass may rightly give nothing: it started at its end */
		s->at.epoch = s->epoch;
		for (uint32_t i = s->resuming ? s->resume.file : 0; i < s->n_paths; i++) {
			int err = read_file(s, i, s->follow && i + 1 == s->n_paths);
			s->resuming = false; /* a file shorter than the place to resume at ends it too */
			if (err == MB_FILE_STOP)
				return MB_FILE_STOP;
		}
		if (s->follow)
			return s->file_err; /* only a failure to wait ends following */
		uint64_t after = s->at.rows + atomic_load_explicit(&s->stats->rejected, memory_order_relaxed);
		if (after == before && !s->epochs && whole) {
			/* Nothing at all came out of a pass: endless passes would only spin. */
			mb_log(LOG_ERR, "source %s: a whole pass over the files gave no sample: stopping", s->name);
			return s->file_err ? s->file_err : -ENODATA;
		}
	}
	return 0;
}

/* The run hook: read until done or stopped, then hand over the last partial batch. */
static int run(struct mb_source *s)
{
	int err = s->shuffle ? run_shuffled(s) : run_streaming(s);

	if (s->batch) {
		if (s->batch->rows)
			mb_file_rows_submit(s);
		else
			mb_feed_submit(s->feed, s->batch); /* an empty batch goes back to the pool */
		s->batch = NULL;
	}
	mb_log_limit_flush(&s->limit, LOG_WARNING);
	if (err == MB_FILE_STOP)
		return 0;
	if (err == 0 && s->file_err && !s->at.rows)
		return s->file_err;
	return err;
}

/* The wake hook: make idle waits return at once. */
static void wake(struct mb_source *s)
{
	uint64_t one = 1;
	ssize_t r = write(s->wake_fd, &one, sizeof one);
	(void)r; /* a full counter already wakes the reader */
}

/* The position hook: see source_file.h for the layout. */
static long position(struct mb_source *s, void *buf, size_t cap)
{
	return mb_file_rows_position(s, buf, cap);
}

/* The restore hook: resume right after a place the position hook reported (source_file.h). */
static int restore(struct mb_source *s, const void *buf, size_t len)
{
	struct mb_wire w;
	struct file_pos p;
	mb_wire_init(&w, buf, len);
	const uint8_t *magic = mb_wire_take(&w, 4);
	uint32_t version = mb_wire_u32(&w);
	p.flags = mb_wire_u32(&w);
	p.file = mb_wire_u32(&w);
	p.epoch = mb_wire_u32(&w);
	p.row = mb_wire_u32(&w);
	p.offset = mb_wire_u64(&w);
	p.rows = mb_wire_u64(&w);
	if (!mb_wire_ok(&w) || mb_wire_left(&w) || memcmp(magic, "MBFP", 4) != 0 || version != MB_FILE_POS_VERSION ||
	    (p.flags & ~MB_FILE_POS_SHUFFLED)) {
		mb_log(LOG_ERR, "source %s: the checkpoint's position is not one this version of the file source wrote",
		       s->name);
		return -EBADMSG;
	}
	bool shuffled = p.flags & MB_FILE_POS_SHUFFLED;
	if (shuffled != s->shuffle) {
		mb_log(LOG_ERR, "source %s: the checkpoint's position is of a%s source, and shuffle is %s now", s->name,
		       shuffled ? " shuffled" : "n unshuffled", s->shuffle ? "on" : "off");
		return -EINVAL;
	}
	if (!shuffled && p.file >= s->n_paths) {
		mb_log(LOG_ERR, "source %s: the checkpoint's position is in file %u of path, which names %zu now", s->name,
		       p.file + 1, s->n_paths);
		return -EINVAL;
	}
	s->resume = p;
	s->resuming = true;
	s->at = p;
	mb_file_rows_publish(s); /* until a batch goes out, a checkpoint records this very place */
	if (shuffled)
		mb_log(LOG_INFO, "source %s: resuming in epoch %u after %llu samples", s->name, p.epoch + 1,
		       (unsigned long long)p.rows);
	else
		mb_log(LOG_INFO, "source %s: resuming in epoch %u at %s, offset %llu, after %llu samples", s->name,
		       p.epoch + 1, s->paths[p.file], (unsigned long long)p.offset, (unsigned long long)p.rows);
	return 0;
}

/* The destroy hook, also create()'s cleanup. */
static void destroy(struct mb_source *s)
{
	if (!s)
		return;
	close_file(s);
	mb_file_store_free(s->store);
	mb_file_stream_free(s->stream);
	mb_file_reader_free(s->reader);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->scratch);
	free(s->lab);
	free(s->idx);
	paths_free(s->paths);
	paths_free(s->labels);
	free(s);
}

const struct mb_source_ops mb_source_file_ops = {
	.version = MB_SOURCE_OPS_VERSION,
	.name = "file",
	.create = create,
	.run = run,
	.wake = wake,
	.position = position,
	.restore = restore,
	.destroy = destroy,
};
