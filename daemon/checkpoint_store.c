/* SPDX-License-Identifier: MIT */
/*
 * checkpoint_store.c - checkpoint files: atomic writes, listing, choosing
 * the newest good one, keeping the last few.
 *
 * Every path is taken relative to a descriptor of the directory opened
 * once, so the directory that is fsynced after a rename is the very one
 * the rename happened in, whatever happens to its path meanwhile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_store.h"

#define NAME_PREFIX "ckpt-"
#define NAME_SUFFIX ".mbck"
#define TEMP_PREFIX ".ckpt-"
#define TEMP_SUFFIX ".tmp"
#define VERSION_DIGITS 20

struct mb_ckpt_store {
	char *dir;                   /* as configured, for log lines */
	int dirfd;                   /* the directory, open for the *at calls and its fsync */
	uint32_t keep;               /* checkpoints kept */
	const struct mb_ckpt_io *io; /* the calls the writer goes through */
};

static int sys_open(int dirfd, const char *name, int flags, mode_t mode)
{
	return openat(dirfd, name, flags, mode);
}

static ssize_t sys_write(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len);
}

static int sys_fsync(int fd)
{
	return fsync(fd);
}

static int sys_rename(int dirfd, const char *from, const char *to)
{
	return renameat(dirfd, from, dirfd, to);
}

const struct mb_ckpt_io mb_ckpt_io_system = {
	.open = sys_open,
	.write = sys_write,
	.fsync = sys_fsync,
	.rename = sys_rename,
};

/* "ckpt-00000000000000000042.mbck" */
void mb_ckpt_store_name(uint64_t version, char buf[MB_CKPT_NAME_BYTES])
{
	snprintf(buf, MB_CKPT_NAME_BYTES, NAME_PREFIX "%0*" PRIu64 NAME_SUFFIX, VERSION_DIGITS, version);
}

/* The temporary name a write of version goes through. */
static void temp_name(uint64_t version, char *buf, size_t cap)
{
	snprintf(buf, cap, TEMP_PREFIX "%0*" PRIu64 NAME_SUFFIX TEMP_SUFFIX, VERSION_DIGITS, version);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The version a checkpoint's name carries; false for any other name. */
static bool parse_name(const char *name, uint64_t *ret)
{
	const size_t pre = sizeof NAME_PREFIX - 1;
	if (strlen(name) != pre + VERSION_DIGITS + sizeof NAME_SUFFIX - 1 || strncmp(name, NAME_PREFIX, pre) != 0 ||
	    !has_suffix(name, NAME_SUFFIX))
		return false;
	uint64_t v = 0;
	for (size_t i = pre; i < pre + VERSION_DIGITS; i++) {
		unsigned d = (unsigned)(name[i] - '0');
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = v;
	return true;
}

/* A DIR stream over the store's directory (its own descriptor, so dirfd stays put). */
static DIR *open_listing(const struct mb_ckpt_store *st)
{
	int fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

/* Remove what an interrupted write left behind: no one will ever finish it. */
static void remove_temporaries(struct mb_ckpt_store *st)
{
	DIR *d = open_listing(st);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, TEMP_PREFIX, sizeof TEMP_PREFIX - 1) == 0 && has_suffix(e->d_name, TEMP_SUFFIX))
			unlinkat(st->dirfd, e->d_name, 0);
	closedir(d);
}

/* Open (and create) the directory; see checkpoint_store.h. */
int mb_ckpt_store_open(const struct mb_ckpt_store_cfg *cfg, struct mb_ckpt_store **ret)
{
	if (!cfg->dir || !*cfg->dir || cfg->keep < 1 || cfg->keep > MB_CKPT_STORE_MAX_KEEP)
		return -EINVAL;
	struct mb_ckpt_store *st = calloc(1, sizeof *st);
	int err = -ENOMEM;
	if (!st || !(st->dir = strdup(cfg->dir)))
		goto out_free;
	if (mkdir(cfg->dir, MB_CKPT_DIR_MODE) < 0 && errno != EEXIST) {
		err = -errno;
		goto out_free;
	}
	st->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		err = -errno;
		goto out_free;
	}
	st->keep = cfg->keep;
	st->io = cfg->io ? cfg->io : &mb_ckpt_io_system;
	remove_temporaries(st);
	*ret = st;
	return 0;

out_free:
	if (st)
		free(st->dir);
	free(st);
	return err;
}

/* Close and free. */
struct mb_ckpt_store *mb_ckpt_store_free(struct mb_ckpt_store *st)
{
	if (!st)
		return NULL;
	close(st->dirfd);
	free(st->dir);
	free(st);
	return NULL;
}

/* The directory as configured. */
const char *mb_ckpt_store_dir(const struct mb_ckpt_store *st)
{
	return st->dir;
}

/* Write all of buf, through short writes and interruptions. 0 or -errno. */
static int write_all(const struct mb_ckpt_io *io, int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = io->write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* a write that makes no progress would loop forever */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Temporary file, fsync, rename, fsync of the directory (see checkpoint_store.h). */
int mb_ckpt_store_write(struct mb_ckpt_store *st, uint64_t version, const void *buf, size_t len,
			const char **why)
{
	char name[MB_CKPT_NAME_BYTES], temp[MB_CKPT_NAME_BYTES + 8];
	const struct mb_ckpt_io *io = st->io;
	const char *step;
	int fd, err;

	mb_ckpt_store_name(version, name);
	temp_name(version, temp, sizeof temp);
	unlinkat(st->dirfd, temp, 0); /* a leftover of the same name would fail O_EXCL */
	fd = io->open(st->dirfd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, MB_CKPT_FILE_MODE);
	if (fd < 0) {
		err = -errno;
		step = "creating the temporary file";
		goto out;
	}
	err = write_all(io, fd, buf, len);
	if (err < 0) {
		step = "writing the temporary file";
		goto out_close_fd;
	}
	/* Once fsync has failed the kernel may have dropped the dirty pages: never trust a second try. */
	if (io->fsync(fd) < 0) {
		err = -errno;
		step = "fsync of the temporary file";
		goto out_close_fd;
	}
	if (close(fd) < 0) {
		err = -errno;
		step = "closing the temporary file";
		goto out_unlink_temp;
	}
	if (io->rename(st->dirfd, temp, name) < 0) {
		err = -errno;
		step = "renaming the temporary file";
		goto out_unlink_temp;
	}
	if (io->fsync(st->dirfd) < 0) {
		err = -errno;
		step = "fsync of the directory";
		goto out;
	}
	return 0;

out_close_fd:
	close(fd);
out_unlink_temp:
	unlinkat(st->dirfd, temp, 0);
out:
	if (why)
		*why = step;
	return err;
}

static int newest_first(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Versions present, newest first. */
int mb_ckpt_store_list(struct mb_ckpt_store *st, uint64_t **ret, size_t *ret_n)
{
	DIR *d = open_listing(st);
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	if (!d)
		return -errno;
	errno = 0;
	while ((e = readdir(d))) {
		uint64_t version;
		if (!parse_name(e->d_name, &version))
			continue;
		if (n == cap) {
			size_t grown = cap ? 2 * cap : 16;
			uint64_t *p = realloc(v, grown * sizeof *v);
			if (!p) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = p;
			cap = grown;
		}
		v[n++] = version;
		errno = 0;
	}
	int err = errno ? -errno : 0;
	closedir(d);
	if (err < 0) {
		free(v);
		return err;
	}
	if (n)
		qsort(v, n, sizeof *v, newest_first);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Keep the newest keep. */
int mb_ckpt_store_prune(struct mb_ckpt_store *st)
{
	uint64_t *v;
	size_t n;
	int err = mb_ckpt_store_list(st, &v, &n), deleted = 0;
	if (err < 0)
		return err;
	for (size_t i = st->keep; i < n; i++) {
		char name[MB_CKPT_NAME_BYTES];
		mb_ckpt_store_name(v[i], name);
		if (unlinkat(st->dirfd, name, 0) == 0)
			deleted++;
		else if (err == 0 && errno != ENOENT)
			err = -errno;
	}
	free(v);
	return err < 0 ? err : deleted;
}

/* The whole of name into a new buffer. 0, or -errno (-E2BIG over the limit). */
static int slurp(struct mb_ckpt_store *st, const char *name, uint8_t **ret, size_t *ret_len)
{
	struct stat sb;
	int err, fd = openat(st->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		err = -errno;
		goto out_close_fd;
	}
	if (!S_ISREG(sb.st_mode)) {
		err = -EINVAL;
		goto out_close_fd;
	}
	if ((uint64_t)sb.st_size > MB_CKPT_STORE_MAX_BYTES) {
		err = -E2BIG;
		goto out_close_fd;
	}
	size_t len = (size_t)sb.st_size, got = 0;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		err = -ENOMEM;
		goto out_close_fd;
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* shorter than fstat said: the decoder names it truncated */
		got += (size_t)n;
	}
	close(fd);
	*ret = buf;
	*ret_len = got;
	return 0;

out_close_fd:
	close(fd);
	return err;
}

/* Read and check one checkpoint. */
int mb_ckpt_store_read(struct mb_ckpt_store *st, uint64_t version, struct mb_ckpt_file *ret,
		       struct mb_diag *diag)
{
	struct mb_ckpt_file f = {.version = version};
	mb_ckpt_store_name(version, f.name);
	int err = slurp(st, f.name, &f.buf, &f.len);
	if (err < 0)
		return mb_diag_set(diag, err, err == -E2BIG ? MB_R_TOO_BIG : MB_R_OK, 0, 0, "%s", strerror(-err));
	err = mb_ckpt_decode(f.buf, f.len, &f.ck, diag);
	if (err < 0) {
		free(f.buf);
		return err;
	}
	*ret = f;
	return 0;
}

/* Newest first, the first that reads, checks and is accepted. */
int mb_ckpt_store_load_newest(struct mb_ckpt_store *st, mb_ckpt_accept_fn accept, mb_ckpt_skip_fn skip,
			      void *ctx, struct mb_ckpt_file *ret)
{
	uint64_t *v;
	size_t n;
	int err = mb_ckpt_store_list(st, &v, &n);
	if (err < 0)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		struct mb_ckpt_file f;
		struct mb_diag d = {0};
		int r = mb_ckpt_store_read(st, v[i], &f, &d);
		if (r == 0 && accept && (r = accept(ctx, &f, &d)) < 0)
			mb_ckpt_file_release(&f);
		if (r == 0) {
			*ret = f;
			err = 0;
			break;
		}
		if (r == -ENOMEM) {
			err = r;
			break;
		}
		if (skip) {
			char name[MB_CKPT_NAME_BYTES];
			mb_ckpt_store_name(v[i], name);
			skip(ctx, name, r, &d);
		}
	}
	free(v);
	return err;
}

/* Free the buffer. */
void mb_ckpt_file_release(struct mb_ckpt_file *f)
{
	free(f->buf);
	f->buf = NULL;
	f->len = 0;
	f->ck.n_sections = 0;
}
