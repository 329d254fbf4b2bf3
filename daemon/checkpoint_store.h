/* SPDX-License-Identifier: MIT */
/*
 * checkpoint_store.h - checkpoint files in a directory: written so that a
 * crash leaves the old file or the new one, never a torn one.
 *
 * Each checkpoint is one file, ckpt-<model version, 20 digits>.mbck, so
 * the names sort by version, and the version keeps increasing over the
 * daemon's life (a reset included). A write goes to a hidden temporary
 * file in the same directory, which is written whole, fsynced, renamed
 * over the final name, and then the directory is fsynced (proto section
 * 7.2). Only then may checkpoints beyond the newest keep go. A failed
 * step is never retried as if it had worked: the temporary file is
 * removed and the checkpoints already there stay as they were.
 *
 * The system calls the writer makes go through a struct mb_ckpt_io, so a
 * test can make the Nth of them fail with ENOSPC, EIO or EROFS.
 *
 * Which file to start from: the newest whose container checks (magic,
 * version, every CRC) and which the caller's accept function takes; the
 * ones passed over are reported to a skip function with the reason.
 *
 * A store belongs to one thread at a time (the main thread at start, the
 * trainer afterwards).
 */
#ifndef MB_DAEMON_CHECKPOINT_STORE_H
#define MB_DAEMON_CHECKPOINT_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "checkpoint.h"
#include "diag.h"

#define MB_CKPT_STORE_MAX_BYTES (1ull << 30) /* the largest checkpoint file read back */
#define MB_CKPT_STORE_MAX_KEEP  1000u        /* checkpoints kept at most */
#define MB_CKPT_NAME_BYTES      32u          /* "ckpt-" 20 digits ".mbck" and the NUL */
#define MB_CKPT_FILE_MODE       0640         /* checkpoint files: the service's group may read */
#define MB_CKPT_DIR_MODE        0750         /* the directory, when the store creates it */

/*
 * The system calls a store writes through. Each behaves like the call it
 * is named after, returning -1 with errno set on failure; dirfd is the
 * store's directory.
 */
struct mb_ckpt_io {
	int (*open)(int dirfd, const char *name, int flags, mode_t mode);   /* openat(2) */
	ssize_t (*write)(int fd, const void *buf, size_t len);              /* write(2) */
	int (*fsync)(int fd);                                               /* fsync(2), files and the directory */
	int (*rename)(int dirfd, const char *from, const char *to);         /* renameat(2) within dirfd */
};

/* The real system calls. */
extern const struct mb_ckpt_io mb_ckpt_io_system;

struct mb_ckpt_store_cfg {
	const char *dir;             /* the directory; created (MB_CKPT_DIR_MODE) if missing, not its parents */
	uint32_t keep;               /* checkpoints kept, 1..MB_CKPT_STORE_MAX_KEEP */
	const struct mb_ckpt_io *io; /* NULL: mb_ckpt_io_system */
};

/* A checkpoint read back and checked. */
struct mb_ckpt_file {
	uint64_t version;                 /* from its name */
	char name[MB_CKPT_NAME_BYTES];    /* its name in the directory */
	uint8_t *buf;                     /* the whole file, owned (mb_ckpt_file_release) */
	size_t len;                       /* its bytes */
	struct mb_ckpt ck;                /* its sections: views into buf */
};

/*
 * Whether the caller takes a checkpoint whose container checked: 0 to
 * take it, or -errno with *diag to pass over it as damaged.
 */
typedef int (*mb_ckpt_accept_fn)(void *ctx, const struct mb_ckpt_file *f, struct mb_diag *diag);

/* Told about each checkpoint passed over: its name, the error, and why (diag may say nothing). */
typedef void (*mb_ckpt_skip_fn)(void *ctx, const char *name, int err, const struct mb_diag *diag);

struct mb_ckpt_store;

/*
 * Open the directory (creating it if missing) and remove temporary files
 * an interrupted write left there. 0 and *ret, or -EINVAL for a bad cfg,
 * -ENOMEM, or the -errno of mkdir or open.
 */
int mb_ckpt_store_open(const struct mb_ckpt_store_cfg *cfg, struct mb_ckpt_store **ret);

/* Close the directory and free the store; NULL is fine. Returns NULL. */
struct mb_ckpt_store *mb_ckpt_store_free(struct mb_ckpt_store *st);

/* The directory, as given. */
const char *mb_ckpt_store_dir(const struct mb_ckpt_store *st);

/* The file name of version's checkpoint into buf. */
void mb_ckpt_store_name(uint64_t version, char buf[MB_CKPT_NAME_BYTES]);

/*
 * Write len bytes as version's checkpoint (replacing one of the same
 * version) and make it durable; mb_ckpt_store_prune() afterwards deletes
 * the old ones. 0, or -errno with *why naming the step that failed
 * ("fsync of the temporary file", ...): after a failure the temporary
 * file is gone, the checkpoints that were there are all still there, and
 * a failed fsync is not called again. When only the fsync of the
 * directory failed, the new file is complete but its name may not survive
 * a crash: do not prune then.
 */
int mb_ckpt_store_write(struct mb_ckpt_store *st, uint64_t version, const void *buf, size_t len,
			const char **why);

/*
 * The versions of the checkpoints in the directory, newest first, into
 * *ret (malloc'd, the caller frees; NULL when there are none) and *ret_n.
 * 0, -ENOMEM, or the -errno of reading the directory.
 */
int mb_ckpt_store_list(struct mb_ckpt_store *st, uint64_t **ret, size_t *ret_n);

/*
 * Delete all but the newest keep checkpoints. The number deleted, or the
 * -errno of the first deletion that failed (the others are still tried).
 */
int mb_ckpt_store_prune(struct mb_ckpt_store *st);

/*
 * Read version's checkpoint and check its container. 0 and *ret (release
 * it with mb_ckpt_file_release); -ENOENT; -E2BIG over
 * MB_CKPT_STORE_MAX_BYTES; -errno of reading; or mb_ckpt_decode's error
 * with *diag. *ret is untouched on failure.
 */
int mb_ckpt_store_read(struct mb_ckpt_store *st, uint64_t version, struct mb_ckpt_file *ret,
		       struct mb_diag *diag);

/*
 * Find the newest checkpoint that reads, checks and is accepted (accept
 * may be NULL: any that checks); skip (may be NULL) hears about each one
 * passed over. 0 and *ret; -ENOENT when none qualifies; -ENOMEM or the
 * -errno of listing the directory. *ret is untouched on failure.
 */
int mb_ckpt_store_load_newest(struct mb_ckpt_store *st, mb_ckpt_accept_fn accept, mb_ckpt_skip_fn skip,
			      void *ctx, struct mb_ckpt_file *ret);

/* Free what a loaded checkpoint holds; the struct may be loaded into again. */
void mb_ckpt_file_release(struct mb_ckpt_file *f);

#endif /* MB_DAEMON_CHECKPOINT_STORE_H */
