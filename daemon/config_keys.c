/* SPDX-License-Identifier: MIT */
/*
 * config_keys.c - the table of every configuration key.
 *
 * The one place a key is declared: config.c parses and checks against it,
 * --check-config prints from it and --help-config documents it. Keep the
 * rows in documentation order, grouped by section.
 */
#include <stddef.h>

#include "config.h"
#include "mb_proto.h"

#define OFF(field) offsetof(struct mb_config, field)
#define U32_MAX_D 4294967295.0
#define U64_MAX_D 18446744073709551615.0

const struct mb_cfg_key mb_cfg_keys[] = {
	/* [daemon] */
	{"daemon", "runtime_dir", NULL, MB_CFG_STRING, "", 0, 0, NULL, OFF(daemon.runtime_dir),
	 "directory of relative ipc:// endpoints; empty: $RUNTIME_DIRECTORY, /run/minibatchd (root), "
	 "$XDG_RUNTIME_DIR/minibatchd, else a new temporary directory"},
	{"daemon", "exit_when_idle", NULL, MB_CFG_BOOL, "false", 0, 0, NULL, OFF(daemon.exit_when_idle),
	 "stop once every source is a file source and all of them have finished"},
	{"daemon", "threads", NULL, MB_CFG_U32, "0", 0, 256, NULL, OFF(daemon.threads),
	 "OpenBLAS threads; 0 keeps the library's choice (OPENBLAS_NUM_THREADS)"},

	/* [model] */
	{"model", "kind", NULL, MB_CFG_ENUM, "softmax", 0, 0, "softmax|logistic|linear|mlp", OFF(model.kind),
	 "model family"},
	{"model", "name", NULL, MB_CFG_STRING, "", 0, 0, NULL, OFF(model.name),
	 "snapshot topic; empty: the kind"},
	{"model", "inputs", NULL, MB_CFG_U32, "0", 0, MB_MAX_FEATURES, NULL, OFF(model.inputs),
	 "features per sample; 0: from the first valid sample"},
	{"model", "outputs", NULL, MB_CFG_U32, "10", 1, MB_MAX_CLASSES, NULL, OFF(model.outputs),
	 "classes (softmax) or target values (linear); logistic has one"},
	{"model", "hidden", NULL, MB_CFG_LIST, "128", 0, 0, NULL, OFF(model.hidden),
	 "mlp: widths of the hidden layers, e.g. 128,64"},
	{"model", "activation", NULL, MB_CFG_ENUM, "relu", 0, 0, "relu|tanh|sigmoid", OFF(model.activation),
	 "mlp: activation of the hidden layers"},
	{"model", "output", NULL, MB_CFG_ENUM, "softmax", 0, 0, "softmax|logistic|linear", OFF(model.output),
	 "mlp: the output head"},
	{"model", "seed", NULL, MB_CFG_U64, "1", 0, U64_MAX_D, NULL, OFF(model.seed),
	 "seed of the initial weights"},

	/* [optimizer] */
	{"optimizer", "kind", NULL, MB_CFG_ENUM, "adagrad", 0, 0, "sgd|momentum|nesterov|adam|adagrad",
	 OFF(optimizer.kind), "update rule"},
	{"optimizer", "lr", NULL, MB_CFG_DOUBLE, "0.05", 1e-12, 1e3, NULL, OFF(optimizer.lr),
	 "base learning rate"},
	{"optimizer", "momentum", NULL, MB_CFG_DOUBLE, "0.9", 0, 0.999999, NULL, OFF(optimizer.momentum),
	 "momentum and nesterov: velocity decay"},
	{"optimizer", "beta1", NULL, MB_CFG_DOUBLE, "0.9", 0, 0.999999, NULL, OFF(optimizer.beta1),
	 "adam: first moment decay"},
	{"optimizer", "beta2", NULL, MB_CFG_DOUBLE, "0.999", 0, 0.999999999, NULL, OFF(optimizer.beta2),
	 "adam: second moment decay"},
	{"optimizer", "eps", NULL, MB_CFG_DOUBLE, "1e-8", 1e-30, 1, NULL, OFF(optimizer.eps),
	 "adam and adagrad: denominator guard"},
	{"optimizer", "weight_decay", NULL, MB_CFG_DOUBLE, "0", 0, 1, NULL, OFF(optimizer.weight_decay),
	 "L2 coefficient; 0 for none"},
	{"optimizer", "clip_norm", NULL, MB_CFG_DOUBLE, "0", 0, 1e9, NULL, OFF(optimizer.clip_norm),
	 "clip the gradient's L2 norm to this; 0 for none"},
	{"optimizer", "schedule", NULL, MB_CFG_ENUM, "constant", 0, 0, "constant|invtime|invsqrt|step|cosine",
	 OFF(optimizer.schedule), "learning-rate schedule"},
	{"optimizer", "decay", NULL, MB_CFG_DOUBLE, "0", 0, 1e6, NULL, OFF(optimizer.decay),
	 "invtime and invsqrt: decay per step"},
	{"optimizer", "step_every", NULL, MB_CFG_U64, "1000", 1, U64_MAX_D, NULL, OFF(optimizer.step_every),
	 "step: steps between learning-rate drops"},
	{"optimizer", "gamma", NULL, MB_CFG_DOUBLE, "0.5", 0, 1, NULL, OFF(optimizer.gamma),
	 "step: factor of each drop"},
	{"optimizer", "cosine_steps", NULL, MB_CFG_U64, "10000", 1, U64_MAX_D, NULL, OFF(optimizer.cosine_steps),
	 "cosine: steps to reach lr_min"},
	{"optimizer", "lr_min", NULL, MB_CFG_DOUBLE, "0", 0, 1e3, NULL, OFF(optimizer.lr_min),
	 "cosine: final learning rate"},

	/* [batch] */
	{"batch", "size", NULL, MB_CFG_U32, "64", 1, 65536, NULL, OFF(batch.size),
	 "rows per mini-batch"},
	{"batch", "linger_ms", NULL, MB_CFG_U32, "20", 0, 3600000, NULL, OFF(batch.linger_ms),
	 "train a partial batch once its first row is this old"},
	{"batch", "queue_batches", NULL, MB_CFG_U32, "8", 2, 4096, NULL, OFF(batch.queue_batches),
	 "batches in each source's pool: the memory bound of ingest"},
	{"batch", "policy", NULL, MB_CFG_ENUM, "block", 0, 0, "block|drop-newest|drop-oldest", OFF(batch.policy),
	 "stream sources when the pool is exhausted: wait (senders feel the high-water mark) or drop"},

	/* [publish] */
	{"publish", "endpoint", NULL, MB_CFG_LIST, "ipc://snapshots,tcp://127.0.0.1:7711", 0, 0, NULL,
	 OFF(publish.endpoint), "XPUB endpoints snapshots are published on (comma list; may be empty)"},
	{"publish", "every_batches", NULL, MB_CFG_U32, "100", 0, U32_MAX_D, NULL, OFF(publish.every_batches),
	 "publish after this many batches; 0: not by count"},
	{"publish", "every_ms", NULL, MB_CFG_U32, "1000", 0, U32_MAX_D, NULL, OFF(publish.every_ms),
	 "publish after this many milliseconds if the model changed; 0: not by time"},
	{"publish", "sndhwm", NULL, MB_CFG_U32, "16", 1, 1000000, NULL, OFF(publish.sndhwm),
	 "snapshots queued per subscriber; a slow subscriber loses the excess"},

	/* [control] */
	{"control", "endpoint", NULL, MB_CFG_STRING, "ipc://control", 0, 0, NULL, OFF(control.endpoint),
	 "REP endpoint of the control socket; empty: none"},

	/* [zmq] */
	{"zmq", "heartbeat_ms", NULL, MB_CFG_U32, "1000", 0, 3600000, NULL, OFF(zmq.heartbeat_ms),
	 "every ZeroMQ connection (ingest, snapshots, control) sends a heartbeat this often; 0: none"},
	{"zmq", "heartbeat_timeout_ms", NULL, MB_CFG_U32, "3000", 100, 3600000, NULL, OFF(zmq.heartbeat_timeout_ms),
	 "a peer that answers no heartbeat for this long, or has not finished its handshake by then, is "
	 "disconnected"},
	{"zmq", "reconnect_ms", NULL, MB_CFG_U32, "100", 1, 3600000, NULL, OFF(zmq.reconnect_ms),
	 "a source with bind = false retries a lost or refused connection after this long"},
	{"zmq", "reconnect_max_ms", NULL, MB_CFG_U32, "5000", 0, 3600000, NULL, OFF(zmq.reconnect_max_ms),
	 "the retry interval doubles up to this; 0 or less than reconnect_ms: no back-off"},

	/* [security] */
	{"security", "curve", NULL, MB_CFG_ENUM, "auto", 0, 0, "auto|on|off", OFF(security.curve),
	 "CURVE encryption and authentication on every tcp:// endpoint (ingest, snapshots, control); auto: on "
	 "when curve_dir holds server.key. ipc:// endpoints stay plain: their file mode guards them"},
	{"security", "curve_dir", NULL, MB_CFG_STRING, "", 0, 0, NULL, OFF(security.curve_dir),
	 "directory of the daemon's key pair (server.key, secret, and server.pub) and of clients/, one NAME.pub "
	 "per client allowed in (re-read on SIGHUP); empty: curve/ beside the configuration file, or "
	 "/etc/minibatchd/curve without one; a relative path starts there too"},
	{"security", "allow_plaintext_tcp", NULL, MB_CFG_BOOL, "false", 0, 0, NULL,
	 OFF(security.allow_plaintext_tcp),
	 "without CURVE, allow ingest and snapshot endpoints on addresses other than loopback (the control "
	 "endpoint never is)"},

	/* [log] */
	{"log", "level", NULL, MB_CFG_ENUM, "info", 0, 0, "debug|info|notice|warning|err", OFF(log.level),
	 "lowest priority logged"},

	/* [metrics] */
	{"metrics", "listen", NULL, MB_CFG_STRING, "127.0.0.1:7712", 0, 0, NULL, OFF(metrics.listen),
	 "HOST:PORT of the OpenMetrics endpoint http://HOST:PORT/metrics (IPv6 in brackets; port 0: any free "
	 "one); empty: none. Anything but loopback exposes the figures to the network"},

	/* [checkpoint] */
	{"checkpoint", "dir", NULL, MB_CFG_STRING, "", 0, 0, NULL, OFF(checkpoint.dir),
	 "directory of the checkpoints (created if missing); empty: $STATE_DIRECTORY (systemd's "
	 "StateDirectory=) if set, else no checkpoints; auto: $STATE_DIRECTORY, /var/lib/minibatchd (root), "
	 "$XDG_STATE_HOME/minibatchd or ~/.local/state/minibatchd; none: no checkpoints. At start the daemon "
	 "continues from the newest valid checkpoint there"},
	{"checkpoint", "every_batches", NULL, MB_CFG_U32, "0", 0, U32_MAX_D, NULL, OFF(checkpoint.every_batches),
	 "write a checkpoint after this many batches; 0: not by count"},
	{"checkpoint", "every_ms", NULL, MB_CFG_U32, "60000", 0, U32_MAX_D, NULL, OFF(checkpoint.every_ms),
	 "write a checkpoint after this many milliseconds if the model changed; 0: not by time"},
	{"checkpoint", "keep", NULL, MB_CFG_U32, "3", 1, 1000, NULL, OFF(checkpoint.keep),
	 "checkpoints kept; older ones are deleted once a new one is safely on disk"},
	{"checkpoint", "on_exit", NULL, MB_CFG_BOOL, "true", 0, 0, NULL, OFF(checkpoint.on_exit),
	 "write a checkpoint when the daemon stops, after training every queued batch"},

	/* [guard] */
	{"guard", "enabled", NULL, MB_CFG_BOOL, "true", 0, 0, NULL, OFF(guard.enabled),
	 "roll back to the last good parameters and optimizer state when the progressive cost is not "
	 "finite or leaps above factor times its moving average, and lower the learning rate"},
	{"guard", "factor", NULL, MB_CFG_DOUBLE, "10", 1.000001, 1e12, NULL, OFF(guard.factor),
	 "a batch whose cost is over this many times the moving average of the costs diverged"},
	{"guard", "warmup", NULL, MB_CFG_U32, "50", 0, U32_MAX_D, NULL, OFF(guard.warmup),
	 "batches before the factor test applies (a non-finite cost counts at once)"},
	{"guard", "every", NULL, MB_CFG_U32, "100", 1, U32_MAX_D, NULL, OFF(guard.every),
	 "batches with a sane cost between two copies of the good state"},
	{"guard", "lr_factor", NULL, MB_CFG_DOUBLE, "0.5", 1e-6, 1, NULL, OFF(guard.lr_factor),
	 "the learning rate is multiplied by this at a rollback, once per burst of diverging batches"},

	/* [eval] */
	{"eval", "holdout_every", NULL, MB_CFG_U32, "0", 0, 1000000, NULL, OFF(eval.holdout_every),
	 "keep every k-th sample out of training and score it (k >= 2); 0: no holdout"},

	/* [source.NAME], every type */
	{"source", "type", NULL, MB_CFG_ENUM, NULL, 0, 0, "zmq|file", 0,
	 "source family (required)"},
	{"source", "targets", NULL, MB_CFG_U32, "1", 0, MB_MAX_TARGETS, NULL, 0,
	 "target columns of text samples (binary samples carry their own count)"},

	/* [source.NAME] with type = zmq */
	{"source", "endpoint", "zmq", MB_CFG_LIST, NULL, 0, 0, NULL, 0,
	 "endpoints, comma list (required); relative ipc:// paths live in the runtime directory"},
	{"source", "bind", "zmq", MB_CFG_BOOL, "true", 0, 0, NULL, 0,
	 "bind the endpoints (true) or connect to them (false)"},
	{"source", "pattern", "zmq", MB_CFG_ENUM, "pull", 0, 0, "pull|sub", 0,
	 "socket type; a SUB message's first frame is its topic, its last the sample"},
	{"source", "topics", "zmq", MB_CFG_LIST, "", 0, 0, NULL, 0,
	 "sub: topic prefixes subscribed to (comma list); empty: every topic"},
	{"source", "rcvhwm", "zmq", MB_CFG_U32, "1000", 0, 10000000, NULL, 0,
	 "messages ZeroMQ queues before senders are held back (0: no limit)"},
	{"source", "maxmsgsize", "zmq", MB_CFG_U64, "67108864", 1, MB_MAX_MSG_BYTES, NULL, 0,
	 "largest message accepted; larger ones are refused by ZeroMQ"},
	{"source", "format", "zmq", MB_CFG_ENUM, "auto", 0, 0, "auto|binary|csv|libsvm", 0,
	 "sample format; auto: binary when the message starts with MBSM, else text"},

	/* [source.NAME] with type = file */
	{"source", "path", "file", MB_CFG_LIST, NULL, 0, 0, NULL, 0,
	 "files to read, comma list, globs allowed (required)"},
	{"source", "labels", "file", MB_CFG_STRING, "", 0, 0, NULL, 0,
	 "idx: the labels file of the images in path"},
	{"source", "format", "file", MB_CFG_ENUM, "auto", 0, 0, "auto|binary|csv|libsvm|idx", 0,
	 "sample format; auto: from the content"},
	{"source", "epochs", "file", MB_CFG_U32, "1", 0, U32_MAX_D, NULL, 0,
	 "passes over the files; 0: forever"},
	{"source", "shuffle", "file", MB_CFG_BOOL, "false", 0, 0, NULL, 0,
	 "shuffle the samples of each pass"},
	{"source", "follow", "file", MB_CFG_BOOL, "false", 0, 0, NULL, 0,
	 "keep reading as the files grow"},
	{"source", "queue_depth", "file", MB_CFG_U32, "8", 1, 4096, NULL, 0,
	 "io_uring reads in flight"},
	{"source", "block_kib", "file", MB_CFG_U32, "256", 4, 65536, NULL, 0,
	 "size of one read in KiB"},
	{"source", "sqpoll", "file", MB_CFG_BOOL, "false", 0, 0, NULL, 0,
	 "let a kernel thread poll the submission queue"},
	{"source", "seed", "file", MB_CFG_U64, "1", 0, U64_MAX_D, NULL, 0,
	 "seed of the shuffle"},
};

const size_t mb_cfg_n_keys = sizeof mb_cfg_keys / sizeof mb_cfg_keys[0];
