/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - snapshot bodies (proto/mb_proto.h, "MBSN"): a model's shape,
 * training counters and parameters, with a CRC over the parameters so a
 * subscriber never loads a damaged model.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "crc32c.h"
#include "snapshot.h"
#include "wire.h"

/* Bytes of the layer sizes and the padded activations for n_layers. */
static size_t shape_bytes(uint32_t n_layers)
{
	return 4 * ((size_t)n_layers + 1) + (((size_t)n_layers + 3) & ~(size_t)3);
}

/* Largest parameter count whose snapshot stays within MB_MAX_MSG_BYTES. */
static size_t max_params(uint32_t n_layers)
{
	return (MB_MAX_MSG_BYTES - MB_SNAP_HEADER_BYTES - shape_bytes(n_layers)) / 4;
}

static bool kind_known(uint32_t kind) { return kind >= MB_MODEL_LINEAR && kind <= MB_MODEL_MLP; }
static bool act_known(uint32_t act) { return act <= MB_ACT_SOFTMAX; }

/*
 * Parameters of n_layers layers of the given sizes, or 0 when a size is 0
 * or over MB_MAX_FEATURES, or the total overflows or passes the message limit.
 */
static size_t count_params(uint32_t n_layers, const uint32_t *sizes)
{
	size_t total = 0;

	if (n_layers == 0 || n_layers > MB_MAX_LAYERS)
		return 0;
	for (uint32_t l = 0; l <= n_layers; l++)
		if (sizes[l] == 0 || sizes[l] > MB_MAX_FEATURES)
			return 0;
	for (uint32_t l = 0; l < n_layers; l++) {
		size_t layer;
		if (!mb_size_muladd(sizes[l + 1], sizes[l], sizes[l + 1], &layer) ||
		    !mb_size_muladd(total, 1, layer, &total))
			return 0;
	}
	return total <= max_params(n_layers) ? total : 0;
}

/* Shape only: kind and activations are checked by mb_snap_size. */
size_t mb_snap_param_count(const struct mb_snap_info *info)
{
	return count_params(info->n_layers, info->sizes);
}

/* 0 for anything the encoder would refuse for its shape. */
size_t mb_snap_size(const struct mb_snap_info *info)
{
	size_t n = mb_snap_param_count(info);

	if (n == 0 || !kind_known(info->kind))
		return 0;
	for (uint32_t l = 0; l < info->n_layers; l++)
		if (!act_known(info->act[l]))
			return 0;
	return MB_SNAP_HEADER_BYTES + shape_bytes(info->n_layers) + 4 * n;
}

/* Header, shape, parameters, then the CRC over the parameter bytes as written. */
long mb_snap_encode(void *buf, size_t cap, const struct mb_snap_info *info, const float *params)
{
	size_t n = mb_snap_param_count(info);
	if (n == 0) {
		if (info->n_layers == 0)
			return -EINVAL;
		if (info->n_layers > MB_MAX_LAYERS)
			return -E2BIG;
		for (uint32_t l = 0; l <= info->n_layers; l++)
			if (info->sizes[l] == 0)
				return -EINVAL;
		return -E2BIG;
	}
	size_t size = mb_snap_size(info);
	if (size == 0)
		return -EINVAL;
	if (cap < size)
		return -ENOBUFS;
	for (size_t k = 0; k < n; k++)
		if (!isfinite(params[k]))
			return -EDOM;

	struct mb_wire w;
	mb_wire_init(&w, buf, size);
	mb_wire_put_bytes(&w, MB_SNAP_MAGIC, 4);
	mb_wire_put_u8(&w, MB_SNAP_VERSION);
	mb_wire_put_u8(&w, (uint8_t)info->kind);
	mb_wire_put_u8(&w, (uint8_t)info->n_layers);
	mb_wire_put_u8(&w, 0);
	mb_wire_put_u64(&w, info->version);
	mb_wire_put_u64(&w, info->samples);
	mb_wire_put_u64(&w, info->batches);
	mb_wire_put_f32(&w, info->cost);
	mb_wire_put_u32(&w, (uint32_t)n);
	mb_wire_put_u64(&w, info->timestamp_ns);
	uint8_t *crc_at = mb_wire_take(&w, 4);
	mb_wire_put_u32(&w, 0);
	for (uint32_t l = 0; l <= info->n_layers; l++)
		mb_wire_put_u32(&w, info->sizes[l]);
	for (uint32_t l = 0; l < info->n_layers; l++)
		mb_wire_put_u8(&w, (uint8_t)info->act[l]);
	while (w.off & 3)
		mb_wire_put_u8(&w, 0);
	uint8_t *p = mb_wire_take(&w, 4 * n);
	if (!crc_at || !p || !mb_wire_ok(&w))
		return -ENOBUFS;    /* cannot happen: size was computed above */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, params, 4 * n);
#else
	for (size_t k = 0; k < n; k++)
		mb_put_lef32(p + 4 * k, params[k]);
#endif
	mb_put_le32(crc_at, mb_crc32c(0, p, 4 * n));
	return (long)size;
}

/* Structure first, then the CRC, then the values behind it. */
int mb_snap_decode(const void *buf, size_t len, struct mb_snap_info *ret, const uint8_t **ret_params,
		   struct mb_diag *diag)
{
	struct mb_snap_info info = {0};
	struct mb_wire w;

	if (len == 0)
		return mb_diag_set(diag, -ENODATA, MB_R_EMPTY, 0, 0, "snapshot is empty");
	if (len < MB_SNAP_HEADER_BYTES)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, len,
				   "snapshot has %zu bytes, shorter than the %u-byte header", len,
				   MB_SNAP_HEADER_BYTES);
	mb_wire_init(&w, buf, len);
	const uint8_t *magic = mb_wire_take(&w, 4);
	uint8_t version = mb_wire_u8(&w);
	uint8_t kind = mb_wire_u8(&w);
	uint8_t n_layers = mb_wire_u8(&w);
	uint8_t flags = mb_wire_u8(&w);
	info.version = mb_wire_u64(&w);
	info.samples = mb_wire_u64(&w);
	info.batches = mb_wire_u64(&w);
	info.cost = mb_wire_f32(&w);
	uint32_t n_params = mb_wire_u32(&w);
	info.timestamp_ns = mb_wire_u64(&w);
	uint32_t crc = mb_wire_u32(&w);
	uint32_t reserved = mb_wire_u32(&w);

	if (memcmp(magic, MB_SNAP_MAGIC, 4) != 0)
		return mb_diag_set(diag, -EBADMSG, MB_R_MAGIC, 0, 0,
				   "snapshot starts with %02x %02x %02x %02x, not \"MBSN\"", magic[0],
				   magic[1], magic[2], magic[3]);
	if (version != MB_SNAP_VERSION)
		return mb_diag_set(diag, -EPROTONOSUPPORT, MB_R_VERSION, 0, 4,
				   "snapshot has version %u, this build reads version %u", version,
				   MB_SNAP_VERSION);
	if (!kind_known(kind))
		return mb_diag_set(diag, -EBADMSG, MB_R_FLAGS, 0, 5,
				   "snapshot has model kind %u, expected 1 to 4", kind);
	if (flags)
		return mb_diag_set(diag, -EBADMSG, MB_R_FLAGS, 0, 7,
				   "snapshot has flags 0x%02x, expected 0", flags);
	if (reserved)
		return mb_diag_set(diag, -EBADMSG, MB_R_FLAGS, 0, 52,
				   "snapshot has 0x%08x in the reserved field at byte 52, expected 0",
				   reserved);
	if (n_layers == 0 || n_layers > MB_MAX_LAYERS)
		return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 6,
				   "snapshot has %u layers, expected 1 to %u", n_layers, MB_MAX_LAYERS);
	size_t shape_end = MB_SNAP_HEADER_BYTES + shape_bytes(n_layers);
	if (len < shape_end)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, len,
				   "snapshot has %zu bytes, its %u layers need %zu before the parameters",
				   len, n_layers, shape_end);
	for (uint32_t l = 0; l <= n_layers; l++) {
		info.sizes[l] = mb_wire_u32(&w);
		if (info.sizes[l] == 0 || info.sizes[l] > MB_MAX_FEATURES)
			return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, w.off - 4,
					   "snapshot layer size %u is %u, expected 1 to %u", l,
					   info.sizes[l], MB_MAX_FEATURES);
	}
	for (uint32_t l = 0; l < n_layers; l++) {
		uint8_t act = mb_wire_u8(&w);
		if (!act_known(act))
			return mb_diag_set(diag, -EBADMSG, MB_R_FLAGS, 0, w.off - 1,
					   "snapshot layer %u has activation %u, expected 0 to %u", l, act,
					   MB_ACT_SOFTMAX);
		info.act[l] = act;
	}
	while (w.off & 3)
		if (mb_wire_u8(&w))
			return mb_diag_set(diag, -EBADMSG, MB_R_FLAGS, 0, w.off - 1,
					   "snapshot has a non-zero padding byte at %zu", w.off - 1);

	size_t n = count_params(n_layers, info.sizes);
	if (n == 0)
		return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, MB_SNAP_HEADER_BYTES,
				   "snapshot layer sizes need more parameters than a %u-byte message holds",
				   MB_MAX_MSG_BYTES);
	if (n != n_params)
		return mb_diag_set(diag, -EINVAL, MB_R_COUNT_MISMATCH, 0, 36,
				   "snapshot announces %u parameters, its layer sizes need %zu", n_params,
				   n);
	size_t needed = shape_end + 4 * n;
	if (len < needed)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, len,
				   "snapshot has %zu bytes, header announces %zu", len, needed);
	if (len > needed)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRAILING, 0, needed,
				   "snapshot has %zu bytes, header announces %zu", len, needed);
	const uint8_t *params = mb_wire_take(&w, 4 * n);
	uint32_t actual = mb_crc32c(0, params, 4 * n);
	if (actual != crc)
		return mb_diag_set(diag, -EBADMSG, MB_R_CRC, 0, 48,
				   "snapshot parameters have CRC32C 0x%08x, header says 0x%08x", actual,
				   crc);
	for (size_t k = 0; k < n; k++)
		if ((mb_le32(params + 4 * k) & 0x7f800000u) == 0x7f800000u)
			return mb_diag_set(diag, -EDOM, MB_R_NONFINITE, 0, shape_end + 4 * k,
					   "snapshot parameter %zu is not finite", k);

	info.kind = kind;
	info.n_layers = n_layers;
	info.n_params = n_params;
	info.crc = crc;
	*ret = info;
	*ret_params = params;
	return 0;
}

/* A memcpy on little-endian hosts. */
void mb_snap_params_copy(float *dst, const uint8_t *src, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(dst, src, 4 * n);
#else
	for (size_t k = 0; k < n; k++)
		dst[k] = mb_lef32(src + 4 * k);
#endif
}
