/* SPDX-License-Identifier: MIT */
/*
 * test_checkpoint.c - the checkpoint container: round trip, layout, every
 * refusal, and that no single-bit flip anywhere goes unnoticed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "crc32c.h"
#include "snapshot.h"
#include "test.h"
#include "wire.h"

static const char config_text[] = "[model]\nkind=3"; /* 14 bytes: padded with 2 */
static const float optim_state[5] = {0.5f, -1, 2, 3.25f, 1e-8f};
static uint8_t snap[128];
static size_t snap_len;

/* Five sections: a real snapshot, floats, text, an empty one and an id from the future. */
static size_t sections(struct mb_ckpt_section *s)
{
	struct mb_snap_info info = {.kind = MB_MODEL_LINEAR, .n_layers = 1, .sizes = {3, 1},
				    .act = {MB_ACT_IDENTITY}};
	float params[4] = {1, 2, 3, 4};
	long n = mb_snap_encode(snap, sizeof snap, &info, params);
	CU_ASSERT_FATAL(n > 0);
	snap_len = (size_t)n;
	s[0] = (struct mb_ckpt_section){MB_CKPT_SEC_MODEL, snap, snap_len};
	s[1] = (struct mb_ckpt_section){MB_CKPT_SEC_OPTIM, optim_state, sizeof optim_state};
	s[2] = (struct mb_ckpt_section){MB_CKPT_SEC_CONFIG, config_text, sizeof config_text - 1};
	s[3] = (struct mb_ckpt_section){MB_CKPT_SEC_COUNTERS, NULL, 0};
	s[4] = (struct mb_ckpt_section){99, "future", 6};
	return 5;
}

/* Encode the sections into a new buffer. */
static uint8_t *encode(const struct mb_ckpt_section *s, size_t n, size_t *ret_len)
{
	size_t size = mb_ckpt_size(s, n);
	CU_ASSERT_FATAL(size > 0);
	uint8_t *buf = malloc(size);
	CU_ASSERT_EQUAL_FATAL(mb_ckpt_encode(buf, size, s, n), (long)size);
	*ret_len = size;
	return buf;
}

static void test_roundtrip(void)
{
	struct mb_ckpt_section s[5];
	size_t n = sections(s), len;
	uint8_t *buf = encode(s, n, &len);
	struct mb_ckpt ck;
	struct mb_diag d = {0};

	CU_ASSERT_EQUAL_FATAL(mb_ckpt_decode(buf, len, &ck, &d), 0);
	CU_ASSERT_EQUAL(ck.n_sections, 5);
	for (size_t i = 0; i < n; i++) {
		const struct mb_ckpt_section *f = mb_ckpt_find(&ck, s[i].id);
		CU_ASSERT_PTR_EQUAL_FATAL(f, &ck.sec[i]);
		CU_ASSERT_EQUAL(f->len, s[i].len);
		CU_ASSERT(s[i].len == 0 || memcmp(f->data, s[i].data, s[i].len) == 0);
	}
	CU_ASSERT_PTR_NULL(mb_ckpt_find(&ck, MB_CKPT_SEC_RNG));

	/* The model section decodes as the snapshot it is. */
	struct mb_snap_info info;
	const uint8_t *params;
	const struct mb_ckpt_section *m = mb_ckpt_find(&ck, MB_CKPT_SEC_MODEL);
	CU_ASSERT_EQUAL(mb_snap_decode(m->data, m->len, &info, &params, NULL), 0);
	CU_ASSERT_EQUAL(info.n_params, 4);
	free(buf);
}

/* The bytes are where proto/mb_proto.h says. */
static void test_layout(void)
{
	struct mb_ckpt_section s[2] = {{MB_CKPT_SEC_CONFIG, "abc", 3}, {MB_CKPT_SEC_RNG, "12345678", 8}};
	size_t len;
	uint8_t *buf = encode(s, 2, &len);
	CU_ASSERT_EQUAL_FATAL(len, 12 + 16 + 8 + 16 + 8 + 4);
	CU_ASSERT_EQUAL(memcmp(buf, "MBCK\1\0\0\0", 8), 0);
	CU_ASSERT_EQUAL(mb_le32(buf + 8), 2);
	CU_ASSERT_EQUAL(mb_le32(buf + 12), MB_CKPT_SEC_CONFIG);
	CU_ASSERT_EQUAL(mb_le32(buf + 16), mb_crc32c(0, "abc", 3));
	CU_ASSERT_EQUAL(mb_le64(buf + 20), 3);
	CU_ASSERT_EQUAL(memcmp(buf + 28, "abc\0\0\0\0\0", 8), 0);
	CU_ASSERT_EQUAL(mb_le32(buf + 36), MB_CKPT_SEC_RNG);
	CU_ASSERT_EQUAL(mb_le64(buf + 44), 8);
	CU_ASSERT_EQUAL(memcmp(buf + 52, "12345678", 8), 0);
	CU_ASSERT_EQUAL(mb_le32(buf + 60), mb_crc32c(0, buf, 60));
	free(buf);
}

static void expect_refusal(const uint8_t *buf, size_t len, int err, enum mb_reason reason,
			   const char *what)
{
	struct mb_ckpt ck, orig;
	struct mb_diag d = {0};
	memset(&ck, 0x3c, sizeof ck);
	orig = ck;
	int r = mb_ckpt_decode(buf, len, &ck, &d);
	if (r != err || d.reason != reason) {
		fprintf(stderr, "\n  %s: got %d/%s (%s), expected %d/%s\n", what, r,
			mb_reason_name(d.reason), d.text, err, mb_reason_name(reason));
		CU_FAIL("wrong refusal");
	}
	CU_ASSERT_EQUAL(memcmp(&ck, &orig, sizeof ck), 0);
}

/* Recompute the trailer so a change reaches the structural checks' verdict alone. */
static void fix_trailer(uint8_t *buf, size_t len)
{
	mb_put_le32(buf + len - 4, mb_crc32c(0, buf, len - 4));
}

static void test_decode_errors(void)
{
	struct mb_ckpt_section s[2] = {{MB_CKPT_SEC_CONFIG, "abc", 3}, {MB_CKPT_SEC_RNG, "12345678", 8}};
	static const struct {
		const char *what;      /* the fault, for the failure message */
		size_t off;            /* where to write */
		int width;             /* 1, 4 or 8 bytes */
		uint64_t value;        /* what to write there */
		int err;               /* the -errno expected */
		enum mb_reason reason; /* the reason expected */
	} t[] = {
		{"magic", 3, 1, 'C', -EBADMSG, MB_R_MAGIC},
		{"version 0", 4, 1, 0, -EPROTONOSUPPORT, MB_R_VERSION},
		{"version 2", 4, 1, 2, -EPROTONOSUPPORT, MB_R_VERSION},
		{"reserved", 6, 1, 1, -EBADMSG, MB_R_FLAGS},
		{"0 sections", 8, 4, 0, -ENODATA, MB_R_EMPTY},
		{"65 sections", 8, 4, MB_MAX_SECTIONS + 1, -E2BIG, MB_R_TOO_BIG},
		{"1 section of 2", 8, 4, 1, -EBADMSG, MB_R_TRAILING},
		{"3 sections of 2", 8, 4, 3, -EBADMSG, MB_R_TRUNCATED},
		{"section length past the end", 20, 8, 1000, -EBADMSG, MB_R_TRUNCATED},
		{"section length 2^64-1", 20, 8, UINT64_MAX, -EBADMSG, MB_R_TRUNCATED},
		{"padding", 33, 1, 1, -EBADMSG, MB_R_FLAGS},
		{"section CRC", 16, 4, 0, -EBADMSG, MB_R_CRC},
		{"payload byte", 29, 1, 'x', -EBADMSG, MB_R_CRC},
		{"second payload byte", 59, 1, '0', -EBADMSG, MB_R_CRC},
	};
	size_t len;
	uint8_t *base = encode(s, 2, &len);
	uint8_t *buf = malloc(len + 1);

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		memcpy(buf, base, len);
		if (t[i].width == 1)
			buf[t[i].off] = (uint8_t)t[i].value;
		else if (t[i].width == 4)
			mb_put_le32(buf + t[i].off, (uint32_t)t[i].value);
		else
			mb_put_le64(buf + t[i].off, t[i].value);
		fix_trailer(buf, len);
		expect_refusal(buf, len, t[i].err, t[i].reason, t[i].what);
	}

	memcpy(buf, base, len);
	buf[len - 1] ^= 0x80;
	expect_refusal(buf, len, -EBADMSG, MB_R_CRC, "trailer");
	memcpy(buf, base, len);
	buf[len] = 0;
	expect_refusal(buf, len + 1, -EBADMSG, MB_R_TRAILING, "trailing byte");
	expect_refusal(buf, 0, -ENODATA, MB_R_EMPTY, "empty");
	for (size_t n = 1; n < len; n++) {
		uint8_t *cut = malloc(n);     /* exact size: ASan sees any read past it */
		memcpy(cut, base, n);
		expect_refusal(cut, n, -EBADMSG, MB_R_TRUNCATED, "truncated");
		free(cut);
	}
	free(buf);
	free(base);
}

/* Every single-bit flip of a valid checkpoint is refused, wherever it lands. */
static void test_every_bit_flip(void)
{
	struct mb_ckpt_section s[3] = {{MB_CKPT_SEC_MODEL, "snapshot!", 9},
				       {MB_CKPT_SEC_COUNTERS, NULL, 0},
				       {MB_CKPT_SEC_SOURCES, "pos=42", 6}};
	size_t len;
	uint8_t *buf = encode(s, 3, &len);
	struct mb_ckpt ck;
	size_t accepted = 0;
	CU_ASSERT_EQUAL_FATAL(mb_ckpt_decode(buf, len, &ck, NULL), 0);
	for (size_t bit = 0; bit < 8 * len; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (mb_ckpt_decode(buf, len, &ck, NULL) == 0) {
			fprintf(stderr, "\n  flip of bit %zu accepted\n", bit);
			accepted++;
		}
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CU_ASSERT_EQUAL(accepted, 0);
	CU_ASSERT_EQUAL(mb_ckpt_decode(buf, len, &ck, NULL), 0);
	free(buf);
}

static void test_encode_errors(void)
{
	struct mb_ckpt_section s[MB_MAX_SECTIONS + 1];
	uint8_t buf[4096];
	for (uint32_t i = 0; i <= MB_MAX_SECTIONS; i++)
		s[i] = (struct mb_ckpt_section){i + 1, "x", 1};
	CU_ASSERT_EQUAL(mb_ckpt_encode(buf, sizeof buf, s, 0), -EINVAL);
	CU_ASSERT_EQUAL(mb_ckpt_encode(buf, sizeof buf, s, MB_MAX_SECTIONS + 1), -EINVAL);
	CU_ASSERT_EQUAL(mb_ckpt_size(s, 0), 0);
	CU_ASSERT_EQUAL(mb_ckpt_size(s, MB_MAX_SECTIONS + 1), 0);
	size_t size = mb_ckpt_size(s, MB_MAX_SECTIONS);
	CU_ASSERT_EQUAL(size, 12 + MB_MAX_SECTIONS * 24 + 4);
	CU_ASSERT_EQUAL(mb_ckpt_encode(buf, size, s, MB_MAX_SECTIONS), (long)size);
	CU_ASSERT_EQUAL(mb_ckpt_encode(buf, size - 1, s, MB_MAX_SECTIONS), -ENOBUFS);
	s[1].id = s[0].id;
	CU_ASSERT_EQUAL(mb_ckpt_encode(buf, sizeof buf, s, 2), -EINVAL);
	s[1] = (struct mb_ckpt_section){2, NULL, 5};
	CU_ASSERT_EQUAL(mb_ckpt_encode(buf, sizeof buf, s, 2), -EINVAL);
}

int main(void)
{
	MB_SUITE("checkpoint", {"roundtrip", test_roundtrip}, {"layout", test_layout},
		 {"decode_errors", test_decode_errors}, {"every_bit_flip", test_every_bit_flip},
		 {"encode_errors", test_encode_errors});
	return mb_test_run();
}
