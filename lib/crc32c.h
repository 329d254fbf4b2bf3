/* SPDX-License-Identifier: MIT */
/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of snapshots and checkpoints.
 *
 * Chosen over zlib's CRC-32 because x86-64 computes it in hardware; the
 * table-driven path gives the same answers on every other CPU.
 */
#ifndef MB_CRC32C_H
#define MB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extend crc over len bytes of buf and return the new value. Start with
 * crc = 0; feeding a buffer in pieces gives the same result as feeding it
 * whole ("123456789" gives 0xE3069283). Uses the SSE4.2 instruction when
 * the CPU has it, the portable path otherwise. Thread-safe.
 */
uint32_t mb_crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable path alone (slicing-by-8), for tests and benchmarks. */
uint32_t mb_crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif /* MB_CRC32C_H */
