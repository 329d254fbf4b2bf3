/* SPDX-License-Identifier: MIT */
/*
 * main.c - minibatchd: start the threads, watch them, stop them in order.
 *
 * The main thread owns the signals (through a signalfd: every other thread
 * runs with them blocked), the systemd notifications and the start and
 * stop order. Sockets are created and bound here, before any thread
 * starts, so READY=1 means every endpoint is there; each socket then
 * belongs to the one thread that uses it.
 *
 * Stop order: ingest first (sources hand on what they decoded), then the
 * trainer drains every queued batch and hands over a final snapshot, the
 * publisher sends it, the control socket closes, and the ZeroMQ context
 * is terminated last (it waits for the final snapshot to leave).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "checkpoint_setup.h"
#include "config.h"
#include "config_args.h"
#include "control.h"
#include "curve.h"
#include "blas_reexec.h"
#include "handover.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "publisher.h"
#include "reload.h"
#include "source.h"
#include "trainer.h"
#include "zap.h"
#include "zsock.h"

#ifndef MB_VERSION
#define MB_VERSION "unknown"
#endif

#define TICK_MS 1000 /* STATUS= lines and watchdog checks */

/* Present when the BLAS is OpenBLAS; weak so another cblas still links. */
extern void openblas_set_num_threads(int n) __attribute__((weak));

static const char usage[] =
	"Usage: minibatchd [OPTION]...\n"
	"Learn from live data streams with mini-batch gradient descent.\n"
	"\n"
	"  -c, --config=FILE      read the configuration from FILE (INI); without it,\n"
	"                         $CONFIGURATION_DIRECTORY/" MB_CONFIG_FILE_NAME " under systemd, else\n"
	"                         " MB_CONFIG_DEFAULT_FILE ", is read if it exists\n"
	"      --no-config        read no configuration file, not even the default one\n"
	"  -o SECTION.KEY=VALUE   set one key, after the file (repeatable),\n"
	"                         e.g. -o batch.size=32 -o source.in.endpoint=ipc:///tmp/in\n"
	"      --check-config     print the effective configuration and exit\n"
	"                         (status 0, or 1 with the error)\n"
	"      --help-config      list every configuration key with its default\n"
	"  -h, --help             show this help\n"
	"  -V, --version          show the version\n"
	"\n"
	"With no configuration at all the daemon trains a softmax model (10 classes,\n"
	"inputs from the first valid sample, AdaGrad at lr 0.05, batches of 64) and uses\n"
	"these endpoints, RUNDIR being $RUNTIME_DIRECTORY, else /run/minibatchd as\n"
	"root, else $XDG_RUNTIME_DIR/minibatchd, else a new directory under /tmp:\n"
	"  ingest (PULL)      ipc://RUNDIR/ingest     tcp://127.0.0.1:7710\n"
	"  snapshots (XPUB)   ipc://RUNDIR/snapshots  tcp://127.0.0.1:7711\n"
	"  control (REP)      ipc://RUNDIR/control\n"
	"  metrics (HTTP)     http://127.0.0.1:7712/metrics\n"
	"ipc socket files are mode 0660. Relative ipc:// paths in the configuration\n"
	"are taken relative to RUNDIR. Signals: SIGTERM or SIGINT stop the daemon\n"
	"after it has trained every queued batch, written a final checkpoint (see\n"
	"checkpoint.dir in --help-config) and published a final snapshot;\n"
	"SIGHUP reads the configuration again (as the control command reload does)\n"
	"and applies the optimizer, publish and log settings without a restart.\n"
	"\n"
	"With [security] curve on (or auto, the default, and a server.key in the key\n"
	"directory, by default curve/ beside the configuration file), every tcp://\n"
	"endpoint takes CURVE clients whose public keys are in the key directory's\n"
	"clients/ (SIGHUP reads it again). Without CURVE, the daemon refuses to start\n"
	"with a control endpoint other hosts could reach. minibatchctl keygen makes\n"
	"key pairs.\n";

/* One thread the main thread watches. */
struct worker {
	const char *what;      /* "trainer", "source NAME", ... for log lines */
	int (*body)(void *);   /* the thread body */
	void *arg;             /* its argument */
	pthread_t tid;         /* the thread */
	bool started;          /* tid is valid (joinable) */
	_Atomic bool done;     /* body returned (release; rc is valid after an acquire load) */
	int rc;                /* what body returned */
	int done_fd;           /* eventfd of the main loop, written when body returns */
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	w->rc = w->body(w->arg);
	atomic_store_explicit(&w->done, true, memory_order_release);
	uint64_t one = 1;
	ssize_t n = write(w->done_fd, &one, sizeof one);
	(void)n;
	return NULL;
}

static int worker_start(struct worker *w)
{
	int r = pthread_create(&w->tid, NULL, worker_main, w);
	if (r) {
		mb_log(LOG_ERR, "%s: cannot start its thread: %s", w->what, strerror(r));
		return -r;
	}
	w->started = true;
	return 0;
}

static void worker_join(struct worker *w)
{
	if (!w->started)
		return;
	pthread_join(w->tid, NULL);
	w->started = false;
	if (w->rc < 0)
		mb_log(LOG_ERR, "%s: ended with an error: %s", w->what, strerror(-w->rc));
}

/* One ingest source: its family's ops and instance. */
struct source_slot {
	const struct mb_source_ops *ops; /* the family */
	struct mb_source *src;           /* the instance, NULL until created */
	struct worker w;                 /* its thread */
	char what[MB_CFG_NAME_BYTES + 16]; /* "source NAME" */
};

static int source_body(void *p)
{
	struct source_slot *s = p;
	return s->ops->run(s->src);
}

static int trainer_body(void *p) { return mb_trainer_run(p); }
static int publisher_body(void *p) { return mb_publisher_run(p); }
static int control_body(void *p) { return mb_control_run(p); }
static int zap_body(void *p) { return mb_zap_run(p); }

/* Monitor a socket's CURVE handshakes (zsock.h's watch hook). */
static int zap_watch(void *zap, void *sock) { return mb_zap_watch(zap, sock); }

/* Everything the daemon holds, so start-up and stop are written once each. */
struct daemon {
	struct mb_config *cfg;          /* the configuration */
	char rundir[PATH_MAX];          /* the runtime directory */
	bool rundir_temporary;          /* created with mkdtemp: removed at exit */
	void *zctx;                     /* the ZeroMQ context, terminated last */
	struct mb_ingest *ing;          /* shared ingest state */
	struct mb_handover *handover;   /* trainer -> publisher */
	struct mb_trainer *trainer;     /* the learner thread's state */
	struct mb_publisher *publisher; /* XPUB socket thread */
	struct mb_control *control;     /* REP socket thread, NULL when disabled */
	const struct mb_config_args *args; /* where the configuration came from, for reloads */
	struct mb_reload *reload;       /* SIGHUP and control "reload" */
	struct mb_metrics *metrics;     /* the HTTP endpoint, NULL when off or not bound */
	struct mb_curve_setup curve;    /* [security], resolved */
	struct mb_zap *zap;             /* the ZAP handler, NULL when CURVE is off */
	double start_time_s;            /* CLOCK_REALTIME at start, for the metrics */
	struct source_slot sources[MB_MAX_SOURCES]; /* one per configured source */
	unsigned n_sources;             /* of them */
	struct mb_ckpt_setup ckpt;      /* the checkpoint directory, and the sources as checkpoints see them */
	struct worker trainer_w, publisher_w, control_w, zap_w; /* the other threads */
	int done_fd;                    /* eventfd: some thread's body returned */
	char topic[MB_MAX_TOPIC_BYTES + 1]; /* the model's name */
};

/* Choose (and create if need be) the runtime directory (see the help text). */
static int runtime_dir_setup(struct daemon *d)
{
	const char *dir = d->cfg->daemon.runtime_dir;
	const char *env;
	if (*dir) {
		snprintf(d->rundir, sizeof d->rundir, "%s", dir);
	} else if ((env = getenv("RUNTIME_DIRECTORY")) && *env) {
		/* systemd may list several, separated by ':'; the first is ours. */
		snprintf(d->rundir, sizeof d->rundir, "%.*s", (int)strcspn(env, ":"), env);
	} else if (geteuid() == 0) {
		snprintf(d->rundir, sizeof d->rundir, "/run/minibatchd");
	} else if ((env = getenv("XDG_RUNTIME_DIR")) && *env) {
		snprintf(d->rundir, sizeof d->rundir, "%s/minibatchd", env);
	} else {
		snprintf(d->rundir, sizeof d->rundir, "/tmp/minibatchd.XXXXXX");
		if (!mkdtemp(d->rundir)) {
			mb_log(LOG_ERR, "cannot create a runtime directory: %s", strerror(errno));
			return -errno;
		}
		d->rundir_temporary = true;
		return 0;
	}
	if (mkdir(d->rundir, 0750) < 0 && errno != EEXIST) {
		mb_log(LOG_ERR, "cannot create the runtime directory %s: %s", d->rundir, strerror(errno));
		return -errno;
	}
	return 0;
}

static enum mb_model_kind kind_of(const char *name)
{
	if (strcmp(name, "linear") == 0)
		return MB_MODEL_LINEAR;
	if (strcmp(name, "logistic") == 0)
		return MB_MODEL_LOGISTIC;
	if (strcmp(name, "mlp") == 0)
		return MB_MODEL_MLP;
	return MB_MODEL_SOFTMAX;
}

static enum mb_act act_of(const char *name)
{
	if (strcmp(name, "tanh") == 0)
		return MB_ACT_TANH;
	if (strcmp(name, "sigmoid") == 0)
		return MB_ACT_SIGMOID;
	return MB_ACT_RELU;
}

/* The trainer's model and optimizer configuration from [model] and [optimizer]. */
static int trainer_cfg_build(const struct mb_config *c, struct mb_trainer_cfg *t)
{
	struct mb_model_cfg *m = &t->model;
	m->kind = kind_of(c->model.kind);
	m->output = m->kind == MB_MODEL_MLP ? kind_of(c->model.output) : m->kind;
	m->n_outputs = m->output == MB_MODEL_LOGISTIC ? 1 : c->model.outputs;
	m->n_inputs = c->model.inputs;
	m->hidden_act = act_of(c->model.activation);
	m->max_batch = c->batch.size;
	m->seed = c->model.seed;
	if (m->kind == MB_MODEL_MLP) {
		char **items;
		size_t n;
		if (mb_cfg_list_split(c->model.hidden, &items, &n) < 0)
			return -ENOMEM;
		for (size_t i = 0; i < n && i < MB_MAX_LAYERS - 1; i++)
			m->hidden[i] = (uint32_t)strtoul(items[i], NULL, 10);
		m->n_hidden = (uint32_t)n;
		mb_cfg_list_free(items);
	}

	t->guard = (struct mb_divergence_cfg){
		.enabled = c->guard.enabled,
		.factor = c->guard.factor,
		.warmup = c->guard.warmup,
		.every = c->guard.every,
		.lr_factor = c->guard.lr_factor,
	};
	t->holdout_every = c->eval.holdout_every;
	if (mb_config_optim_cfg(c, &t->optim) < 0) {
		mb_log(LOG_ERR, "optimizer.kind %s or optimizer.schedule %s is not known to this build",
		       c->optimizer.kind, c->optimizer.schedule);
		return -EINVAL;
	}
	return 0;
}

static enum mb_feed_policy policy_of(const char *name)
{
	if (strcmp(name, "drop-newest") == 0)
		return MB_FEED_DROP_NEWEST;
	if (strcmp(name, "drop-oldest") == 0)
		return MB_FEED_DROP_OLDEST;
	return MB_FEED_BLOCK;
}

/*
 * Serve the metrics if configured. A failure to listen leaves the daemon
 * running without them: the figures are for watching, and training should
 * not stop because a port is taken.
 */
static void metrics_setup(struct daemon *d)
{
	const struct mb_config *c = d->cfg;
	if (!*c->metrics.listen)
		return;
	struct mb_metrics_cfg mc = {
		.listen = c->metrics.listen,
		.version = MB_VERSION,
		.model_name = d->topic,
		.config = c,
		.ing = d->ing,
		.trainer = d->trainer,
		.publisher = d->publisher,
		.reload = d->reload,
		.start_time_s = d->start_time_s,
	};
	char err[512];
	if (mb_metrics_new(&mc, &d->metrics, err, sizeof err) < 0)
		mb_log(LOG_ERR, "metrics.listen: %s; running without metrics", err);
}

/* The checkpoint directory, and what the trainer needs to write checkpoints. */
static int checkpoint_setup(struct daemon *d, struct mb_trainer_cfg *tc)
{
	const struct mb_config *c = d->cfg;
	int r = mb_ckpt_setup_open(&d->ckpt, c);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < d->n_sources; i++)
		d->ckpt.refs[i] = (struct mb_ckpt_source_ref){
			.name = c->sources[i].name,
			.index = c->sources[i].index,
			.ops = d->sources[i].ops,
			.src = d->sources[i].src,
			.stats = mb_ingest_stats(d->ing, c->sources[i].index),
		};
	d->ckpt.n_refs = d->n_sources;
	tc->store = d->ckpt.store;
	tc->sources = d->ckpt.refs;
	tc->config_text = d->ckpt.config_text;
	tc->checkpoint_every_batches = c->checkpoint.every_batches;
	tc->checkpoint_every_ms = c->checkpoint.every_ms;
	tc->checkpoint_on_exit = c->checkpoint.on_exit;
	return 0;
}

/*
 * With CURVE on: the ZAP handler, bound before any socket has a CURVE
 * endpoint (libzmq lets every client in while none is bound), and the
 * server key for every socket made after this.
 */
static int curve_setup(struct daemon *d)
{
	const struct mb_curve_setup *cs = &d->curve;
	if (!cs->on) {
		mb_log(LOG_INFO, "CURVE is off: tcp endpoints are plaintext, and loopback only unless "
		       "security.allow_plaintext_tcp is set");
		return 0;
	}
	char err[512];
	int r = mb_zap_new(&(struct mb_zap_cfg){.zmq_ctx = d->zctx, .dir = cs->dir}, &d->zap, err, sizeof err);
	if (r < 0) {
		mb_log(LOG_ERR, "CURVE: %s", err);
		return r;
	}
	mb_zsock_curve_setup(&(struct mb_zsock_curve_cfg){
		.secret_key = cs->secret_key,
		.watch = zap_watch,
		.watch_arg = d->zap,
	});
	/* zsock keeps the one copy it needs; no other stays in memory. */
	mb_curve_setup_wipe(&d->curve);
	size_t n = mb_zap_n_clients(d->zap);
	mb_log(n ? LOG_INFO : LOG_WARNING, "CURVE on every tcp endpoint: server key %s, %zu allowed client key%s in %s/%s",
	       cs->public_key, n, n == 1 ? "" : "s", cs->dir, MB_CURVE_CLIENTS_DIR);
	return 0;
}

/* Create everything and bind every endpoint; no thread runs yet. */
static int daemon_setup(struct daemon *d)
{
	const struct mb_config *c = d->cfg;
	char err[512];
	int r;

	if (c->daemon.threads && openblas_set_num_threads)
		openblas_set_num_threads((int)c->daemon.threads);
	snprintf(d->topic, sizeof d->topic, "%s", *c->model.name ? c->model.name : c->model.kind);

	struct mb_trainer_cfg tc = {0};
	if ((r = trainer_cfg_build(c, &tc)) < 0)
		return r;
	mb_zsock_peer_setup(&(struct mb_zsock_peer_cfg){
		.heartbeat_ms = c->zmq.heartbeat_ms,
		.heartbeat_timeout_ms = c->zmq.heartbeat_timeout_ms,
		.reconnect_ms = c->zmq.reconnect_ms,
		.reconnect_max_ms = c->zmq.reconnect_max_ms,
	});
	d->zctx = zmq_ctx_new();
	if (!d->zctx) {
		mb_log(LOG_ERR, "cannot create the ZeroMQ context: %s", zmq_strerror(zmq_errno()));
		return -zmq_errno();
	}
	if ((r = curve_setup(d)) < 0)
		return r;

	bool softmax_head = tc.model.output == MB_MODEL_SOFTMAX;
	struct mb_ingest_cfg ic = {
		.n_features = c->model.inputs,
		.n_targets = tc.model.output == MB_MODEL_LINEAR ? c->model.outputs : 1,
		.batch_size = c->batch.size,
		.linger_ms = c->batch.linger_ms,
		.queue_batches = c->batch.queue_batches,
		.policy = policy_of(c->batch.policy),
		.zmq_ctx = d->zctx,
		.n_classes = softmax_head ? c->model.outputs : 0,
		.unit_targets = tc.model.output == MB_MODEL_LOGISTIC,
	};
	if ((r = mb_ingest_new(&ic, &d->ing)) < 0) {
		mb_log(LOG_ERR, "cannot create the ingest state: %s", strerror(-r));
		return r;
	}

	for (unsigned i = 0; i < c->n_sources; i++) {
		struct mb_source_cfg *sc = &d->cfg->sources[i];
		struct source_slot *s = &d->sources[i];
		const char *why = "unknown source type";
		sc->runtime_dir = d->rundir;
		snprintf(s->what, sizeof s->what, "source %s", sc->name);
		s->ops = mb_source_ops_find(sc->type);
		r = s->ops ? mb_source_ops_check(s->ops, &why) : -EINVAL;
		if (r == 0)
			r = s->ops->create(sc, d->ing, sc->index, &s->src, &why);
		if (r < 0) {
			mb_log(LOG_ERR, "%s: %s", s->what, why);
			return r;
		}
		d->n_sources++;
	}

	if ((r = mb_handover_new(&d->handover)) < 0)
		return r;
	tc.ing = d->ing;
	tc.n_sources = c->n_sources;
	tc.handover = d->handover;
	tc.publish_every_batches = c->publish.every_batches;
	tc.publish_every_ms = c->publish.every_ms;
	if ((r = checkpoint_setup(d, &tc)) < 0)
		return r;
	if ((r = mb_trainer_new(&tc, &d->trainer)) < 0) {
		mb_log(LOG_ERR, "cannot create the trainer: %s", strerror(-r));
		return r;
	}
	/* Before any thread runs, so READY=1 comes with the restored model. */
	if ((r = mb_ckpt_setup_restore(&d->ckpt, d->trainer)) < 0)
		return r;

	struct mb_publisher_cfg pc = {
		.zmq_ctx = d->zctx,
		.endpoints = c->publish.endpoint,
		.runtime_dir = d->rundir,
		.topic = d->topic,
		.sndhwm = c->publish.sndhwm,
		.handover = d->handover,
	};
	if ((r = mb_publisher_new(&pc, &d->publisher, err, sizeof err)) < 0) {
		mb_log(LOG_ERR, "publish.endpoint: %s", err);
		return r;
	}

	struct mb_reload_cfg rc = {.args = d->args, .running = c, .trainer = d->trainer};
	if ((r = mb_reload_new(&rc, &d->reload)) < 0)
		return r;

	if (*c->control.endpoint) {
		struct mb_control_cfg cc = {
			.zmq_ctx = d->zctx,
			.endpoint = c->control.endpoint,
			.runtime_dir = d->rundir,
			.model_name = d->topic,
			.config = c,
			.ing = d->ing,
			.trainer = d->trainer,
			.publisher = d->publisher,
			.reload = d->reload,
		};
		if ((r = mb_control_new(&cc, &d->control, err, sizeof err)) < 0) {
			mb_log(LOG_ERR, "control.endpoint: %s", err);
			return r;
		}
	}
	metrics_setup(d);
	return 0;
}

static void worker_init(struct daemon *d, struct worker *w, const char *what, int (*body)(void *), void *arg)
{
	w->what = what;
	w->body = body;
	w->arg = arg;
	w->done_fd = d->done_fd;
	atomic_init(&w->done, false);
}

/* Start every thread: trainer and publisher first, so nothing queued waits for them. */
static int daemon_start(struct daemon *d)
{
	int r;
	if (d->zap) {
		worker_init(d, &d->zap_w, "ZAP handler", zap_body, d->zap);
		if ((r = worker_start(&d->zap_w)) < 0)
			return r;
	}
	worker_init(d, &d->trainer_w, "trainer", trainer_body, d->trainer);
	worker_init(d, &d->publisher_w, "publisher", publisher_body, d->publisher);
	if ((r = worker_start(&d->trainer_w)) < 0 || (r = worker_start(&d->publisher_w)) < 0)
		return r;
	if (d->control) {
		worker_init(d, &d->control_w, "control", control_body, d->control);
		if ((r = worker_start(&d->control_w)) < 0)
			return r;
	}
	for (unsigned i = 0; i < d->n_sources; i++) {
		struct source_slot *s = &d->sources[i];
		worker_init(d, &s->w, s->what, source_body, s);
		if ((r = worker_start(&s->w)) < 0)
			return r;
	}
	return 0;
}

/* The orderly stop (see the top of this file); safe on a partly started daemon. */
static void daemon_stop(struct daemon *d)
{
	if (d->ing)
		mb_ingest_stop(d->ing);
	for (unsigned i = 0; i < d->n_sources; i++)
		if (d->sources[i].w.started)
			d->sources[i].ops->wake(d->sources[i].src);
	for (unsigned i = 0; i < d->n_sources; i++)
		worker_join(&d->sources[i].w);
	if (d->trainer_w.started) {
		mb_trainer_finish(d->trainer);
		worker_join(&d->trainer_w);
	}
	if (d->publisher_w.started) {
		mb_publisher_stop(d->publisher);
		worker_join(&d->publisher_w);
	}
	if (d->control_w.started) {
		mb_control_stop(d->control);
		worker_join(&d->control_w);
	}
}

/* Close every socket, terminate the context, free the rest. */
static void daemon_free(struct daemon *d)
{
	/* First: the metrics thread reads every object freed below. */
	mb_metrics_free(d->metrics);
	for (unsigned i = 0; i < d->n_sources; i++)
		d->sources[i].ops->destroy(d->sources[i].src);
	mb_control_free(d->control);
	mb_reload_free(d->reload);
	mb_publisher_free(d->publisher);
	/* The ZAP thread closes its sockets when the context ends: after every CURVE socket is closed. */
	if (!d->zap_w.started)
		d->zap = mb_zap_free(d->zap);
	if (d->zctx)
		zmq_ctx_term(d->zctx);
	worker_join(&d->zap_w);
	mb_zap_free(d->zap);
	mb_zsock_curve_setup(&(struct mb_zsock_curve_cfg){.secret_key = NULL});
	mb_curve_setup_wipe(&d->curve);
	mb_trainer_free(d->trainer);
	mb_ckpt_setup_release(&d->ckpt);
	mb_handover_free(d->handover);
	mb_ingest_free(d->ing);
	if (d->rundir_temporary && rmdir(d->rundir) < 0)
		mb_log(LOG_WARNING, "cannot remove the runtime directory %s: %s", d->rundir, strerror(errno));
	if (d->done_fd >= 0)
		close(d->done_fd);
}

/* One STATUS= line for systemd, and the same at debug level in the log. */
static void report_status(struct daemon *d)
{
	const struct mb_trainer_stats *t = mb_trainer_stats(d->trainer);
	char line[256];
	snprintf(line, sizeof line, "%llu samples, %llu batches, cost %.4f, accuracy %.4f, %.0f samples/s%s",
		 (unsigned long long)atomic_load_explicit(&t->samples, memory_order_relaxed),
		 (unsigned long long)atomic_load_explicit(&t->batches, memory_order_relaxed),
		 atomic_load_explicit(&t->cost, memory_order_relaxed),
		 atomic_load_explicit(&t->accuracy, memory_order_relaxed),
		 atomic_load_explicit(&t->samples_per_s, memory_order_relaxed),
		 mb_ingest_paused(d->ing) ? " (paused)" : "");
	sd_notifyf(0, "STATUS=%s", line);
	mb_log(LOG_DEBUG, "status: %s", line);
}

/* True when every source is a finished file source (a finite run is over). */
static bool sources_finished(const struct daemon *d)
{
	for (unsigned i = 0; i < d->n_sources; i++)
		if (strcmp(d->cfg->sources[i].type, "file") != 0 ||
		    !atomic_load_explicit(&d->sources[i].w.done, memory_order_acquire))
			return false;
	return true;
}

/* A thread that ended on its own: 1 if the daemon must stop with an error. */
static int check_workers(struct daemon *d)
{
	struct worker *core[] = {&d->trainer_w, &d->publisher_w, &d->control_w, &d->zap_w};
	for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
		if (core[i]->started && atomic_load_explicit(&core[i]->done, memory_order_acquire)) {
			mb_log(LOG_ERR, "%s: stopped unexpectedly", core[i]->what);
			return 1;
		}
	}
	for (unsigned i = 0; i < d->n_sources; i++) {
		struct worker *w = &d->sources[i].w;
		if (atomic_load_explicit(&w->done, memory_order_acquire) && w->rc < 0)
			return 1;
	}
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for a signal, a thread's end or a finished run; return the exit status. */
static int daemon_loop(struct daemon *d, int sfd)
{
	uint64_t wd_usec = 0;
	bool watchdog = sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0;
	int64_t wd_every_ms = watchdog ? (int64_t)(wd_usec / 2000) : 0;
	if (watchdog && wd_every_ms < 1)
		wd_every_ms = 1;
	const struct mb_trainer_stats *ts = mb_trainer_stats(d->trainer);
	uint64_t last_beat = atomic_load_explicit(&ts->heartbeat, memory_order_relaxed);
	int64_t next_tick = mono_ms() + TICK_MS, next_wd = mono_ms();

	for (;;) {
		int64_t now = mono_ms();
		int64_t due = watchdog && next_wd < next_tick ? next_wd : next_tick;
		struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = d->done_fd, .events = POLLIN}};
		int n = poll(p, 2, due > now ? (int)(due - now) : 0);
		if (n < 0 && errno != EINTR) {
			mb_log(LOG_ERR, "poll: %s", strerror(errno));
			return 1;
		}
		if (n > 0 && (p[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGHUP) {
					struct mb_reload_changes ch;
					struct mb_cfg_err err;
					mb_log(LOG_NOTICE, "SIGHUP: reloading the configuration");
					mb_reload_run(d->reload, &ch, &err); /* logs its outcome */
					if (d->zap)
						mb_zap_reload(d->zap); /* the allowed client keys */
				} else {
					mb_log(LOG_NOTICE, "%s: stopping", strsignal((int)si.ssi_signo));
					return 0;
				}
			}
		}
		if (n > 0 && (p[1].revents & POLLIN)) {
			uint64_t v;
			ssize_t rd = read(d->done_fd, &v, sizeof v);
			(void)rd;
			if (check_workers(d))
				return 1;
			if (d->cfg->daemon.exit_when_idle && sources_finished(d)) {
				mb_log(LOG_NOTICE, "every source has finished: stopping");
				return 0;
			}
		}
		now = mono_ms();
		if (watchdog && now >= next_wd) {
			/* Progress or idle wake-ups both move the heartbeat; a wedged step does not. */
			uint64_t beat = atomic_load_explicit(&ts->heartbeat, memory_order_relaxed);
			if (beat != last_beat)
				sd_notify(0, "WATCHDOG=1");
			last_beat = beat;
			next_wd = now + wd_every_ms;
		}
		if (now >= next_tick) {
			report_status(d);
			next_tick = now + TICK_MS;
		}
	}
}

/* The main thread, where stray signals are sent on to. */
static pid_t main_tid;

/*
 * Runs only in a thread that does not block the signal: one a library
 * started before main() (OpenBLAS starts its workers from a constructor),
 * which the mask below never reached. Send the signal on to the main
 * thread, where it is blocked and so waits for the signalfd.
 */
static void forward_signal(int sig)
{
	int saved = errno;
	syscall(SYS_tgkill, getpid(), main_tid, sig);
	errno = saved;
}

/*
 * Block SIGTERM, SIGINT and SIGHUP before our threads exist, so they all
 * inherit the mask, and read them from a signalfd in the main loop. The
 * fd, or -1 with errno.
 */
static int signals_setup(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	main_tid = (pid_t)syscall(SYS_gettid);
	struct sigaction sa = {.sa_handler = forward_signal};
	sigfillset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&mask, sig))
			sigaction(sig, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	return signalfd(-1, &mask, SFD_CLOEXEC);
}

enum { OPT_CHECK = 256, OPT_HELP_CONFIG, OPT_NO_CONFIG };

/*
 * Parse the command line into args (its overrides array is malloc'd and
 * kept for reloads: the caller frees it); returns -1 to go on, else an
 * exit status.
 */
static int parse_args(int argc, char **argv, struct mb_config_args *args, bool *check_only)
{
	static const struct option longs[] = {
		{"config", required_argument, NULL, 'c'},
		{"no-config", no_argument, NULL, OPT_NO_CONFIG},
		{"check-config", no_argument, NULL, OPT_CHECK},
		{"help-config", no_argument, NULL, OPT_HELP_CONFIG},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0, 0, 0, 0},
	};
	const char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
	int opt;
	if (!overrides) {
		fprintf(stderr, "minibatchd: out of memory\n");
		return 1;
	}
	args->overrides = overrides;
	while ((opt = getopt_long(argc, argv, "c:o:hV", longs, NULL)) != -1) {
		switch (opt) {
		case 'c': args->file = optarg; break;
		case 'o': overrides[args->n_overrides++] = optarg; break;
		case OPT_NO_CONFIG: args->no_config = true; break;
		case OPT_CHECK: *check_only = true; break;
		case OPT_HELP_CONFIG: mb_config_help(stdout); return 0;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': {
			char blas[512];
			mb_blas_describe(blas, sizeof blas);
			printf("minibatchd %s\nBLAS: %s\n", MB_VERSION, blas);
			return 0;
		}
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "minibatchd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (args->file && args->no_config) {
		fprintf(stderr, "minibatchd: --config and --no-config exclude each other\n");
		return 2;
	}
	return -1;
}

/*
 * Parse the configuration, start everything, run until a signal (or the
 * end of a finite run), stop in order. Exit status 0 after an orderly stop,
 * 1 on a configuration or start-up error or a failed thread, 2 on bad usage.
 */
int main(int argc, char **argv)
{
	struct daemon d = {.done_fd = -1};
	struct mb_config_args args = {0};
	struct mb_cfg_err err = {""};
	bool check_only = false;
	int status;

	/* First: it may execute the daemon again, which nothing must see. */
	int blas_status = mb_blas_reexec(argv);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	d.start_time_s = (double)now.tv_sec + now.tv_nsec / 1e9;
	status = parse_args(argc, argv, &args, &check_only);
	if (status < 0 && mb_config_args_load(&args, &d.cfg, &err) < 0) {
		fprintf(stderr, "minibatchd: %s\n", err.text);
		status = 1;
	}
	char file_buf[PATH_MAX];
	const char *file = status < 0 ? mb_config_args_file(&args, file_buf, sizeof file_buf) : NULL;
	if (status < 0 && mb_curve_resolve(d.cfg, file, &d.curve, err.text, sizeof err.text) < 0) {
		fprintf(stderr, "minibatchd: %s\n", err.text);
		status = 1;
	}
	if (status >= 0 || check_only) {
		if (status < 0) {
			mb_config_print(d.cfg, stdout);
			status = 0;
		}
		mb_curve_setup_wipe(&d.curve);
		mb_config_free(d.cfg);
		free((void *)args.overrides);
		return status;
	}
	d.args = &args;
	status = 1;
	int level = LOG_INFO;
	mb_log_level_parse(d.cfg->log.level, &level);
	mb_log_set_level(level);
	mb_log(LOG_INFO, "configuration: %s%s", file ? file : "no file, the embedded defaults",
	       args.n_overrides ? " and -o overrides" : "");
	char blas[512];
	mb_blas_describe(blas, sizeof blas);
	mb_log(blas_status < 0 ? LOG_WARNING : LOG_INFO, "BLAS: %s", blas);

	int sfd = signals_setup();
	d.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sfd < 0 || d.done_fd < 0) {
		mb_log(LOG_ERR, "signalfd or eventfd: %s", strerror(errno));
		goto out_close;
	}
	if (runtime_dir_setup(&d) < 0)
		goto out_close;
	if (daemon_setup(&d) < 0 || daemon_start(&d) < 0) {
		daemon_stop(&d);
		goto out_daemon;
	}
	mb_log(LOG_INFO, "minibatchd %s ready: model %s, %u source%s, runtime directory %s", MB_VERSION, d.topic,
	       d.n_sources, d.n_sources == 1 ? "" : "s", d.rundir);
	sd_notify(0, "READY=1");
	report_status(&d);

	status = daemon_loop(&d, sfd);

	sd_notify(0, "STOPPING=1");
	daemon_stop(&d);
	const struct mb_trainer_stats *ts = mb_trainer_stats(d.trainer);
	mb_log(LOG_INFO, "stopped after %llu samples in %llu batches",
	       (unsigned long long)atomic_load_explicit(&ts->samples, memory_order_relaxed),
	       (unsigned long long)atomic_load_explicit(&ts->batches, memory_order_relaxed));
out_daemon:
	daemon_free(&d);
	d.done_fd = -1;
out_close:
	if (d.done_fd >= 0)
		close(d.done_fd);
	if (sfd >= 0)
		close(sfd);
	mb_config_free(d.cfg);
	free((void *)args.overrides);
	return status;
}
