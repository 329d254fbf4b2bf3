/* SPDX-License-Identifier: MIT */
/*
 * test_config_file.c - configuration files as a user writes them, and
 * where the daemon looks for one.
 *
 * Every kind of mistake in a file is refused with "FILE:LINE: KEY: why",
 * so the user can go straight to the line: unknown sections and keys,
 * values that are not of the key's type or out of its range, a key set
 * twice in one file, a line without '=', a broken section header. The
 * file is the one -c names, else the default one when it exists, else
 * none; --no-config reads none at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_args.h"
#include "test.h"

static char dir[] = "/tmp/mbd-cfgfile.XXXXXX";
static char path[256];

static void write_file(const char *p, const char *text, size_t len)
{
	FILE *f = fopen(p, "w");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(fwrite(text, 1, len, f) == len);
	fclose(f);
}

/* Load text as the file of a fresh configuration and finish it: the first error, or "" when none. */
static int load(const char *text, struct mb_cfg_err *err)
{
	write_file(path, text, strlen(text));
	struct mb_config_args a = {.file = path};
	struct mb_config *c = NULL;
	memset(err, 0, sizeof *err);
	int r = mb_config_args_load(&a, &c, err);
	mb_config_free(c);
	return r;
}

static void errors_name_file_line_key(void)
{
	static const struct {
		const char *text;  /* the file */
		int code;          /* what loading it returns */
		unsigned line;     /* the line the error names */
		const char *what;  /* the rest of the error: "KEY: why" */
	} cases[] = {
		{"[nosuch]\nx = 1\n", -EINVAL, 1, "nosuch: unknown section"},
		{"[batch]\nsizee = 3\n", -EINVAL, 2, "batch.sizee: unknown key"},
		{"[batch]\nsize = big\n", -EINVAL, 2, "batch.size: 'big' is not an unsigned decimal integer"},
		{"[batch]\nsize = -3\n", -EINVAL, 2, "batch.size: '-3' is not an unsigned decimal integer"},
		{"[batch]\nsize = 0\n", -ERANGE, 2, "batch.size: 0 is out of range 1..65536"},
		{"[batch]\nsize = 65537\n", -ERANGE, 2, "batch.size: 65537 is out of range 1..65536"},
		{"[optimizer]\nlr = fast\n", -EINVAL, 2, "optimizer.lr: 'fast' is not a finite number"},
		{"[optimizer]\nlr = inf\n", -EINVAL, 2, "optimizer.lr: 'inf' is not a finite number"},
		{"[optimizer]\n\nlr = 2000\n", -ERANGE, 3, "optimizer.lr: 2000 is out of range 1e-12..1000"},
		{"[batch]\npolicy = drop\n", -EINVAL, 2,
		 "batch.policy: 'drop' is not one of block|drop-newest|drop-oldest"},
		{"[daemon]\nexit_when_idle = maybe\n", -EINVAL, 2,
		 "daemon.exit_when_idle: 'maybe' is not a boolean (true or false)"},
		{"[batch]\nsize = 3\n# again\nsize = 4\n", -EINVAL, 4,
		 "batch.size: set twice in this file (first on line 2)"},
		{"[source.a]\ntype = zmq\nendpoint = ipc://a\n[source.a]\nendpoint = ipc://b\n", -EINVAL, 5,
		 "source.a.endpoint: set twice in this file (first on line 3)"},
		{"[batch]\nsize 3\n", -EINVAL, 2, "size 3: expected key = value"},
		{"[batch\nsize = 3\n", -EINVAL, 1, "[batch: a section header is [name] alone on its line"},
		{"[batch] size = 3\n", -EINVAL, 1, "[batch] size = 3: a section header is [name] alone on its line"},
		{"size = 3\n", -EINVAL, 1, "size: key outside of any section"},
		{"[batch]\n = 3\n", -EINVAL, 2, "batch: empty key name"},
		{"[source.a/b]\n", -EINVAL, 1, "source.a/b: a source name is 1 to 63 letters, digits, '_' or '-'"},
		{"[source.cam]\nendpoint = ipc://cam\n", -EINVAL, 1, "source.cam.type: required (zmq or file)"},
		{"[source.cam]\ntype = file\n", -EINVAL, 1, "source.cam.path: required for file sources"},
		{"[source.cam]\ntype = zmq\nendpoint = ipc://cam\npath = /data\n", -EINVAL, 4,
		 "source.cam.path: not a key of zmq sources"},
		{"[source.cam]\ntype = zmq\nendpoint = ipc://cam\nrcvhwm = lots\n", -EINVAL, 4,
		 "source.cam.rcvhwm: 'lots' is not an unsigned decimal integer"},
		{"[model]\nkind = mlp\nhidden = 0\n", -EINVAL, 3, "model.hidden: '0' is not a layer width in 1..16777216"},
		{"[metrics]\nlisten = localhost:7712\n", -EINVAL, 2,
		 "metrics.listen: 'localhost:7712' is not ADDRESS:PORT (IPv4, or IPv6 in brackets; port 0..65535)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mb_cfg_err err;
		char want[600];
		snprintf(want, sizeof want, "%s:%u: %s", path, cases[i].line, cases[i].what);
		int r = load(cases[i].text, &err);
		if (r != cases[i].code || strcmp(err.text, want) != 0)
			fprintf(stderr, "case %zu: got %d \"%s\"\n         want %d \"%s\"\n", i, r, err.text, cases[i].code,
				want);
		CU_ASSERT(r == cases[i].code);
		CU_ASSERT_STRING_EQUAL(err.text, want);
	}

	/* A file that is not text at all. */
	struct mb_cfg_err err;
	write_file(path, "[batch]\nsize = 3\0\n", 18);
	struct mb_config_args a = {.file = path};
	struct mb_config *c = NULL;
	CU_ASSERT(mb_config_args_load(&a, &c, &err) == -EINVAL);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT(strstr(err.text, "not a text file (NUL byte)") != NULL);
}

static void valid_file_read(void)
{
	struct mb_cfg_err err;
	/* Sections may come back, comments and blanks are fine, quotes keep outer blanks. */
	const char *text = "# comment\n; another\n\n[batch]\nsize = 32\n[optimizer]\nlr = 0.01\n"
			   "[batch]\nlinger_ms = 5\n[model]\nname = \" spaced \"\n[metrics]\nlisten = [::1]:0\n";
	write_file(path, text, strlen(text));
	struct mb_config_args a = {.file = path};
	struct mb_config *c = NULL;
	CU_ASSERT_FATAL(mb_config_args_load(&a, &c, &err) == 0);
	CU_ASSERT_EQUAL(c->batch.size, 32);
	CU_ASSERT_EQUAL(c->batch.linger_ms, 5);
	CU_ASSERT_DOUBLE_EQUAL(c->optimizer.lr, 0.01, 1e-12);
	CU_ASSERT_STRING_EQUAL(c->model.name, " spaced ");
	CU_ASSERT_STRING_EQUAL(c->metrics.listen, "[::1]:0");
	mb_config_free(c);
}

static void overrides_after_file(void)
{
	struct mb_cfg_err err;
	const char *text = "[batch]\nsize = 32\n";
	write_file(path, text, strlen(text));
	/* A key the file sets may be set again by -o: a later origin wins, it is no duplicate. */
	const char *over[] = {"batch.size=16", "batch.size=8", "metrics.listen="};
	struct mb_config_args a = {.file = path, .overrides = over, .n_overrides = 3};
	struct mb_config *c = NULL;
	CU_ASSERT_FATAL(mb_config_args_load(&a, &c, &err) == 0);
	CU_ASSERT_EQUAL(c->batch.size, 8);
	CU_ASSERT_STRING_EQUAL(c->metrics.listen, "");
	mb_config_free(c);

	const char *bad[] = {"batch.size=16", "batch.size"};
	a.overrides = bad;
	a.n_overrides = 2;
	c = NULL;
	CU_ASSERT(mb_config_args_load(&a, &c, &err) == -EINVAL);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_STRING_EQUAL(err.text, "-o #2: batch.size: expected SECTION.KEY=VALUE");

	const char *range[] = {"batch.size=0"};
	a.overrides = range;
	a.n_overrides = 1;
	CU_ASSERT(mb_config_args_load(&a, &c, &err) == -ERANGE);
	CU_ASSERT_STRING_EQUAL(err.text, "-o #1: batch.size: 0 is out of range 1..65536");

	/* -c names a file that must be there. */
	struct mb_config_args missing = {.file = "/nonexistent/minibatchd.conf"};
	CU_ASSERT(mb_config_args_load(&missing, &c, &err) == -ENOENT);
	CU_ASSERT(strstr(err.text, "/nonexistent/minibatchd.conf") != NULL);
}

/* What --check-config prints loads again to the same configuration, quoted values included. */
static void printout_reads_back(void)
{
	struct mb_cfg_err err;
	const char *text = "[model]\nname = \"\"in quotes\"\"\n[daemon]\nruntime_dir = \" /tmp/x \"\n";
	write_file(path, text, strlen(text));
	struct mb_config_args a = {.file = path};
	struct mb_config *c = NULL, *again = NULL;
	CU_ASSERT_FATAL(mb_config_args_load(&a, &c, &err) == 0);
	CU_ASSERT_STRING_EQUAL(c->model.name, "\"in quotes\"");
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	CU_ASSERT_FATAL(f != NULL);
	mb_config_print(c, f);
	fclose(f);
	write_file(path, out, len);
	CU_ASSERT_FATAL(mb_config_args_load(&a, &again, &err) == 0);
	CU_ASSERT_STRING_EQUAL(again->model.name, "\"in quotes\"");
	CU_ASSERT_STRING_EQUAL(again->daemon.runtime_dir, " /tmp/x ");
	free(out);
	mb_config_free(c);
	mb_config_free(again);

	/* A line break cannot be printed as one line: -o refuses it. */
	const char *multi[] = {"model.name=two\nlines"};
	struct mb_config_args o = {.overrides = multi, .n_overrides = 1, .no_config = true};
	c = NULL;
	CU_ASSERT(mb_config_args_load(&o, &c, &err) == -EINVAL);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_STRING_EQUAL(err.text, "-o #1: model.name: a value cannot hold a line break");
}

static void default_file_location(void)
{
	char buf[512], conf[300], want[300];
	snprintf(conf, sizeof conf, "%s/" MB_CONFIG_FILE_NAME, dir);
	const char *env = getenv("CONFIGURATION_DIRECTORY");
	char *saved = env ? strdup(env) : NULL;

	/* Under systemd: $CONFIGURATION_DIRECTORY/minibatchd.conf, but only once it exists. */
	setenv("CONFIGURATION_DIRECTORY", dir, 1);
	struct mb_config_args none = {0};
	CU_ASSERT_PTR_NULL(mb_config_args_file(&none, buf, sizeof buf));
	struct mb_config *c = NULL;
	struct mb_cfg_err err;
	CU_ASSERT_FATAL(mb_config_args_load(&none, &c, &err) == 0); /* no file: the embedded defaults */
	CU_ASSERT_EQUAL(c->batch.size, 64);
	mb_config_free(c);

	write_file(conf, "[batch]\nsize = 7\n", 17);
	const char *got = mb_config_args_file(&none, buf, sizeof buf);
	CU_ASSERT(got && strcmp(got, conf) == 0);
	c = NULL;
	CU_ASSERT_FATAL(mb_config_args_load(&none, &c, &err) == 0);
	CU_ASSERT_EQUAL(c->batch.size, 7);
	mb_config_free(c);

	/* systemd lists one directory per name; the first is ours. */
	snprintf(want, sizeof want, "%s:/elsewhere", dir);
	setenv("CONFIGURATION_DIRECTORY", want, 1);
	got = mb_config_args_file(&none, buf, sizeof buf);
	CU_ASSERT(got && strcmp(got, conf) == 0);

	/* --no-config reads nothing, -c reads its own file instead. */
	struct mb_config_args no = {.no_config = true};
	CU_ASSERT_PTR_NULL(mb_config_args_file(&no, buf, sizeof buf));
	c = NULL;
	CU_ASSERT_FATAL(mb_config_args_load(&no, &c, &err) == 0);
	CU_ASSERT_EQUAL(c->batch.size, 64);
	mb_config_free(c);
	write_file(path, "[batch]\nsize = 9\n", 17);
	struct mb_config_args own = {.file = path};
	got = mb_config_args_file(&own, buf, sizeof buf);
	CU_ASSERT(got && strcmp(got, path) == 0);

	/* Outside systemd the fixed default, when it exists (it is not created here). */
	unsetenv("CONFIGURATION_DIRECTORY");
	got = mb_config_args_file(&none, buf, sizeof buf);
	if (access(MB_CONFIG_DEFAULT_FILE, F_OK) == 0) {
		CU_ASSERT(got && strcmp(got, MB_CONFIG_DEFAULT_FILE) == 0);
	} else {
		CU_ASSERT_PTR_NULL(got);
	}

	if (saved)
		setenv("CONFIGURATION_DIRECTORY", saved, 1);
	free(saved);
	unlink(conf);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s/test.conf", dir);
	MB_SUITE("config_file", {"config_file/errors_name_file_line_key", errors_name_file_line_key},
		 {"config_file/valid_file_read", valid_file_read},
		 {"config_file/overrides_after_file", overrides_after_file},
		 {"config_file/printout_reads_back", printout_reads_back},
		 {"config_file/default_file_location", default_file_location});
	int r = mb_test_run();
	unlink(path);
	rmdir(dir);
	return r;
}
