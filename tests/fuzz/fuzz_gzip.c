/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gzip.c - mb_inflate_mem against arbitrary bytes.
 *
 * Data set files arrive gzip-compressed from anywhere, so inflating must
 * survive any input and never hand out more than the caller's bound: a
 * few bytes can expand a thousandfold. Whatever it accepts is compared
 * with zlib inflating the same bytes by itself (and whatever it refuses
 * must be corrupt for zlib too, or too large), and the bound is checked to
 * the byte by asking again with one byte less room.
 */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "dataset.h"
#include "fuzz.h"

/* Small, so a few bytes of input can ask for more than the bound allows. */
#define MAX_OUT (64u << 10)

/* zlib's own output, one byte past the bound so that passing it shows. */
static uint8_t reference[MAX_OUT + 1];

static bool is_gzip(const uint8_t *in, size_t len)
{
	return len >= 2 && in[0] == 0x1f && in[1] == 0x8b;
}

/*
 * Inflate with zlib alone, member after member, into out (at most cap
 * bytes); return the bytes produced, or (size_t)-1 if the stream is bad.
 */
static size_t reference_inflate(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		abort();
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	size_t produced = (size_t)-1;
	for (;;) {
		int rc = inflate(&z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END) {
			if (z.avail_in == 0) {
				produced = cap - z.avail_out;
				break;
			}
			if (inflateReset(&z) != Z_OK)
				break;
			continue;
		}
		if (rc != Z_OK || z.avail_out == 0) {
			if (z.avail_out == 0)
				produced = cap;
			break;
		}
	}
	inflateEnd(&z);
	return produced;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = (uint8_t *)&out, *again = NULL;
	size_t out_len = 12345, again_len = 0;
	int rc = mb_inflate_mem(data, size, MAX_OUT, &out, &out_len);
	if (rc < 0) {
		MB_FUZZ_CHECK(out == (uint8_t *)&out && out_len == 12345);
		if (!is_gzip(data, size)) {
			MB_FUZZ_CHECK(rc == -E2BIG && size > MAX_OUT);
			return 0;
		}
		/*
		 * Refused gzip is corrupt for zlib too, or inflates past the
		 * bound; then it may also be corrupt further on, which zlib
		 * stopped too early to see.
		 */
		size_t n = reference_inflate(data, size, reference, sizeof reference);
		if (n == (size_t)-1) {
			MB_FUZZ_CHECK(rc == -EBADMSG);
		} else {
			MB_FUZZ_CHECK(n > MAX_OUT);
			MB_FUZZ_CHECK(rc == -E2BIG || rc == -EBADMSG);
		}
		return 0;
	}
	MB_FUZZ_CHECK(rc == 0);
	MB_FUZZ_CHECK(out_len <= MAX_OUT);
	MB_FUZZ_CHECK(out_len == 0 || out != NULL);
	if (!is_gzip(data, size)) {
		MB_FUZZ_CHECK(out_len == size && memcmp(out, data, size) == 0);
	} else {
		size_t n = reference_inflate(data, size, reference, sizeof reference);
		MB_FUZZ_CHECK(n == out_len && memcmp(reference, out, n) == 0);
	}
	if (out_len > 0) {
		rc = mb_inflate_mem(data, size, out_len - 1, &again, &again_len);
		MB_FUZZ_CHECK(rc == -E2BIG && again == NULL);
	}
	free(out);
	return 0;
}
