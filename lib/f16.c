/* SPDX-License-Identifier: MIT */
/*
 * f16.c - IEEE 754 binary16 <-> binary32, exact in both directions that
 * can be exact: every half converts to the float of the same value, and a
 * float converts to the nearest half (ties to even), with subnormals,
 * infinities and NaN (quiet, payload kept where it fits) handled.
 */
#include <string.h>

#include "sample.h"

/* Exact: every binary16 value is a binary32 value. */
float mb_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t man = h & 0x3ffu;
	uint32_t u;
	float f;

	if (exp == 0x1f) {
		u = sign | 0x7f800000u | man << 13;
	} else if (exp) {
		u = sign | (exp + 112) << 23 | man << 13;  /* rebias 15 -> 127 */
	} else {
		/* Zero or subnormal: man * 2^-24 is exact in a float. */
		f = (float)man * 0x1p-24f;
		memcpy(&u, &f, sizeof u);
		u |= sign;
	}
	memcpy(&f, &u, sizeof f);
	return f;
}

/* Round to nearest, ties to even; too large becomes infinity, as IEEE says. */
uint16_t mb_f32_to_f16(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
	uint32_t a = u & 0x7fffffffu;

	if (a >= 0x7f800000u) {
		if (a == 0x7f800000u)
			return sign | 0x7c00u;
		/* NaN stays NaN: set the quiet bit so a payload cut to 10 bits is never 0. */
		return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
	}
	/* 65520 is halfway between 65504 (odd significand) and 65536: ties go up to infinity. */
	if (a >= 0x477ff000u)
		return sign | 0x7c00u;
	if (a >= 0x38800000u) {
		/* Normal half: rebias the exponent, round the 13 dropped bits. */
		uint32_t h = (a >> 13) - (112u << 10);
		uint32_t rest = a & 0x1fffu;
		if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
			h++;    /* a carry into the exponent is the right answer too */
		return (uint16_t)(sign | h);
	}
	/* 2^-25 and below round to zero (2^-25 itself is a tie, and 0 is even). */
	if (a <= 0x33000000u)
		return sign;
	/* Subnormal half: the value in units of 2^-24, rounded. */
	uint32_t exp = a >> 23;
	uint32_t man = (a & 0x7fffffu) | 0x800000u;
	uint32_t shift = 126 - exp;                 /* 14..24 */
	uint32_t h = man >> shift;
	uint32_t rest = man & ((1u << shift) - 1);
	uint32_t half = 1u << (shift - 1);
	if (rest > half || (rest == half && (h & 1)))
		h++;    /* may reach 0x400, the smallest normal: also right */
	return (uint16_t)(sign | h);
}
