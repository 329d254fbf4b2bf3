/* SPDX-License-Identifier: MIT */
/*
 * fuzz_checkpoint.c - the checkpoint container decoder against arbitrary bytes.
 *
 * The daemon reads its checkpoint back at start-up, after whatever a crash
 * or a full disk left behind. Random bytes never carry right CRCs, so
 * besides the input as it is the target decodes a copy in which it has
 * recomputed every section CRC it can reach and the trailer CRC: the
 * structure walk behind the checksums gets fuzzed too. An accepted file
 * must describe exactly its bytes and encode back to them; a model
 * section goes on to the snapshot decoder, as the daemon would send it.
 */
#include <errno.h>
#include <string.h>

#include "checkpoint.h"
#include "crc32c.h"
#include "fuzz.h"
#include "snapshot.h"
#include "wire.h"

static size_t pad8(uint64_t len)
{
	return (size_t)((8 - (len & 7)) & 7);
}

/*
 * Rewrite the CRC of each section whose header and payload fit, then the
 * trailer CRC if four bytes follow the last section walked.
 */
static void fix_crcs(uint8_t *buf, size_t len)
{
	if (len < MB_CKPT_HEADER_BYTES)
		return;
	uint32_t n = mb_le32(buf + 8);
	size_t off = MB_CKPT_HEADER_BYTES;
	for (uint32_t i = 0; i < n && i < MB_MAX_SECTIONS; i++) {
		if (len - off < MB_CKPT_SECTION_HEADER_BYTES)
			return;
		uint64_t plen = mb_le64(buf + off + 8);
		size_t left = len - off - MB_CKPT_SECTION_HEADER_BYTES;
		if (plen > left || pad8(plen) > left - plen)
			return;
		mb_put_le32(buf + off + 4, mb_crc32c(0, buf + off + MB_CKPT_SECTION_HEADER_BYTES, plen));
		off += MB_CKPT_SECTION_HEADER_BYTES + plen + pad8(plen);
	}
	if (len - off >= 4)
		mb_put_le32(buf + off, mb_crc32c(0, buf, off));
}

/* A model section holds a snapshot body: it decodes, or is refused with a reason. */
static void check_model(const struct mb_ckpt_section *s)
{
	struct mb_snap_info info;
	const uint8_t *params;
	struct mb_diag diag;
	mb_fuzz_diag_clear(&diag);
	int rc = mb_snap_decode(s->data, s->len, &info, &params, &diag);
	if (rc < 0) {
		mb_fuzz_check_reject(rc, &diag);
		return;
	}
	MB_FUZZ_CHECK(mb_snap_size(&info) == s->len);
	MB_FUZZ_CHECK(params == (const uint8_t *)s->data + s->len - 4 * (size_t)info.n_params);
}

/* Check an accepted checkpoint against its bytes, then encode it again. */
static void check_accepted(const uint8_t *buf, size_t len, const struct mb_ckpt *ck)
{
	MB_FUZZ_CHECK(ck->n_sections >= 1 && ck->n_sections <= MB_MAX_SECTIONS);
	MB_FUZZ_CHECK(ck->n_sections == mb_le32(buf + 8));
	size_t off = MB_CKPT_HEADER_BYTES;
	bool unique = true;
	for (uint32_t i = 0; i < ck->n_sections; i++) {
		const struct mb_ckpt_section *s = &ck->sec[i];
		MB_FUZZ_CHECK(s->id == mb_le32(buf + off));
		MB_FUZZ_CHECK(s->len == mb_le64(buf + off + 8));
		MB_FUZZ_CHECK(s->data == buf + off + MB_CKPT_SECTION_HEADER_BYTES);
		MB_FUZZ_CHECK(mb_crc32c(0, s->data, s->len) == mb_le32(buf + off + 4));
		off += MB_CKPT_SECTION_HEADER_BYTES + s->len + pad8(s->len);
		const struct mb_ckpt_section *first = mb_ckpt_find(ck, s->id);
		MB_FUZZ_CHECK(first != NULL && first <= s && first->id == s->id);
		unique = unique && first == s;
		if (s->id == MB_CKPT_SEC_MODEL)
			check_model(s);
	}
	MB_FUZZ_CHECK(off + 4 == len);
	MB_FUZZ_CHECK(mb_crc32c(0, buf, off) == mb_le32(buf + off));
	MB_FUZZ_CHECK(mb_ckpt_size(ck->sec, ck->n_sections) == len);

	/* An id no section has is not found. */
	uint32_t absent = 0;
	while (mb_ckpt_find(ck, absent))
		absent++;
	MB_FUZZ_CHECK(absent <= ck->n_sections);

	uint8_t *out = malloc(len);
	MB_FUZZ_CHECK(out != NULL);
	long n = mb_ckpt_encode(out, len, ck->sec, ck->n_sections);
	if (unique) {
		MB_FUZZ_CHECK(n == (long)len);
		MB_FUZZ_CHECK(memcmp(out, buf, len) == 0);
		MB_FUZZ_CHECK(mb_ckpt_encode(out, len - 1, ck->sec, ck->n_sections) == -ENOBUFS);
	} else {
		/* The encoder refuses an id given twice, so it cannot rebuild such a file. */
		MB_FUZZ_CHECK(n == -EINVAL);
	}
	free(out);
}

/* Decode buf; a refusal must explain itself and leave *ret alone. */
static void check_decode(const uint8_t *buf, size_t len)
{
	struct mb_ckpt *ck = malloc(sizeof *ck);
	struct mb_diag diag;
	MB_FUZZ_CHECK(ck != NULL);
	mb_fuzz_poison(ck, sizeof *ck);
	mb_fuzz_diag_clear(&diag);
	int rc = mb_ckpt_decode(buf, len, ck, &diag);
	if (rc != 0) {
		mb_fuzz_check_reject(rc, &diag);
		MB_FUZZ_CHECK(mb_fuzz_is_poisoned(ck, sizeof *ck));
	} else {
		check_accepted(buf, len, ck);
	}
	free(ck);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	uint8_t *fixed = malloc(size ? size : 1);
	MB_FUZZ_CHECK(fixed != NULL);
	memcpy(fixed, data, size);
	fix_crcs(fixed, size);
	if (memcmp(fixed, data, size) != 0)
		check_decode(fixed, size);
	free(fixed);
	return 0;
}
