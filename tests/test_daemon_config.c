/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_config.c - the configuration table, parser and source getters.
 *
 * What sources rely on: defaults by type, typed getters that refuse text
 * they cannot convert and say where it came from, comma lists, relative
 * ipc endpoints; and what users rely on: every error names where and which
 * key, later values win, unknown names are refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../daemon/config.h" /* not the build's config.h of the same name */
#include "test.h"

static struct mb_config *cfg;
static struct mb_cfg_err err;

static const struct mb_cfg_origin opt1 = {"-o", 1};

static struct mb_config *fresh(void)
{
	mb_config_free(cfg);
	cfg = NULL;
	CU_ASSERT_FATAL(mb_config_new(&cfg) == 0);
	memset(&err, 0, sizeof err);
	return cfg;
}

static int set(const char *k, const char *v)
{
	return mb_config_set(cfg, k, v, &opt1, &err);
}

static void config_defaults(void)
{
	fresh();
	CU_ASSERT_FATAL(mb_config_finish(cfg, &err) == 0);
	CU_ASSERT_STRING_EQUAL(cfg->model.kind, "softmax");
	CU_ASSERT_EQUAL(cfg->model.outputs, 10);
	CU_ASSERT_EQUAL(cfg->model.inputs, 0);
	CU_ASSERT_STRING_EQUAL(cfg->optimizer.kind, "adagrad");
	CU_ASSERT_DOUBLE_EQUAL(cfg->optimizer.lr, 0.05, 1e-12);
	CU_ASSERT_EQUAL(cfg->batch.size, 64);
	CU_ASSERT_EQUAL(cfg->batch.linger_ms, 20);
	CU_ASSERT_EQUAL(cfg->batch.queue_batches, 8);
	CU_ASSERT_STRING_EQUAL(cfg->batch.policy, "block");
	CU_ASSERT_EQUAL(cfg->publish.every_batches, 100);
	CU_ASSERT_EQUAL(cfg->publish.every_ms, 1000);
	CU_ASSERT_FALSE(cfg->daemon.exit_when_idle);
	CU_ASSERT_EQUAL_FATAL(cfg->n_sources, 1);
	CU_ASSERT_STRING_EQUAL(cfg->sources[0].name, "default");
	CU_ASSERT_STRING_EQUAL(cfg->sources[0].type, "zmq");
	CU_ASSERT_STRING_EQUAL(mb_source_cfg_get(&cfg->sources[0], "endpoint"), "ipc://ingest,tcp://127.0.0.1:7710");
	CU_ASSERT_STRING_EQUAL(mb_source_cfg_get(&cfg->sources[0], "pattern"), "pull");
}

static void config_later_value_wins(void)
{
	fresh();
	CU_ASSERT(set("batch.size", "32") == 0);
	CU_ASSERT(set("batch.size", "16") == 0);
	CU_ASSERT(set("source.a.type", "file") == 0);
	CU_ASSERT(set("source.a.path", "/x") == 0);
	CU_ASSERT(set("source.a.path", "/y, /z*") == 0);
	CU_ASSERT_FATAL(mb_config_finish(cfg, &err) == 0);
	CU_ASSERT_EQUAL(cfg->batch.size, 16);
	CU_ASSERT_EQUAL_FATAL(cfg->n_sources, 1); /* a declared source replaces the default one */
	CU_ASSERT_STRING_EQUAL(mb_source_cfg_get(&cfg->sources[0], "path"), "/y, /z*");
}

static void config_errors_name_key_and_origin(void)
{
	fresh();
	CU_ASSERT(set("batch.size", "0") == -ERANGE);
	CU_ASSERT_STRING_EQUAL(err.text, "-o #1: batch.size: 0 is out of range 1..65536");
	CU_ASSERT(set("batch.size", "-3") == -EINVAL);
	CU_ASSERT(set("batch.size", "12abc") == -EINVAL);
	CU_ASSERT(set("optimizer.lr", "nan") == -EINVAL);
	CU_ASSERT(set("batch.policy", "drop") == -EINVAL);
	CU_ASSERT(strstr(err.text, "block|drop-newest|drop-oldest") != NULL);
	CU_ASSERT(set("daemon.exit_when_idle", "maybe") == -EINVAL);
	CU_ASSERT(set("batchsize", "3") == -EINVAL);
	CU_ASSERT(set("nosuch.key", "3") == -EINVAL);
	CU_ASSERT(strstr(err.text, "unknown section") != NULL);
	CU_ASSERT(set("batch.nosuch", "3") == -EINVAL);
	CU_ASSERT(strstr(err.text, "unknown key") != NULL);
	CU_ASSERT(set("source.in.nosuch", "3") == -EINVAL);
	CU_ASSERT(set("source.bad/name.type", "zmq") == -EINVAL);
	CU_ASSERT(set("source.type", "zmq") == -EINVAL);

	/* Source keys are checked against the type once it is known. */
	fresh();
	CU_ASSERT(set("source.in.type", "zmq") == 0);
	CU_ASSERT(set("source.in.endpoint", "ipc://in") == 0);
	CU_ASSERT(set("source.in.rcvhwm", "lots") == 0);
	CU_ASSERT(mb_config_finish(cfg, &err) == -EINVAL);
	CU_ASSERT_STRING_EQUAL(err.text, "-o #1: source.in.rcvhwm: 'lots' is not an unsigned decimal integer");

	fresh();
	CU_ASSERT(set("source.in.type", "file") == 0);
	CU_ASSERT(set("source.in.path", " , ") == 0);
	CU_ASSERT(mb_config_finish(cfg, &err) == -EINVAL);
	CU_ASSERT(strstr(err.text, "source.in.path: needs at least one item") != NULL);

	fresh();
	CU_ASSERT(set("model.kind", "mlp") == 0);
	CU_ASSERT(set("model.hidden", "") == 0);
	CU_ASSERT(mb_config_finish(cfg, &err) == -EINVAL);
	CU_ASSERT(strstr(err.text, "model.hidden") != NULL);
}

static void config_file_lines(void)
{
	char dir[] = "/tmp/mbd-cfgunit.XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	char path[128];
	snprintf(path, sizeof path, "%s/c.ini", dir);
	FILE *f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("; comment\n# another\n\n[model]\n  kind = logistic  \nname = \"spam filter\"\n"
	      "[source.mail]\ntype = zmq\nendpoint = ipc://mail\ntopics = a, b\npattern = sub\n",
	      f);
	fclose(f);
	fresh();
	CU_ASSERT_FATAL(mb_config_load_file(cfg, path, &err) == 0);
	CU_ASSERT_FATAL(mb_config_finish(cfg, &err) == 0);
	CU_ASSERT_STRING_EQUAL(cfg->model.kind, "logistic");
	CU_ASSERT_STRING_EQUAL(cfg->model.name, "spam filter");
	CU_ASSERT_EQUAL_FATAL(cfg->n_sources, 1);
	char where[128];
	CU_ASSERT(strstr(mb_source_cfg_where(&cfg->sources[0], "topics", where, sizeof where), "c.ini:10") != NULL);
	CU_ASSERT_STRING_EQUAL(mb_source_cfg_where(&cfg->sources[0], "rcvhwm", where, sizeof where), "default");

	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("[batch]\nsize = 8\nkey without value\n", f);
	fclose(f);
	fresh();
	CU_ASSERT(mb_config_load_file(cfg, path, &err) == -EINVAL);
	char want[160];
	snprintf(want, sizeof want, "%s:3:", path);
	CU_ASSERT(strncmp(err.text, want, strlen(want)) == 0);

	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("size = 8\n", f);
	fclose(f);
	fresh();
	CU_ASSERT(mb_config_load_file(cfg, path, &err) == -EINVAL);
	CU_ASSERT(strstr(err.text, "outside of any section") != NULL);

	fresh();
	CU_ASSERT(mb_config_load_file(cfg, "/nonexistent/x.ini", &err) == -ENOENT);
	unlink(path);
	rmdir(dir);
}

static void source_getters(void)
{
	fresh();
	CU_ASSERT(set("source.f.type", "file") == 0);
	CU_ASSERT(set("source.f.path", "/data/a.csv,/data/b.csv") == 0);
	CU_ASSERT(set("source.f.epochs", "3") == 0);
	CU_ASSERT(set("source.f.shuffle", "yes") == 0);
	CU_ASSERT(set("source.f.format", "idx") == 0);
	CU_ASSERT_FATAL(mb_config_finish(cfg, &err) == 0);
	const struct mb_source_cfg *s = &cfg->sources[0];
	uint32_t u = 0;
	uint64_t u64 = 0;
	bool b = false;
	int e = -1;
	const char *why = NULL;
	CU_ASSERT(mb_source_cfg_u32(s, "epochs", &u, &why) == 0 && u == 3);
	CU_ASSERT(mb_source_cfg_u32(s, "queue_depth", &u, &why) == 0 && u == 8);
	CU_ASSERT(mb_source_cfg_u64(s, "seed", &u64, &why) == 0 && u64 == 1);
	CU_ASSERT(mb_source_cfg_bool(s, "shuffle", &b, &why) == 0 && b);
	CU_ASSERT(mb_source_cfg_enum(s, "format", "auto|binary|csv|libsvm|idx", &e, &why) == 0 && e == 4);
	/* A zmq key is not a key of a file source: no value, and a reason naming it. */
	CU_ASSERT_PTR_NULL(mb_source_cfg_get(s, "endpoint"));
	u = 77;
	CU_ASSERT(mb_source_cfg_u32(s, "rcvhwm", &u, &why) == -EINVAL);
	CU_ASSERT_EQUAL(u, 77);
	CU_ASSERT(why && strstr(why, "source.f.rcvhwm") != NULL);
	CU_ASSERT(mb_source_cfg_bool(s, "path", &b, &why) == -EINVAL);
	CU_ASSERT(why && strstr(why, "-o #1") && strstr(why, "not a boolean"));

	char **items;
	size_t n;
	CU_ASSERT_FATAL(mb_cfg_list_split(mb_source_cfg_get(s, "path"), &items, &n) == 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(items[0], "/data/a.csv");
	CU_ASSERT_STRING_EQUAL(items[1], "/data/b.csv");
	CU_ASSERT_PTR_NULL(items[2]);
	mb_cfg_list_free(items);
	CU_ASSERT_FATAL(mb_cfg_list_split(" , a ,, b c ,", &items, &n) == 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_STRING_EQUAL(items[1], "b c");
	mb_cfg_list_free(items);
}

static void endpoint_resolve(void)
{
	char buf[64];
	CU_ASSERT(mb_cfg_endpoint_resolve("ipc://ingest", "/run/mb", buf, sizeof buf) == 0);
	CU_ASSERT_STRING_EQUAL(buf, "ipc:///run/mb/ingest");
	CU_ASSERT(mb_cfg_endpoint_resolve("ipc:///abs/path", "/run/mb", buf, sizeof buf) == 0);
	CU_ASSERT_STRING_EQUAL(buf, "ipc:///abs/path");
	CU_ASSERT(mb_cfg_endpoint_resolve("ipc://@abstract", "/run/mb", buf, sizeof buf) == 0);
	CU_ASSERT_STRING_EQUAL(buf, "ipc://@abstract");
	CU_ASSERT(mb_cfg_endpoint_resolve("tcp://127.0.0.1:7710", "/run/mb", buf, sizeof buf) == 0);
	CU_ASSERT_STRING_EQUAL(buf, "tcp://127.0.0.1:7710");
	CU_ASSERT(mb_cfg_endpoint_resolve("ipc://a-rather-long-name-for-a-socket", "/a/much/longer/runtime/directory", buf,
					  sizeof buf) == -ENAMETOOLONG);
}

static void help_documents_every_key(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CU_ASSERT_FATAL(f != NULL);
	mb_config_help(f);
	fclose(f);
	for (size_t i = 0; i < mb_cfg_n_keys; i++) {
		const struct mb_cfg_key *k = &mb_cfg_keys[i];
		char name[128];
		if (strcmp(k->section, "source") == 0)
			snprintf(name, sizeof name, "source.NAME.%s (", k->name);
		else
			snprintf(name, sizeof name, "%s.%s (", k->section, k->name);
		CU_ASSERT(strstr(text, name) != NULL);
		CU_ASSERT(k->help && *k->help);
	}
	free(text);
}

int main(void)
{
	MB_SUITE("daemon_config", {"config/defaults", config_defaults},
		 {"config/later_value_wins", config_later_value_wins},
		 {"config/errors_name_key_and_origin", config_errors_name_key_and_origin},
		 {"config/file_lines", config_file_lines}, {"config/source_getters", source_getters},
		 {"config/endpoint_resolve", endpoint_resolve}, {"config/help_documents_every_key", help_documents_every_key});
	int r = mb_test_run();
	mb_config_free(cfg);
	return r;
}
