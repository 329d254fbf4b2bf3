/* SPDX-License-Identifier: MIT */
/*
 * wire.h - bounds-checked little-endian get/put over byte buffers.
 *
 * Every encoder and decoder of proto/ goes through these, so no format
 * code does pointer arithmetic of its own. A cursor remembers whether any
 * access ran past the end; once it has, every further get returns zero and
 * every put writes nothing, and mb_wire_ok() tells the caller at the end.
 */
#ifndef MB_WIRE_H
#define MB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct mb_wire {
	uint8_t *p;     /* start of the buffer (const when reading) */
	size_t len;     /* bytes in the buffer */
	size_t off;     /* next byte to read or write */
	bool overrun;   /* an access went past len */
};

static inline void mb_wire_init(struct mb_wire *w, const void *buf, size_t len)
{
	w->p = (uint8_t *)buf;
	w->len = len;
	w->off = 0;
	w->overrun = false;
}

static inline bool mb_wire_ok(const struct mb_wire *w) { return !w->overrun; }
static inline size_t mb_wire_left(const struct mb_wire *w) { return w->overrun ? 0 : w->len - w->off; }

/* Reserve n bytes at the cursor: a pointer to them, or NULL on overrun. */
static inline uint8_t *mb_wire_take(struct mb_wire *w, size_t n)
{
	if (w->overrun || n > w->len - w->off) {
		w->overrun = true;
		return NULL;
	}
	uint8_t *q = w->p + w->off;
	w->off += n;
	return q;
}

static inline uint16_t mb_le16(const uint8_t *q) { return (uint16_t)(q[0] | q[1] << 8); }
static inline uint32_t mb_le32(const uint8_t *q)
{
	return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}
static inline uint64_t mb_le64(const uint8_t *q) { return mb_le32(q) | (uint64_t)mb_le32(q + 4) << 32; }
static inline uint32_t mb_be32(const uint8_t *q)
{
	return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | (uint32_t)q[3];
}
static inline float mb_lef32(const uint8_t *q)
{
	uint32_t u = mb_le32(q);
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}
static inline void mb_put_le16(uint8_t *q, uint16_t v) { q[0] = (uint8_t)v; q[1] = (uint8_t)(v >> 8); }
static inline void mb_put_le32(uint8_t *q, uint32_t v)
{
	q[0] = (uint8_t)v; q[1] = (uint8_t)(v >> 8); q[2] = (uint8_t)(v >> 16); q[3] = (uint8_t)(v >> 24);
}
static inline void mb_put_le64(uint8_t *q, uint64_t v) { mb_put_le32(q, (uint32_t)v); mb_put_le32(q + 4, (uint32_t)(v >> 32)); }
static inline void mb_put_lef32(uint8_t *q, float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	mb_put_le32(q, u);
}

static inline uint8_t mb_wire_u8(struct mb_wire *w) { uint8_t *q = mb_wire_take(w, 1); return q ? q[0] : 0; }
static inline uint16_t mb_wire_u16(struct mb_wire *w) { uint8_t *q = mb_wire_take(w, 2); return q ? mb_le16(q) : 0; }
static inline uint32_t mb_wire_u32(struct mb_wire *w) { uint8_t *q = mb_wire_take(w, 4); return q ? mb_le32(q) : 0; }
static inline uint64_t mb_wire_u64(struct mb_wire *w) { uint8_t *q = mb_wire_take(w, 8); return q ? mb_le64(q) : 0; }
static inline float mb_wire_f32(struct mb_wire *w) { uint8_t *q = mb_wire_take(w, 4); return q ? mb_lef32(q) : 0.0f; }

static inline void mb_wire_put_u8(struct mb_wire *w, uint8_t v) { uint8_t *q = mb_wire_take(w, 1); if (q) q[0] = v; }
static inline void mb_wire_put_u16(struct mb_wire *w, uint16_t v) { uint8_t *q = mb_wire_take(w, 2); if (q) mb_put_le16(q, v); }
static inline void mb_wire_put_u32(struct mb_wire *w, uint32_t v) { uint8_t *q = mb_wire_take(w, 4); if (q) mb_put_le32(q, v); }
static inline void mb_wire_put_u64(struct mb_wire *w, uint64_t v) { uint8_t *q = mb_wire_take(w, 8); if (q) mb_put_le64(q, v); }
static inline void mb_wire_put_f32(struct mb_wire *w, float v) { uint8_t *q = mb_wire_take(w, 4); if (q) mb_put_lef32(q, v); }
static inline void mb_wire_put_bytes(struct mb_wire *w, const void *src, size_t n)
{
	uint8_t *q = mb_wire_take(w, n);
	if (q && n)
		memcpy(q, src, n);
}

/* a * b + c without overflow, or false: for sizes a peer controls. */
static inline bool mb_size_muladd(size_t a, size_t b, size_t c, size_t *ret)
{
	size_t m;
	if (__builtin_mul_overflow(a, b, &m) || __builtin_add_overflow(m, c, &m))
		return false;
	*ret = m;
	return true;
}

#endif /* MB_WIRE_H */
