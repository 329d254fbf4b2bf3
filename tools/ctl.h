/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - what minibatchctl's subcommand files share.
 *
 * minibatchctl.c parses the global options and hands the rest of the
 * command line to one subcommand family: ctl_feed.c, ctl_watch.c,
 * ctl_eval.c, ctl_predict.c, ctl_control.c. Each returns the process exit status.
 */
#ifndef MB_CTL_H
#define MB_CTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "dataset.h"

/* Exit statuses every subcommand keeps to. */
enum ctl_exit {
	CTL_EXIT_OK = 0,          /* done, and the daemon said ok */
	CTL_EXIT_FAILED = 1,      /* the daemon refused, or the input was bad */
	CTL_EXIT_UNREACHABLE = 2, /* no answer in time, or a usage error */
};

/* Long option values of the global options, above any single character. */
enum ctl_global_opt {
	CTL_OPT_RUNTIME_DIR = 0x100,
	CTL_OPT_INGEST,
	CTL_OPT_SNAPSHOTS,
	CTL_OPT_CONTROL,
	CTL_OPT_TIMEOUT,
	CTL_OPT_CURVE_SERVER_KEY,
	CTL_OPT_CURVE_KEY,
	CTL_OPT_BAD_GLOBAL,  /* ctl_getopt: a global option's argument was bad */
	CTL_OPT_FIRST_LOCAL, /* subcommands number their own long options from here */
};

/* The global options, for the end of every subcommand's option table. */
#define CTL_GLOBAL_OPTIONS                                                  \
	{"runtime-dir", required_argument, NULL, CTL_OPT_RUNTIME_DIR},      \
	{"ingest", required_argument, NULL, CTL_OPT_INGEST},                \
	{"snapshots", required_argument, NULL, CTL_OPT_SNAPSHOTS},          \
	{"control", required_argument, NULL, CTL_OPT_CONTROL},              \
	{"timeout", required_argument, NULL, CTL_OPT_TIMEOUT},              \
	{"curve-server-key", required_argument, NULL, CTL_OPT_CURVE_SERVER_KEY}, \
	{"curve-key", required_argument, NULL, CTL_OPT_CURVE_KEY}

/* Where the daemon is and how long to wait for it. */
struct ctl_env {
	const char *runtime_dir;  /* --runtime-dir, or NULL for the daemon's rule */
	const char *ingest;       /* --ingest endpoint, or NULL for RUNDIR/ingest */
	const char *snapshots;    /* --snapshots endpoint, or NULL for RUNDIR/snapshots */
	const char *control;      /* --control endpoint, or NULL for RUNDIR/control */
	int timeout_ms;           /* --timeout: how long to wait for the daemon */
	bool timeout_set;         /* --timeout was given (watch reads it differently) */
	const char *curve_server_key; /* --curve-server-key FILE, or $MINIBATCH_CURVE_SERVER_KEY */
	const char *curve_key;    /* --curve-key FILE (a secret key), or $MINIBATCH_CURVE_KEY */
	bool curve_on;            /* curve holds the keys loaded from those files */
	struct mb_client_curve curve; /* the keys, for every tcp:// endpoint */
	char buf[3][MB_CLIENT_MAX_ENDPOINT]; /* storage for the endpoints made from the runtime dir */
};

/*
 * Handle option c if it is a global one: 1 when taken, 0 when it is not
 * global, -1 (after a message) when its argument is bad.
 */
int ctl_global_option(struct ctl_env *env, int c, const char *arg);

/*
 * getopt_long() that takes the global options itself: the next option that
 * is not global, -1 after the last, or CTL_OPT_BAD_GLOBAL (after a message)
 * when a global option's argument is bad.
 */
int ctl_getopt(struct ctl_env *env, int argc, char **argv, const char *shortopts, const struct option *options);

/* The timeout to wait for the daemon in ms: --timeout, 5 s without it, -1 (forever) for --timeout 0. */
int ctl_env_timeout(const struct ctl_env *env);

/*
 * Load the CURVE keys when given (options first, then the environment),
 * and fill the endpoints not given from the runtime directory; -1 after a
 * message.
 */
int ctl_env_resolve(struct ctl_env *env);

/* The CURVE keys for the client constructors, NULL when none were given. */
const struct mb_client_curve *ctl_env_curve(const struct ctl_env *env);

/* Print a message prefixed with the program name to stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a count (1..max) or seconds (>= 0) argument; -1 after a message. */
int ctl_parse_u32(const char *opt, const char *arg, uint32_t min, uint32_t max, uint32_t *ret);
int ctl_parse_seconds(const char *opt, const char *arg, double *ret);

/* Monotonic seconds, for rates and intervals. */
double ctl_now(void);

/* Stop flag set by SIGINT and SIGTERM once ctl_catch_signals() ran. */
extern volatile int ctl_stop;
void ctl_catch_signals(void);

/* ---- Data sets (ctl_data.c) ---- */

/* What a data file turned out to be. */
struct ctl_data {
	struct mb_dataset *ds;  /* the rows */
	bool idx;               /* it came from an IDX images + labels pair */
	char labels[4096];      /* the labels file used for IDX */
};

/*
 * Load a labelled file: IDX images (with labels, or the labels file beside
 * it: train-images-idx3-ubyte[.gz] pairs with train-labels-idx1-ubyte[.gz]),
 * or any format mb_dataset_load reads (n_features needed for libsvm).
 * 0, or -1 after a message naming the file.
 */
int ctl_data_load(const char *path, const char *labels, uint32_t n_features, struct ctl_data *ret);

/* ---- JSON replies (ctl_json.c) ---- */

/* Called for each scalar of a JSON document with its path ("sources[0].name"). */
typedef void (*ctl_json_fn)(const char *path, const char *value, bool is_string, void *arg);

/* Walk every scalar of json in order. 0, or -EBADMSG when it is not JSON. */
int ctl_json_walk(const char *json, ctl_json_fn fn, void *arg);

/* The scalar at path (as ctl_json_walk names it) into buf; 0, -ENOENT or -EBADMSG. */
int ctl_json_get(const char *json, const char *path, char *buf, size_t cap);

/* ---- Progress (ctl_progress.c) ---- */

/* A progress report: a bar on a terminal, periodic plain lines elsewhere. */
struct ctl_progress {
	uint64_t total;      /* samples expected, 0 when open-ended */
	double start;        /* ctl_now() at the start */
	double last;         /* ctl_now() at the last report */
	double interval;     /* seconds between plain lines */
	bool tty;            /* stderr is a terminal: redraw one bar */
	bool quiet;          /* report nothing */
	bool drawn;          /* a bar is on the screen */
};

void ctl_progress_start(struct ctl_progress *p, uint64_t total, double interval, bool quiet);
/* Report done samples when it is time to. */
void ctl_progress_update(struct ctl_progress *p, uint64_t done);
/* Final report: finish the bar with done samples. */
void ctl_progress_end(struct ctl_progress *p, uint64_t done);

/* ---- Subcommands ---- */

int ctl_feed(struct ctl_env *env, int argc, char **argv);
int ctl_watch(struct ctl_env *env, int argc, char **argv);
int ctl_eval(struct ctl_env *env, int argc, char **argv);
/* predict FILE|-: one line per sample with the current model's prediction. */
int ctl_predict(struct ctl_env *env, int argc, char **argv);
/* status, stats, pause, resume, snapshot, save, reload, reset: argv[0] is the word. */
int ctl_control(struct ctl_env *env, int argc, char **argv);
bool ctl_control_knows(const char *word);

#endif /* MB_CTL_H */
