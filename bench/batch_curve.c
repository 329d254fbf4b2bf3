/* SPDX-License-Identifier: MIT */
/*
 * batch_curve.c - how learning progresses with the batch size, step by step.
 *
 * Trains softmax 784-10 or the MLP 784-128-10 on Fashion-MNIST in file
 * order through mb_learner_step, like train_bench, but watches the run
 * instead of only timing it: it can write the progressive cost of every
 * batch against samples seen and training time, and scores an evaluation
 * set every so often and at every epoch end. Evaluation time is left out of
 * the training clock, so curves of different batch sizes share one time axis.
 *
 * With -r the rows are visited in a fresh random order every epoch (the
 * gather into a batch buffer counts as training time), as the daemon's file
 * source does; without it, in file order.
 *
 * With -G N the evaluations thin out as the run goes on: N a decade of
 * samples seen, so a long run at a small batch is not spent scoring while
 * the start, where the curves differ most, is still seen closely.
 *
 * The evaluation set is t10k, or with -v N the last N training rows, which
 * are then not trained on (tuning a learning rate without seeing the test set).
 *
 * Output on stdout, CSV lines:
 *   eval,<epoch>,<samples>,<train seconds>,<accuracy>,<mean cost>
 *   done,<steps>,<skipped steps>,<samples>,<train seconds>,<samples per second>
 * With -L FILE, every step as samples,seconds,cost (cost of the batch before it was learned from).
 * With -P N as well, the steps are pooled into N bins a decade of samples seen instead (a minute
 * at batch 1 is tens of millions of steps): samples,seconds,mean cost,cost std,steps at the end
 * of each bin, the mean and spread over the bin's steps with a finite cost.
 *
 * Usage: batch_curve [-m softmax|mlp] [-b batch, 0 = all] [-l lr] [-o optimizer] [-S schedule] [-e max epochs]
 *                    [-T max train seconds] [-E evaluate every N samples, 0 = epoch ends only]
 *                    [-G evaluations a decade of samples, spaced evenly in log, -E apart at least]
 *                    [-v hold out last N rows] [-q first N rows] [-t blas threads] [-s seed]
 *                    [-r] [-L cost log] [-P log bins a decade] [-d fashion-mnist dir]
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataset.h"
#include "bench_learner.h"
#include "learner.h"
#include "rng.h"
#include "shuffle.h"

#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

/* Where the run is, for the log and the evaluation lines. */
struct progress {
	uint64_t samples;   /* training rows stepped over so far */
	double train_s;     /* training time so far, evaluations excluded */
	long epoch;         /* epochs completed */
};

/* The steps of the cost log's current bin (-P). */
struct cost_bin {
	double sum;         /* of the finite costs */
	double sum_sq;      /* of their squares */
	uint64_t steps;     /* with a finite cost */
	uint64_t end;       /* samples seen at which the bin closes */
	double per_decade;  /* bins a decade of samples; 0 = a line every step */
};

/* Log one step's cost: a line of its own, or into the bin, writing the bin when it is full. */
static void log_cost(FILE *log, struct cost_bin *b, const struct progress *p, double cost, bool last)
{
	if (b->per_decade <= 0) {
		fprintf(log, "%llu,%.6f,%.5f\n", (unsigned long long)p->samples, p->train_s, cost);
		return;
	}
	if (isfinite(cost)) {
		b->sum += cost;
		b->sum_sq += cost * cost;
		b->steps++;
	}
	if (p->samples < b->end && !last)
		return;
	if (b->steps) {
		double mean = b->sum / (double)b->steps;
		double var = b->sum_sq / (double)b->steps - mean * mean;
		fprintf(log, "%llu,%.6f,%.5f,%.5f,%llu\n", (unsigned long long)p->samples, p->train_s, mean,
			var > 0 ? sqrt(var) : 0.0, (unsigned long long)b->steps);
	} else {
		fprintf(log, "%llu,%.6f,nan,nan,0\n", (unsigned long long)p->samples, p->train_s);
	}
	b->sum = b->sum_sq = 0;
	b->steps = 0;
	while (b->end <= p->samples)
		b->end = (uint64_t)fmax((double)b->end + 1, (double)b->end * pow(10.0, 1.0 / b->per_decade));
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-m softmax|mlp] [-b batch (0 = all)] [-l lr] [-o optimizer] [-S schedule] [-e max epochs]\n"
		"          [-T max seconds] [-E eval every N samples] [-G evals a decade] [-v holdout rows]\n"
		"          [-q first N rows] [-t blas threads] [-s seed] [-r] [-L cost log] [-P bins a decade]\n"
		"          [-d dir]\n",
		argv0);
	exit(2);
}

/* Score the evaluation rows and print one eval line; 0 or -errno. */
static int evaluate(struct mb_learner *l, const float *x, const float *y, uint32_t rows,
		    const struct progress *p)
{
	struct mb_step_result res;
	int r = mb_learner_eval(l, x, y, rows, &res);
	if (r < 0)
		return r;
	printf("eval,%ld,%llu,%.4f,%.4f,%.4f\n", p->epoch, (unsigned long long)p->samples, p->train_s,
	       (double)res.correct / res.rows, res.cost);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *model = "softmax", *optim = "sgd", *sched = "constant", *dir = DEFAULT_DIR, *log_path = NULL;
	long batch = 32, epochs = 1, threads = 0, first = 0, holdout = 0, eval_every = 0;
	double budget = 0, per_decade = 0;
	struct cost_bin bin = {.end = 1};
	bool reshuffle = false;
	unsigned long long seed = 42;
	float lr = 0.1f;
	int opt, r;

	while ((opt = getopt(argc, argv, "m:b:l:o:S:e:T:E:G:v:q:t:s:rL:P:d:")) != -1) {
		switch (opt) {
		case 'm': model = optarg; break;
		case 'b': batch = strtol(optarg, NULL, 10); break;
		case 'l': lr = strtof(optarg, NULL); break;
		case 'o': optim = optarg; break;
		case 'S': sched = optarg; break;
		case 'e': epochs = strtol(optarg, NULL, 10); break;
		case 'T': budget = strtod(optarg, NULL); break;
		case 'E': eval_every = strtol(optarg, NULL, 10); break;
		case 'G': per_decade = strtod(optarg, NULL); break;
		case 'v': holdout = strtol(optarg, NULL, 10); break;
		case 'q': first = strtol(optarg, NULL, 10); break;
		case 't': threads = strtol(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'r': reshuffle = true; break;
		case 'L': log_path = optarg; break;
		case 'P': bin.per_decade = strtod(optarg, NULL); break;
		case 'd': dir = optarg; break;
		default: usage(argv[0]);
		}
	}
	if (batch < 0 || epochs < 1 || budget < 0 || eval_every < 0 || per_decade < 0 || bin.per_decade < 0 || holdout < 0 || first < 0 ||
	    threads < 0 || !(lr > 0))
		usage(argv[0]);
	if (threads)
		openblas_set_num_threads((int)threads);

	struct mb_dataset *train = NULL, *test = NULL;
	struct mb_diag diag = {0};
	if ((r = mb_dataset_load_fashion(dir, "train", &train, &diag)) < 0 ||
	    (!holdout && (r = mb_dataset_load_fashion(dir, "t10k", &test, &diag)) < 0)) {
		fprintf(stderr, "batch_curve: loading Fashion-MNIST from %s: %s (%s)\n", dir, diag.text,
			strerror(-r));
		return 1;
	}
	uint32_t count = first && (uint32_t)first < train->count ? (uint32_t)first : train->count;
	if ((uint32_t)holdout >= count) {
		fprintf(stderr, "batch_curve: holdout %ld leaves no training rows of %u\n", holdout, count);
		return 2;
	}
	const float *ex = test ? test->x : train->x + (size_t)(count - holdout) * train->n_features;
	const float *ey = test ? test->y : train->y + (count - holdout);
	uint32_t erows = test ? test->count : (uint32_t)holdout;
	count -= (uint32_t)holdout;
	uint32_t rows = batch == 0 || batch > count ? count : (uint32_t)batch;

	struct bench_learner_cfg bc = {
		.model = model,
		.optim = optim,
		.sched = sched,
		.lr = lr,
		.n_features = train->n_features,
		.rows = rows,
		.total_steps = (uint64_t)epochs * (count / rows),
		.seed = seed,
	};
	struct mb_learner *l = NULL;
	const char *why = NULL;
	if ((r = bench_learner_new(&bc, &l, &why)) < 0) {
		fprintf(stderr, "batch_curve: %s: %s\n", why, strerror(-r));
		return r == -EINVAL ? 2 : 1;
	}
	FILE *log = NULL;
	if (log_path && !(log = fopen(log_path, "w"))) {
		fprintf(stderr, "batch_curve: %s: %s\n", log_path, strerror(errno));
		return 1;
	}

	/* The epoch's order and the batch gathered from it, when reshuffling. */
	uint32_t *perm = NULL;
	float *bx = NULL, *by = NULL;
	struct mb_rng rng;
	mb_rng_seed(&rng, seed ^ 0x5eedull);
	if (reshuffle && (!(perm = malloc(count * sizeof(*perm))) ||
			  !(bx = malloc((size_t)rows * train->n_features * sizeof(*bx))) ||
			  !(by = malloc(rows * sizeof(*by))))) {
		fprintf(stderr, "batch_curve: out of memory\n");
		return 1;
	}

	struct progress p = {0};
	struct mb_step_result res;
	uint64_t next_eval = eval_every ? (uint64_t)eval_every : UINT64_MAX, last_eval = 0;
	bool out_of_time = false;
	while (p.epoch < epochs && !out_of_time) {
		if (reshuffle) {
			double t0 = now();
			mb_shuffle_perm(perm, count, &rng);
			p.train_s += now() - t0;
		}
		for (uint32_t at = 0; at + rows <= count; at += rows) {
			double t0 = now();
			const float *x = train->x + (size_t)at * train->n_features, *y = train->y + at;
			if (reshuffle) {
				for (uint32_t i = 0; i < rows; i++) {
					memcpy(bx + (size_t)i * train->n_features,
					       train->x + (size_t)perm[at + i] * train->n_features,
					       train->n_features * sizeof(*bx));
					by[i] = train->y[perm[at + i]];
				}
				x = bx;
				y = by;
			}
			r = mb_learner_step(l, x, y, NULL, rows, &res);
			p.train_s += now() - t0;
			if (r < 0 && r != -EDOM) {
				fprintf(stderr, "batch_curve: step at row %u: %s\n", at, strerror(-r));
				return 1;
			}
			p.samples += rows;
			if (budget && p.train_s >= budget)
				out_of_time = true;
			if (log)
				log_cost(log, &bin, &p, res.cost,
					 out_of_time || (p.epoch + 1 >= epochs && at + 2 * rows > count));
			/* Not again right after an epoch end's evaluation, nor right before one. */
			if (p.samples >= next_eval) {
				if (at + 2 * rows <= count && p.samples - last_eval >= (uint64_t)eval_every / 2) {
					if ((r = evaluate(l, ex, ey, erows, &p)) < 0)
						goto out_eval_failed;
					last_eval = p.samples;
				}
				while (next_eval <= p.samples) {
					uint64_t step = (uint64_t)eval_every;
					if (per_decade > 0) {
						double grown = (double)next_eval * pow(10.0, 1.0 / per_decade);
						if (grown - (double)next_eval > (double)step)
							step = (uint64_t)(grown - (double)next_eval);
					}
					next_eval += step;
				}
			}
			if (out_of_time)
				break;
		}
		if (!out_of_time)
			p.epoch++;
		if ((r = evaluate(l, ex, ey, erows, &p)) < 0)
			goto out_eval_failed;
		last_eval = p.samples;
	}
	printf("done,%llu,%llu,%llu,%.4f,%.0f\n", (unsigned long long)mb_learner_steps(l),
	       (unsigned long long)mb_learner_skipped(l), (unsigned long long)p.samples, p.train_s,
	       (double)p.samples / p.train_s);
	if (log && fclose(log) != 0) {
		fprintf(stderr, "batch_curve: %s: %s\n", log_path, strerror(errno));
		return 1;
	}
	free(perm);
	free(bx);
	free(by);
	mb_learner_free(l);
	mb_dataset_free(train);
	mb_dataset_free(test);
	return 0;

out_eval_failed:
	fprintf(stderr, "batch_curve: scoring: %s\n", strerror(-r));
	return 1;
}
