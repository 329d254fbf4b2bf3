/* SPDX-License-Identifier: MIT */
/*
 * ctl_data.c - labelled data files for feed, watch --eval and eval.
 *
 * IDX images are found by their content (gzip or not); their labels come
 * from --labels or from the file beside them named the Fashion-MNIST way.
 * Anything else goes to mb_dataset_load, which knows the other formats.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "ctl.h"

/* What the first bytes of a file say it is. */
enum idx_kind {
	IDX_NOT = 0,   /* not IDX */
	IDX_IMAGES,    /* IDX of 2 or more dimensions: samples */
	IDX_LABELS,    /* IDX of 1 dimension: labels */
};

/* Peek at the first four (inflated) bytes of path. -errno if unreadable. */
static int idx_sniff(const char *path, enum idx_kind *ret)
{
	gzFile f = gzopen(path, "rb");
	if (!f)
		return errno ? -errno : -ENOMEM;
	unsigned char b[4];
	int n = gzread(f, b, sizeof b);
	gzclose(f);
	if (n < 0)
		return -EIO;
	*ret = IDX_NOT;
	/* Two zero bytes, a data type from u8 (0x08) to float64 (0x0E), 1..4 dimensions. */
	if (n == 4 && b[0] == 0 && b[1] == 0 && b[2] >= MB_IDX_TYPE_U8 && b[2] <= 0x0E &&
	    b[3] >= 1 && b[3] <= MB_IDX_MAX_DIMS)
		*ret = b[3] == 1 ? IDX_LABELS : IDX_IMAGES;
	return 0;
}

/*
 * The labels file beside images: "images-idx3" becomes "labels-idx1" in the
 * file name, with or without a ".gz" ending. 0 with buf filled, or -ENOENT.
 */
static int idx_pair(const char *images, char *buf, size_t cap)
{
	const char *base = strrchr(images, '/');
	base = base ? base + 1 : images;
	const char *at = strstr(base, "images-idx3");
	if (!at)
		return -ENOENT;
	size_t head = (size_t)(at - images);
	const char *tail = at + strlen("images-idx3");
	size_t tlen = strlen(tail);
	bool gz = tlen >= 3 && !strcmp(tail + tlen - 3, ".gz");
	/* Same ending first, then the other one. */
	for (int alt = 0; alt < 2; alt++) {
		int n;
		if (!alt)
			n = snprintf(buf, cap, "%.*slabels-idx1%s", (int)head, images, tail);
		else if (gz)
			n = snprintf(buf, cap, "%.*slabels-idx1%.*s", (int)head, images, (int)(tlen - 3), tail);
		else
			n = snprintf(buf, cap, "%.*slabels-idx1%s.gz", (int)head, images, tail);
		if (n > 0 && (size_t)n < cap && access(buf, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

static void report_failure(const char *path, int r, const struct mb_diag *d)
{
	if (d->reason != MB_R_OK && d->text[0])
		ctl_err("%s: %s", path, d->text);
	else
		ctl_err("%s: %s", path, strerror(-r));
}

/* Load path (and its labels) as rows; see ctl.h. */
int ctl_data_load(const char *path, const char *labels, uint32_t n_features, struct ctl_data *ret)
{
	enum idx_kind kind = IDX_NOT;
	struct mb_diag d = {0};
	int r = idx_sniff(path, &kind);
	if (r < 0) {
		ctl_err("%s: %s", path, strerror(-r));
		return -1;
	}
	if (kind == IDX_LABELS) {
		ctl_err("%s is an IDX labels file: give its images file (and --labels %s)", path, path);
		return -1;
	}
	memset(ret, 0, sizeof *ret);
	if (kind == IDX_NOT) {
		if (labels) {
			ctl_err("--labels is for IDX images; %s carries its own labels", path);
			return -1;
		}
		struct mb_shape shape = {.n_features = n_features, .n_targets = 0};
		r = mb_dataset_load(path, &shape, &ret->ds, &d);
		if (r < 0) {
			report_failure(path, r, &d);
			return -1;
		}
		return 0;
	}
	ret->idx = true;
	if (labels) {
		snprintf(ret->labels, sizeof ret->labels, "%s", labels);
	} else if (idx_pair(path, ret->labels, sizeof ret->labels) < 0) {
		ctl_err("%s: no labels file beside it (train-images-idx3-ubyte.gz pairs with "
			"train-labels-idx1-ubyte.gz); give --labels FILE", path);
		return -1;
	}
	r = mb_dataset_load_idx(path, ret->labels, &ret->ds, &d);
	if (r < 0) {
		report_failure(path, r, &d);
		return -1;
	}
	return 0;
}
