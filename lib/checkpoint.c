/* SPDX-License-Identifier: MIT */
/*
 * checkpoint.c - the checkpoint container of proto/mb_proto.h ("MBCK").
 *
 * The decoder walks the structure first, so a cut or padded file is named
 * for what it is, then checks each section's CRC and the trailer CRC over
 * everything before it; the trailer is what makes every single-bit flip,
 * in a length field too, fail the check.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "checkpoint.h"
#include "crc32c.h"
#include "wire.h"

/* Zero bytes that bring a payload of len to a multiple of 8. */
static size_t pad_of(uint64_t len) { return (size_t)((8 - (len & 7)) & 7); }

/* Header, each section padded to 8 bytes, and the 4-byte trailer. */
size_t mb_ckpt_size(const struct mb_ckpt_section *secs, size_t n)
{
	size_t total = MB_CKPT_HEADER_BYTES + 4;

	if (n == 0 || n > MB_MAX_SECTIONS)
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t body;
		if (secs[i].len > SIZE_MAX - 8 ||
		    !mb_size_muladd(1, secs[i].len + pad_of(secs[i].len), MB_CKPT_SECTION_HEADER_BYTES,
				    &body) ||
		    !mb_size_muladd(1, total, body, &total))
			return 0;
	}
	return total;
}

/* Writes every byte the decoder checks, padding included. */
long mb_ckpt_encode(void *buf, size_t cap, const struct mb_ckpt_section *secs, size_t n)
{
	static const uint8_t zeros[8];

	if (n == 0 || n > MB_MAX_SECTIONS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!secs[i].data && secs[i].len)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (secs[j].id == secs[i].id)
				return -EINVAL;
	}
	size_t size = mb_ckpt_size(secs, n);
	if (size == 0 || size > LONG_MAX)
		return -E2BIG;
	if (cap < size)
		return -ENOBUFS;

	struct mb_wire w;
	mb_wire_init(&w, buf, size);
	mb_wire_put_bytes(&w, MB_CKPT_MAGIC, 4);
	mb_wire_put_u8(&w, MB_CKPT_VERSION);
	mb_wire_put_bytes(&w, zeros, 3);
	mb_wire_put_u32(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		mb_wire_put_u32(&w, secs[i].id);
		mb_wire_put_u32(&w, mb_crc32c(0, secs[i].data, secs[i].len));
		mb_wire_put_u64(&w, secs[i].len);
		mb_wire_put_bytes(&w, secs[i].data, secs[i].len);
		mb_wire_put_bytes(&w, zeros, pad_of(secs[i].len));
	}
	mb_wire_put_u32(&w, mb_crc32c(0, buf, w.off));
	return mb_wire_ok(&w) && w.off == size ? (long)size : -ENOBUFS;
}

/* Nothing is handed out unless every check passed. */
int mb_ckpt_decode(const void *buf, size_t len, struct mb_ckpt *ret, struct mb_diag *diag)
{
	struct mb_wire w;
	struct mb_ckpt ck;

	if (len == 0)
		return mb_diag_set(diag, -ENODATA, MB_R_EMPTY, 0, 0, "checkpoint is empty");
	if (len < MB_CKPT_HEADER_BYTES)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, len,
				   "checkpoint has %zu bytes, shorter than the %u-byte header", len,
				   MB_CKPT_HEADER_BYTES);
	mb_wire_init(&w, buf, len);
	const uint8_t *magic = mb_wire_take(&w, 4);
	uint8_t version = mb_wire_u8(&w);
	const uint8_t *reserved = mb_wire_take(&w, 3);
	uint32_t n = mb_wire_u32(&w);

	if (memcmp(magic, MB_CKPT_MAGIC, 4) != 0)
		return mb_diag_set(diag, -EBADMSG, MB_R_MAGIC, 0, 0,
				   "checkpoint starts with %02x %02x %02x %02x, not \"MBCK\"", magic[0],
				   magic[1], magic[2], magic[3]);
	if (version != MB_CKPT_VERSION)
		return mb_diag_set(diag, -EPROTONOSUPPORT, MB_R_VERSION, 0, 4,
				   "checkpoint has version %u, this build reads version %u", version,
				   MB_CKPT_VERSION);
	if (reserved[0] || reserved[1] || reserved[2])
		return mb_diag_set(diag, -EBADMSG, MB_R_FLAGS, 0, 5,
				   "checkpoint has non-zero reserved bytes 5..7");
	if (n == 0)
		return mb_diag_set(diag, -ENODATA, MB_R_EMPTY, 0, 8, "checkpoint has no section");
	if (n > MB_MAX_SECTIONS)
		return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 8,
				   "checkpoint has %u sections, the limit is %u", n, MB_MAX_SECTIONS);

	for (uint32_t i = 0; i < n; i++) {
		size_t at = w.off;
		if (mb_wire_left(&w) < MB_CKPT_SECTION_HEADER_BYTES)
			return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, len,
					   "checkpoint ends at byte %zu, inside the header of section %u",
					   len, i);
		uint32_t id = mb_wire_u32(&w);
		uint32_t crc = mb_wire_u32(&w);
		uint64_t plen = mb_wire_u64(&w);
		size_t left = mb_wire_left(&w);
		if (plen > left || pad_of(plen) > left - (size_t)plen)
			return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, len,
					   "checkpoint section %u at byte %zu announces %llu bytes, %zu are left",
					   i, at, (unsigned long long)plen, left);
		const uint8_t *data = mb_wire_take(&w, (size_t)plen);
		const uint8_t *pad = mb_wire_take(&w, pad_of(plen));
		for (size_t k = 0; k < pad_of(plen); k++)
			if (pad[k])
				return mb_diag_set(diag, -EBADMSG, MB_R_FLAGS, 0,
						   (size_t)(pad + k - (const uint8_t *)buf),
						   "checkpoint section %u has a non-zero padding byte", i);
		uint32_t actual = mb_crc32c(0, data, (size_t)plen);
		if (actual != crc)
			return mb_diag_set(diag, -EBADMSG, MB_R_CRC, 0, at + 4,
					   "checkpoint section %u (id %u) has CRC32C 0x%08x, its header says 0x%08x",
					   i, id, actual, crc);
		ck.sec[i] = (struct mb_ckpt_section){.id = id, .data = data, .len = (size_t)plen};
	}
	size_t end = w.off;
	if (len - end < 4)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, len,
				   "checkpoint has %zu bytes, its sections and CRC need %zu", len, end + 4);
	if (len - end > 4)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRAILING, 0, end + 4,
				   "checkpoint has %zu bytes, its sections and CRC need %zu", len, end + 4);
	uint32_t file_crc = mb_wire_u32(&w);
	uint32_t actual = mb_crc32c(0, buf, end);
	if (actual != file_crc)
		return mb_diag_set(diag, -EBADMSG, MB_R_CRC, 0, end,
				   "checkpoint has CRC32C 0x%08x, its trailer says 0x%08x", actual,
				   file_crc);
	ck.n_sections = n;
	*ret = ck;
	return 0;
}

/* Linear: a checkpoint has at most MB_MAX_SECTIONS sections. */
const struct mb_ckpt_section *mb_ckpt_find(const struct mb_ckpt *ck, uint32_t id)
{
	for (uint32_t i = 0; i < ck->n_sections; i++)
		if (ck->sec[i].id == id)
			return &ck->sec[i];
	return NULL;
}
