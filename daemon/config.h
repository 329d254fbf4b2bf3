/* SPDX-License-Identifier: MIT */
/*
 * config.h - the daemon's configuration: embedded defaults, an INI file,
 * and -o overrides, all checked against one table of keys.
 *
 * Every key the daemon knows is one row of mb_cfg_keys[]: its section,
 * name, type, default, range and a line of help. The parser, the range
 * checks, --check-config's printout and the generated documentation all
 * read that table, so a new key is one new row (plus a field of struct
 * mb_config if the daemon core reads it).
 *
 * Names are dotted: "batch.size" is key size of section [batch];
 * "source.in.endpoint" is key endpoint of section [source.in]. A source
 * section declares one ingest source; its keys depend on its type (zmq or
 * file) and are handed to the source as a struct mb_source_cfg, which the
 * source reads through the mb_source_cfg_* getters below.
 *
 * Errors name where the value came from: "FILE:LINE: section.key: why",
 * or "-o #N: section.key: why" for the Nth override.
 */
#ifndef MB_DAEMON_CONFIG_H
#define MB_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "optim.h"
#include "source.h"

#define MB_CFG_NAME_BYTES   64u   /* a source name (the NAME of [source.NAME]), with its NUL */
#define MB_CFG_VALUE_BYTES  4096u /* one value, with its NUL */
#define MB_CFG_FILE_BYTES   (1u << 20) /* a whole configuration file */
#define MB_CFG_SOURCE_KEYS  32u   /* rows of the table that belong to source sections */
#define MB_CFG_ERR_BYTES    512u  /* an error sentence */
#define MB_CFG_MAX_FILES    8u    /* configuration files read into one configuration */

/* How a value is written and checked. */
enum mb_cfg_type {
	MB_CFG_BOOL = 1, /* true|false|yes|no|on|off|1|0 */
	MB_CFG_U32,      /* decimal unsigned, within [min, max] */
	MB_CFG_U64,      /* decimal unsigned, within [min, max] */
	MB_CFG_DOUBLE,   /* finite decimal number, within [min, max] */
	MB_CFG_STRING,   /* any text, possibly empty */
	MB_CFG_ENUM,     /* one of the words of choices */
	MB_CFG_LIST,     /* comma-separated text items, possibly none */
};

/* One known key. */
struct mb_cfg_key {
	const char *section;     /* "batch"; "source" for the keys of every [source.NAME] */
	const char *name;        /* "size" */
	const char *source_type; /* source keys: the type they belong to, NULL for every type */
	enum mb_cfg_type type;   /* how the value is parsed */
	const char *def;         /* default as a user would write it; NULL: no default (unset) */
	double min, max;         /* range of U32, U64 and DOUBLE values */
	const char *choices;     /* ENUM: the words allowed, '|'-separated */
	size_t offset;           /* non-source keys: where the parsed value lives in struct mb_config */
	const char *help;        /* one line for documentation and --help-config */
};

/* The table, in documentation order; mb_cfg_n_keys rows. */
extern const struct mb_cfg_key mb_cfg_keys[];
extern const size_t mb_cfg_n_keys;

/* Where a value came from, for error messages. */
struct mb_cfg_origin {
	const char *file; /* the configuration file, "-o", or NULL for the embedded default */
	unsigned line;    /* its line, or the override's ordinal */
};

/* The configuration of one ingest source: [source.NAME]. */
struct mb_source_cfg {
	char name[MB_CFG_NAME_BYTES];                   /* NAME */
	const char *type;                               /* "zmq" or "file" (type key) */
	unsigned index;                                 /* 0..MB_MAX_SOURCES-1: its feed and stats slot */
	const char *runtime_dir;                        /* where relative ipc:// paths live */
	struct mb_cfg_origin declared;                  /* where the section was first seen */
	unsigned n_set;                                 /* keys set explicitly */
	struct mb_source_kv {
		const char *key;                        /* the key's name (static: from the table) */
		char *value;                            /* its text, owned */
		struct mb_cfg_origin origin;            /* where it came from */
	} set[MB_CFG_SOURCE_KEYS];                      /* the explicit values, latest wins */
};

/* Everything the daemon core reads, parsed and range-checked. */
struct mb_config {
	struct {
		const char *runtime_dir; /* empty: automatic ($RUNTIME_DIRECTORY, /run, $XDG_RUNTIME_DIR, temp) */
		bool exit_when_idle;     /* end once every (finite) file source has finished */
		uint32_t threads;        /* OpenBLAS threads; 0 leaves the library's choice */
	} daemon;
	struct {
		const char *kind;        /* softmax|logistic|linear|mlp */
		const char *name;        /* snapshot topic; empty: the kind */
		uint32_t inputs;         /* features; 0: from the first valid sample */
		uint32_t outputs;        /* classes (softmax), targets (linear); logistic has 1 */
		const char *hidden;      /* mlp hidden widths, "128,64" */
		const char *activation;  /* mlp hidden activation: relu|tanh|sigmoid */
		const char *output;      /* mlp head: softmax|logistic|linear */
		uint64_t seed;           /* initialisation seed */
	} model;
	struct {
		const char *kind;        /* sgd|momentum|nesterov|adam|adagrad */
		double lr, momentum, beta1, beta2, eps, weight_decay, clip_norm; /* lib/optim.h */
		const char *schedule;    /* constant|invtime|invsqrt|step|cosine */
		double decay;            /* invtime, invsqrt */
		uint64_t step_every;     /* step */
		double gamma;            /* step */
		uint64_t cosine_steps;   /* cosine: T */
		double lr_min;           /* cosine */
	} optimizer;
	struct {
		uint32_t size;           /* rows per batch */
		uint32_t linger_ms;      /* a partial batch is trained after this long */
		uint32_t queue_batches;  /* batches per source pool: the memory bound */
		const char *policy;      /* block|drop-newest|drop-oldest */
	} batch;
	struct {
		const char *endpoint;    /* comma list of XPUB endpoints */
		uint32_t every_batches;  /* publish after this many batches (0: never by count) */
		uint32_t every_ms;       /* publish after this long with new batches (0: never by time) */
		uint32_t sndhwm;         /* snapshots queued per subscriber before dropping */
	} publish;
	struct {
		const char *endpoint;    /* the REP endpoint; empty: no control socket */
	} control;
	struct {
		uint32_t heartbeat_ms;         /* heartbeat interval on every connection; 0: none */
		uint32_t heartbeat_timeout_ms; /* silence (or an unfinished handshake) that drops a peer */
		uint32_t reconnect_ms;         /* first retry of a connecting source */
		uint32_t reconnect_max_ms;     /* cap of the doubling retry interval */
	} zmq;
	struct {
		const char *curve;       /* auto|on|off: CURVE on every tcp endpoint */
		const char *curve_dir;   /* key pair and clients/; empty: curve/ beside the configuration file */
		bool allow_plaintext_tcp; /* without CURVE, ingest and snapshots may listen beyond loopback */
	} security;
	struct {
		const char *level;       /* debug|info|notice|warning|err */
	} log;
	struct {
		const char *listen;      /* HOST:PORT of the HTTP endpoint; empty: none */
	} metrics;
	struct {
		const char *dir;         /* checkpoint directory; "" $STATE_DIRECTORY or none, "auto", "none" */
		uint32_t every_batches;  /* a checkpoint after this many batches (0: never by count) */
		uint32_t every_ms;       /* a checkpoint after this long with new batches (0: never by time) */
		uint32_t keep;           /* checkpoints kept */
		bool on_exit;            /* a checkpoint when the daemon stops */
	} checkpoint;
	struct {
		bool enabled;            /* roll back when the cost diverges */
		double factor;           /* a cost over this times its moving average diverges */
		uint32_t warmup;         /* sane batches before the factor applies */
		uint32_t every;          /* sane batches between copies of the good state */
		double lr_factor;        /* the learning rate is multiplied by this at each rollback */
	} guard;
	struct {
		uint32_t holdout_every;  /* every k-th sample scored and never learned; 0: none */
	} eval;
	unsigned n_sources;                          /* sources declared */
	struct mb_source_cfg sources[MB_MAX_SOURCES]; /* in order of first appearance */
	char *files[MB_CFG_MAX_FILES];               /* private: names origins point to, owned */
	char **value;                                /* private: text of every key, by table row */
	struct mb_cfg_origin *origin;                /* private: where each value came from, by table row */
};

/* An error sentence naming file:line and key. */
struct mb_cfg_err {
	char text[MB_CFG_ERR_BYTES]; /* empty when nothing failed */
};

/* A configuration holding the embedded defaults; -ENOMEM. */
int mb_config_new(struct mb_config **ret);

/* Free a configuration; NULL is fine. Returns NULL. */
struct mb_config *mb_config_free(struct mb_config *c);

/*
 * Read an INI file into c: "[section]" lines, "key = value" lines, '#' and
 * ';' comment lines, blank lines. Unknown sections and keys are errors.
 * 0, or -errno with *err naming file, line and key.
 */
int mb_config_load_file(struct mb_config *c, const char *path, struct mb_cfg_err *err);

/*
 * Set one dotted key ("batch.size", "source.in.endpoint") from text;
 * origin says where it came from. Later sets override earlier ones.
 * Values of source keys are checked by mb_config_finish, once the type is known.
 */
int mb_config_set(struct mb_config *c, const char *dotted, const char *value,
		  const struct mb_cfg_origin *origin, struct mb_cfg_err *err);

/*
 * Check everything (ranges, source types and their keys, cross-key rules),
 * add the default ingest source when none is declared, and fill the typed
 * fields. 0, or -EINVAL with *err.
 */
int mb_config_finish(struct mb_config *c, struct mb_cfg_err *err);

/*
 * The optimizer settings of [optimizer] (after finish) for lib/optim.h.
 * 0 and *ret, or -EINVAL when the kind or schedule is unknown to the
 * library; *ret untouched.
 */
int mb_config_optim_cfg(const struct mb_config *c, struct mb_optim_cfg *ret);

/* Write the effective configuration as an INI file (after finish). */
void mb_config_print(const struct mb_config *c, FILE *f);

/* Write every key with its type, default, range and help (documentation). */
void mb_config_help(FILE *f);

/*
 * The value of key in a source section: the explicit one, else the
 * table's default for the source's type; NULL if the key has neither or
 * is not a key of this type.
 */
const char *mb_source_cfg_get(const struct mb_source_cfg *c, const char *key);

/*
 * Typed getters. 0 and *ret set, or -EINVAL with *why a sentence naming
 * the source, key and where the value came from (valid until the next
 * getter call on this thread), *ret untouched. Ranges were checked
 * already by mb_config_finish; these only convert.
 */
int mb_source_cfg_bool(const struct mb_source_cfg *c, const char *key, bool *ret, const char **why);
int mb_source_cfg_u32(const struct mb_source_cfg *c, const char *key, uint32_t *ret, const char **why);
int mb_source_cfg_u64(const struct mb_source_cfg *c, const char *key, uint64_t *ret, const char **why);
int mb_source_cfg_double(const struct mb_source_cfg *c, const char *key, double *ret, const char **why);

/* The position of the value among choices ("a|b|c"), for ENUM keys. */
int mb_source_cfg_enum(const struct mb_source_cfg *c, const char *key, const char *choices, int *ret,
		       const char **why);

/*
 * Split a comma list (surrounding blanks trimmed, empty items skipped)
 * into a NULL-terminated array the caller frees with mb_cfg_list_free;
 * *ret_n gets the item count. -ENOMEM.
 */
int mb_cfg_list_split(const char *list, char ***ret, size_t *ret_n);
char **mb_cfg_list_free(char **items);

/* Where a source key's value came from, "FILE:LINE" or "-o #N" or "default", in buf. */
const char *mb_source_cfg_where(const struct mb_source_cfg *c, const char *key, char *buf, size_t cap);

/*
 * Resolve an endpoint for binding or connecting: ipc:// paths that are not
 * absolute are taken relative to runtime_dir. Writes into buf; -ENAMETOOLONG.
 */
int mb_cfg_endpoint_resolve(const char *endpoint, const char *runtime_dir, char *buf, size_t cap);

#endif /* MB_DAEMON_CONFIG_H */
