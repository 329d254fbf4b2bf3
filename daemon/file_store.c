/* SPDX-License-Identifier: MIT */
/*
 * file_store.c - chunks of record bytes, and arrays of samples and views.
 *
 * Bytes go into the newest chunk while they fit; a record larger than a
 * chunk gets a chunk of its own. Chunks are never reallocated, which is
 * what keeps the record pointers valid; the row and view arrays may move,
 * they hold no pointers into each other.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "file_store.h"

/* Bytes per ordinary chunk: large enough that malloc overhead is noise. */
#define CHUNK_BYTES (16u << 20)

struct chunk {
	struct chunk *next; /* the chunk filled before this one */
	size_t cap;         /* bytes in data */
	size_t used;        /* bytes handed out */
	uint8_t data[];     /* the record bytes */
};

struct mb_file_store {
	struct chunk *chunks;           /* newest first */
	uint64_t bytes;                 /* record bytes kept */
	struct mb_file_store_row *rows; /* the samples, in file order */
	uint32_t n_rows;                /* samples held */
	uint32_t cap_rows;              /* samples allocated */
	struct mb_sample_view *views;   /* parsed binary messages */
	uint32_t n_views;               /* views held */
	uint32_t cap_views;             /* views allocated */
};

/* An empty store. */
int mb_file_store_new(struct mb_file_store **ret)
{
	struct mb_file_store *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	*ret = st;
	return 0;
}

/* Free every chunk and array. */
struct mb_file_store *mb_file_store_free(struct mb_file_store *st)
{
	if (!st)
		return NULL;
	while (st->chunks) {
		struct chunk *c = st->chunks;
		st->chunks = c->next;
		free(c);
	}
	free(st->rows);
	free(st->views);
	free(st);
	return NULL;
}

/* Copy a record into the newest chunk, or a new one. */
int mb_file_store_keep(struct mb_file_store *st, const void *p, size_t len, const uint8_t **ret_p)
{
	if (len > MB_FILE_STORE_MAX_BYTES - st->bytes)
		return -E2BIG;
	struct chunk *c = st->chunks;
	if (!c || c->cap - c->used < len) {
		size_t cap = len > CHUNK_BYTES ? len : CHUNK_BYTES;
		c = malloc(sizeof *c + cap);
		if (!c)
			return -ENOMEM;
		c->cap = cap;
		c->used = 0;
		c->next = st->chunks;
		st->chunks = c;
	}
	uint8_t *q = c->data + c->used;
	if (len)
		memcpy(q, p, len);
	c->used += len;
	st->bytes += len;
	*ret_p = q;
	return 0;
}

/*
 * Room for item n of an array of elem-sized items: the array, moved if it
 * had to grow, or NULL with *err set (-E2BIG at limit, -ENOMEM).
 */
static void *grow(void *arr, uint32_t *cap, uint32_t n, size_t elem, uint32_t limit, int *err)
{
	if (n < *cap)
		return arr;
	if (n >= limit) {
		*err = -E2BIG;
		return NULL;
	}
	uint64_t want = *cap ? (uint64_t)*cap * 2 : 1024;
	if (want > limit)
		want = limit;
	void *a = realloc(arr, (size_t)want * elem);
	if (!a) {
		*err = -ENOMEM;
		return NULL;
	}
	*cap = (uint32_t)want;
	return a;
}

/* Keep a parsed message; its index goes to *ret. */
int mb_file_store_add_view(struct mb_file_store *st, const struct mb_sample_view *v, uint32_t *ret)
{
	int err = 0;
	struct mb_sample_view *a = grow(st->views, &st->cap_views, st->n_views, sizeof *a, UINT32_MAX, &err);
	if (!a)
		return err;
	st->views = a;
	st->views[st->n_views] = *v;
	*ret = st->n_views++;
	return 0;
}

/* Append a sample. */
int mb_file_store_add_row(struct mb_file_store *st, const struct mb_file_store_row *row)
{
	int err = 0;
	struct mb_file_store_row *a = grow(st->rows, &st->cap_rows, st->n_rows, sizeof *a, MB_FILE_STORE_MAX_ROWS, &err);
	if (!a)
		return err;
	st->rows = a;
	st->rows[st->n_rows++] = *row;
	return 0;
}

/* Samples held. */
uint32_t mb_file_store_rows(const struct mb_file_store *st)
{
	return st->n_rows;
}

/* Sample i. */
const struct mb_file_store_row *mb_file_store_row(const struct mb_file_store *st, uint32_t i)
{
	return &st->rows[i];
}

/* View i. */
const struct mb_sample_view *mb_file_store_view(const struct mb_file_store *st, uint32_t i)
{
	return &st->views[i];
}

/* Record bytes held. */
uint64_t mb_file_store_bytes(const struct mb_file_store *st)
{
	return st->bytes;
}
