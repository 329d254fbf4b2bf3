/* SPDX-License-Identifier: MIT */
/*
 * reload.c - compare a new configuration with the running one and apply
 * the live part of the difference.
 *
 * The running configuration object is never modified: sources and the
 * control thread keep pointers into it. The reloader keeps the latest
 * configuration it applied beside it, and compares the next reload with
 * that one, so "changed" always means changed since the last reload.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"
#include "reload.h"

/* The keys a reload applies while the daemon runs; every other key needs a restart. */
static const char *const live_keys[] = {
	"optimizer.lr", "optimizer.momentum", "optimizer.beta1", "optimizer.beta2", "optimizer.eps",
	"optimizer.weight_decay", "optimizer.clip_norm", "optimizer.schedule", "optimizer.decay",
	"optimizer.step_every", "optimizer.gamma", "optimizer.cosine_steps", "optimizer.lr_min",
	"publish.every_batches", "publish.every_ms", "log.level",
};

struct mb_reload {
	struct mb_reload_cfg cfg;      /* as given */
	pthread_mutex_t lock;          /* one reload at a time: SIGHUP and control may race */
	struct mb_config *applied;     /* the configuration of the last reload applied; NULL: the running one */
	struct mb_reload_stats stats;  /* outcomes */
};

static bool is_live(const char *dotted)
{
	for (size_t i = 0; i < sizeof live_keys / sizeof live_keys[0]; i++)
		if (strcmp(live_keys[i], dotted) == 0)
			return true;
	return false;
}

static bool text_bool(const char *s)
{
	return strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0 ||
	       strcmp(s, "1") == 0;
}

/* True when two comma lists hold the same items (blanks around items and empty items do not count). */
static bool same_list(const char *a, const char *b)
{
	char **ia = NULL, **ib = NULL;
	size_t na = 0, nb = 0;
	bool same = false;
	if (mb_cfg_list_split(a, &ia, &na) == 0 && mb_cfg_list_split(b, &ib, &nb) == 0 && na == nb) {
		same = true;
		for (size_t i = 0; same && i < na; i++)
			same = strcmp(ia[i], ib[i]) == 0;
	}
	mb_cfg_list_free(ia);
	mb_cfg_list_free(ib);
	return same;
}

/*
 * True when two valid texts of key k mean the same value, so "yes" after
 * "true" or "0.050" after "0.05" is no change (and no reason to refuse).
 */
static bool same_value(const struct mb_cfg_key *k, const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	switch (k->type) {
	case MB_CFG_BOOL:
		return text_bool(a) == text_bool(b);
	case MB_CFG_U32:
	case MB_CFG_U64:
		return strtoull(a, NULL, 10) == strtoull(b, NULL, 10);
	case MB_CFG_DOUBLE:
		return strtod(a, NULL) == strtod(b, NULL);
	case MB_CFG_LIST:
		return same_list(a, b);
	case MB_CFG_STRING:
	case MB_CFG_ENUM:
		break;
	}
	return strcmp(a, b) == 0;
}

static int refuse(struct mb_cfg_err *err, const struct mb_cfg_origin *o, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Fill *err with "ORIGIN: KEY: sentence" (the format of config errors) and return -EPERM. */
static int refuse(struct mb_cfg_err *err, const struct mb_cfg_origin *o, const char *key, const char *fmt, ...)
{
	char where[MB_CFG_ERR_BYTES / 2], why[MB_CFG_ERR_BYTES / 2];
	if (!o || !o->file)
		snprintf(where, sizeof where, "default");
	else if (strcmp(o->file, "-o") == 0)
		snprintf(where, sizeof where, "-o #%u", o->line);
	else
		snprintf(where, sizeof where, "%s:%u", o->file, o->line);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	/* A cut sentence still names where and which key, which is what matters. */
	if (err && snprintf(err->text, sizeof err->text, "%s: %s: %s", where, key, why) >= (int)sizeof err->text)
		err->text[sizeof err->text - 1] = '\0';
	return -EPERM;
}

static const char restart[] = "cannot change while the daemon runs (restart it to apply)";

/* Refuse a change of source key (for the error: where its new value came from). */
static int refuse_source_key(struct mb_cfg_err *err, const struct mb_source_cfg *s, const char *name)
{
	char where[MB_CFG_ERR_BYTES / 2];
	if (err && snprintf(err->text, sizeof err->text, "%s: source.%s.%s: %s",
			    mb_source_cfg_where(s, name, where, sizeof where), s->name, name,
			    restart) >= (int)sizeof err->text)
		err->text[sizeof err->text - 1] = '\0';
	return -EPERM;
}

/* Sources cannot change at all: the same names in the same order, the same values. */
static int diff_sources(const struct mb_config *old, const struct mb_config *next, struct mb_cfg_err *err)
{
	for (unsigned i = 0; i < old->n_sources || i < next->n_sources; i++) {
		const struct mb_source_cfg *a = i < old->n_sources ? &old->sources[i] : NULL;
		const struct mb_source_cfg *b = i < next->n_sources ? &next->sources[i] : NULL;
		if (!a || !b || strcmp(a->name, b->name) != 0) {
			char key[MB_RELOAD_KEY_BYTES];
			snprintf(key, sizeof key, "source.%s", b ? b->name : a->name);
			return refuse(err, b ? &b->declared : NULL, key,
				      "sources cannot be added, removed or reordered while the daemon runs "
				      "(restart it to apply)");
		}
		if (strcmp(a->type, b->type) != 0)
			return refuse_source_key(err, b, "type");
		for (size_t r = 0; r < mb_cfg_n_keys; r++) {
			const struct mb_cfg_key *k = &mb_cfg_keys[r];
			if (strcmp(k->section, "source") != 0 || (k->source_type && strcmp(k->source_type, b->type)))
				continue;
			if (!same_value(k, mb_source_cfg_get(a, k->name), mb_source_cfg_get(b, k->name)))
				return refuse_source_key(err, b, k->name);
		}
	}
	return 0;
}

/* Compare two finished configurations (see reload.h). */
int mb_reload_diff(const struct mb_config *old, const struct mb_config *next, struct mb_reload_changes *ret,
		   struct mb_cfg_err *err)
{
	struct mb_reload_changes ch = {.n = 0};
	char key[MB_RELOAD_KEY_BYTES];
	for (size_t r = 0; r < mb_cfg_n_keys; r++) {
		const struct mb_cfg_key *k = &mb_cfg_keys[r];
		if (strcmp(k->section, "source") == 0 || same_value(k, old->value[r], next->value[r]))
			continue;
		snprintf(key, sizeof key, "%s.%s", k->section, k->name);
		if (!is_live(key))
			return refuse(err, &next->origin[r], key, "%s", restart);
		if (ch.n < MB_RELOAD_MAX_CHANGED)
			snprintf(ch.keys[ch.n++], MB_RELOAD_KEY_BYTES, "%s", key);
	}
	int e = diff_sources(old, next, err);
	if (e < 0)
		return e;
	*ret = ch;
	return 0;
}

/* Create the reloader (see reload.h). */
int mb_reload_new(const struct mb_reload_cfg *cfg, struct mb_reload **ret)
{
	struct mb_reload *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	int e = pthread_mutex_init(&r->lock, NULL);
	if (e) {
		free(r);
		return -e;
	}
	*ret = r;
	return 0;
}

/* Free the reloader and the last configuration it applied. */
struct mb_reload *mb_reload_free(struct mb_reload *r)
{
	if (!r)
		return NULL;
	mb_config_free(r->applied);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

/* The changed keys as one comma-separated line for the log. */
static void changes_text(const struct mb_reload_changes *ch, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < ch->n && len < cap; i++) {
		int n = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", ch->keys[i]);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

static bool changed(const struct mb_reload_changes *ch, const char *prefix)
{
	for (unsigned i = 0; i < ch->n; i++)
		if (strncmp(ch->keys[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/* Hand the trainer its part of next, if any of it changed; 0 or -errno with *err. */
static int apply_trainer(struct mb_reload *r, const struct mb_config *next, const struct mb_reload_changes *ch,
			 struct mb_cfg_err *err)
{
	if (!changed(ch, "optimizer.") && !changed(ch, "publish."))
		return 0;
	struct mb_trainer_live live = {
		.publish_every_batches = next->publish.every_batches,
		.publish_every_ms = next->publish.every_ms,
	};
	int e = mb_config_optim_cfg(next, &live.optim);
	if (e == 0)
		e = mb_trainer_reconfigure(r->cfg.trainer, &live, MB_RELOAD_TIMEOUT_MS);
	if (e == -EINVAL)
		snprintf(err->text, sizeof err->text,
			 "optimizer: the optimizer refuses these settings taken together (as gamma = 0 for "
			 "schedule = step)");
	else if (e < 0)
		snprintf(err->text, sizeof err->text, "optimizer: the trainer did not take the new settings: %s",
			 strerror(-e));
	return e;
}

/* Read, compare and apply, with the lock held. */
static int reload_locked(struct mb_reload *r, struct mb_reload_changes *ret, struct mb_cfg_err *err)
{
	struct mb_config *next = NULL;
	struct mb_reload_changes ch;
	const struct mb_config *current = r->applied ? r->applied : r->cfg.running;
	int e = mb_config_args_load(r->cfg.args, &next, err);
	if (e < 0)
		return e;
	if ((e = mb_reload_diff(current, next, &ch, err)) < 0 || (e = apply_trainer(r, next, &ch, err)) < 0)
		goto out_free;
	int level;
	if (changed(&ch, "log.level") && mb_log_level_parse(next->log.level, &level) == 0)
		mb_log_set_level(level);
	mb_config_free(r->applied);
	r->applied = next;
	*ret = ch;
	return 0;
out_free:
	mb_config_free(next);
	return e;
}

static uint64_t mono_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Reload now (see reload.h). */
int mb_reload_run(struct mb_reload *r, struct mb_reload_changes *ret, struct mb_cfg_err *err)
{
	pthread_mutex_lock(&r->lock);
	/* MONOTONIC_USEC is what newer systemd (Type=notify-reload) wants beside RELOADING=1; older ones ignore it. */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)mono_usec());
	struct mb_reload_changes ch = {.n = 0};
	err->text[0] = '\0';
	int e = reload_locked(r, &ch, err);
	if (e < 0) {
		atomic_fetch_add_explicit(&r->stats.refused, 1, memory_order_relaxed);
		mb_log(LOG_ERR, "reload refused, the running configuration is unchanged: %s", err->text);
		sd_notifyf(0, "READY=1\nSTATUS=reload refused: %s", err->text);
	} else {
		char keys[1024];
		changes_text(&ch, keys, sizeof keys);
		atomic_fetch_add_explicit(&r->stats.applied, 1, memory_order_relaxed);
		if (ch.n)
			mb_log(LOG_NOTICE, "reload applied: %s", keys);
		else
			mb_log(LOG_NOTICE, "reload applied: nothing changed");
		sd_notify(0, "READY=1");
		*ret = ch;
	}
	pthread_mutex_unlock(&r->lock);
	return e;
}

/* The outcome counters. */
const struct mb_reload_stats *mb_reload_stats(const struct mb_reload *r)
{
	return &r->stats;
}
