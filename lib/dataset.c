/* SPDX-License-Identifier: MIT */
/*
 * dataset.c - load a whole labelled file into memory (IDX pairs, binary
 * sample records, CSV, libsvm), reading gzip transparently.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset.h"
#include "idx.h"
#include "wire.h"

/* A loaded file may inflate to this much: far above any data set we train on in memory. */
#define DATASET_MAX_FILE_BYTES ((size_t)1 << 31)
/* Bytes read from a file at a time. */
#define READ_CHUNK ((size_t)1 << 18)

static bool is_gzip(const uint8_t *p, size_t len) { return len >= 2 && p[0] == 0x1f && p[1] == 0x8b; }

/* A growing output buffer that refuses to pass max bytes. */
struct sink {
	uint8_t *p;  /* the bytes so far */
	size_t len;  /* bytes used */
	size_t cap;  /* bytes allocated */
	size_t max;  /* the caller's bound on len */
};

/*
 * Make room for up to want more bytes (at least one). Capacity may reach
 * max + 1 so that output running past the bound is seen, not cut off.
 */
static int sink_reserve(struct sink *s, size_t want)
{
	size_t limit = s->max < SIZE_MAX ? s->max + 1 : SIZE_MAX;
	if (s->cap - s->len >= want || (s->cap == limit && s->cap > s->len))
		return 0;
	if (s->cap >= limit)
		return -E2BIG;
	size_t ncap = s->cap < 32768 ? 65536 : s->cap <= limit / 2 ? s->cap * 2 : limit;
	if (ncap - s->len < want)
		ncap = want <= SIZE_MAX - s->len ? s->len + want : SIZE_MAX;
	if (ncap > limit)
		ncap = limit;
	uint8_t *p = realloc(s->p, ncap);
	if (!p)
		return -ENOMEM;
	s->p = p;
	s->cap = ncap;
	return 0;
}

static int sink_append(struct sink *s, const uint8_t *in, size_t n)
{
	if (n == 0)
		return 0; /* nothing to copy, and s->p may still be NULL */
	if (n > s->max - s->len)
		return -E2BIG;
	int err = sink_reserve(s, n);
	if (err < 0)
		return err;
	memcpy(s->p + s->len, in, n);
	s->len += n;
	return 0;
}

/* Hand the bytes over, trimmed to size; the sink is empty afterwards. */
static void sink_take(struct sink *s, uint8_t **ret, size_t *ret_len)
{
	uint8_t *p = realloc(s->p, s->len ? s->len : 1);
	*ret = p ? p : s->p;
	*ret_len = s->len;
	s->p = NULL;
	s->len = s->cap = 0;
}

/* A gzip stream being inflated; concatenated members inflate to their concatenation. */
struct gunzip {
	z_stream zs;     /* zlib's state, set up for gzip headers only */
	bool in_member;  /* bytes of a member were fed and its end not reached */
	unsigned done;   /* members inflated completely */
};

static int gunzip_init(struct gunzip *g)
{
	memset(g, 0, sizeof *g);
	int r = inflateInit2(&g->zs, 16 + MAX_WBITS);
	return r == Z_OK ? 0 : r == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
}

static void gunzip_end(struct gunzip *g) { inflateEnd(&g->zs); }

/* Inflate n more input bytes into out: -EBADMSG for corrupt data, -E2BIG past the bound. */
static int gunzip_feed(struct gunzip *g, struct sink *out, const uint8_t *in, size_t n)
{
	while (n > 0) {
		uInt piece = n > UINT_MAX ? UINT_MAX : (uInt)n;
		g->zs.next_in = (Bytef *)in;
		g->zs.avail_in = piece;
		while (g->zs.avail_in > 0) {
			if (!g->in_member) {
				if (g->done && inflateReset(&g->zs) != Z_OK)
					return -EINVAL;
				g->in_member = true;
			}
			int err = sink_reserve(out, 1);    /* grows (doubling) only when full */
			if (err < 0)
				return err;
			size_t room = out->cap - out->len;
			g->zs.next_out = out->p + out->len;
			g->zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
			uInt before = g->zs.avail_out;
			int r = inflate(&g->zs, Z_NO_FLUSH);
			out->len += before - g->zs.avail_out;
			if (out->len > out->max)
				return -E2BIG;
			if (r == Z_STREAM_END) {
				g->in_member = false;
				g->done++;
			} else if (r == Z_MEM_ERROR) {
				return -ENOMEM;
			} else if (r != Z_OK && !(r == Z_BUF_ERROR && g->zs.avail_out == 0)) {
				return -EBADMSG;
			}
		}
		in += piece;
		n -= piece;
	}
	return 0;
}

/* At the end of the input: a member cut short is corrupt data. */
static int gunzip_finish(const struct gunzip *g)
{
	return g->in_member || !g->done ? -EBADMSG : 0;
}

/* gzip in memory, through the same bounded inflater as files. */
int mb_inflate_mem(const uint8_t *in, size_t len, size_t max_out, uint8_t **ret, size_t *ret_len)
{
	struct sink out = {.max = max_out};
	int err;

	if (!is_gzip(in, len)) {
		err = sink_append(&out, in, len);
	} else {
		struct gunzip g;
		err = gunzip_init(&g);
		if (err < 0)
			return err;
		err = gunzip_feed(&g, &out, in, len);
		if (err == 0)
			err = gunzip_finish(&g);
		gunzip_end(&g);
	}
	if (err == 0)
		err = sink_reserve(&out, 1);    /* so that an empty input still yields a buffer */
	if (err < 0) {
		free(out.p);
		return err;
	}
	sink_take(&out, ret, ret_len);
	return 0;
}

/* Read until n bytes or the end of the file; the count read, or -errno. */
static ssize_t read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * How much to allocate up front: the file's size, or for gzip the size its
 * trailer records (modulo 4 GiB, so only a hint), plus the byte that lets
 * the end be seen without growing.
 */
static size_t size_hint(int fd, bool gzip, size_t max)
{
	struct stat st;
	size_t hint = 0;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (!gzip) {
		hint = (size_t)st.st_size;
	} else if (st.st_size >= 18) {
		uint8_t t[4];
		if (pread(fd, t, 4, st.st_size - 4) == 4)
			hint = mb_le32(t);
	}
	return hint < max ? hint + 1 : 0;
}

/* Stream the file through the inflater, so the compressed copy is never held whole. */
int mb_file_slurp(const char *path, size_t max_bytes, uint8_t **ret, size_t *ret_len)
{
	struct sink out = {.max = max_bytes};
	struct gunzip g;
	bool gzip = false;
	int err = 0;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint8_t *chunk = malloc(READ_CHUNK);
	if (!chunk) {
		err = -ENOMEM;
		goto out_close_fd;
	}
	for (bool first = true;; first = false) {
		ssize_t n = read_full(fd, chunk, READ_CHUNK);
		if (n < 0) {
			err = (int)n;
			goto out_end_gunzip;
		}
		if (first) {
			gzip = is_gzip(chunk, (size_t)n);
			if (gzip && (err = gunzip_init(&g)) < 0)
				goto out_free_chunk;
			size_t hint = size_hint(fd, gzip, max_bytes);
			if (hint && (err = sink_reserve(&out, hint)) < 0)
				goto out_end_gunzip;
		}
		if (n == 0)
			break;
		err = gzip ? gunzip_feed(&g, &out, chunk, (size_t)n) : sink_append(&out, chunk, (size_t)n);
		if (err < 0)
			goto out_end_gunzip;
	}
	err = gzip ? gunzip_finish(&g) : 0;
	if (err == 0)
		err = sink_reserve(&out, 1);
	if (err == 0)
		sink_take(&out, ret, ret_len);
out_end_gunzip:
	if (gzip)
		gunzip_end(&g);
out_free_chunk:
	free(chunk);
out_close_fd:
	close(fd);
	free(out.p);
	return err;
}

/* Frees the rows and the dataset; NULL is fine. */
struct mb_dataset *mb_dataset_free(struct mb_dataset *ds)
{
	if (ds) {
		free(ds->x);
		free(ds->y);
		free(ds);
	}
	return NULL;
}

/* Put "name: " before the sentence in *diag, so it says which file failed. */
static int in_file(struct mb_diag *diag, const char *path, int err)
{
	if (diag) {
		char text[sizeof diag->text + 256];
		const char *base = strrchr(path, '/');
		snprintf(text, sizeof text, "%.200s: %s", base ? base + 1 : path, diag->text);
		memcpy(diag->text, text, sizeof diag->text - 1);
		diag->text[sizeof diag->text - 1] = '\0';
	}
	return err;
}

/* Read path whole, explaining a failure in *diag. */
static int slurp_diag(const char *path, uint8_t **ret, size_t *ret_len, struct mb_diag *diag)
{
	int err = mb_file_slurp(path, DATASET_MAX_FILE_BYTES, ret, ret_len);
	if (err == -E2BIG)
		return mb_diag_set(diag, err, MB_R_TOO_BIG, 0, 0,
				   "%s holds more than %zu bytes", path, DATASET_MAX_FILE_BYTES);
	if (err == -EBADMSG)
		return mb_diag_set(diag, err, MB_R_CRC, 0, 0, "%s: gzip data is corrupt or cut short",
				   path);
	if (err < 0)
		return mb_diag_set(diag, err, MB_R_OK, 0, 0, "cannot read %s: %s", path,
				   strerror(-err));
	return 0;
}

/*
 * The feature rows start on a cache line: the model's kernels read a row
 * 64 bytes at a time, and from malloc's 16-byte boundary every such read
 * straddles two lines (softmax 784-10 at batch 32 trains about a quarter
 * slower from there). Rows of 2 MiB or more start on a 2 MiB boundary and
 * ask for transparent huge pages (Debian's default gives them only on
 * request): training walks the rows a page after another, and with 4 KiB
 * pages every few rows cost a TLB miss (softmax 784-10 on all 60,000 rows
 * trains 2-5% faster at batch 1 and 32). Without them the kernel just
 * keeps small pages. bytes 0 is taken as one line.
 */
#define ROWS_ALIGN 64u
#define HUGE_PAGE_BYTES (2u * 1024u * 1024u)

static float *rows_alloc(size_t bytes)
{
	size_t align = bytes >= HUGE_PAGE_BYTES ? HUGE_PAGE_BYTES : ROWS_ALIGN;
	size_t rounded = (bytes + align - 1) & ~(size_t)(align - 1);
	if (rounded < bytes)
		return NULL;
	float *p = aligned_alloc(align, rounded ? rounded : align);
	if (p && align == HUGE_PAGE_BYTES)
		(void)madvise(p, rounded, MADV_HUGEPAGE); /* advice: refused, nothing is lost */
	return p;
}

/* A dataset of count rows, x and y allocated (uninitialised). */
static int dataset_alloc(uint32_t count, uint32_t n_features, uint32_t n_targets,
			 struct mb_dataset **ret)
{
	size_t nx, ny;
	if (!mb_size_muladd(count, n_features, 0, &nx) || nx > SIZE_MAX / sizeof(float) ||
	    !mb_size_muladd(count, n_targets, 0, &ny) || ny > SIZE_MAX / sizeof(float))
		return -E2BIG;
	struct mb_dataset *ds = calloc(1, sizeof *ds);
	if (!ds)
		return -ENOMEM;
	ds->count = count;
	ds->n_features = n_features;
	ds->n_targets = n_targets;
	ds->x = rows_alloc(nx * sizeof(float));
	ds->y = malloc(ny ? ny * sizeof(float) : 1);
	if (!ds->x || !ds->y) {
		mb_dataset_free(ds);
		return -ENOMEM;
	}
	*ret = ds;
	return 0;
}

/* Make room for rows more rows, doubling; ds->count is the rows in use. */
static int dataset_grow(struct mb_dataset *ds, size_t *cap, uint32_t rows)
{
	size_t need = (size_t)ds->count + rows;
	if (need > UINT32_MAX)
		return -E2BIG;
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 1024;
	while (ncap < need)
		ncap *= 2;
	size_t nx, ny;
	if (!mb_size_muladd(ncap, (size_t)ds->n_features * sizeof(float), 0, &nx) ||
	    !mb_size_muladd(ncap, (size_t)ds->n_targets * sizeof(float), 0, &ny))
		return -E2BIG;
	float *x = rows_alloc(nx); /* aligned_alloc has no realloc: copy the rows in use */
	if (!x)
		return -ENOMEM;
	if (ds->count)
		memcpy(x, ds->x, (size_t)ds->count * ds->n_features * sizeof(float));
	free(ds->x);
	ds->x = x;
	float *y = realloc(ds->y, ny ? ny : 1);
	if (!y)
		return -ENOMEM;
	ds->y = y;
	*cap = ncap;
	return 0;
}

/* Parse and size-check an IDX file read whole. */
static int idx_open(const char *path, const uint8_t *buf, size_t len, struct mb_idx_header *h,
		    struct mb_diag *diag)
{
	int err = mb_idx_parse_header(buf, len, h, diag);
	if (err == 0)
		err = mb_idx_check_size(h, len, diag);
	return err < 0 ? in_file(diag, path, err) : 0;
}

/* Both files whole in memory, checked, then converted record by record. */
int mb_dataset_load_idx(const char *images, const char *labels, struct mb_dataset **ret,
			struct mb_diag *diag)
{
	uint8_t *img = NULL, *lab = NULL;
	size_t img_len, lab_len;
	struct mb_idx_header hi, hl;
	struct mb_dataset *ds = NULL;

	int err = slurp_diag(images, &img, &img_len, diag);
	if (err < 0)
		return err;
	err = slurp_diag(labels, &lab, &lab_len, diag);
	if (err < 0)
		goto out_free_images;
	if ((err = idx_open(images, img, img_len, &hi, diag)) < 0 ||
	    (err = idx_open(labels, lab, lab_len, &hl, diag)) < 0 ||
	    (err = mb_idx_check_pair(&hi, &hl, diag)) < 0)
		goto out_free_labels;
	if (hi.record_elems > MB_MAX_FEATURES) {
		err = mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 4,
				  "%s has %zu values per image, the feature limit is %u", images,
				  hi.record_elems, MB_MAX_FEATURES);
		goto out_free_labels;
	}
	err = dataset_alloc(hi.dims[0], (uint32_t)hi.record_elems, 1, &ds);
	if (err < 0) {
		mb_diag_set(diag, err, err == -E2BIG ? MB_R_TOO_BIG : MB_R_OK, 0, 0,
			    "cannot hold %u images of %zu values in memory", hi.dims[0], hi.record_elems);
		goto out_free_labels;
	}
	for (uint32_t i = 0; i < ds->count; i++) {
		size_t off = mb_idx_record_offset(&hi, i);
		if (mb_idx_record_floats(&hi, img + off, ds->x + (size_t)i * ds->n_features) < 0) {
			err = mb_diag_set(diag, -EDOM, MB_R_NONFINITE, 0, off,
					  "%s: image %u holds a value that is not finite", images, i);
			goto out_free_dataset;
		}
		ds->y[i] = (float)mb_idx_label(&hl, lab, i);
	}
	*ret = ds;
	ds = NULL;
out_free_dataset:
	mb_dataset_free(ds);
out_free_labels:
	free(lab);
out_free_images:
	free(img);
	return err;
}

/* Read the fields of a binary record header that fix its size, or 0 if unusable. */
static size_t record_size(const uint8_t *p, size_t left)
{
	struct mb_wire w;
	if (left < MB_SMP_HEADER_BYTES || memcmp(p, MB_SMP_MAGIC, 4) != 0)
		return 0;
	mb_wire_init(&w, p, left);
	mb_wire_take(&w, 5);
	uint8_t flags = mb_wire_u8(&w);
	uint8_t elem = mb_wire_u8(&w);
	mb_wire_take(&w, 1);
	uint32_t count = mb_wire_u32(&w);
	uint32_t n_features = mb_wire_u32(&w);
	uint32_t n_targets = mb_wire_u32(&w);
	return mb_sample_bin_size(count, n_features, n_targets, elem, flags & MB_SMP_F_WEIGHTS);
}

/* Binary sample records back to back; every record must have the first one's shape. */
static int load_binary(const char *path, const uint8_t *buf, size_t len, const struct mb_shape *shape,
		       struct mb_dataset **ret, struct mb_diag *diag)
{
	struct mb_shape expect = shape ? *shape : (struct mb_shape){0};
	struct mb_dataset *ds = NULL;
	size_t cap = 0;
	int err = 0;

	for (size_t off = 0; off < len;) {
		struct mb_sample_view v;
		size_t size = record_size(buf + off, len - off);
		if (size == 0 || size > len - off)
			size = len - off;   /* let the parser say what is wrong */
		err = mb_sample_bin_parse(buf + off, size, &expect, &v, diag);
		if (err < 0) {
			if (diag)
				diag->offset += off;
			in_file(diag, path, err);
			goto out_free_dataset;
		}
		if (!ds) {
			err = dataset_alloc(0, v.n_features, v.n_targets, &ds);
			if (err < 0)
				return err;
			expect.n_features = v.n_features;
			expect.n_targets = v.n_targets;
		}
		err = dataset_grow(ds, &cap, v.count);
		if (err < 0) {
			mb_diag_set(diag, err, err == -E2BIG ? MB_R_TOO_BIG : MB_R_OK, 0, off,
				    "%s: cannot hold %zu samples in memory", path,
				    (size_t)ds->count + v.count);
			goto out_free_dataset;
		}
		for (uint32_t i = 0; i < v.count; i++, ds->count++)
			mb_sample_view_row(&v, i, ds->x + (size_t)ds->count * ds->n_features,
					   ds->y + (size_t)ds->count * ds->n_targets, NULL);
		off += size;
	}
	*ret = ds;
	return 0;
out_free_dataset:
	mb_dataset_free(ds);
	return err;
}

/* CSV or libsvm lines; the first bad line fails the load. */
static int load_text(const char *path, const uint8_t *buf, size_t len, const struct mb_shape *shape,
		     struct mb_dataset **ret, struct mb_diag *diag)
{
	enum mb_text_fmt fmt = mb_text_detect(buf, len);
	struct mb_shape sh = shape ? *shape : (struct mb_shape){0};
	struct mb_dataset *ds = NULL;
	struct mb_text_cursor c;
	size_t cap = 0;
	int err;

	if (sh.n_targets == 0)
		sh.n_targets = 1;
	if (sh.n_features == 0) {
		if (fmt == MB_TEXT_LIBSVM)
			return mb_diag_set(diag, -EINVAL, MB_R_DIM_MISMATCH, 0, 0,
					   "%s is libsvm: its number of features must be given", path);
		err = mb_text_probe_features(buf, len, fmt, sh.n_targets, &sh.n_features);
		if (err == -ENODATA)
			return mb_diag_set(diag, err, MB_R_EMPTY, 0, 0, "%s holds no sample", path);
		if (err < 0)
			return mb_diag_set(diag, err, err == -E2BIG ? MB_R_TOO_BIG : MB_R_COLUMNS, 0, 0,
					   "%s: the first data line has too few or too many columns for %u targets",
					   path, sh.n_targets);
	}
	err = dataset_alloc(0, sh.n_features, sh.n_targets, &ds);
	if (err < 0)
		return err;
	mb_text_cursor_init(&c, buf, len, fmt, &sh);
	for (;;) {
		err = dataset_grow(ds, &cap, 1);
		if (err < 0) {
			mb_diag_set(diag, err, err == -E2BIG ? MB_R_TOO_BIG : MB_R_OK, c.line, 0,
				    "%s: cannot hold %u samples in memory", path, ds->count + 1);
			goto out_free_dataset;
		}
		err = mb_text_next(&c, ds->x + (size_t)ds->count * sh.n_features,
				   ds->y + (size_t)ds->count * sh.n_targets, diag);
		if (err < 0) {
			in_file(diag, path, err);
			goto out_free_dataset;
		}
		if (err == 0)
			break;
		ds->count++;
	}
	if (ds->count == 0) {
		err = mb_diag_set(diag, -ENODATA, MB_R_EMPTY, 0, 0, "%s holds no sample", path);
		goto out_free_dataset;
	}
	*ret = ds;
	return 0;
out_free_dataset:
	mb_dataset_free(ds);
	return err;
}

/* Binary if the file starts with the sample magic, text otherwise. */
int mb_dataset_load(const char *path, const struct mb_shape *shape, struct mb_dataset **ret,
		    struct mb_diag *diag)
{
	uint8_t *buf;
	size_t len;
	struct mb_dataset *ds = NULL;

	int err = slurp_diag(path, &buf, &len, diag);
	if (err < 0)
		return err;
	if (len == 0)
		err = mb_diag_set(diag, -ENODATA, MB_R_EMPTY, 0, 0, "%s is empty", path);
	else if (len >= 4 && memcmp(buf, MB_SMP_MAGIC, 4) == 0)
		err = load_binary(path, buf, len, shape, &ds, diag);
	else
		err = load_text(path, buf, len, shape, &ds, diag);
	free(buf);
	if (err < 0)
		return err;
	*ret = ds;
	return 0;
}

/* dir/name, or dir/name without ".gz" when only the uncompressed file is there. */
static int fashion_path(char *buf, size_t cap, const char *dir, const char *set, const char *kind)
{
	int n = snprintf(buf, cap, "%s/%s-%s.gz", dir, set, kind);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	if (access(buf, R_OK) != 0)
		buf[n - 3] = '\0';
	return 0;
}

/* The file names Fashion-MNIST is distributed with. */
int mb_dataset_load_fashion(const char *dir, const char *set, struct mb_dataset **ret,
			    struct mb_diag *diag)
{
	char images[PATH_MAX], labels[PATH_MAX];

	if (strcmp(set, "train") != 0 && strcmp(set, "t10k") != 0)
		return mb_diag_set(diag, -EINVAL, MB_R_OK, 0, 0,
				   "Fashion-MNIST has the sets \"train\" and \"t10k\", not \"%s\"", set);
	if (fashion_path(images, sizeof images, dir, set, "images-idx3-ubyte") < 0 ||
	    fashion_path(labels, sizeof labels, dir, set, "labels-idx1-ubyte") < 0)
		return mb_diag_set(diag, -ENAMETOOLONG, MB_R_OK, 0, 0, "directory name is too long");
	return mb_dataset_load_idx(images, labels, ret, diag);
}
