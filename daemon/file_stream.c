/* SPDX-License-Identifier: MIT */
/*
 * file_stream.c - inflate, detect, and cut the content into records.
 *
 * Three layers, each fed by the one before:
 *  1. the raw bytes: the first two say whether the file is gzip;
 *  2. the content: the raw bytes, or what zlib inflates from them;
 *  3. the framing: records cut from the content, carried over block
 *     boundaries in fs->carry.
 * fs->off always names the first content byte not yet inside a finished
 * record, which is where the carry (if any) begins.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "file_stream.h"
#include "sample.h"
#include "wire.h"

/* Content bytes needed to tell the framing apart. */
#define DETECT_BYTES 4u
/* The gzip magic: 1f 8b. */
#define GZ_MAGIC0 0x1fu
#define GZ_MAGIC1 0x8bu

struct mb_file_stream {
	enum mb_file_frame forced; /* framing from the configuration, AUTO to detect */
	enum mb_file_frame frame;  /* framing of the current file, AUTO until detected */
	uint8_t magic[2];          /* first raw bytes, kept until the gzip check can be made */
	size_t magic_len;          /* how many of them arrived */
	bool gz_known;             /* the gzip check was made */
	bool gz;                   /* the file is gzip */
	z_stream z;                /* the inflater, when gz */
	bool z_ready;              /* z was initialised and must be ended */
	bool z_mid;                /* input went in since the last member ended */
	uint8_t *zout;             /* inflated chunk */
	size_t zout_cap;           /* its size */
	uint8_t *carry;            /* the beginning of a record cut by a block boundary */
	size_t carry_len;          /* bytes in carry */
	size_t carry_cap;          /* bytes allocated for carry */
	size_t rec_len;            /* binary and IDX: length of the carried record, 0 until known */
	bool skipping;             /* text: dropping the rest of an overlong line */
	uint64_t off;              /* content offset of the first byte not in a finished record */
	uint64_t number;           /* records (text: lines) finished so far */
	bool idx_ready;            /* idx holds the parsed header */
	struct mb_idx_header idx;  /* IDX header */
};

/* Make a stream; the inflate chunk is allocated once for every file. */
int mb_file_stream_new(enum mb_file_frame frame, size_t out_bytes, struct mb_file_stream **ret)
{
	struct mb_file_stream *fs;

	if (frame > MB_FILE_FRAME_IDX || out_bytes < 64)
		return -EINVAL;
	fs = calloc(1, sizeof *fs);
	if (!fs)
		return -ENOMEM;
	fs->zout = malloc(out_bytes);
	if (!fs->zout) {
		free(fs);
		return -ENOMEM;
	}
	fs->zout_cap = out_bytes;
	fs->forced = frame;
	mb_file_stream_begin(fs);
	*ret = fs;
	return 0;
}

/* Free the stream, its inflater and buffers. */
struct mb_file_stream *mb_file_stream_free(struct mb_file_stream *fs)
{
	if (!fs)
		return NULL;
	if (fs->z_ready)
		inflateEnd(&fs->z);
	free(fs->carry);
	free(fs->zout);
	free(fs);
	return NULL;
}

/* Reset everything that belongs to one file. */
void mb_file_stream_begin(struct mb_file_stream *fs)
{
	if (fs->z_ready)
		inflateEnd(&fs->z);
	fs->z_ready = false;
	fs->z_mid = false;
	fs->frame = fs->forced;
	fs->magic_len = 0;
	fs->gz_known = false;
	fs->gz = false;
	fs->carry_len = 0;
	fs->rec_len = 0;
	fs->skipping = false;
	fs->off = 0;
	fs->number = 0;
	fs->idx_ready = false;
}

/* The framing of the current file. */
enum mb_file_frame mb_file_stream_frame(const struct mb_file_stream *fs)
{
	return fs->frame;
}

/* Whether the current file is gzip. */
bool mb_file_stream_gzip(const struct mb_file_stream *fs)
{
	return fs->gz;
}

/* The IDX header of the current file, once read. */
const struct mb_idx_header *mb_file_stream_idx(const struct mb_file_stream *fs)
{
	return fs->idx_ready ? &fs->idx : NULL;
}

/* Content offset past the last whole record. */
uint64_t mb_file_stream_offset(const struct mb_file_stream *fs)
{
	return fs->off;
}

/*
 * Parse an IDX header from a prefix of the content: -EAGAIN until len
 * covers it, else as mb_idx_parse_header plus the feature limit.
 */
static int idx_header(const uint8_t *p, size_t len, struct mb_idx_header *ret, struct mb_diag *diag)
{
	if (len < 4 || (p[3] <= MB_IDX_MAX_DIMS && len < 4 + 4 * (size_t)p[3]))
		return -EAGAIN;
	struct mb_idx_header h;
	int err = mb_idx_parse_header(p, len, &h, diag);
	if (err < 0)
		return err;
	if (h.record_elems > MB_MAX_FEATURES)
		return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 4,
				   "IDX record holds %zu values, more than %u", h.record_elems, MB_MAX_FEATURES);
	*ret = h;
	return 0;
}

/* Decide the framing from the first content bytes. */
static enum mb_file_frame detect(const uint8_t *p)
{
	if (!memcmp(p, MB_SMP_MAGIC, 4))
		return MB_FILE_FRAME_BINARY;
	if (p[0] == 0 && p[1] == 0 && (p[2] == MB_IDX_TYPE_U8 || p[2] == MB_IDX_TYPE_F32) && p[3] >= 1 &&
	    p[3] <= MB_IDX_MAX_DIMS)
		return MB_FILE_FRAME_IDX;
	return MB_FILE_FRAME_TEXT;
}

/*
 * Binary and IDX: the length of the record starting at p (len bytes
 * present), 0 in *ret when more bytes are needed to know it.
 */
static int record_len(struct mb_file_stream *fs, const uint8_t *p, size_t len, size_t *ret,
		      struct mb_diag *diag)
{
	*ret = 0;
	if (fs->frame == MB_FILE_FRAME_IDX) {
		if (fs->idx_ready) {
			if (fs->number >= fs->idx.dims[0])
				return mb_diag_set(diag, -EBADMSG, MB_R_TRAILING, 0, (size_t)fs->off,
						   "IDX file holds more than the %u records its header announces",
						   fs->idx.dims[0]);
			*ret = fs->idx.record_bytes;
			return 0;
		}
		struct mb_idx_header h;
		int err = idx_header(p, len, &h, diag);
		if (err == -EAGAIN)
			return 0;
		if (err < 0)
			return err;
		*ret = h.header_bytes;
		return 0;
	}

	if (len < MB_SMP_HEADER_BYTES)
		return 0;
	struct mb_wire w;
	mb_wire_init(&w, p, len);
	const uint8_t *magic = mb_wire_take(&w, 4);
	(void)mb_wire_u8(&w); /* version: checked by the decoder */
	uint8_t flags = mb_wire_u8(&w);
	uint8_t elem = mb_wire_u8(&w);
	(void)mb_wire_u8(&w);
	uint32_t count = mb_wire_u32(&w);
	uint32_t nf = mb_wire_u32(&w);
	uint32_t nt = mb_wire_u32(&w);
	size_t size = 0;
	if (magic && !memcmp(magic, MB_SMP_MAGIC, 4))
		size = mb_sample_bin_size(count, nf, nt, (enum mb_elem)elem, flags & MB_SMP_F_WEIGHTS);
	if (size < MB_SMP_HEADER_BYTES || size > MB_FILE_STREAM_MAX_MSG) {
		/* The decoder names the precise fault of the header. */
		struct mb_sample_view v;
		struct mb_diag d = {0};
		int err = mb_sample_bin_parse(p, MB_SMP_HEADER_BYTES, NULL, &v, &d);
		if (err == 0 || d.reason == MB_R_TRUNCATED || d.reason == MB_R_OK)
			err = mb_diag_set(&d, -E2BIG, MB_R_TOO_BIG, 0, 0, "binary message over %u bytes",
					  MB_FILE_STREAM_MAX_MSG);
		d.offset += (size_t)fs->off;
		if (diag)
			*diag = d;
		return err;
	}
	*ret = size;
	return 0;
}

/* Hand a finished record to fn (or keep it, for the IDX header). */
static int emit(struct mb_file_stream *fs, const uint8_t *p, size_t len, size_t skip, mb_file_record_fn fn,
		void *ctx, struct mb_diag *diag)
{
	struct mb_file_record rec = {.p = p, .len = len, .offset = fs->off};

	fs->off += len + skip;
	rec.end = fs->off;
	if (fs->frame == MB_FILE_FRAME_IDX && !fs->idx_ready) {
		int err = idx_header(p, len, &fs->idx, diag);
		if (err < 0)
			return err == -EAGAIN ? -EBADMSG : err;
		fs->idx_ready = true;
		return 0;
	}
	if (fs->frame == MB_FILE_FRAME_TEXT)
		rec.number = ++fs->number;
	else
		rec.number = fs->number++;
	return fn(ctx, &rec);
}

/* Tell fn about a line the framing refused. */
static int emit_reject(struct mb_file_stream *fs, mb_file_record_fn fn, void *ctx)
{
	struct mb_diag d;
	struct mb_file_record rec = {.offset = fs->off, .number = ++fs->number, .reject = &d};

	mb_diag_set(&d, -E2BIG, MB_R_TOO_BIG, (size_t)rec.number, (size_t)fs->off, "line longer than %u bytes",
		    MB_FILE_STREAM_MAX_LINE);
	return fn(ctx, &rec);
}

/* Make room for need bytes in the carry. */
static int carry_reserve(struct mb_file_stream *fs, size_t need)
{
	if (need <= fs->carry_cap)
		return 0;
	size_t cap = fs->carry_cap ? fs->carry_cap : 4096;
	while (cap < need)
		cap *= 2;
	uint8_t *c = realloc(fs->carry, cap);
	if (!c)
		return -ENOMEM;
	fs->carry = c;
	fs->carry_cap = cap;
	return 0;
}

static int carry_append(struct mb_file_stream *fs, const uint8_t *p, size_t n)
{
	int err = carry_reserve(fs, fs->carry_len + n);
	if (err < 0)
		return err;
	memcpy(fs->carry + fs->carry_len, p, n);
	fs->carry_len += n;
	return 0;
}

/* Text: continue the carried (or skipped) line with d[*pos..n). */
static int text_carry(struct mb_file_stream *fs, const uint8_t *d, size_t n, size_t *pos, mb_file_record_fn fn,
		      void *ctx, struct mb_diag *diag)
{
	const uint8_t *nl = memchr(d + *pos, '\n', n - *pos);
	size_t take = nl ? (size_t)(nl - (d + *pos)) : n - *pos;
	int err;

	if (fs->skipping) {
		fs->off += take + (nl ? 1 : 0);
		*pos += take + (nl ? 1 : 0);
		if (nl)
			fs->skipping = false;
		return 0;
	}
	if (fs->carry_len + take > MB_FILE_STREAM_MAX_LINE) {
		err = emit_reject(fs, fn, ctx);
		fs->off += fs->carry_len + take + (nl ? 1 : 0);
		*pos += take + (nl ? 1 : 0);
		fs->carry_len = 0;
		fs->skipping = !nl;
		return err;
	}
	err = carry_append(fs, d + *pos, take);
	if (err < 0)
		return err;
	*pos += take;
	if (!nl)
		return 0;
	*pos += 1;
	size_t len = fs->carry_len;
	fs->carry_len = 0;
	return emit(fs, fs->carry, len, 1, fn, ctx, diag);
}

/* Bytes to gather before record_len can say more, while it does not know the length yet. */
static size_t header_want(const struct mb_file_stream *fs)
{
	if (fs->frame != MB_FILE_FRAME_IDX)
		return MB_SMP_HEADER_BYTES;
	return fs->carry_len < 4 ? 4 : 4 + 4 * (size_t)fs->carry[3];
}

/* Binary and IDX: continue the carried record with d[*pos..n). */
static int sized_carry(struct mb_file_stream *fs, const uint8_t *d, size_t n, size_t *pos, mb_file_record_fn fn,
		       void *ctx, struct mb_diag *diag)
{
	for (;;) {
		int err;
		if (!fs->rec_len) {
			err = record_len(fs, fs->carry, fs->carry_len, &fs->rec_len, diag);
			if (err < 0)
				return err;
		}
		size_t want = fs->rec_len ? fs->rec_len : header_want(fs);
		if (want < fs->carry_len)
			return -EPROTO; /* the carry never holds more than one record: a bug, not bad input */
		size_t take = want - fs->carry_len;
		if (take > n - *pos)
			take = n - *pos;
		err = carry_append(fs, d + *pos, take);
		if (err < 0)
			return err;
		*pos += take;
		if (fs->carry_len < want)
			return 0;
		if (!fs->rec_len)
			continue; /* a longer header is complete now: ask again */
		size_t len = fs->rec_len;
		fs->carry_len = 0;
		fs->rec_len = 0;
		return emit(fs, fs->carry, len, 0, fn, ctx, diag);
	}
}

/* Cut every whole record out of d[*pos..n) without copying. */
static int frame_direct(struct mb_file_stream *fs, const uint8_t *d, size_t n, size_t *pos, mb_file_record_fn fn,
			void *ctx, struct mb_diag *diag)
{
	int err;

	if (fs->frame == MB_FILE_FRAME_TEXT) {
		const uint8_t *nl;
		while ((nl = memchr(d + *pos, '\n', n - *pos))) {
			size_t len = (size_t)(nl - (d + *pos));
			if (len > MB_FILE_STREAM_MAX_LINE) {
				err = emit_reject(fs, fn, ctx);
				fs->off += len + 1;
			} else {
				err = emit(fs, d + *pos, len, 1, fn, ctx, diag);
			}
			*pos += len + 1;
			if (err)
				return err;
		}
		return 0;
	}
	while (*pos < n) {
		size_t len;
		err = record_len(fs, d + *pos, n - *pos, &len, diag);
		if (err < 0)
			return err;
		if (len == 0 || len > n - *pos)
			return 0;
		err = emit(fs, d + *pos, len, 0, fn, ctx, diag);
		*pos += len;
		if (err)
			return err;
	}
	return 0;
}

/* Frame a piece of content. */
static int frame(struct mb_file_stream *fs, const uint8_t *d, size_t n, mb_file_record_fn fn, void *ctx,
		 struct mb_diag *diag)
{
	size_t pos = 0;
	int err;

	if (fs->frame == MB_FILE_FRAME_AUTO) {
		size_t take = DETECT_BYTES - fs->carry_len;
		if (take > n)
			take = n;
		err = carry_append(fs, d, take);
		if (err < 0)
			return err;
		pos = take;
		if (fs->carry_len < DETECT_BYTES)
			return 0;
		fs->frame = detect(fs->carry);
	}
	while (pos < n) {
		if (fs->carry_len || fs->skipping) {
			err = fs->frame == MB_FILE_FRAME_TEXT ? text_carry(fs, d, n, &pos, fn, ctx, diag)
							      : sized_carry(fs, d, n, &pos, fn, ctx, diag);
			if (err)
				return err;
			if (fs->carry_len || fs->skipping)
				return 0; /* the block ended inside the record */
			continue;
		}
		err = frame_direct(fs, d, n, &pos, fn, ctx, diag);
		if (err)
			return err;
		if (pos < n) {
			/* The rest of the block starts a record the next block finishes. */
			if (fs->frame == MB_FILE_FRAME_TEXT && n - pos > MB_FILE_STREAM_MAX_LINE) {
				err = emit_reject(fs, fn, ctx);
				fs->off += n - pos;
				fs->skipping = true;
				return err;
			}
			err = carry_append(fs, d + pos, n - pos);
			if (err < 0)
				return err;
			pos = n;
		}
	}
	return 0;
}

/* Inflate a piece of gzip input and frame what comes out. */
static int inflate_push(struct mb_file_stream *fs, const uint8_t *p, size_t n, mb_file_record_fn fn, void *ctx,
			struct mb_diag *diag)
{
	if (!fs->z_ready) {
		memset(&fs->z, 0, sizeof fs->z);
		/* 15 + 32: the largest window, and accept a gzip or zlib header. */
		if (inflateInit2(&fs->z, 15 + 32) != Z_OK)
			return -ENOMEM;
		fs->z_ready = true;
	}
	fs->z.next_in = (Bytef *)p;
	fs->z.avail_in = (uInt)n;
	for (;;) {
		if (fs->z.avail_in)
			fs->z_mid = true;
		fs->z.next_out = fs->zout;
		fs->z.avail_out = (uInt)fs->zout_cap;
		int zr = inflate(&fs->z, Z_NO_FLUSH);
		size_t produced = fs->zout_cap - fs->z.avail_out;
		if (zr == Z_NEED_DICT || zr == Z_DATA_ERROR || zr == Z_STREAM_ERROR)
			return mb_diag_set(diag, -EBADMSG, MB_R_CRC, 0, (size_t)fs->off, "gzip data corrupt: %s",
					   fs->z.msg ? fs->z.msg : "inflate failed");
		if (zr == Z_MEM_ERROR)
			return -ENOMEM;
		if (produced) {
			int err = frame(fs, fs->zout, produced, fn, ctx, diag);
			if (err)
				return err;
		} else if (zr == Z_BUF_ERROR) {
			return 0; /* no progress possible: all input taken, nothing pending */
		}
		if (zr == Z_STREAM_END) {
			/* Concatenated members (gzip a >> b) go on as one stream. */
			fs->z_mid = false;
			inflateReset(&fs->z);
			if (!fs->z.avail_in)
				return 0;
			continue;
		}
		if (fs->z.avail_in == 0 && fs->z.avail_out != 0)
			return 0;
	}
}

static int content_push(struct mb_file_stream *fs, const uint8_t *p, size_t n, mb_file_record_fn fn, void *ctx,
			struct mb_diag *diag)
{
	if (!n)
		return 0;
	return fs->gz ? inflate_push(fs, p, n, fn, ctx, diag) : frame(fs, p, n, fn, ctx, diag);
}

/* Feed raw file bytes; see file_stream.h. */
int mb_file_stream_push(struct mb_file_stream *fs, const uint8_t *p, size_t n, mb_file_record_fn fn, void *ctx,
			struct mb_diag *diag)
{
	if (!fs->gz_known) {
		/* A followed file may arrive a byte at a time: wait for both magic bytes. */
		while (fs->magic_len < 2 && n) {
			fs->magic[fs->magic_len++] = *p++;
			n--;
		}
		if (fs->magic_len < 2)
			return 0;
		fs->gz_known = true;
		fs->gz = fs->magic[0] == GZ_MAGIC0 && fs->magic[1] == GZ_MAGIC1;
		int err = content_push(fs, fs->magic, 2, fn, ctx, diag);
		if (err)
			return err;
	}
	return content_push(fs, p, n, fn, ctx, diag);
}

/* The file ended; see file_stream.h. */
int mb_file_stream_end(struct mb_file_stream *fs, mb_file_record_fn fn, void *ctx, struct mb_diag *diag)
{
	if (!fs->gz_known && fs->magic_len) {
		/* A one-byte file: plain content. */
		fs->gz_known = true;
		int err = frame(fs, fs->magic, fs->magic_len, fn, ctx, diag);
		if (err)
			return err;
	}
	if (fs->gz && fs->z_mid)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, (size_t)fs->off,
				   "gzip stream ends in the middle of a member");
	if (fs->frame == MB_FILE_FRAME_AUTO && fs->carry_len)
		fs->frame = MB_FILE_FRAME_TEXT; /* under four bytes: only a line can be that short */
	if (fs->frame == MB_FILE_FRAME_TEXT) {
		if (fs->skipping || !fs->carry_len)
			return 0;
		size_t len = fs->carry_len;
		fs->carry_len = 0;
		return emit(fs, fs->carry, len, 0, fn, ctx, diag);
	}
	if (fs->carry_len)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, (size_t)fs->off,
				   "file ends %zu bytes into a %s", fs->carry_len,
				   fs->frame == MB_FILE_FRAME_IDX ? "IDX item or header" : "binary message");
	if (fs->frame == MB_FILE_FRAME_IDX && (!fs->idx_ready || fs->number < fs->idx.dims[0]))
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, (size_t)fs->off,
				   "IDX file ends after %llu of %u records", (unsigned long long)fs->number,
				   fs->idx_ready ? fs->idx.dims[0] : 0);
	return 0;
}
