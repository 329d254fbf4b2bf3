/* SPDX-License-Identifier: MIT */
/*
 * crc32c.c - CRC-32C with a slicing-by-8 table, or SSE4.2 when present.
 *
 * The reflected polynomial 0x82F63B78; pre- and post-inverted so that a
 * running value of 0 means "nothing yet" and pieces chain naturally.
 */
#include <pthread.h>
#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY 0x82F63B78u

/* table[k][b]: the CRC of byte b followed by k zero bytes. */
static uint32_t table[8][256];
static uint32_t (*impl)(uint32_t crc, const uint8_t *p, size_t len);
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	for (unsigned b = 0; b < 256; b++) {
		uint32_t c = b;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		table[0][b] = c;
	}
	for (unsigned b = 0; b < 256; b++)
		for (int k = 1; k < 8; k++)
			table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

/* Raw (not inverted) CRC over p: eight bytes per step through eight tables. */
static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		/* Assemble little-endian words by hand so big-endian hosts agree. */
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				   (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
			      (uint32_t)p[7] << 24;
		c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
		    table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		    table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
	return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>

/* Raw CRC with the crc32 instruction; only called when cpuid says SSE4.2. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8(c, *p++);
		len--;
	}
	uint64_t c64 = c;
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, sizeof v);
		c64 = _mm_crc32_u64(c64, v);
		p += 8;
		len -= 8;
	}
	c = (uint32_t)c64;
	while (len--)
		c = _mm_crc32_u8(c, *p++);
	return c;
}
#endif

static void crc_init(void)
{
	table_init();
	impl = crc_sw;
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		impl = crc_hw;
#endif
}

/* Dispatch to the hardware or table path, chosen once per process. */
uint32_t mb_crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&init_once, crc_init);
	return ~impl(~crc, buf, len);
}

/* The table path alone, so tests can hold the two paths against each other. */
uint32_t mb_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&init_once, crc_init);
	return ~crc_sw(~crc, buf, len);
}
