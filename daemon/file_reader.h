/* SPDX-License-Identifier: MIT */
/*
 * file_reader.h - read one file after another as a sequence of blocks.
 *
 * The file source wants the bytes of a file in order, as fast as the disk
 * gives them, without a thread of its own waiting on each read. The reader
 * keeps several reads in flight on an io_uring whose buffers are
 * registered with the kernel (IORING_OP_READ_FIXED), and hands the blocks
 * out strictly in file order. Where io_uring is not allowed (a container's
 * seccomp profile answers -EPERM or -ENOSYS) or not wanted, the same calls
 * read with pread(2) instead. A reader belongs to one thread.
 */
#ifndef MB_FILE_READER_H
#define MB_FILE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_FILE_READER_MAX_DEPTH 4096u          /* reads in flight at most */
#define MB_FILE_READER_MIN_BLOCK 64u            /* smallest read, bytes */
#define MB_FILE_READER_MAX_BLOCK (64u << 20)    /* largest read, bytes */

struct mb_file_reader_cfg {
	unsigned queue_depth; /* reads in flight, 1..MB_FILE_READER_MAX_DEPTH */
	size_t block_bytes;   /* bytes per read, MB_FILE_READER_MIN_BLOCK..MB_FILE_READER_MAX_BLOCK */
	bool sqpoll;          /* ask for a kernel thread that polls the submission queue */
	bool use_pread;       /* do not try io_uring at all */
};

/* How the reader ended up reading, and what it had to give up on the way. */
enum mb_file_reader_note {
	MB_FILE_READER_NO_URING = 1u << 0,  /* io_uring refused (-EPERM/-ENOSYS): pread(2) */
	MB_FILE_READER_NO_SQPOLL = 1u << 1, /* SQPOLL refused: an io_uring without it */
	MB_FILE_READER_NO_FIXED = 1u << 2,  /* buffers not registered: plain IORING_OP_READ */
};

struct mb_file_reader;

/*
 * Make a reader: allocate its buffers and set up the io_uring (or note why
 * not). Returns 0 and *ret, or -EINVAL for a bad cfg, -ENOMEM, or the
 * io_uring error when it is neither -EPERM nor -ENOSYS.
 */
int mb_file_reader_new(const struct mb_file_reader_cfg *cfg, struct mb_file_reader **ret);

/* Wait for reads still in flight and free everything; NULL is fine. Returns NULL. */
struct mb_file_reader *mb_file_reader_free(struct mb_file_reader *r);

/* The mb_file_reader_note bits that apply; *ret_err the errno that caused NO_URING. */
unsigned mb_file_reader_notes(const struct mb_file_reader *r, int *ret_err);

/* True when reads go through io_uring, false for pread(2). */
bool mb_file_reader_uses_uring(const struct mb_file_reader *r);

/*
 * Begin reading fd (which the caller keeps owning) at offset. Reads still
 * in flight on the previous file are waited for and dropped. 0 or -errno.
 */
int mb_file_reader_start(struct mb_file_reader *r, int fd, uint64_t offset);

/*
 * The next block of the file: its length with *ret_data pointing at it,
 * 0 at the end of the file (call again later to see whether it grew), or
 * -errno for a failed read. The data stays valid until the next call on r.
 */
long mb_file_reader_next(struct mb_file_reader *r, const uint8_t **ret_data);

/* File offset just past the last block handed out. */
uint64_t mb_file_reader_offset(const struct mb_file_reader *r);

#endif /* MB_FILE_READER_H */
