/* SPDX-License-Identifier: MIT */
/*
 * test_ckpt_powerloss.c - a checkpoint write cut by a power failure at
 * every step, or failing at every step, leaves a directory that loads as
 * the old checkpoint or the new one: never an error, never garbage.
 *
 * kill -9 keeps the page cache, so it cannot show what a power cut
 * loses. Here the store writes through an I/O layer that performs each
 * call on a real directory and also records it, and a small model of the
 * disk replays the record: a file's bytes become durable only at its
 * fsync, a name created, renamed or unlinked only at the fsync of the
 * directory (metadata reaches the disk in order, as a journal writes
 * it). For every cut of the record, for every prefix of the metadata
 * still pending and for every way the unsynced bytes may have landed
 * (none, all, the first half, all with a hole of zeros), the durable
 * state is written into a fresh directory and opened with the real
 * loader.
 *
 * The store has no unlink in its I/O layer: the unlinks of pruning are
 * recorded by comparing the directory with the model afterwards.
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

#define MAX_OPS    256  /* calls one scenario records */
#define MAX_INODES 32   /* files one scenario creates */
#define MAX_NAMES  32   /* names in the modelled directory */
#define WRITE_MAX  1000 /* bytes a recorded write takes at most: short writes split a file */
#define N_FEATURES 1500 /* the model's inputs: a checkpoint of about 6 KB */

enum op_kind {
	OP_CREATE,       /* open with O_CREAT: a new file under a name */
	OP_WRITE,        /* bytes appended to a file */
	OP_FSYNC,        /* a file's bytes made durable */
	OP_FSYNC_FAILED, /* an fsync that failed: nothing became durable */
	OP_RENAME,       /* a name moved over another */
	OP_DIRSYNC,      /* the directory's pending changes made durable */
	OP_UNLINK,       /* a name removed (seen after pruning) */
};

/* One recorded call. */
struct op {
	enum op_kind kind;   /* what happened */
	int ino;             /* the file it concerns (CREATE, WRITE, FSYNC*) */
	char name[64];       /* CREATE, UNLINK: the name; RENAME: the source */
	char to[64];         /* RENAME: the target */
	const uint8_t *data; /* WRITE: the bytes (views into the caller's buffer) */
	size_t len;          /* WRITE: their count */
};

/* A directory entry. */
struct entry {
	char name[64]; /* the file name */
	int ino;       /* the file it names */
};

/* The recorder: the live state and the record of the calls. */
static struct {
	struct op ops[MAX_OPS];       /* the calls, in order */
	unsigned n_ops;               /* entries of ops */
	int fd_ino[1024];             /* the file behind each open descriptor, -1 none */
	int n_inodes;                 /* files so far, those there at the start included */
	struct entry live[MAX_NAMES]; /* names as the running process sees them */
	unsigned n_live;              /* entries of live */
	unsigned calls;               /* open, write, fsync and rename calls so far */
	unsigned fail_at;             /* the call that fails (1-based), 0 none */
	int fail_errno;               /* and its errno */
	enum op_kind failed_kind;     /* what the failing call was */
} rec;

/* The durable starting state: the files present before the recorded write. */
static struct {
	struct entry names[MAX_NAMES]; /* durable names */
	unsigned n_names;              /* entries of names */
	uint8_t *bytes[MAX_INODES];    /* durable bytes of each pre-existing file */
	size_t len[MAX_INODES];        /* their count */
} base;

static char live_dir[64]; /* the directory the store really writes */

/* ---- Files ---- */

static void remove_dir(const char *dir)
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

static void make_dir(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/mb-test-powerloss-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(buf) != NULL);
}

static void write_file(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(len == 0 || write(fd, p, len) == (ssize_t)len);
	close(fd);
}

/*
 * A valid checkpoint of version v; salt varies the parameters so two
 * checkpoints of one version differ. malloc'd, *ret_len its bytes.
 */
static uint8_t *make_ckpt(uint64_t v, float salt, size_t *ret_len)
{
	struct mb_snap_info info = {.kind = MB_MODEL_LINEAR, .n_layers = 1, .sizes = {N_FEATURES, 1},
				    .act = {MB_ACT_IDENTITY}, .version = v};
	size_t np = mb_snap_param_count(&info), cap = mb_snap_size(&info);
	float *params = malloc(np * sizeof *params);
	uint8_t *snap = malloc(cap);
	CU_ASSERT_FATAL(params && snap);
	for (size_t i = 0; i < np; i++)
		params[i] = (float)v + salt + (float)i / 1024.0f;
	long n = mb_snap_encode(snap, cap, &info, params);
	CU_ASSERT_FATAL(n > 0);
	struct mb_ckpt_section sec = {MB_CKPT_SEC_MODEL, snap, (size_t)n};
	size_t size = mb_ckpt_size(&sec, 1);
	uint8_t *buf = malloc(size);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL_FATAL(mb_ckpt_encode(buf, size, &sec, 1), (long)size);
	free(params);
	free(snap);
	*ret_len = size;
	return buf;
}

/* ---- The recording I/O layer ---- */

static struct op *record(enum op_kind kind)
{
	CU_ASSERT_FATAL(rec.n_ops < MAX_OPS);
	struct op *o = &rec.ops[rec.n_ops++];
	memset(o, 0, sizeof *o);
	o->kind = kind;
	o->ino = -1;
	return o;
}

/* True when this call is the one to fail (errno then set). */
static bool failing(enum op_kind kind)
{
	if (++rec.calls != rec.fail_at)
		return false;
	rec.failed_kind = kind;
	errno = rec.fail_errno;
	return true;
}

static struct entry *live_find(const char *name)
{
	for (unsigned i = 0; i < rec.n_live; i++)
		if (strcmp(rec.live[i].name, name) == 0)
			return &rec.live[i];
	return NULL;
}

static void live_remove(const char *name)
{
	struct entry *e = live_find(name);
	if (e)
		*e = rec.live[--rec.n_live];
}

static int rec_open(int dirfd, const char *name, int flags, mode_t mode)
{
	if (failing(OP_CREATE))
		return -1;
	int fd = mb_ckpt_io_system.open(dirfd, name, flags, mode);
	if (fd < 0)
		return fd;
	CU_ASSERT_FATAL(fd < 1024 && (flags & O_CREAT) && rec.n_inodes < MAX_INODES);
	struct op *o = record(OP_CREATE);
	o->ino = rec.fd_ino[fd] = rec.n_inodes++;
	snprintf(o->name, sizeof o->name, "%s", name);
	live_remove(name);
	CU_ASSERT_FATAL(rec.n_live < MAX_NAMES);
	rec.live[rec.n_live++] = (struct entry){.ino = o->ino};
	snprintf(rec.live[rec.n_live - 1].name, sizeof rec.live[0].name, "%s", name);
	return fd;
}

static ssize_t rec_write(int fd, const void *buf, size_t len)
{
	if (failing(OP_WRITE))
		return -1;
	if (len > WRITE_MAX)
		len = WRITE_MAX; /* short writes, as a signal or a full pipe would make */
	ssize_t n = mb_ckpt_io_system.write(fd, buf, len);
	if (n > 0) {
		struct op *o = record(OP_WRITE);
		o->ino = rec.fd_ino[fd];
		o->data = buf;
		o->len = (size_t)n;
	}
	return n;
}

static int rec_fsync(int fd)
{
	struct stat sb;
	CU_ASSERT_FATAL(fstat(fd, &sb) == 0);
	bool dir = S_ISDIR(sb.st_mode);
	if (failing(dir ? OP_DIRSYNC : OP_FSYNC)) {
		if (!dir)
			record(OP_FSYNC_FAILED)->ino = rec.fd_ino[fd];
		return -1;
	}
	int r = mb_ckpt_io_system.fsync(fd);
	if (r == 0)
		record(dir ? OP_DIRSYNC : OP_FSYNC)->ino = dir ? -1 : rec.fd_ino[fd];
	return r;
}

static int rec_rename(int dirfd, const char *from, const char *to)
{
	if (failing(OP_RENAME))
		return -1;
	int r = mb_ckpt_io_system.rename(dirfd, from, to);
	if (r == 0) {
		struct op *o = record(OP_RENAME);
		snprintf(o->name, sizeof o->name, "%s", from);
		snprintf(o->to, sizeof o->to, "%s", to);
		struct entry *e = live_find(from);
		CU_ASSERT_FATAL(e != NULL);
		int ino = e->ino;
		live_remove(from);
		live_remove(to);
		rec.live[rec.n_live] = (struct entry){.ino = ino};
		snprintf(rec.live[rec.n_live++].name, sizeof rec.live[0].name, "%s", to);
	}
	return r;
}

static const struct mb_ckpt_io recording_io = {
	.open = rec_open,
	.write = rec_write,
	.fsync = rec_fsync,
	.rename = rec_rename,
};

/* Record as unlinked every name the process had that the directory no longer holds. */
static void record_unlinks(void)
{
	char path[512];
	for (unsigned i = 0; i < rec.n_live;) {
		snprintf(path, sizeof path, "%s/%s", live_dir, rec.live[i].name);
		if (access(path, F_OK) == 0) {
			i++;
			continue;
		}
		snprintf(record(OP_UNLINK)->name, sizeof rec.ops[0].name, "%s", rec.live[i].name);
		live_remove(rec.live[i].name);
	}
}

/* Start a scenario in a new live directory holding the checkpoints given (durable). */
static void rec_start(const uint64_t *versions, uint8_t *const *bufs, const size_t *lens, unsigned n)
{
	memset(&rec, 0, sizeof rec);
	memset(&base, 0, sizeof base);
	memset(rec.fd_ino, 0xff, sizeof rec.fd_ino);
	make_dir(live_dir, sizeof live_dir);
	for (unsigned i = 0; i < n; i++) {
		struct entry e = {.ino = (int)i};
		mb_ckpt_store_name(versions[i], e.name);
		write_file(live_dir, e.name, bufs[i], lens[i]);
		base.names[base.n_names++] = e;
		base.bytes[i] = bufs[i];
		base.len[i] = lens[i];
		rec.live[rec.n_live++] = e;
	}
	rec.n_inodes = (int)n;
}

/* ---- The disk model ---- */

enum landing {
	LAND_NONE,  /* no unsynced byte reached the disk */
	LAND_ALL,   /* all of them did */
	LAND_HALF,  /* the first half of the file did */
	LAND_HOLE,  /* all, but a block in the middle reads as zeros */
	N_LANDINGS,
};

static const char *const landing_name[N_LANDINGS] = {"none", "all", "half", "hole"};

/* A file in the model. */
struct file {
	uint8_t *cur;   /* its bytes in the page cache */
	size_t cur_len; /* their count */
	size_t dur_len; /* the prefix of cur that is durable (writes only append) */
};

/* The durable state after the first cut ops, crashed with the first keep pending metadata changes applied. */
struct disk {
	struct file f[MAX_INODES];     /* every file */
	struct entry names[MAX_NAMES]; /* the durable directory */
	unsigned n_names;              /* entries of names */
	struct op *pending[MAX_OPS];   /* metadata not yet durable, in order */
	unsigned n_pending;            /* entries of pending */
};

static void disk_set(struct disk *d, const char *name, int ino)
{
	for (unsigned i = 0; i < d->n_names; i++)
		if (strcmp(d->names[i].name, name) == 0) {
			d->names[i].ino = ino;
			return;
		}
	d->names[d->n_names] = (struct entry){.ino = ino};
	snprintf(d->names[d->n_names++].name, sizeof d->names[0].name, "%s", name);
}

/* The inode of name, or -1; removed when take is set. */
static int disk_get(struct disk *d, const char *name, bool take)
{
	for (unsigned i = 0; i < d->n_names; i++)
		if (strcmp(d->names[i].name, name) == 0) {
			int ino = d->names[i].ino;
			if (take)
				d->names[i] = d->names[--d->n_names];
			return ino;
		}
	return -1;
}

static void apply_meta(struct disk *d, const struct op *o)
{
	int ino;
	switch (o->kind) {
	case OP_CREATE:
		disk_set(d, o->name, o->ino);
		break;
	case OP_RENAME:
		/* Ordered metadata: the source's creation is durable before its rename. */
		ino = disk_get(d, o->name, true);
		CU_ASSERT_FATAL(ino >= 0);
		disk_set(d, o->to, ino);
		break;
	case OP_UNLINK:
		disk_get(d, o->name, true);
		break;
	default:
		break;
	}
}

/* Replay the first cut ops of the record onto the starting state. */
static void disk_replay(struct disk *d, unsigned cut)
{
	memset(d, 0, sizeof *d);
	for (unsigned i = 0; i < base.n_names; i++)
		d->names[d->n_names++] = base.names[i];
	for (int i = 0; i < MAX_INODES; i++) {
		if (!base.bytes[i])
			continue;
		d->f[i].cur = malloc(base.len[i]);
		memcpy(d->f[i].cur, base.bytes[i], base.len[i]);
		d->f[i].cur_len = d->f[i].dur_len = base.len[i];
	}
	for (unsigned k = 0; k < cut; k++) {
		struct op *o = &rec.ops[k];
		struct file *f = o->ino >= 0 ? &d->f[o->ino] : NULL;
		switch (o->kind) {
		case OP_CREATE:
		case OP_RENAME:
		case OP_UNLINK:
			d->pending[d->n_pending++] = o;
			break;
		case OP_WRITE:
			f->cur = realloc(f->cur, f->cur_len + o->len);
			CU_ASSERT_FATAL(f->cur != NULL);
			memcpy(f->cur + f->cur_len, o->data, o->len);
			f->cur_len += o->len;
			break;
		case OP_FSYNC:
			f->dur_len = f->cur_len;
			break;
		case OP_FSYNC_FAILED:
			break;
		case OP_DIRSYNC:
			for (unsigned i = 0; i < d->n_pending; i++)
				apply_meta(d, d->pending[i]);
			d->n_pending = 0;
			break;
		}
	}
}

static void disk_release(struct disk *d)
{
	for (int i = 0; i < MAX_INODES; i++)
		free(d->f[i].cur);
}

/* Write the crashed state into dir: keep pending changes applied, unsynced bytes landed as land says. */
static void disk_materialise(struct disk *d, unsigned keep, enum landing land, const char *dir)
{
	struct disk crashed = *d; /* the names only: files stay shared */
	for (unsigned i = 0; i < keep; i++)
		apply_meta(&crashed, d->pending[i]);
	for (unsigned i = 0; i < crashed.n_names; i++) {
		const struct file *f = &d->f[crashed.names[i].ino];
		size_t len = f->cur_len;
		uint8_t *p = malloc(len ? len : 1);
		CU_ASSERT_FATAL(p != NULL);
		if (len)
			memcpy(p, f->cur, len);
		if (f->dur_len < f->cur_len) {
			if (land == LAND_NONE)
				len = f->dur_len;
			else if (land == LAND_HALF)
				len = f->dur_len + (f->cur_len - f->dur_len) / 2;
			else if (land == LAND_HOLE)
				memset(p + f->dur_len + (f->cur_len - f->dur_len) / 3, 0, (f->cur_len - f->dur_len) / 3);
		}
		write_file(dir, crashed.names[i].name, p, len);
		free(p);
	}
}

/* ---- Checking an outcome ---- */

/* What a scenario accepts after a crash. */
struct expect {
	uint64_t old_version;   /* the checkpoint there before */
	const uint8_t *old_buf; /* its bytes; NULL: there was none (-ENOENT is the old state) */
	size_t old_len;         /* their count */
	uint64_t new_version;   /* the one being written */
	const uint8_t *new_buf; /* its bytes; NULL: the write failed, only the old is right */
	size_t new_len;         /* their count */
	unsigned durable_from;  /* from this cut on only the new one is right; 0: never */
};

static unsigned outcomes; /* crashed directories loaded, over the whole program */

/* Load dir with the real loader: the old checkpoint or the new one, bit for bit. */
static void check_dir(const char *dir, const struct expect *x, unsigned cut, unsigned keep, enum landing land)
{
	struct mb_ckpt_store *st;
	struct mb_ckpt_store_cfg cfg = {.dir = dir, .keep = 10};
	struct mb_ckpt_file f;
	CU_ASSERT_FATAL(mb_ckpt_store_open(&cfg, &st) == 0);
	int r = mb_ckpt_store_load_newest(st, NULL, NULL, NULL, &f);
	bool is_old = false, is_new = false;
	if (r == 0) {
		is_old = x->old_buf && f.version == x->old_version && f.len == x->old_len &&
			 memcmp(f.buf, x->old_buf, f.len) == 0;
		is_new = x->new_buf && f.version == x->new_version && f.len == x->new_len &&
			 memcmp(f.buf, x->new_buf, f.len) == 0;
		mb_ckpt_file_release(&f);
	} else {
		is_old = r == -ENOENT && !x->old_buf;
	}
	bool ok = (is_old || is_new) && (!x->durable_from || cut < x->durable_from || is_new);
	if (!ok)
		fprintf(stderr, "\n  cut after op %u, %u pending changes kept, unsynced bytes %s: load %d (%s)\n", cut,
			keep, landing_name[land], r, r == 0 ? "a checkpoint that is neither" : strerror(-r));
	CU_ASSERT(ok);
	/* Opening the store removed any temporary file the crash left. */
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		CU_ASSERT(strncmp(e->d_name, ".ckpt-", 6) != 0);
	if (d)
		closedir(d);
	mb_ckpt_store_free(st);
	outcomes++;
}

/* Every cut of the record, every prefix of the pending metadata, every landing. */
static void check_every_crash(const struct expect *x)
{
	for (unsigned cut = 0; cut <= rec.n_ops; cut++) {
		struct disk d;
		disk_replay(&d, cut);
		for (unsigned keep = 0; keep <= d.n_pending; keep++)
			for (int land = 0; land < N_LANDINGS; land++) {
				char dir[64];
				make_dir(dir, sizeof dir);
				disk_materialise(&d, keep, (enum landing)land, dir);
				check_dir(dir, x, cut, keep, (enum landing)land);
				remove_dir(dir);
			}
		disk_release(&d);
	}
}

/* The index just past the record's last directory fsync that followed a rename; 0 if none. */
static unsigned durable_point(void)
{
	bool renamed = false;
	unsigned at = 0;
	for (unsigned i = 0; i < rec.n_ops; i++) {
		if (rec.ops[i].kind == OP_RENAME)
			renamed = true;
		if (rec.ops[i].kind == OP_DIRSYNC && renamed)
			at = i + 1;
	}
	return at;
}

/*
 * One scenario: the directory holds n_old checkpoints (the newest is
 * "old"), the store writes new_version and prunes to keep; every crash
 * of the record loads old or new, and once the directory fsync after
 * the rename completed, new.
 */
static void powerloss_scenario(unsigned n_old, uint64_t new_version, float new_salt, uint32_t keep)
{
	uint64_t versions[3];
	uint8_t *bufs[3];
	size_t lens[3], new_len;
	for (unsigned i = 0; i < n_old; i++) {
		versions[i] = i + 1;
		bufs[i] = make_ckpt(versions[i], 0, &lens[i]);
	}
	uint8_t *new_buf = make_ckpt(new_version, new_salt, &new_len);
	rec_start(versions, bufs, lens, n_old);

	struct mb_ckpt_store *st;
	struct mb_ckpt_store_cfg cfg = {.dir = live_dir, .keep = keep, .io = &recording_io};
	CU_ASSERT_FATAL(mb_ckpt_store_open(&cfg, &st) == 0);
	const char *why = NULL;
	CU_ASSERT_FATAL(mb_ckpt_store_write(st, new_version, new_buf, new_len, &why) == 0);
	CU_ASSERT(mb_ckpt_store_prune(st) >= 0);
	record_unlinks();
	mb_ckpt_store_free(st);
	/* The record holds what a write is: several writes, both fsyncs, a rename. */
	CU_ASSERT(rec.n_ops >= 6);

	struct expect x = {
		.old_version = n_old ? versions[n_old - 1] : 0, .old_buf = n_old ? bufs[n_old - 1] : NULL,
		.old_len = n_old ? lens[n_old - 1] : 0, .new_version = new_version, .new_buf = new_buf,
		.new_len = new_len, .durable_from = durable_point(),
	};
	CU_ASSERT(x.durable_from > 0);
	check_every_crash(&x);

	remove_dir(live_dir);
	for (unsigned i = 0; i < n_old; i++)
		free(bufs[i]);
	free(new_buf);
}

static void test_first_checkpoint(void)
{
	powerloss_scenario(0, 1, 0, 1);
}

static void test_next_keep_one(void)
{
	/* Pruning deletes the old file right after: its unlink must not outrun the new name. */
	powerloss_scenario(2, 3, 0, 1);
}

static void test_next_keep_three(void)
{
	powerloss_scenario(2, 3, 0, 3);
}

static void test_same_version(void)
{
	/* "save" twice without a step between: the old bytes or the new, under one name. */
	powerloss_scenario(2, 2, 0.5f, 2);
}

/* ---- Failing calls ---- */

/*
 * Fail the Nth call of a write with err, for every N the write makes:
 * the error comes back, the old checkpoint loads from the directory as
 * it is and after any crash, no temporary file stays, and a failed
 * fsync is neither repeated nor followed by a rename.
 */
static void fail_every_call(int err)
{
	uint64_t versions[1] = {1};
	uint8_t *bufs[1];
	size_t lens[1], new_len;
	bufs[0] = make_ckpt(1, 0, &lens[0]);
	uint8_t *new_buf = make_ckpt(2, 0, &new_len);
	unsigned failures = 0;
	for (unsigned n = 1;; n++) {
		rec_start(versions, bufs, lens, 1);
		rec.fail_at = n;
		rec.fail_errno = err;
		struct mb_ckpt_store *st;
		struct mb_ckpt_store_cfg cfg = {.dir = live_dir, .keep = 1, .io = &recording_io};
		CU_ASSERT_FATAL(mb_ckpt_store_open(&cfg, &st) == 0);
		const char *why = NULL;
		int r = mb_ckpt_store_write(st, 2, new_buf, new_len, &why);
		mb_ckpt_store_free(st);
		if (rec.calls < n) { /* every call made, none failed: done */
			CU_ASSERT(r == 0);
			remove_dir(live_dir);
			break;
		}
		failures++;
		CU_ASSERT(r == -err);
		CU_ASSERT(why != NULL && *why != '\0');
		bool dir_sync = rec.failed_kind == OP_DIRSYNC;

		/* No second fsync of a file whose fsync failed, and no rename after it. */
		int bad_ino = -1;
		for (unsigned i = 0; i < rec.n_ops; i++) {
			const struct op *o = &rec.ops[i];
			if (o->kind == OP_FSYNC_FAILED)
				bad_ino = o->ino;
			else if (bad_ino >= 0)
				CU_ASSERT(!(o->kind == OP_FSYNC && o->ino == bad_ino) && o->kind != OP_RENAME);
		}

		/* The directory as the process left it: no temporary, the old checkpoint still there. */
		char path[512];
		snprintf(path, sizeof path, "%s/%s", live_dir, base.names[0].name);
		CU_ASSERT(access(path, F_OK) == 0);
		record_unlinks();
		struct expect x = {
			.old_version = 1, .old_buf = bufs[0], .old_len = lens[0], .new_version = 2,
			/* Only the directory's fsync failed: the new file is whole, its name may or may not stay. */
			.new_buf = dir_sync ? new_buf : NULL, .new_len = new_len,
		};
		unsigned cut = rec.n_ops;
		char copy[64];
		make_dir(copy, sizeof copy);
		struct disk d;
		disk_replay(&d, cut);
		disk_materialise(&d, d.n_pending, LAND_ALL, copy); /* the page cache, as a restart sees it */
		disk_release(&d);
		check_dir(copy, &x, cut, 0, LAND_ALL);
		remove_dir(copy);
		DIR *dd = opendir(live_dir);
		struct dirent *e;
		while (dd && (e = readdir(dd)))
			CU_ASSERT(strncmp(e->d_name, ".ckpt-", 6) != 0);
		if (dd)
			closedir(dd);
		/* And after a power cut at any point of the failed write. */
		check_every_crash(&x);
		remove_dir(live_dir);
	}
	/* open, the writes, two fsyncs and the rename each failed once. */
	CU_ASSERT(failures >= 6);
	free(bufs[0]);
	free(new_buf);
}

static void test_fail_enospc(void)
{
	fail_every_call(ENOSPC);
}

static void test_fail_eio(void)
{
	fail_every_call(EIO);
}

static void test_fail_erofs(void)
{
	fail_every_call(EROFS);
}

/* ---- Failing allocations ---- */

/*
 * The program is linked with --wrap for the allocators, so the calls the
 * store makes come here (the linker, not a header, declares these: the
 * prototypes below are theirs); alloc_fail_at = N fails the Nth from when
 * it was set, 0 none.
 */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static unsigned alloc_count, alloc_fail_at;

static bool alloc_fails(void)
{
	if (!alloc_fail_at)
		return false;
	if (++alloc_count != alloc_fail_at)
		return false;
	errno = ENOMEM;
	return true;
}

/* malloc, or NULL with ENOMEM when this is the allocation chosen to fail. */
void *__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

/* calloc, or NULL with ENOMEM when this is the allocation chosen to fail. */
void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : __real_calloc(n, size);
}

/* realloc, or NULL with ENOMEM when this is the allocation chosen to fail. */
void *__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

/* strdup, or NULL with ENOMEM when this is the allocation chosen to fail. */
char *__wrap_strdup(const char *s)
{
	return alloc_fails() ? NULL : __real_strdup(s);
}

/*
 * Each allocation of opening the store and loading the newest checkpoint
 * failing in turn: -ENOMEM, never an older checkpoint taken in its place
 * (that would roll the model back unnoticed), never another error. The
 * write itself allocates nothing, so it succeeds with every allocation
 * failing.
 */
static void test_alloc_failures(void)
{
	uint64_t versions[2] = {1, 2};
	uint8_t *bufs[2];
	size_t lens[2], new_len;
	bufs[0] = make_ckpt(1, 0, &lens[0]);
	bufs[1] = make_ckpt(2, 0, &lens[1]);
	uint8_t *new_buf = make_ckpt(3, 0, &new_len);
	rec_start(versions, bufs, lens, 2);
	unsigned failures = 0;
	for (unsigned n = 1;; n++) {
		struct mb_ckpt_store *st = NULL;
		struct mb_ckpt_store_cfg cfg = {.dir = live_dir, .keep = 5};
		struct mb_ckpt_file f;
		alloc_count = 0;
		alloc_fail_at = n;
		int r = mb_ckpt_store_open(&cfg, &st);
		if (r == 0)
			r = mb_ckpt_store_load_newest(st, NULL, NULL, NULL, &f);
		bool hit = alloc_count >= n;
		alloc_fail_at = 0;
		if (!hit) {
			CU_ASSERT(r == 0 && f.version == 2);
			if (r == 0)
				mb_ckpt_file_release(&f);
			mb_ckpt_store_free(st);
			break;
		}
		failures++;
		CU_ASSERT(r == -ENOMEM || (r == 0 && f.version == 2));
		if (r == 0)
			mb_ckpt_file_release(&f);
		mb_ckpt_store_free(st);
	}
	CU_ASSERT(failures >= 3); /* the store, its name, the listing, the file's buffer */

	struct mb_ckpt_store *st;
	struct mb_ckpt_store_cfg cfg = {.dir = live_dir, .keep = 5};
	CU_ASSERT_FATAL(mb_ckpt_store_open(&cfg, &st) == 0);
	alloc_count = 0;
	alloc_fail_at = 1;
	CU_ASSERT(mb_ckpt_store_write(st, 3, new_buf, new_len, NULL) == 0);
	CU_ASSERT(alloc_count == 0);
	alloc_fail_at = 0;
	struct mb_ckpt_file f;
	CU_ASSERT(mb_ckpt_store_load_newest(st, NULL, NULL, NULL, &f) == 0 && f.version == 3);
	mb_ckpt_file_release(&f);
	mb_ckpt_store_free(st);
	remove_dir(live_dir);
	free(bufs[0]);
	free(bufs[1]);
	free(new_buf);
}

int main(void)
{
	MB_SUITE("powerloss", {"first-checkpoint", test_first_checkpoint}, {"next-keep-one", test_next_keep_one},
		 {"next-keep-three", test_next_keep_three}, {"same-version", test_same_version});
	MB_SUITE("fault", {"enospc-each-call", test_fail_enospc}, {"eio-each-call", test_fail_eio},
		 {"erofs-each-call", test_fail_erofs}, {"alloc-each", test_alloc_failures});
	int r = mb_test_run();
	fprintf(stderr, "powerloss: %u crashed directories loaded\n", outcomes);
	return r;
}
