/* SPDX-License-Identifier: MIT */
/*
 * ctl_eval.c - minibatchctl eval: how the daemon's current model does on a
 * labelled file. The publisher hands a new subscriber the current snapshot
 * at once, so this needs no waiting for the next training step.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Rows scored per forward pass. */
#define EVAL_BATCH 1024u
/* Widest confusion matrix printed; beyond it the table helps nobody. */
#define MAX_MATRIX_CLASSES 32u

enum eval_opt {
	OPT_LABELS = CTL_OPT_FIRST_LOCAL,
	OPT_FEATURES,
	OPT_TOPIC,
	OPT_HELP,
};

static const struct option eval_options[] = {
	{"labels", required_argument, NULL, OPT_LABELS},
	{"features", required_argument, NULL, OPT_FEATURES},
	{"topic", required_argument, NULL, OPT_TOPIC},
	{"help", no_argument, NULL, OPT_HELP},
	CTL_GLOBAL_OPTIONS,
	{NULL, 0, NULL, 0},
};

static const char eval_usage[] =
	"usage: minibatchctl eval [OPTIONS] FILE\n"
	"Score the daemon's current model on a labelled file (IDX images, CSV, libsvm,\n"
	"binary): its cost, and for classifiers its accuracy and confusion matrix.\n"
	"  --labels FILE   labels of an IDX images file\n"
	"  --features N    features of a libsvm file\n"
	"  --topic NAME    the model to fetch, when the daemon runs several\n"
	"  --timeout S     how long to wait for the snapshot (default 5)\n";

static const char *kind_name(enum mb_model_kind k)
{
	const struct mb_model_ops *ops = mb_model_ops_find(k);
	return ops ? ops->name : "unknown";
}

/* Rows are true classes, columns predicted ones. */
static void print_confusion(const uint64_t *cm, uint32_t n)
{
	uint64_t most = 0;
	for (size_t i = 0; i < (size_t)n * n; i++)
		most = cm[i] > most ? cm[i] : most;
	int width = snprintf(NULL, 0, "%" PRIu64, most);
	width = width < 4 ? 4 : width;
	printf("confusion  (rows: true class, columns: predicted)\n%6s", "");
	for (uint32_t j = 0; j < n; j++)
		printf(" %*u", width, j);
	printf("  %7s\n", "recall");
	for (uint32_t i = 0; i < n; i++) {
		uint64_t row = 0;
		printf("%6u", i);
		for (uint32_t j = 0; j < n; j++) {
			printf(" %*" PRIu64, width, cm[(size_t)i * n + j]);
			row += cm[(size_t)i * n + j];
		}
		if (row)
			printf("  %7.4f\n", (double)cm[(size_t)i * n + i] / (double)row);
		else
			printf("  %7s\n", "-");
	}
}

static int report(const char *file, const struct mb_client_snap *snap, const struct mb_dataset *ds)
{
	const struct mb_snap_info *in = &snap->info;
	struct mb_model *m;
	int r = mb_client_model(snap, EVAL_BATCH, &m);
	if (r < 0) {
		ctl_err("the snapshot does not make a model: %s", strerror(-r));
		return CTL_EXIT_FAILED;
	}
	int status = CTL_EXIT_FAILED;
	uint64_t *cm = NULL;
	if (in->sizes[0] != ds->n_features) {
		ctl_err("%s has %u features, the model takes %u", file, ds->n_features, in->sizes[0]);
		goto out_free_model;
	}
	uint32_t n_cls = mb_client_n_classes(m);
	if (n_cls && n_cls <= MAX_MATRIX_CLASSES && !(cm = calloc((size_t)n_cls * n_cls, sizeof *cm))) {
		ctl_err("out of memory");
		goto out_free_model;
	}
	struct mb_client_score sc;
	r = mb_client_score(m, ds->x, ds->y, ds->count, cm, &sc);
	if (r < 0) {
		ctl_err("scoring %s: %s", file, r == -EINVAL ? "labels out of the model's range" : strerror(-r));
		goto out_free_cm;
	}
	printf("model      %s", kind_name(in->kind));
	for (uint32_t l = 0; l <= in->n_layers; l++)
		printf("%s%u", l ? " -> " : " ", in->sizes[l]);
	printf(", version %" PRIu64 ", %" PRIu64 " samples seen\n", in->version, in->samples);
	printf("data       %s, %" PRIu64 " samples\n", file, sc.rows);
	printf("cost       %.4f\n", sc.cost);
	if (n_cls) {
		printf("accuracy   %.4f  (%" PRIu64 " of %" PRIu64 " right)\n", sc.accuracy, sc.correct, sc.rows);
		if (cm)
			print_confusion(cm, n_cls);
	}
	status = CTL_EXIT_OK;
out_free_cm:
	free(cm);
out_free_model:
	mb_model_free(m);
	return status;
}

/* minibatchctl eval: see eval_usage. */
int ctl_eval(struct ctl_env *env, int argc, char **argv)
{
	const char *labels = NULL, *topic = NULL;
	uint32_t n_features = 0;
	int c;
	optind = 1;
	while ((c = ctl_getopt(env, argc, argv, "", eval_options)) != -1) {
		switch (c) {
		case CTL_OPT_BAD_GLOBAL: return CTL_EXIT_UNREACHABLE;
		case OPT_LABELS: labels = optarg; break;
		case OPT_FEATURES:
			if (ctl_parse_u32("--features", optarg, 1, MB_MAX_FEATURES, &n_features) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_TOPIC: topic = optarg; break;
		case OPT_HELP: fputs(eval_usage, stdout); return CTL_EXIT_OK;
		default: fputs(eval_usage, stderr); return CTL_EXIT_UNREACHABLE;
		}
	}
	if (argc - optind != 1) {
		fputs(eval_usage, stderr);
		return CTL_EXIT_UNREACHABLE;
	}
	const char *file = argv[optind];
	if (ctl_env_resolve(env) < 0)
		return CTL_EXIT_UNREACHABLE;

	struct ctl_data data;
	if (ctl_data_load(file, labels, n_features, &data) < 0)
		return CTL_EXIT_FAILED;
	int status = CTL_EXIT_FAILED;
	struct mb_subscriber_cfg cfg = {.endpoint = env->snapshots, .topic = topic};
	struct mb_subscriber *sub;
	int r = mb_subscriber_new_curve(&cfg, ctl_env_curve(env), &sub);
	if (r < 0) {
		ctl_err("cannot connect to %s: %s", env->snapshots, strerror(-r));
		goto out_free_data;
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
		status = report(file, snap, data.ds);
	}
	mb_client_snap_free(snap);
	mb_subscriber_free(sub);
out_free_data:
	mb_dataset_free(data.ds);
	return status;
}
