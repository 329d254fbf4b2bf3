/* SPDX-License-Identifier: MIT */
/* checkpoint_setup.c - the checkpoint directory, and the restore at start. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_setup.h"
#include "log.h"

/* The first directory of $STATE_DIRECTORY (systemd may list several, ':'-separated), or false. */
static bool state_directory(char *buf, size_t cap)
{
	const char *env = getenv("STATE_DIRECTORY");
	if (!env || !*env)
		return false;
	snprintf(buf, cap, "%.*s", (int)strcspn(env, ":"), env);
	return true;
}

/* "auto" without $STATE_DIRECTORY: the system's or the user's state directory. */
static void fallback_directory(char *buf, size_t cap)
{
	const char *env;
	char base[PATH_MAX];
	if (geteuid() == 0) {
		snprintf(buf, cap, "/var/lib/minibatchd");
		return;
	}
	if ((env = getenv("XDG_STATE_HOME")) && *env == '/') {
		snprintf(base, sizeof base, "%s", env);
	} else if ((env = getenv("HOME")) && *env) {
		/* The XDG default; its parents may not exist yet on a fresh account. */
		char local[PATH_MAX];
		snprintf(local, sizeof local, "%s/.local", env);
		mkdir(local, 0700);
		snprintf(base, sizeof base, "%s/.local/state", env);
		mkdir(base, 0700);
	} else {
		buf[0] = '\0';
		return;
	}
	if (snprintf(buf, cap, "%s/minibatchd", base) >= (int)cap)
		buf[0] = '\0'; /* too long to be a path */
}

/* The configuration as INI text, for the CONFIG section. NULL on failure (the section is left out). */
static char *config_text(const struct mb_config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	mb_config_print(c, f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Choose the directory and open the store (see checkpoint_setup.h). */
int mb_ckpt_setup_open(struct mb_ckpt_setup *cs, const struct mb_config *c)
{
	const char *dir = c->checkpoint.dir;
	bool named = *dir && strcmp(dir, "auto") != 0 && strcmp(dir, "none") != 0;

	cs->store = NULL;
	cs->dir[0] = '\0';
	if (strcmp(dir, "none") == 0)
		return 0;
	if (named)
		snprintf(cs->dir, sizeof cs->dir, "%s", dir);
	else if (!state_directory(cs->dir, sizeof cs->dir) && strcmp(dir, "auto") == 0)
		fallback_directory(cs->dir, sizeof cs->dir);
	if (!cs->dir[0]) {
		mb_log(LOG_INFO, "checkpoints: off (set checkpoint.dir, or run under systemd with StateDirectory=)");
		return 0;
	}

	struct mb_ckpt_store_cfg sc = {.dir = cs->dir, .keep = c->checkpoint.keep};
	int r = mb_ckpt_store_open(&sc, &cs->store);
	if (r < 0) {
		mb_log(named ? LOG_ERR : LOG_WARNING, "checkpoint.dir %s: %s%s", cs->dir, strerror(-r),
		       named ? "" : ": running without checkpoints");
		cs->dir[0] = '\0';
		return named ? r : 0;
	}
	cs->config_text = config_text(c);
	mb_log(LOG_INFO, "checkpoints: in %s, keeping %u", cs->dir, c->checkpoint.keep);
	return 0;
}

/* What choosing a checkpoint needs. */
struct choose_ctx {
	const char *dir;          /* the checkpoint directory, for log lines */
	struct mb_ckpt_state *st; /* where the one taken is decoded into */
};

/* Decode while choosing, so one whose sections do not decode is passed over like a damaged one. */
static int accept_cb(void *ctx, const struct mb_ckpt_file *f, struct mb_diag *diag)
{
	return mb_ckpt_state_decode(&f->ck, ((struct choose_ctx *)ctx)->st, diag);
}

static void skip_cb(void *ctx, const char *name, int err, const struct mb_diag *diag)
{
	const struct choose_ctx *sc = ctx;
	if (diag && diag->reason)
		mb_log(LOG_WARNING, "checkpoint %s/%s is damaged (%s: %s): trying the one before it", sc->dir, name,
		       mb_reason_name(diag->reason), diag->text);
	else
		mb_log(LOG_WARNING, "checkpoint %s/%s cannot be read (%s): trying the one before it", sc->dir, name,
		       strerror(-err));
}

/* The newest good checkpoint into the trainer and the sources (see checkpoint_setup.h). */
int mb_ckpt_setup_restore(struct mb_ckpt_setup *cs, struct mb_trainer *t)
{
	if (!cs->store)
		return 0;
	struct mb_ckpt_state *st = calloc(1, sizeof *st);
	struct mb_ckpt_file f = {0};
	char why[512];
	unsigned failed = 0;
	int r;
	if (!st)
		return -ENOMEM;
	struct choose_ctx sc = {.dir = cs->dir, .st = st};
	r = mb_ckpt_store_load_newest(cs->store, accept_cb, skip_cb, &sc, &f);
	if (r == -ENOENT) {
		mb_log(LOG_INFO, "checkpoints: none in %s yet: starting a new model", cs->dir);
		r = 0;
		goto out_free;
	}
	if (r < 0) {
		mb_log(LOG_ERR, "checkpoints in %s: %s", cs->dir, strerror(-r));
		goto out_free;
	}
	r = mb_trainer_restore(t, st, why, sizeof why);
	if (r < 0) {
		mb_log(LOG_ERR, "checkpoint %s/%s: %s%s", cs->dir, f.name, why,
		       r == -EINVAL ? "; move the checkpoints away or set checkpoint.dir to start a new model" : "");
		goto out_release;
	}
	r = mb_ckpt_state_restore_sources(st, cs->refs, cs->n_refs, &failed);
	if (r < 0) {
		mb_log(LOG_ERR, "checkpoint %s/%s: source %s cannot resume from its position: %s", cs->dir, f.name,
		       cs->refs[failed].name, strerror(-r));
		goto out_release;
	}
	mb_log(LOG_NOTICE, "checkpoint %s/%s: continuing at model version %" PRIu64 " after %" PRIu64
	       " samples in %" PRIu64 " batches", cs->dir, f.name, st->info.version,
	       st->has_counters ? st->counters.samples : st->info.samples,
	       st->has_counters ? st->counters.batches : st->info.batches);
out_release:
	mb_ckpt_file_release(&f);
out_free:
	free(st);
	return r;
}

/* Close and free. */
void mb_ckpt_setup_release(struct mb_ckpt_setup *cs)
{
	cs->store = mb_ckpt_store_free(cs->store);
	free(cs->config_text);
	cs->config_text = NULL;
}
