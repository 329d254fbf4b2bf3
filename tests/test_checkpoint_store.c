/* SPDX-License-Identifier: MIT */
/*
 * test_checkpoint_store.c - checkpoint files: atomic writes, keeping the
 * last few, choosing the newest good one, and every failing system call
 * leaving the previous checkpoints as they were.
 *
 * The failures come from an I/O layer that fails the Nth open, write,
 * fsync or rename with the errno a full, broken or read-only disk gives.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_store.h"
#include "snapshot.h"
#include "test.h"

static char dir[64];

/* A fresh temporary directory for one test. */
static void dir_make(void)
{
	snprintf(dir, sizeof dir, "/tmp/mb-test-ckpt-store-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
}

/* Remove the directory and whatever is in it. */
static void dir_clean(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Names in the directory, sorted, joined by spaces into buf. */
static const char *listing(char *buf, size_t cap)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' || (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, ".."))) {
			size_t len = strlen(buf);
			snprintf(buf + len, cap - len, "%s%s", len ? " " : "", names[i]->d_name);
		}
		free(names[i]);
	}
	free(names);
	return buf;
}

/* A valid checkpoint whose model holds version v in its parameters too; *ret_len its bytes (malloc'd). */
static uint8_t *make_ckpt(uint64_t v, size_t *ret_len)
{
	struct mb_snap_info info = {.kind = MB_MODEL_LINEAR, .n_layers = 1, .sizes = {3, 1},
				    .act = {MB_ACT_IDENTITY}, .version = v};
	float params[4] = {(float)v, 1, 2, 3};
	uint8_t snap[256];
	long n = mb_snap_encode(snap, sizeof snap, &info, params);
	CU_ASSERT_FATAL(n > 0);
	struct mb_ckpt_section sec = {MB_CKPT_SEC_MODEL, snap, (size_t)n};
	size_t size = mb_ckpt_size(&sec, 1);
	uint8_t *buf = malloc(size);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL_FATAL(mb_ckpt_encode(buf, size, &sec, 1), (long)size);
	*ret_len = size;
	return buf;
}

static struct mb_ckpt_store *open_store(uint32_t keep, const struct mb_ckpt_io *io)
{
	struct mb_ckpt_store *st = NULL;
	struct mb_ckpt_store_cfg cfg = {.dir = dir, .keep = keep, .io = io};
	CU_ASSERT_FATAL(mb_ckpt_store_open(&cfg, &st) == 0);
	return st;
}

/* Write version v; the store's return. */
static int write_version(struct mb_ckpt_store *st, uint64_t v, const char **why)
{
	size_t len;
	uint8_t *buf = make_ckpt(v, &len);
	int r = mb_ckpt_store_write(st, v, buf, len, why);
	free(buf);
	return r;
}

/* The version the newest good checkpoint holds, or -1 with none; *ret_skipped counts those passed over. */
static int skipped;
static enum mb_reason skipped_reason[8];

static void count_skip(void *ctx, const char *name, int err, const struct mb_diag *d)
{
	(void)ctx;
	(void)name;
	(void)err;
	if (skipped < 8)
		skipped_reason[skipped] = d->reason;
	skipped++;
}

static long long newest(struct mb_ckpt_store *st)
{
	struct mb_ckpt_file f;
	skipped = 0;
	if (mb_ckpt_store_load_newest(st, NULL, count_skip, NULL, &f) < 0)
		return -1;
	const struct mb_ckpt_section *m = mb_ckpt_find(&f.ck, MB_CKPT_SEC_MODEL);
	struct mb_snap_info info;
	const uint8_t *p;
	CU_ASSERT_FATAL(m && mb_snap_decode(m->data, m->len, &info, &p, NULL) == 0);
	CU_ASSERT_EQUAL(info.version, f.version);
	long long v = (long long)f.version;
	mb_ckpt_file_release(&f);
	return v;
}

/* ---- Tests ---- */

static void test_atomic_write(void)
{
	char names[512], path[256];
	dir_make();
	mode_t old = umask(022);
	struct mb_ckpt_store *st = open_store(3, NULL);
	const char *why = NULL;
	size_t len;
	uint8_t *want = make_ckpt(42, &len);
	CU_ASSERT_EQUAL(mb_ckpt_store_write(st, 42, want, len, &why), 0);
	/* The final name only: no temporary file is left. */
	CU_ASSERT_STRING_EQUAL(listing(names, sizeof names), "ckpt-00000000000000000042.mbck");
	snprintf(path, sizeof path, "%s/ckpt-00000000000000000042.mbck", dir);
	struct stat sb;
	CU_ASSERT_FATAL(stat(path, &sb) == 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0640);
	CU_ASSERT_EQUAL((size_t)sb.st_size, len);
	struct mb_ckpt_file f;
	CU_ASSERT_FATAL(mb_ckpt_store_read(st, 42, &f, NULL) == 0);
	CU_ASSERT(f.len == len && memcmp(f.buf, want, len) == 0);
	mb_ckpt_file_release(&f);
	/* The same version again replaces it. */
	CU_ASSERT_EQUAL(mb_ckpt_store_write(st, 42, want, len, &why), 0);
	CU_ASSERT_STRING_EQUAL(listing(names, sizeof names), "ckpt-00000000000000000042.mbck");
	umask(old);
	free(want);
	mb_ckpt_store_free(st);
	dir_clean();
}

static void test_keep_last(void)
{
	char names[512];
	dir_make();
	struct mb_ckpt_store *st = open_store(3, NULL);
	for (uint64_t v = 1; v <= 5; v++) {
		CU_ASSERT_EQUAL(write_version(st, v * 10, NULL), 0);
		CU_ASSERT(mb_ckpt_store_prune(st) >= 0);
	}
	CU_ASSERT_STRING_EQUAL(listing(names, sizeof names), "ckpt-00000000000000000030.mbck "
			       "ckpt-00000000000000000040.mbck ckpt-00000000000000000050.mbck");
	uint64_t *v;
	size_t n;
	CU_ASSERT_FATAL(mb_ckpt_store_list(st, &v, &n) == 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT(v[0] == 50 && v[1] == 40 && v[2] == 30);
	free(v);
	/* Ordered by version, not by name length or write order. */
	CU_ASSERT_EQUAL(write_version(st, 7, NULL), 0);
	CU_ASSERT_EQUAL(mb_ckpt_store_prune(st), 1);
	CU_ASSERT_EQUAL(newest(st), 50);
	CU_ASSERT_STRING_EQUAL(listing(names, sizeof names), "ckpt-00000000000000000030.mbck "
			       "ckpt-00000000000000000040.mbck ckpt-00000000000000000050.mbck");
	mb_ckpt_store_free(st);
	dir_clean();
}

/* Damage the file of version v: cut it to len - cut bytes, or flip bit 0 of byte at. */
static void damage(uint64_t v, long cut, long at)
{
	char path[256], name[MB_CKPT_NAME_BYTES];
	mb_ckpt_store_name(v, name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct stat sb;
	CU_ASSERT_FATAL(stat(path, &sb) == 0);
	if (cut) {
		CU_ASSERT_FATAL(truncate(path, sb.st_size - cut) == 0);
		return;
	}
	int fd = open(path, O_RDWR);
	uint8_t b;
	CU_ASSERT_FATAL(fd >= 0 && pread(fd, &b, 1, at) == 1);
	b ^= 1;
	CU_ASSERT_FATAL(pwrite(fd, &b, 1, at) == 1);
	close(fd);
}

static void test_newest_valid(void)
{
	dir_make();
	struct mb_ckpt_store *st = open_store(5, NULL);
	CU_ASSERT_EQUAL(newest(st), -1); /* none yet */
	for (uint64_t v = 1; v <= 3; v++)
		CU_ASSERT_EQUAL(write_version(st, v, NULL), 0);
	CU_ASSERT_EQUAL(newest(st), 3);
	CU_ASSERT_EQUAL(skipped, 0);
	mb_ckpt_store_free(st);
	dir_clean();
}

static void test_truncated_skipped(void)
{
	dir_make();
	struct mb_ckpt_store *st = open_store(5, NULL);
	for (uint64_t v = 1; v <= 3; v++)
		CU_ASSERT_EQUAL(write_version(st, v, NULL), 0);
	damage(3, 9, 0); /* a torn write: the tail is missing */
	CU_ASSERT_EQUAL(newest(st), 2);
	CU_ASSERT_EQUAL(skipped, 1);
	CU_ASSERT_EQUAL(skipped_reason[0], MB_R_TRUNCATED);
	mb_ckpt_store_free(st);
	dir_clean();
}

static void test_flipped_byte_skipped(void)
{
	dir_make();
	struct mb_ckpt_store *st = open_store(5, NULL);
	for (uint64_t v = 1; v <= 3; v++)
		CU_ASSERT_EQUAL(write_version(st, v, NULL), 0);
	damage(3, 0, 40); /* inside the model's parameters */
	damage(2, 0, 20); /* inside the section header */
	CU_ASSERT_EQUAL(newest(st), 1);
	CU_ASSERT_EQUAL(skipped, 2);
	CU_ASSERT_EQUAL(skipped_reason[0], MB_R_CRC);
	mb_ckpt_store_free(st);
	dir_clean();
}

/* The caller's accept function passes over what it cannot use, like damage. */
static int refuse_odd(void *ctx, const struct mb_ckpt_file *f, struct mb_diag *d)
{
	(void)ctx;
	return f->version % 2 ? mb_diag_set(d, -EINVAL, MB_R_COUNT_MISMATCH, 0, 0, "odd") : 0;
}

static void test_accept_refuses(void)
{
	dir_make();
	struct mb_ckpt_store *st = open_store(5, NULL);
	for (uint64_t v = 1; v <= 5; v++)
		CU_ASSERT_EQUAL(write_version(st, v, NULL), 0);
	struct mb_ckpt_file f;
	skipped = 0;
	CU_ASSERT_FATAL(mb_ckpt_store_load_newest(st, refuse_odd, count_skip, NULL, &f) == 0);
	CU_ASSERT_EQUAL(f.version, 4);
	CU_ASSERT_EQUAL(skipped, 1);
	mb_ckpt_file_release(&f);
	mb_ckpt_store_free(st);
	dir_clean();
}

static void test_leftover_temp_removed(void)
{
	char names[512], path[256];
	dir_make();
	snprintf(path, sizeof path, "%s/.ckpt-00000000000000000009.mbck.tmp", dir);
	FILE *f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("half a checkpoint", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/notes.txt", dir);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fclose(f);
	struct mb_ckpt_store *st = open_store(3, NULL);
	/* An interrupted write's file goes; anything else stays. */
	CU_ASSERT_STRING_EQUAL(listing(names, sizeof names), "notes.txt");
	CU_ASSERT_EQUAL(newest(st), -1);
	mb_ckpt_store_free(st);
	dir_clean();
}

/* ---- The failing I/O layer ---- */

enum call { C_OPEN, C_WRITE, C_FSYNC, C_RENAME, C_N };

static struct {
	unsigned calls[C_N];  /* calls so far, by kind */
	unsigned fail_at[C_N]; /* the call (1-based) to fail; 0: none */
	int err;              /* its errno */
	size_t max_write;     /* bytes one write takes at most; 0: all */
} io_plan;

static bool failing(enum call c)
{
	if (++io_plan.calls[c] != io_plan.fail_at[c])
		return false;
	errno = io_plan.err;
	return true;
}

static int t_open(int dirfd, const char *name, int flags, mode_t mode)
{
	return failing(C_OPEN) ? -1 : openat(dirfd, name, flags, mode);
}

static ssize_t t_write(int fd, const void *buf, size_t len)
{
	if (failing(C_WRITE))
		return -1;
	return write(fd, buf, io_plan.max_write && len > io_plan.max_write ? io_plan.max_write : len);
}

static int t_fsync(int fd)
{
	return failing(C_FSYNC) ? -1 : fsync(fd);
}

static int t_rename(int dirfd, const char *from, const char *to)
{
	return failing(C_RENAME) ? -1 : renameat(dirfd, from, dirfd, to);
}

static const struct mb_ckpt_io failing_io = {t_open, t_write, t_fsync, t_rename};

/*
 * With version 1 on disk, write version 2 while call c number n fails
 * with err: the error and the step come back, version 1 is still the
 * newest good one, and no temporary file is left.
 */
static void fail_one(enum call c, unsigned n, int err, const char *step)
{
	char names[512];
	dir_make();
	struct mb_ckpt_store *st = open_store(1, &failing_io);
	memset(&io_plan, 0, sizeof io_plan);
	io_plan.max_write = 16; /* several writes per file, so the Nth can be a later one */
	CU_ASSERT_EQUAL_FATAL(write_version(st, 1, NULL), 0);
	memset(io_plan.calls, 0, sizeof io_plan.calls);
	io_plan.fail_at[c] = n;
	io_plan.err = err;
	const char *why = NULL;
	CU_ASSERT_EQUAL(write_version(st, 2, &why), -err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(why);
	CU_ASSERT_STRING_EQUAL(why, step);
	/* A failed fsync is not tried again as if a second try could vouch for the data. */
	if (c == C_FSYNC)
		CU_ASSERT_EQUAL(io_plan.calls[C_FSYNC], n);
	if (c == C_FSYNC && n == 2) {
		/* Only the directory's fsync failed: the new file is whole but not pruned over. */
		CU_ASSERT_STRING_EQUAL(listing(names, sizeof names),
				       "ckpt-00000000000000000001.mbck ckpt-00000000000000000002.mbck");
		CU_ASSERT_EQUAL(newest(st), 2);
	} else {
		CU_ASSERT_STRING_EQUAL(listing(names, sizeof names), "ckpt-00000000000000000001.mbck");
		CU_ASSERT_EQUAL(newest(st), 1);
	}
	CU_ASSERT_EQUAL(skipped, 0);
	/* The next write, with the disk well again, works and keeps only the newest. */
	io_plan.fail_at[c] = 0;
	CU_ASSERT_EQUAL(write_version(st, 3, NULL), 0);
	CU_ASSERT(mb_ckpt_store_prune(st) >= 1);
	CU_ASSERT_STRING_EQUAL(listing(names, sizeof names), "ckpt-00000000000000000003.mbck");
	mb_ckpt_store_free(st);
	dir_clean();
}

static void test_open_erofs(void) { fail_one(C_OPEN, 1, EROFS, "creating the temporary file"); }
static void test_write_enospc(void) { fail_one(C_WRITE, 3, ENOSPC, "writing the temporary file"); }
static void test_fsync_eio(void) { fail_one(C_FSYNC, 1, EIO, "fsync of the temporary file"); }
static void test_rename_eio(void) { fail_one(C_RENAME, 1, EIO, "renaming the temporary file"); }
static void test_dir_fsync_eio(void) { fail_one(C_FSYNC, 2, EIO, "fsync of the directory"); }

static void test_short_writes(void)
{
	dir_make();
	struct mb_ckpt_store *st = open_store(3, &failing_io);
	memset(&io_plan, 0, sizeof io_plan);
	io_plan.max_write = 7;
	size_t len;
	uint8_t *want = make_ckpt(5, &len);
	CU_ASSERT_EQUAL(mb_ckpt_store_write(st, 5, want, len, NULL), 0);
	CU_ASSERT(io_plan.calls[C_WRITE] >= len / 7);
	struct mb_ckpt_file f;
	CU_ASSERT_FATAL(mb_ckpt_store_read(st, 5, &f, NULL) == 0);
	CU_ASSERT(f.len == len && memcmp(f.buf, want, len) == 0);
	mb_ckpt_file_release(&f);
	free(want);
	mb_ckpt_store_free(st);
	dir_clean();
}

static void test_bad_cfg(void)
{
	struct mb_ckpt_store *st = NULL;
	struct mb_ckpt_store_cfg cfg = {.dir = "/tmp", .keep = 0};
	CU_ASSERT_EQUAL(mb_ckpt_store_open(&cfg, &st), -EINVAL);
	cfg.keep = 1;
	cfg.dir = "";
	CU_ASSERT_EQUAL(mb_ckpt_store_open(&cfg, &st), -EINVAL);
	cfg.dir = "/proc/no/such/dir";
	CU_ASSERT(mb_ckpt_store_open(&cfg, &st) < 0);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_PTR_NULL(mb_ckpt_store_free(NULL));
}

int main(void)
{
	MB_SUITE("ckpt_store", {"atomic-write", test_atomic_write}, {"keep-last", test_keep_last},
		 {"newest-valid", test_newest_valid}, {"truncated-skipped", test_truncated_skipped},
		 {"flipped-byte-skipped", test_flipped_byte_skipped}, {"accept-refuses", test_accept_refuses},
		 {"leftover-temp-removed", test_leftover_temp_removed}, {"open-erofs", test_open_erofs},
		 {"write-enospc", test_write_enospc}, {"fsync-eio", test_fsync_eio},
		 {"rename-eio", test_rename_eio}, {"dir-fsync-eio", test_dir_fsync_eio},
		 {"short-writes", test_short_writes}, {"bad-config", test_bad_cfg});
	return mb_test_run();
}
