/* SPDX-License-Identifier: MIT */
/*
 * file_store.h - every record of a file source in memory, for shuffled epochs.
 *
 * A full shuffle needs every sample at hand before the first one goes out.
 * The store keeps the records as they were in the files (a text line, a
 * binary message, an IDX item: far smaller than decoded floats) and one
 * entry per sample that says where its record is and how to decode it. The
 * bytes live in chunks that never move, so a parsed binary message may
 * point into them for as long as the store lives. One thread owns a store.
 */
#ifndef MB_FILE_STORE_H
#define MB_FILE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sample.h"

#define MB_FILE_STORE_MAX_BYTES (4ull << 30) /* record bytes one store may hold */
#define MB_FILE_STORE_MAX_ROWS  (1u << 31)   /* samples one store may hold */

/* Where one sample is and how to decode it. */
struct mb_file_store_row {
	const uint8_t *p; /* its record, inside the store */
	uint32_t len;     /* the record's bytes */
	uint32_t aux;     /* binary: index of the message's view; IDX: the label; text: the line */
	uint32_t sub;     /* binary: the sample's row within the message; else 0 */
	uint16_t file;    /* index of the file it came from */
	uint8_t kind;     /* how to decode the record (the caller's numbering) */
};

struct mb_file_store;

/* An empty store; -ENOMEM. */
int mb_file_store_new(struct mb_file_store **ret);

/* Free the store and every record in it; NULL is fine. Returns NULL. */
struct mb_file_store *mb_file_store_free(struct mb_file_store *st);

/*
 * Copy len bytes of a record in; *ret_p gets their address, stable for
 * the store's life. 0, -E2BIG past MB_FILE_STORE_MAX_BYTES, or -ENOMEM.
 */
int mb_file_store_keep(struct mb_file_store *st, const void *p, size_t len, const uint8_t **ret_p);

/* Keep a parsed binary message (pointing into kept bytes); *ret its index. */
int mb_file_store_add_view(struct mb_file_store *st, const struct mb_sample_view *v, uint32_t *ret);

/* Add a sample. 0, -E2BIG past MB_FILE_STORE_MAX_ROWS, or -ENOMEM. */
int mb_file_store_add_row(struct mb_file_store *st, const struct mb_file_store_row *row);

/* Samples held. */
uint32_t mb_file_store_rows(const struct mb_file_store *st);

/* Sample i (i < mb_file_store_rows). */
const struct mb_file_store_row *mb_file_store_row(const struct mb_file_store *st, uint32_t i);

/* Binary message view i, as added. */
const struct mb_sample_view *mb_file_store_view(const struct mb_file_store *st, uint32_t i);

/* Record bytes held (for a log line). */
uint64_t mb_file_store_bytes(const struct mb_file_store *st);

#endif /* MB_FILE_STORE_H */
