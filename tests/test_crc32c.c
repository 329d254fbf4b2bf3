/* SPDX-License-Identifier: MIT */
/* test_crc32c.c - CRC-32C against published vectors, in pieces, on both paths. */
#include <stdint.h>
#include <string.h>

#include "crc32c.h"
#include "test.h"

/* The check value of the CRC catalogue and the iSCSI vectors of RFC 3720 B.4. */
static void test_known_vectors(void)
{
	uint8_t buf[32];

	CU_ASSERT_EQUAL(mb_crc32c(0, "123456789", 9), 0xE3069283u);
	CU_ASSERT_EQUAL(mb_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	CU_ASSERT_EQUAL(mb_crc32c(0, "", 0), 0u);

	memset(buf, 0, sizeof buf);
	CU_ASSERT_EQUAL(mb_crc32c(0, buf, 32), 0x8A9136AAu);
	CU_ASSERT_EQUAL(mb_crc32c_sw(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof buf);
	CU_ASSERT_EQUAL(mb_crc32c(0, buf, 32), 0x62A8AB43u);
	CU_ASSERT_EQUAL(mb_crc32c_sw(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	CU_ASSERT_EQUAL(mb_crc32c(0, buf, 32), 0x46DD794Eu);
	CU_ASSERT_EQUAL(mb_crc32c_sw(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	CU_ASSERT_EQUAL(mb_crc32c(0, buf, 32), 0x113FDB5Cu);
	CU_ASSERT_EQUAL(mb_crc32c_sw(0, buf, 32), 0x113FDB5Cu);
}

/* Feeding a buffer in two pieces, split anywhere, gives the CRC of the whole. */
static void test_chaining(void)
{
	uint8_t buf[100];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	uint32_t whole = mb_crc32c(0, buf, sizeof buf);
	for (size_t cut = 0; cut <= sizeof buf; cut++) {
		CU_ASSERT_EQUAL(mb_crc32c(mb_crc32c(0, buf, cut), buf + cut, sizeof buf - cut), whole);
		CU_ASSERT_EQUAL(mb_crc32c_sw(mb_crc32c_sw(0, buf, cut), buf + cut, sizeof buf - cut),
				whole);
	}
}

/* The dispatched path and the table path agree at every alignment and length. */
static void test_paths_agree(void)
{
	static uint8_t buf[4096 + 16];
	uint32_t s = 12345;
	for (size_t i = 0; i < sizeof buf; i++) {
		s = s * 1103515245u + 12345u;
		buf[i] = (uint8_t)(s >> 16);
	}
	for (size_t align = 0; align < 8; align++)
		for (size_t len = 0; len <= 300; len++)
			CU_ASSERT_EQUAL_FATAL(mb_crc32c(7, buf + align, len), mb_crc32c_sw(7, buf + align, len));
	CU_ASSERT_EQUAL(mb_crc32c(0, buf, 4096), mb_crc32c_sw(0, buf, 4096));
}

/* Every single-bit change of a message changes its CRC. */
static void test_detects_bit_flips(void)
{
	uint8_t buf[64];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)i;
	uint32_t good = mb_crc32c(0, buf, sizeof buf);
	for (size_t bit = 0; bit < 8 * sizeof buf; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CU_ASSERT_NOT_EQUAL(mb_crc32c(0, buf, sizeof buf), good);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}

int main(void)
{
	MB_SUITE("crc32c", {"known_vectors", test_known_vectors}, {"chaining", test_chaining},
		 {"paths_agree", test_paths_agree}, {"detects_bit_flips", test_detects_bit_flips});
	return mb_test_run();
}
