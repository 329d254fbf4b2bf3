/* SPDX-License-Identifier: MIT */
/*
 * ctl_predict.c - minibatchctl predict: the daemon's current model applied
 * to the samples of a file or of standard input, one line per sample.
 *
 * The model comes first, as eval fetches it: its input width tells how a
 * CSV line splits into labels and features, so unlabelled data can be told
 * apart from labelled data without guessing. Labels, when present, are
 * read past and ignored; IDX images need no labels file at all.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "idx.h"

/* Largest input read (after inflating): the data set loader's own limit. */
#define PREDICT_MAX_BYTES ((size_t)1 << 31)
/* Rows predicted per forward pass. */
#define PREDICT_BATCH 1024u
/* Longest name of the file standard input is kept in. */
#define SPOOL_PATH_BYTES 64

enum predict_opt {
	OPT_FEATURES = CTL_OPT_FIRST_LOCAL,
	OPT_NO_LABELS,
	OPT_PROBA,
	OPT_TOPIC,
	OPT_HELP,
};

static const struct option predict_options[] = {
	{"features", required_argument, NULL, OPT_FEATURES},
	{"no-labels", no_argument, NULL, OPT_NO_LABELS},
	{"proba", no_argument, NULL, OPT_PROBA},
	{"topic", required_argument, NULL, OPT_TOPIC},
	{"help", no_argument, NULL, OPT_HELP},
	CTL_GLOBAL_OPTIONS,
	{NULL, 0, NULL, 0},
};

static const char predict_usage[] =
	"usage: minibatchctl predict [OPTIONS] FILE|-\n"
	"Apply the daemon's current model to every sample of FILE (IDX images, CSV,\n"
	"libsvm, binary; gzip too) or of standard input, one line per sample: the\n"
	"class and its probability for classifiers, the output values otherwise.\n"
	"Labels in the file are skipped: a CSV line starts with as many target\n"
	"columns as the model has targets, unless --no-labels.\n"
	"  --no-labels     every CSV column is a feature\n"
	"  --proba         print every class probability instead of the class\n"
	"  --features N    features of a libsvm file (default: the model's inputs)\n"
	"  --topic NAME    the model to fetch, when the daemon runs several\n"
	"  --timeout S     how long to wait for the snapshot (default 5)\n";

/* What predict was asked to do. */
struct predict_req {
	const char *file;    /* the input's name as given, "-" for standard input */
	const char *path;    /* where to read it: file, or the spool of standard input */
	bool no_labels;      /* CSV lines carry no target columns */
	bool proba;          /* print all class probabilities */
	uint32_t n_features; /* --features, 0 when not given */
};

/* The samples to predict, features only. */
struct rows {
	float *x;       /* count x n_in, row-major */
	uint64_t count; /* rows */
};

/*
 * Copy standard input into an unlinked temporary file, so every format
 * (binary ones are read by path) can read it like a named file. The path
 * names the open descriptor; 0, or -1 after a message.
 */
static int spool_stdin(char *path, size_t cap, int *ret_fd)
{
	const char *tmp = getenv("TMPDIR");
	char name[4096];
	snprintf(name, sizeof name, "%s/minibatchctl-stdin.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(name);
	if (fd < 0) {
		ctl_err("cannot keep standard input in %s: %s", name, strerror(errno));
		return -1;
	}
	unlink(name);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
		for (size_t done = 0; done < n;) {
			ssize_t w = write(fd, buf + done, n - done);
			if (w < 0) {
				ctl_err("cannot keep standard input: %s", strerror(errno));
				goto out_close_fd;
			}
			done += (size_t)w;
		}
	}
	if (ferror(stdin)) {
		ctl_err("reading standard input: %s", strerror(errno));
		goto out_close_fd;
	}
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	*ret_fd = fd;
	return 0;
out_close_fd:
	close(fd);
	return -1;
}

/* IDX images as rows: each record becomes n_in features, scaled as training scaled them. */
static int rows_from_idx(const struct predict_req *rq, const uint8_t *buf, size_t len,
			 const struct mb_idx_header *h, uint32_t n_in, struct rows *ret)
{
	struct mb_diag d = {0};
	if (mb_idx_check_size(h, len, &d) < 0) {
		ctl_err("%s: %s", rq->file, d.text[0] ? d.text : "not a whole IDX file");
		return -1;
	}
	if (h->record_elems != n_in) {
		ctl_err("%s has %zu features, the model takes %u", rq->file, h->record_elems, n_in);
		return -1;
	}
	float *x = malloc((size_t)h->dims[0] * n_in * sizeof *x);
	if (!x) {
		ctl_err("out of memory for %u samples", h->dims[0]);
		return -1;
	}
	for (uint32_t i = 0; i < h->dims[0]; i++) {
		if (mb_idx_record_floats(h, buf + mb_idx_record_offset(h, i), x + (size_t)i * n_in) < 0) {
			ctl_err("%s: sample %u holds a value that is not finite", rq->file, i);
			free(x);
			return -1;
		}
	}
	ret->x = x;
	ret->count = h->dims[0];
	return 0;
}

/*
 * The text parser wants at least one target column, so unlabelled CSV
 * lines get a placeholder "0," in front; blank and '#' lines stay as they
 * are. The copy replaces *buf.
 */
static int add_placeholder_labels(uint8_t **buf, size_t *len)
{
	size_t lines = 1;
	for (size_t i = 0; i < *len; i++)
		lines += (*buf)[i] == '\n';
	uint8_t *out = malloc(*len + 2 * lines + 1);
	if (!out)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < *len;) {
		const uint8_t *eol = memchr(*buf + i, '\n', *len - i);
		size_t end = eol ? (size_t)(eol - *buf) + 1 : *len;
		size_t k = i;
		while (k < end && ((*buf)[k] == ' ' || (*buf)[k] == '\t' || (*buf)[k] == '\r'))
			k++;
		if (k < end && (*buf)[k] != '\n' && (*buf)[k] != '#') {
			out[n++] = '0';
			out[n++] = ',';
		}
		memcpy(out + n, *buf + i, end - i);
		n += end - i;
		i = end;
	}
	free(*buf);
	*buf = out;
	*len = n;
	return 0;
}

/* CSV or libsvm lines as rows; the targets are read into scratch and dropped. */
static int rows_from_text(const struct predict_req *rq, uint8_t **buf, size_t *len, uint32_t n_in,
			  uint32_t n_targets, struct rows *ret)
{
	enum mb_text_fmt fmt = mb_text_detect(*buf, *len);
	if (rq->no_labels) {
		if (fmt != MB_TEXT_CSV) {
			ctl_err("%s: --no-labels is for CSV; a libsvm line always starts with its label", rq->file);
			return -1;
		}
		if (add_placeholder_labels(buf, len) < 0) {
			ctl_err("out of memory");
			return -1;
		}
		n_targets = 1;
	}
	if (fmt == MB_TEXT_LIBSVM) {
		if (rq->n_features && rq->n_features != n_in) {
			ctl_err("%s has %u features, the model takes %u", rq->file, rq->n_features, n_in);
			return -1;
		}
		n_targets = 1;
	} else {
		uint32_t probed;
		int r = mb_text_probe_features(*buf, *len, fmt, n_targets, &probed);
		if (r == -ENODATA) {
			ctl_err("%s: no samples", rq->file);
			return -1;
		}
		if (r == 0 && probed != n_in) {
			ctl_err("%s has %u features after %u label column%s, the model takes %u%s", rq->file,
				probed, n_targets, n_targets == 1 ? "" : "s", n_in,
				rq->no_labels || probed + n_targets != n_in ? "" : " (try --no-labels)");
			return -1;
		}
	}
	uint64_t lines = 1;
	for (size_t i = 0; i < *len; i++)
		lines += (*buf)[i] == '\n';
	float *x = malloc((size_t)lines * n_in * sizeof *x);
	float *y = malloc((size_t)n_targets * sizeof *y);
	if (!x || !y) {
		ctl_err("out of memory for %s", rq->file);
		goto out_free;
	}
	struct mb_shape shape = {.n_features = n_in, .n_targets = n_targets};
	struct mb_text_cursor c;
	mb_text_cursor_init(&c, *buf, *len, fmt, &shape);
	uint64_t n = 0;
	for (;;) {
		struct mb_diag d = {0};
		int r = mb_text_next(&c, x + (size_t)n * n_in, y, &d);
		if (r == 0)
			break;
		if (r < 0) {
			ctl_err("%s: line %zu: %s", rq->file, c.line, d.text[0] ? d.text : strerror(-r));
			goto out_free;
		}
		n++;
	}
	if (!n) {
		ctl_err("%s: no samples", rq->file);
		goto out_free;
	}
	free(y);
	ret->x = x;
	ret->count = n;
	return 0;
out_free:
	free(x);
	free(y);
	return -1;
}

/* Binary sample records, read by the data set loader (which needs the path). */
static int rows_from_binary(const struct predict_req *rq, uint32_t n_in, struct rows *ret)
{
	struct mb_shape shape = {.n_features = n_in, .n_targets = 0};
	struct mb_dataset *ds;
	struct mb_diag d = {0};
	int r = mb_dataset_load(rq->path, &shape, &ds, &d);
	if (r < 0) {
		ctl_err("%s: %s", rq->file, d.text[0] ? d.text : strerror(-r));
		return -1;
	}
	ret->x = ds->x;
	ret->count = ds->count;
	ds->x = NULL;
	mb_dataset_free(ds);
	return 0;
}

/* Read the input whatever its format; 0, or -1 after a message. */
static int load_rows(const struct predict_req *rq, uint32_t n_in, uint32_t n_targets, struct rows *ret)
{
	uint8_t *buf;
	size_t len;
	int r = mb_file_slurp(rq->path, PREDICT_MAX_BYTES, &buf, &len);
	if (r < 0) {
		ctl_err("%s: %s", rq->file, r == -E2BIG ? "too large" : strerror(-r));
		return -1;
	}
	struct mb_idx_header h;
	struct mb_diag d = {0};
	int status = -1;
	if (len >= 4 && buf[0] == 0 && buf[1] == 0 && mb_idx_parse_header(buf, len, &h, &d) == 0) {
		if (h.n_dims == 1)
			ctl_err("%s is an IDX labels file: give its images file", rq->file);
		else
			status = rows_from_idx(rq, buf, len, &h, n_in, ret);
	} else if (len >= 4 && !memcmp(buf, MB_SMP_MAGIC, 4)) {
		status = rows_from_binary(rq, n_in, ret);
	} else {
		status = rows_from_text(rq, &buf, &len, n_in, n_targets, ret);
	}
	free(buf);
	return status;
}

/* One line per row: class and probability, every probability, or the outputs. */
static void print_predictions(const struct predict_req *rq, const float *out, const uint32_t *cls,
			      uint64_t rows, uint32_t n_out, bool classifier)
{
	for (uint64_t i = 0; i < rows; i++) {
		const float *o = out + (size_t)i * n_out;
		if (!classifier) {
			for (uint32_t k = 0; k < n_out; k++)
				printf("%s%.6g", k ? " " : "", o[k]);
		} else if (n_out == 1) {
			/* One output is the probability of class 1. */
			if (rq->proba)
				printf("%.4f %.4f", 1.0 - o[0], (double)o[0]);
			else
				printf("%u %.4f", cls[i], cls[i] ? (double)o[0] : 1.0 - o[0]);
		} else if (rq->proba) {
			for (uint32_t k = 0; k < n_out; k++)
				printf("%s%.4f", k ? " " : "", o[k]);
		} else {
			printf("%u %.4f", cls[i], (double)o[cls[i]]);
		}
		putchar('\n');
	}
}

/* Predict every row with the snapshot's model and print the lines. */
static int predict(const struct predict_req *rq, const struct mb_client_snap *snap)
{
	const struct mb_snap_info *in = &snap->info;
	uint32_t n_in = in->sizes[0], n_out = in->sizes[in->n_layers];
	struct mb_model *m;
	int r = mb_client_model(snap, PREDICT_BATCH, &m);
	if (r < 0) {
		ctl_err("the snapshot does not make a model: %s", strerror(-r));
		return CTL_EXIT_FAILED;
	}
	int status = CTL_EXIT_FAILED;
	bool classifier = mb_model_is_classifier(m);
	struct rows rows = {0};
	if (load_rows(rq, n_in, mb_model_n_targets(m), &rows) < 0)
		goto out_free_model;
	float *out = malloc((size_t)rows.count * n_out * sizeof *out);
	uint32_t *cls = malloc((size_t)rows.count * sizeof *cls);
	if (!out || !cls) {
		ctl_err("out of memory for %llu predictions", (unsigned long long)rows.count);
		goto out_free_out;
	}
	r = mb_client_predict(m, rows.x, rows.count, out, cls);
	if (r < 0) {
		ctl_err("predicting %s: %s", rq->file, strerror(-r));
		goto out_free_out;
	}
	print_predictions(rq, out, cls, rows.count, n_out, classifier);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_err("writing the predictions: %s", strerror(errno));
		goto out_free_out;
	}
	status = CTL_EXIT_OK;
out_free_out:
	free(out);
	free(cls);
	free(rows.x);
out_free_model:
	mb_model_free(m);
	return status;
}

/* minibatchctl predict: see predict_usage. */
int ctl_predict(struct ctl_env *env, int argc, char **argv)
{
	struct predict_req rq = {0};
	const char *topic = NULL;
	int c;
	optind = 1;
	while ((c = ctl_getopt(env, argc, argv, "", predict_options)) != -1) {
		switch (c) {
		case CTL_OPT_BAD_GLOBAL: return CTL_EXIT_UNREACHABLE;
		case OPT_FEATURES:
			if (ctl_parse_u32("--features", optarg, 1, MB_MAX_FEATURES, &rq.n_features) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_NO_LABELS: rq.no_labels = true; break;
		case OPT_PROBA: rq.proba = true; break;
		case OPT_TOPIC: topic = optarg; break;
		case OPT_HELP: fputs(predict_usage, stdout); return CTL_EXIT_OK;
		default: fputs(predict_usage, stderr); return CTL_EXIT_UNREACHABLE;
		}
	}
	if (argc - optind != 1) {
		fputs(predict_usage, stderr);
		return CTL_EXIT_UNREACHABLE;
	}
	rq.file = rq.path = argv[optind];
	if (ctl_env_resolve(env) < 0)
		return CTL_EXIT_UNREACHABLE;

	int status = CTL_EXIT_FAILED, spool_fd = -1;
	char spool[SPOOL_PATH_BYTES];
	if (!strcmp(rq.file, "-")) {
		if (spool_stdin(spool, sizeof spool, &spool_fd) < 0)
			return CTL_EXIT_FAILED;
		rq.file = "standard input";
		rq.path = spool;
	}
	struct mb_subscriber_cfg cfg = {.endpoint = env->snapshots, .topic = topic};
	struct mb_subscriber *sub;
	int r = mb_subscriber_new_curve(&cfg, ctl_env_curve(env), &sub);
	if (r < 0) {
		ctl_err("cannot connect to %s: %s", env->snapshots, strerror(-r));
		status = CTL_EXIT_UNREACHABLE;
		goto out_close_spool;
	}
	struct mb_client_snap *snap = NULL;
	struct mb_diag d = {0};
	r = mb_subscriber_latest(sub, ctl_env_timeout(env), &snap, &d);
	if (r == -ETIMEDOUT || r == -EINTR) {
		ctl_err("no snapshot from %s in time (is minibatchd running, and has it trained?)", env->snapshots);
		status = CTL_EXIT_UNREACHABLE;
	} else if (r < 0) {
		ctl_err("the snapshot was refused: %s", d.text[0] ? d.text : strerror(-r));
	} else {
		status = predict(&rq, snap);
	}
	mb_client_snap_free(snap);
	mb_subscriber_free(sub);
out_close_spool:
	if (spool_fd >= 0)
		close(spool_fd);
	return status;
}
