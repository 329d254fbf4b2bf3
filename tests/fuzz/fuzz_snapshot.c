/* SPDX-License-Identifier: MIT */
/*
 * fuzz_snapshot.c - the snapshot decoder against arbitrary bytes.
 *
 * A subscriber decodes whatever a PUB socket sends. Random bytes almost
 * never carry the right CRC32C, so besides the input as it is the target
 * also decodes a copy whose CRC field it has recomputed over the parameter
 * bytes the header announces: that way the parser behind the checksum is
 * explored too. An accepted snapshot must describe exactly its bytes and
 * encode back to them.
 */
#include <string.h>

#include "crc32c.h"
#include "fuzz.h"
#include "snapshot.h"
#include "wire.h"

#define OFF_N_LAYERS 6u
#define OFF_N_PARAMS 36u
#define OFF_CRC 48u

/* Where the parameters start for a header announcing n_layers. */
static size_t params_offset(uint32_t n_layers)
{
	return MB_SNAP_HEADER_BYTES + 4u * ((size_t)n_layers + 1) + (((size_t)n_layers + 3) & ~(size_t)3);
}

/* Check an accepted snapshot against its bytes, then encode it again. */
static void check_accepted(const uint8_t *buf, size_t len, const struct mb_snap_info *info,
			   const uint8_t *params)
{
	MB_FUZZ_CHECK(info->kind >= MB_MODEL_LINEAR && info->kind <= MB_MODEL_MLP);
	MB_FUZZ_CHECK(info->n_layers >= 1 && info->n_layers <= MB_MAX_LAYERS);
	MB_FUZZ_CHECK(info->n_params == mb_snap_param_count(info));
	MB_FUZZ_CHECK(info->n_params > 0);
	MB_FUZZ_CHECK(mb_snap_size(info) == len);
	size_t pbytes = 4u * (size_t)info->n_params;
	MB_FUZZ_CHECK(params == buf + len - pbytes);
	MB_FUZZ_CHECK(params == buf + params_offset(info->n_layers));
	MB_FUZZ_CHECK(info->crc == mb_crc32c(0, params, pbytes));

	float *p = malloc(pbytes);
	uint8_t *out = malloc(len);
	MB_FUZZ_CHECK(p && out);
	mb_snap_params_copy(p, params, info->n_params);
	struct mb_snap_info again = *info;
	long n = mb_snap_encode(out, len, &again, p);
	MB_FUZZ_CHECK(n == (long)len);
	MB_FUZZ_CHECK(memcmp(out, buf, len) == 0);
	MB_FUZZ_CHECK(mb_snap_encode(out, len - 1, &again, p) < 0);
	free(out);
	free(p);
}

/* Decode buf; a refusal must explain itself and leave the outputs alone. */
static void check_decode(const uint8_t *buf, size_t len)
{
	static const uint8_t sentinel;
	struct mb_snap_info info;
	const uint8_t *params = &sentinel;
	struct mb_diag diag;
	mb_fuzz_poison(&info, sizeof info);
	mb_fuzz_diag_clear(&diag);
	int rc = mb_snap_decode(buf, len, &info, &params, &diag);
	if (rc != 0) {
		mb_fuzz_check_reject(rc, &diag);
		MB_FUZZ_CHECK(mb_fuzz_is_poisoned(&info, sizeof info));
		MB_FUZZ_CHECK(params == &sentinel);
		return;
	}
	check_accepted(buf, len, &info, params);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	if (size < MB_SNAP_HEADER_BYTES)
		return 0;
	size_t start = params_offset(data[OFF_N_LAYERS]);
	uint64_t pbytes = 4u * (uint64_t)mb_le32(data + OFF_N_PARAMS);
	if (start > size || pbytes > size - start)
		return 0;
	uint32_t crc = mb_crc32c(0, data + start, (size_t)pbytes);
	if (crc == mb_le32(data + OFF_CRC))
		return 0;
	uint8_t *fixed = malloc(size);
	MB_FUZZ_CHECK(fixed != NULL);
	memcpy(fixed, data, size);
	mb_put_le32(fixed + OFF_CRC, crc);
	check_decode(fixed, size);
	free(fixed);
	return 0;
}
