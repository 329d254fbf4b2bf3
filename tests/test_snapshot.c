/* SPDX-License-Identifier: MIT */
/* test_snapshot.c - snapshot bodies: round trips and every refusal. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "snapshot.h"
#include "test.h"
#include "wire.h"

/* An MLP 5 -> 4 -> 3 -> 2: 24 + 15 + 8 parameters. */
static struct mb_snap_info mlp_info(void)
{
	return (struct mb_snap_info){
		.kind = MB_MODEL_MLP,
		.n_layers = 3,
		.sizes = {5, 4, 3, 2},
		.act = {MB_ACT_RELU, MB_ACT_TANH, MB_ACT_SOFTMAX},
		.version = 123456789012ull,
		.samples = 1ull << 40,
		.batches = 77,
		.cost = 0.25f,
		.timestamp_ns = 1700000000123456789ull,
	};
}

static void fill_params(float *p, size_t n)
{
	for (size_t k = 0; k < n; k++)
		p[k] = (float)k * 0.37f - 5.0f;
}

static void test_roundtrip(void)
{
	struct mb_snap_info info = mlp_info(), got;
	float params[47], back[47];
	uint8_t buf[512];
	const uint8_t *pp = NULL;

	CU_ASSERT_EQUAL(mb_snap_param_count(&info), 47);
	CU_ASSERT_EQUAL(mb_snap_size(&info), 56 + 16 + 4 + 47 * 4);
	fill_params(params, 47);
	long n = mb_snap_encode(buf, sizeof buf, &info, params);
	CU_ASSERT_EQUAL_FATAL(n, (long)mb_snap_size(&info));
	CU_ASSERT_EQUAL(memcmp(buf, "MBSN", 4), 0);
	CU_ASSERT_EQUAL(mb_le32(buf + 36), 47);

	CU_ASSERT_EQUAL_FATAL(mb_snap_decode(buf, (size_t)n, &got, &pp, NULL), 0);
	CU_ASSERT_EQUAL(got.kind, MB_MODEL_MLP);
	CU_ASSERT_EQUAL(got.n_layers, 3);
	CU_ASSERT_EQUAL(memcmp(got.sizes, info.sizes, 4 * sizeof(uint32_t)), 0);
	CU_ASSERT_EQUAL(memcmp(got.act, info.act, 3 * sizeof(enum mb_act)), 0);
	CU_ASSERT_EQUAL(got.version, info.version);
	CU_ASSERT_EQUAL(got.samples, info.samples);
	CU_ASSERT_EQUAL(got.batches, info.batches);
	CU_ASSERT_EQUAL(got.cost, info.cost);
	CU_ASSERT_EQUAL(got.timestamp_ns, info.timestamp_ns);
	CU_ASSERT_EQUAL(got.n_params, 47);
	CU_ASSERT_EQUAL(got.crc, mb_crc32c(0, buf + 56 + 20, 47 * 4));
	CU_ASSERT_PTR_EQUAL(pp, buf + 56 + 20);
	mb_snap_params_copy(back, pp, 47);
	CU_ASSERT_EQUAL(memcmp(back, params, sizeof params), 0);
}

/* One to five layers: the activation bytes pad to 4 every time. */
static void test_layer_counts(void)
{
	for (uint32_t layers = 1; layers <= 5; layers++) {
		struct mb_snap_info info = {.kind = layers == 1 ? MB_MODEL_SOFTMAX : MB_MODEL_MLP,
					    .n_layers = layers}, got;
		size_t np = 0;
		for (uint32_t l = 0; l <= layers; l++)
			info.sizes[l] = 2 + l;
		for (uint32_t l = 0; l < layers; l++) {
			info.act[l] = l + 1 == layers ? MB_ACT_SOFTMAX : MB_ACT_SIGMOID;
			np += (size_t)info.sizes[l + 1] * (info.sizes[l] + 1);
		}
		CU_ASSERT_EQUAL(mb_snap_param_count(&info), np);
		size_t size = 56 + 4 * (layers + 1) + (layers + 3) / 4 * 4 + 4 * np;
		CU_ASSERT_EQUAL(mb_snap_size(&info), size);
		float *params = malloc(np * sizeof(float));
		uint8_t *buf = malloc(size);
		const uint8_t *pp;
		fill_params(params, np);
		CU_ASSERT_EQUAL_FATAL(mb_snap_encode(buf, size, &info, params), (long)size);
		CU_ASSERT_EQUAL(mb_snap_decode(buf, size, &got, &pp, NULL), 0);
		CU_ASSERT_EQUAL(got.n_layers, layers);
		CU_ASSERT_EQUAL(got.act[layers - 1], MB_ACT_SOFTMAX);
		free(params);
		free(buf);
	}
}

/* Encode the base snapshot used by the refusal tests. */
static size_t base_snapshot(uint8_t *buf, size_t cap)
{
	struct mb_snap_info info = mlp_info();
	float params[47];
	fill_params(params, 47);
	long n = mb_snap_encode(buf, cap, &info, params);
	CU_ASSERT_EQUAL_FATAL(n, 264);
	return (size_t)n;
}

static void expect_refusal(const uint8_t *buf, size_t len, int err, enum mb_reason reason,
			   const char *what)
{
	struct mb_snap_info got, orig;
	const uint8_t *pp = (const uint8_t *)&orig;
	struct mb_diag d = {0};
	memset(&got, 0x5a, sizeof got);
	orig = got;
	int r = mb_snap_decode(buf, len, &got, &pp, &d);
	if (r != err || d.reason != reason) {
		fprintf(stderr, "\n  %s: got %d/%s (%s), expected %d/%s\n", what, r,
			mb_reason_name(d.reason), d.text, err, mb_reason_name(reason));
		CU_FAIL("wrong refusal");
	}
	CU_ASSERT_EQUAL(memcmp(&got, &orig, sizeof got), 0);
	CU_ASSERT_PTR_EQUAL(pp, (const uint8_t *)&orig);
}

/* Rewrite the parameter CRC so a change to the parameters reaches the later checks. */
static void fix_crc(uint8_t *buf, size_t len)
{
	mb_put_le32(buf + 48, mb_crc32c(0, buf + 76, len - 76));
}

static void test_decode_errors(void)
{
	/* Layout of the base: header 56, sizes 56..71, activations 72..74, pad 75, params 76.. */
	static const struct {
		const char *what;      /* the fault, for the failure message */
		size_t off;            /* where to write */
		int width;             /* 1 or 4 bytes */
		uint32_t value;        /* what to write there */
		int err;               /* the -errno expected */
		enum mb_reason reason; /* the reason expected */
	} t[] = {
		{"magic", 1, 1, 'b', -EBADMSG, MB_R_MAGIC},
		{"version 2", 4, 1, 2, -EPROTONOSUPPORT, MB_R_VERSION},
		{"kind 0", 5, 1, 0, -EBADMSG, MB_R_FLAGS},
		{"kind 5", 5, 1, 5, -EBADMSG, MB_R_FLAGS},
		{"flags", 7, 1, 1, -EBADMSG, MB_R_FLAGS},
		{"reserved", 52, 4, 1, -EBADMSG, MB_R_FLAGS},
		{"0 layers", 6, 1, 0, -E2BIG, MB_R_TOO_BIG},
		{"17 layers", 6, 1, 17, -E2BIG, MB_R_TOO_BIG},
		{"a size of 0", 60, 4, 0, -E2BIG, MB_R_TOO_BIG},
		{"a size over the feature limit", 56, 4, MB_MAX_FEATURES + 1, -E2BIG, MB_R_TOO_BIG},
		{"sizes needing too many parameters", 60, 4, MB_MAX_FEATURES, -E2BIG, MB_R_TOO_BIG},
		{"activation 5", 73, 1, 5, -EBADMSG, MB_R_FLAGS},
		{"padding", 75, 1, 1, -EBADMSG, MB_R_FLAGS},
		{"n_params + 1", 36, 4, 48, -EINVAL, MB_R_COUNT_MISMATCH},
		{"n_params 0", 36, 4, 0, -EINVAL, MB_R_COUNT_MISMATCH},
		{"sizes announcing more parameters", 56, 4, 6, -EINVAL, MB_R_COUNT_MISMATCH},
		{"parameter CRC", 48, 4, 0x12345678, -EBADMSG, MB_R_CRC},
		{"a parameter byte", 100, 1, 0x42, -EBADMSG, MB_R_CRC},
	};
	uint8_t base[512], buf[512];
	size_t len = base_snapshot(base, sizeof base);

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		memcpy(buf, base, len);
		if (t[i].width == 1)
			buf[t[i].off] = (uint8_t)t[i].value;
		else
			mb_put_le32(buf + t[i].off, t[i].value);
		expect_refusal(buf, len, t[i].err, t[i].reason, t[i].what);
	}

	/* Non-finite parameters behind a valid CRC. */
	memcpy(buf, base, len);
	mb_put_lef32(buf + 76 + 4 * 10, NAN);
	fix_crc(buf, len);
	expect_refusal(buf, len, -EDOM, MB_R_NONFINITE, "NaN parameter");
	struct mb_diag d;
	struct mb_snap_info got;
	const uint8_t *pp;
	mb_snap_decode(buf, len, &got, &pp, &d);
	CU_ASSERT_EQUAL(d.offset, 76 + 4 * 10);
	memcpy(buf, base, len);
	mb_put_lef32(buf + len - 4, -INFINITY);
	fix_crc(buf, len);
	expect_refusal(buf, len, -EDOM, MB_R_NONFINITE, "infinite parameter");
}

/* Every length short of the whole body is truncated; one byte more is trailing. */
static void test_lengths(void)
{
	uint8_t base[512];
	size_t len = base_snapshot(base, sizeof base);
	expect_refusal(base, 0, -ENODATA, MB_R_EMPTY, "empty");
	for (size_t n = 1; n < len; n++) {
		uint8_t *cut = malloc(n);     /* exact size: ASan sees any read past it */
		memcpy(cut, base, n);
		expect_refusal(cut, n, -EBADMSG, MB_R_TRUNCATED, "truncated");
		free(cut);
	}
	base[len] = 0;
	expect_refusal(base, len + 1, -EBADMSG, MB_R_TRAILING, "trailing byte");
}

static void test_encode_errors(void)
{
	struct mb_snap_info info = mlp_info(), bad;
	float params[47];
	uint8_t buf[512];
	fill_params(params, 47);

	CU_ASSERT_EQUAL(mb_snap_encode(buf, 263, &info, params), -ENOBUFS);
	params[46] = NAN;
	CU_ASSERT_EQUAL(mb_snap_encode(buf, sizeof buf, &info, params), -EDOM);
	params[46] = 1;
	bad = info;
	bad.kind = 0;
	CU_ASSERT_EQUAL(mb_snap_encode(buf, sizeof buf, &bad, params), -EINVAL);
	CU_ASSERT_EQUAL(mb_snap_size(&bad), 0);
	bad = info;
	bad.act[1] = 9;
	CU_ASSERT_EQUAL(mb_snap_encode(buf, sizeof buf, &bad, params), -EINVAL);
	bad = info;
	bad.n_layers = 0;
	CU_ASSERT_EQUAL(mb_snap_encode(buf, sizeof buf, &bad, params), -EINVAL);
	CU_ASSERT_EQUAL(mb_snap_param_count(&bad), 0);
	bad = info;
	bad.sizes[2] = 0;
	CU_ASSERT_EQUAL(mb_snap_encode(buf, sizeof buf, &bad, params), -EINVAL);
	bad = info;
	bad.n_layers = MB_MAX_LAYERS + 1;
	CU_ASSERT_EQUAL(mb_snap_encode(buf, sizeof buf, &bad, params), -E2BIG);
	bad = info;
	bad.sizes[0] = 1u << 20;
	bad.sizes[1] = 1u << 10;    /* 2^30 weights: over the 64 MiB message limit */
	CU_ASSERT_EQUAL(mb_snap_param_count(&bad), 0);
	CU_ASSERT_EQUAL(mb_snap_encode(buf, sizeof buf, &bad, params), -E2BIG);
}

int main(void)
{
	MB_SUITE("snapshot", {"roundtrip", test_roundtrip}, {"layer_counts", test_layer_counts},
		 {"decode_errors", test_decode_errors}, {"lengths", test_lengths},
		 {"encode_errors", test_encode_errors});
	return mb_test_run();
}
