/* SPDX-License-Identifier: MIT */
/*
 * config.c - parse, check and print the configuration against the key table.
 *
 * Values stay text until mb_config_finish(): a key may be set several
 * times (defaults, then the file, then -o) and only the last value counts,
 * and a source key can only be checked once the source's type is known.
 * Global keys are still checked as they are set, so an error points at the
 * line that caused it.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mb_proto.h"
#include "metrics.h"

static const char default_source_name[] = "default";
static const char default_source_endpoint[] = "ipc://ingest,tcp://127.0.0.1:7710";

static bool is_source_row(const struct mb_cfg_key *k)
{
	return strcmp(k->section, "source") == 0;
}

/* "FILE:LINE", "-o #N" or "default". */
static const char *origin_text(const struct mb_cfg_origin *o, char *buf, size_t cap)
{
	if (!o || !o->file)
		snprintf(buf, cap, "default");
	else if (strcmp(o->file, "-o") == 0)
		snprintf(buf, cap, "-o #%u", o->line);
	else
		snprintf(buf, cap, "%s:%u", o->file, o->line);
	return buf;
}

static int fail(struct mb_cfg_err *err, int code, const struct mb_cfg_origin *o, const char *key,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Fill *err with "ORIGIN: KEY: sentence" and return code. */
static int fail(struct mb_cfg_err *err, int code, const struct mb_cfg_origin *o, const char *key,
		const char *fmt, ...)
{
	if (!err)
		return code;
	char where[MB_CFG_ERR_BYTES / 2], why[MB_CFG_ERR_BYTES];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	origin_text(o, where, sizeof where);
	/* A cut sentence still names where and which key, which is what matters. */
	if (snprintf(err->text, sizeof err->text, "%s: %s: %s", where, key, why) >= (int)sizeof err->text)
		err->text[sizeof err->text - 1] = '\0';
	return code;
}

static bool parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *ret = true, true;
		if (strcasecmp(s, no[i]) == 0)
			return *ret = false, true;
	}
	return false;
}

/* Decimal digits only: no sign, no blanks, no hex (a config value is read by people). */
static bool parse_u64(const char *s, uint64_t *ret)
{
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

static bool parse_double(const char *s, double *ret)
{
	if (!*s || isspace((unsigned char)*s))
		return false;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*ret = v;
	return true;
}

/* Position of word among "a|b|c", or -1. */
static int choice_index(const char *choices, const char *word)
{
	size_t n = strlen(word);
	int i = 0;
	for (const char *p = choices; p; i++) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, word, n) == 0)
			return i;
		p = bar ? bar + 1 : NULL;
	}
	return -1;
}

/* Check text against the row's type and range. */
static int check_value(const struct mb_cfg_key *k, const char *text, const struct mb_cfg_origin *o,
		       const char *key, struct mb_cfg_err *err)
{
	bool b;
	uint64_t u;
	double d;
	switch (k->type) {
	case MB_CFG_BOOL:
		if (!parse_bool(text, &b))
			return fail(err, -EINVAL, o, key, "'%s' is not a boolean (true or false)", text);
		return 0;
	case MB_CFG_U32:
	case MB_CFG_U64:
		if (!parse_u64(text, &u))
			return fail(err, -EINVAL, o, key, "'%s' is not an unsigned decimal integer", text);
		if ((double)u < k->min || (k->max < 18446744073709551615.0 && (double)u > k->max))
			return fail(err, -ERANGE, o, key, "%s is out of range %.0f..%.0f", text, k->min, k->max);
		return 0;
	case MB_CFG_DOUBLE:
		if (!parse_double(text, &d))
			return fail(err, -EINVAL, o, key, "'%s' is not a finite number", text);
		if (d < k->min || d > k->max)
			return fail(err, -ERANGE, o, key, "%s is out of range %.10g..%.10g", text, k->min, k->max);
		return 0;
	case MB_CFG_ENUM:
		if (choice_index(k->choices, text) < 0)
			return fail(err, -EINVAL, o, key, "'%s' is not one of %s", text, k->choices);
		return 0;
	case MB_CFG_STRING:
	case MB_CFG_LIST:
		return 0;
	}
	return fail(err, -EINVAL, o, key, "key of unknown type");
}

/* Store the parsed value of a checked global key into the typed struct. */
static void store_value(struct mb_config *c, const struct mb_cfg_key *k, const char *text)
{
	char *field = (char *)c + k->offset;
	bool b = false;
	uint64_t u = 0;
	double d = 0;
	switch (k->type) {
	case MB_CFG_BOOL:
		parse_bool(text, &b);
		*(bool *)(void *)field = b;
		break;
	case MB_CFG_U32:
		parse_u64(text, &u);
		*(uint32_t *)(void *)field = (uint32_t)u;
		break;
	case MB_CFG_U64:
		parse_u64(text, &u);
		*(uint64_t *)(void *)field = u;
		break;
	case MB_CFG_DOUBLE:
		parse_double(text, &d);
		*(double *)(void *)field = d;
		break;
	case MB_CFG_STRING:
	case MB_CFG_ENUM:
	case MB_CFG_LIST:
		*(const char **)(void *)field = text;
		break;
	}
}

static const struct mb_cfg_key *find_global(const char *section, const char *name, bool *section_known)
{
	*section_known = false;
	for (size_t i = 0; i < mb_cfg_n_keys; i++) {
		const struct mb_cfg_key *k = &mb_cfg_keys[i];
		if (is_source_row(k) || strcmp(k->section, section) != 0)
			continue;
		*section_known = true;
		if (strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

/* The source row of name for type (NULL type: any row of that name). */
static const struct mb_cfg_key *find_source_key(const char *name, const char *type)
{
	for (size_t i = 0; i < mb_cfg_n_keys; i++) {
		const struct mb_cfg_key *k = &mb_cfg_keys[i];
		if (!is_source_row(k) || strcmp(k->name, name) != 0)
			continue;
		if (!type || !k->source_type || strcmp(k->source_type, type) == 0)
			return k;
	}
	return NULL;
}

static bool valid_source_name(const char *s, size_t n)
{
	if (n == 0 || n >= MB_CFG_NAME_BYTES)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* The source named name, declared now if new; NULL when MB_MAX_SOURCES are declared. */
static struct mb_source_cfg *source_get(struct mb_config *c, const char *name, size_t n,
					const struct mb_cfg_origin *o)
{
	for (unsigned i = 0; i < c->n_sources; i++)
		if (strlen(c->sources[i].name) == n && strncmp(c->sources[i].name, name, n) == 0)
			return &c->sources[i];
	if (c->n_sources == MB_MAX_SOURCES)
		return NULL;
	struct mb_source_cfg *s = &c->sources[c->n_sources];
	memset(s, 0, sizeof *s);
	memcpy(s->name, name, n);
	s->name[n] = '\0';
	s->index = c->n_sources++;
	if (o)
		s->declared = *o;
	return s;
}

/* An origin whose file name lives as long as c. */
static int origin_keep(struct mb_config *c, const struct mb_cfg_origin *o, struct mb_cfg_origin *ret)
{
	ret->line = o ? o->line : 0;
	ret->file = NULL;
	if (!o || !o->file)
		return 0;
	if (strcmp(o->file, "-o") == 0) {
		ret->file = "-o";
		return 0;
	}
	size_t i;
	for (i = 0; i < MB_CFG_MAX_FILES && c->files[i]; i++)
		if (strcmp(c->files[i], o->file) == 0)
			break;
	if (i == MB_CFG_MAX_FILES)
		return -E2BIG;
	if (!c->files[i] && !(c->files[i] = strdup(o->file)))
		return -ENOMEM;
	ret->file = c->files[i];
	return 0;
}

static int source_set(struct mb_source_cfg *s, const char *key, const char *value,
		      const struct mb_cfg_origin *o)
{
	char *copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	for (unsigned i = 0; i < s->n_set; i++) {
		if (strcmp(s->set[i].key, key) == 0) {
			free(s->set[i].value);
			s->set[i].value = copy;
			s->set[i].origin = *o;
			return 0;
		}
	}
	if (s->n_set == MB_CFG_SOURCE_KEYS) {
		free(copy);
		return -E2BIG;
	}
	s->set[s->n_set++] = (struct mb_source_kv){.key = key, .value = copy, .origin = *o};
	return 0;
}

static const struct mb_source_kv *source_find_set(const struct mb_source_cfg *s, const char *key)
{
	for (unsigned i = 0; i < s->n_set; i++)
		if (strcmp(s->set[i].key, key) == 0)
			return &s->set[i];
	return NULL;
}

/*
 * Create a configuration holding the embedded defaults. 0 and *ret, or
 * -ENOMEM. Call mb_config_finish() before reading the typed fields.
 */
int mb_config_new(struct mb_config **ret)
{
	struct mb_config *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->value = calloc(mb_cfg_n_keys, sizeof *c->value);
	c->origin = calloc(mb_cfg_n_keys, sizeof *c->origin);
	if (!c->value || !c->origin)
		goto out_free;
	for (size_t i = 0; i < mb_cfg_n_keys; i++) {
		const struct mb_cfg_key *k = &mb_cfg_keys[i];
		if (is_source_row(k) || !k->def)
			continue;
		if (!(c->value[i] = strdup(k->def)))
			goto out_free;
	}
	*ret = c;
	return 0;
out_free:
	mb_config_free(c);
	return -ENOMEM;
}

/* Free c and every string it owns; NULL is fine. Returns NULL. */
struct mb_config *mb_config_free(struct mb_config *c)
{
	if (!c)
		return NULL;
	if (c->value)
		for (size_t i = 0; i < mb_cfg_n_keys; i++)
			free(c->value[i]);
	free(c->value);
	free(c->origin);
	for (unsigned i = 0; i < c->n_sources; i++)
		for (unsigned j = 0; j < c->sources[i].n_set; j++)
			free(c->sources[i].set[j].value);
	for (size_t i = 0; i < MB_CFG_MAX_FILES; i++)
		free(c->files[i]);
	free(c);
	return NULL;
}

/*
 * Set a dotted key from text. Global keys are checked now; source keys
 * only for existence here and fully in mb_config_finish(). 0 or -errno
 * with *err.
 */
int mb_config_set(struct mb_config *c, const char *dotted, const char *value,
		  const struct mb_cfg_origin *origin, struct mb_cfg_err *err)
{
	struct mb_cfg_origin o;
	int r = origin_keep(c, origin, &o);
	if (r < 0)
		return fail(err, r, origin, dotted, "too many configuration files");
	if (strlen(value) >= MB_CFG_VALUE_BYTES)
		return fail(err, -E2BIG, &o, dotted, "value longer than %u bytes", MB_CFG_VALUE_BYTES - 1);
	/* A value is one line: --check-config prints it as one, and a file could not hold another. */
	if (strpbrk(value, "\r\n"))
		return fail(err, -EINVAL, &o, dotted, "a value cannot hold a line break");

	const char *dot = strchr(dotted, '.');
	if (!dot || dot == dotted)
		return fail(err, -EINVAL, &o, dotted, "not a section.key name");

	if ((size_t)(dot - dotted) == 6 && strncmp(dotted, "source", 6) == 0) {
		const char *name = dot + 1;
		const char *last = strrchr(name, '.');
		if (!last || last == name || !last[1])
			return fail(err, -EINVAL, &o, dotted, "source keys are named source.NAME.key");
		if (!valid_source_name(name, (size_t)(last - name)))
			return fail(err, -EINVAL, &o, dotted,
				    "a source name is 1 to %u letters, digits, '_' or '-'", MB_CFG_NAME_BYTES - 1);
		const struct mb_cfg_key *k = find_source_key(last + 1, NULL);
		if (!k)
			return fail(err, -EINVAL, &o, dotted, "unknown key");
		struct mb_source_cfg *s = source_get(c, name, (size_t)(last - name), &o);
		if (!s)
			return fail(err, -E2BIG, &o, dotted, "more than %u sources", MB_MAX_SOURCES);
		r = source_set(s, k->name, value, &o);
		if (r < 0)
			return fail(err, r, &o, dotted, "cannot store the value");
		return 0;
	}

	char section[64];
	size_t n = (size_t)(dot - dotted);
	if (n >= sizeof section)
		return fail(err, -EINVAL, &o, dotted, "unknown section");
	memcpy(section, dotted, n);
	section[n] = '\0';
	bool section_known;
	const struct mb_cfg_key *k = find_global(section, dot + 1, &section_known);
	if (!k)
		return fail(err, -EINVAL, &o, dotted, section_known ? "unknown key" : "unknown section");
	r = check_value(k, value, &o, dotted, err);
	if (r < 0)
		return r;
	size_t row = (size_t)(k - mb_cfg_keys);
	char *copy = strdup(value);
	if (!copy)
		return fail(err, -ENOMEM, &o, dotted, "out of memory");
	free(c->value[row]);
	c->value[row] = copy;
	c->origin[row] = o;
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Where the value of key in section was last set explicitly, or NULL while
 * it holds its default: a file that sets a key twice is refused, since the
 * silent winner is rarely what its author meant.
 */
static const struct mb_cfg_origin *explicit_origin(const struct mb_config *c, const char *section, const char *key)
{
	if (strncmp(section, "source.", 7) == 0) {
		for (unsigned i = 0; i < c->n_sources; i++) {
			if (strcmp(c->sources[i].name, section + 7) != 0)
				continue;
			const struct mb_source_kv *kv = source_find_set(&c->sources[i], key);
			return kv ? &kv->origin : NULL;
		}
		return NULL;
	}
	bool known;
	const struct mb_cfg_key *k = find_global(section, key, &known);
	if (!k)
		return NULL;
	const struct mb_cfg_origin *o = &c->origin[k - mb_cfg_keys];
	return o->file ? o : NULL;
}

/* Parse one INI line of text; section holds the current section between calls. */
static int load_line(struct mb_config *c, char *line, char *section, size_t section_cap,
		     const struct mb_cfg_origin *o, struct mb_cfg_err *err)
{
	char *s = trim(line);
	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (!close || trim(close + 1)[0])
			return fail(err, -EINVAL, o, s, "a section header is [name] alone on its line");
		*close = '\0';
		char *name = trim(s + 1);
		if (strlen(name) >= section_cap)
			return fail(err, -EINVAL, o, name, "unknown section");
		if (strncmp(name, "source.", 7) == 0) {
			if (!valid_source_name(name + 7, strlen(name + 7)))
				return fail(err, -EINVAL, o, name,
					    "a source name is 1 to %u letters, digits, '_' or '-'",
					    MB_CFG_NAME_BYTES - 1);
			struct mb_cfg_origin kept;
			int r = origin_keep(c, o, &kept);
			if (r < 0)
				return fail(err, r, o, name, "too many configuration files");
			if (!source_get(c, name + 7, strlen(name + 7), &kept))
				return fail(err, -E2BIG, o, name, "more than %u sources", MB_MAX_SOURCES);
		} else {
			bool known;
			find_global(name, "", &known);
			if (!known)
				return fail(err, -EINVAL, o, name, "unknown section");
		}
		strcpy(section, name);
		return 0;
	}
	char *eq = strchr(s, '=');
	if (!eq)
		return fail(err, -EINVAL, o, s, "expected key = value");
	*eq = '\0';
	char *key = trim(s), *value = trim(eq + 1);
	size_t vn = strlen(value);
	if (vn >= 2 && value[0] == '"' && value[vn - 1] == '"') {
		value[vn - 1] = '\0';
		value++;
	}
	if (!*section)
		return fail(err, -EINVAL, o, key, "key outside of any section");
	if (!*key)
		return fail(err, -EINVAL, o, section, "empty key name");
	char dotted[MB_CFG_NAME_BYTES + 256];
	if ((size_t)snprintf(dotted, sizeof dotted, "%s.%s", section, key) >= sizeof dotted)
		return fail(err, -EINVAL, o, key, "unknown key");
	const struct mb_cfg_origin *prev = explicit_origin(c, section, key);
	if (prev && strcmp(prev->file, o->file) == 0)
		return fail(err, -EINVAL, o, dotted, "set twice in this file (first on line %u)", prev->line);
	return mb_config_set(c, dotted, value, o, err);
}

/*
 * Read an INI file into c (see config.h). 0, or -errno with *err naming
 * the file, its line and the key.
 */
int mb_config_load_file(struct mb_config *c, const char *path, struct mb_cfg_err *err)
{
	struct mb_cfg_origin o = {.file = path, .line = 0};
	FILE *f = fopen(path, "re");
	if (!f)
		return fail(err, -errno, &o, path, "cannot open: %s", strerror(errno));
	char *text = malloc(MB_CFG_FILE_BYTES + 1);
	int r = 0;
	if (!text) {
		r = fail(err, -ENOMEM, &o, path, "out of memory");
		goto out_close;
	}
	size_t len = fread(text, 1, MB_CFG_FILE_BYTES + 1, f);
	if (ferror(f)) {
		r = fail(err, -EIO, &o, path, "read error");
		goto out_free;
	}
	if (len > MB_CFG_FILE_BYTES) {
		r = fail(err, -E2BIG, &o, path, "longer than %u bytes", MB_CFG_FILE_BYTES);
		goto out_free;
	}
	if (memchr(text, '\0', len)) {
		r = fail(err, -EINVAL, &o, path, "not a text file (NUL byte)");
		goto out_free;
	}
	text[len] = '\0';
	char section[MB_CFG_NAME_BYTES + 16] = "";
	char *line = text;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		o.line++;
		r = load_line(c, line, section, sizeof section, &o, err);
		if (r < 0)
			goto out_free;
		line = nl ? nl + 1 : NULL;
	}
out_free:
	free(text);
out_close:
	fclose(f);
	return r;
}

/* Check a source's type and every key it set, and that required keys are there. */
static int finish_source(struct mb_source_cfg *s, struct mb_cfg_err *err)
{
	char dotted[MB_CFG_NAME_BYTES + 64];
	const struct mb_source_kv *t = source_find_set(s, "type");
	snprintf(dotted, sizeof dotted, "source.%s.type", s->name);
	if (!t)
		return fail(err, -EINVAL, &s->declared, dotted, "required (zmq or file)");
	const struct mb_cfg_key *tk = find_source_key("type", NULL);
	int r = check_value(tk, t->value, &t->origin, dotted, err);
	if (r < 0)
		return r;
	s->type = strcmp(t->value, "zmq") == 0 ? "zmq" : "file";

	for (unsigned i = 0; i < s->n_set; i++) {
		const struct mb_source_kv *kv = &s->set[i];
		snprintf(dotted, sizeof dotted, "source.%s.%s", s->name, kv->key);
		const struct mb_cfg_key *k = find_source_key(kv->key, s->type);
		if (!k)
			return fail(err, -EINVAL, &kv->origin, dotted, "not a key of %s sources", s->type);
		r = check_value(k, kv->value, &kv->origin, dotted, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < mb_cfg_n_keys; i++) {
		const struct mb_cfg_key *k = &mb_cfg_keys[i];
		if (!is_source_row(k) || k->def || (k->source_type && strcmp(k->source_type, s->type)))
			continue;
		const struct mb_source_kv *kv = source_find_set(s, k->name);
		snprintf(dotted, sizeof dotted, "source.%s.%s", s->name, k->name);
		if (!kv)
			return fail(err, -EINVAL, &s->declared, dotted, "required for %s sources", s->type);
		if (k->type == MB_CFG_LIST) {
			char **items;
			size_t n;
			if (mb_cfg_list_split(kv->value, &items, &n) < 0)
				return fail(err, -ENOMEM, &kv->origin, dotted, "out of memory");
			mb_cfg_list_free(items);
			if (n == 0)
				return fail(err, -EINVAL, &kv->origin, dotted, "needs at least one item");
		}
	}
	return 0;
}

/* Cross-key rules of the model section. */
static int finish_model(struct mb_config *c, struct mb_cfg_err *err)
{
	size_t row = 0;
	while (strcmp(mb_cfg_keys[row].section, "model") || strcmp(mb_cfg_keys[row].name, "hidden"))
		row++;
	char **items;
	size_t n;
	if (mb_cfg_list_split(c->model.hidden, &items, &n) < 0)
		return fail(err, -ENOMEM, &c->origin[row], "model.hidden", "out of memory");
	int r = 0;
	if (strcmp(c->model.kind, "mlp") == 0 && n == 0)
		r = fail(err, -EINVAL, &c->origin[row], "model.hidden", "an mlp needs at least one hidden layer");
	else if (n >= MB_MAX_LAYERS)
		r = fail(err, -E2BIG, &c->origin[row], "model.hidden", "at most %u hidden layers", MB_MAX_LAYERS - 1);
	for (size_t i = 0; r == 0 && i < n; i++) {
		uint64_t w;
		if (!parse_u64(items[i], &w) || w < 1 || w > MB_MAX_FEATURES)
			r = fail(err, -EINVAL, &c->origin[row], "model.hidden",
				 "'%s' is not a layer width in 1..%u", items[i], MB_MAX_FEATURES);
	}
	mb_cfg_list_free(items);
	return r;
}

/* The metrics address must be one the endpoint can listen on. */
static int finish_metrics(struct mb_config *c, struct mb_cfg_err *err)
{
	struct sockaddr_storage addr;
	socklen_t len;
	if (!*c->metrics.listen || mb_metrics_listen_parse(c->metrics.listen, &addr, &len) == 0)
		return 0;
	size_t row = 0;
	while (strcmp(mb_cfg_keys[row].section, "metrics") || strcmp(mb_cfg_keys[row].name, "listen"))
		row++;
	return fail(err, -EINVAL, &c->origin[row], "metrics.listen",
		    "'%s' is not ADDRESS:PORT (IPv4, or IPv6 in brackets; port 0..65535)", c->metrics.listen);
}

/* A holdout of every sample would leave nothing to learn from. */
static int finish_eval(struct mb_config *c, struct mb_cfg_err *err)
{
	if (c->eval.holdout_every != 1)
		return 0;
	size_t row = 0;
	while (row + 1 < mb_cfg_n_keys &&
	       (strcmp(mb_cfg_keys[row].section, "eval") || strcmp(mb_cfg_keys[row].name, "holdout_every")))
		row++;
	return fail(err, -EINVAL, &c->origin[row], "eval.holdout_every",
		    "1 would hold out every sample and learn from none: 0 (no holdout) or 2 and more");
}

/*
 * Check every value, add the default source when none is declared, and
 * fill the typed fields. 0, or -errno with *err.
 */
int mb_config_finish(struct mb_config *c, struct mb_cfg_err *err)
{
	for (size_t i = 0; i < mb_cfg_n_keys; i++) {
		const struct mb_cfg_key *k = &mb_cfg_keys[i];
		if (is_source_row(k))
			continue;
		char dotted[128];
		snprintf(dotted, sizeof dotted, "%s.%s", k->section, k->name);
		int r = check_value(k, c->value[i], &c->origin[i], dotted, err);
		if (r < 0)
			return r;
		store_value(c, k, c->value[i]);
	}
	int r = finish_model(c, err);
	if (r < 0)
		return r;
	if ((r = finish_metrics(c, err)) < 0)
		return r;
	if ((r = finish_eval(c, err)) < 0)
		return r;
	if (c->n_sources == 0) {
		struct mb_cfg_origin def = {NULL, 0};
		struct mb_source_cfg *s = source_get(c, default_source_name, strlen(default_source_name), &def);
		if (!s || source_set(s, "type", "zmq", &def) < 0 ||
		    source_set(s, "endpoint", default_source_endpoint, &def) < 0)
			return fail(err, -ENOMEM, &def, "source.default", "out of memory");
	}
	for (unsigned i = 0; i < c->n_sources; i++) {
		r = finish_source(&c->sources[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* [optimizer] as lib/optim.h takes it (see config.h). */
int mb_config_optim_cfg(const struct mb_config *c, struct mb_optim_cfg *ret)
{
	struct mb_optim_cfg o;
	mb_optim_cfg_default(&o);
	if (mb_optim_kind_parse(c->optimizer.kind, &o.kind) < 0 ||
	    mb_sched_kind_parse(c->optimizer.schedule, &o.sched) < 0)
		return -EINVAL;
	o.lr = (float)c->optimizer.lr;
	o.momentum = (float)c->optimizer.momentum;
	o.beta1 = (float)c->optimizer.beta1;
	o.beta2 = (float)c->optimizer.beta2;
	o.eps = (float)c->optimizer.eps;
	o.weight_decay = (float)c->optimizer.weight_decay;
	o.clip_norm = (float)c->optimizer.clip_norm;
	o.decay = (float)c->optimizer.decay;
	o.step_every = c->optimizer.step_every;
	o.gamma = (float)c->optimizer.gamma;
	o.cosine_steps = c->optimizer.cosine_steps;
	o.lr_min = (float)c->optimizer.lr_min;
	*ret = o;
	return 0;
}

static void print_value(FILE *f, const char *key, const char *value)
{
	/* Quotes are taken off on reading: a value in quotes of its own keeps them only inside another pair. */
	size_t n = strlen(value);
	bool quote = n && (isspace((unsigned char)value[0]) || isspace((unsigned char)value[n - 1]) ||
			   (value[0] == '"' && value[n - 1] == '"'));
	fprintf(f, "%s = %s%s%s\n", key, quote ? "\"" : "", value, quote ? "\"" : "");
}

/* Write the effective configuration as an INI file a later run can read back. */
void mb_config_print(const struct mb_config *c, FILE *f)
{
	const char *section = NULL;
	for (size_t i = 0; i < mb_cfg_n_keys; i++) {
		const struct mb_cfg_key *k = &mb_cfg_keys[i];
		if (is_source_row(k))
			continue;
		if (!section || strcmp(section, k->section)) {
			fprintf(f, "%s[%s]\n", section ? "\n" : "", k->section);
			section = k->section;
		}
		print_value(f, k->name, c->value[i] ? c->value[i] : "");
	}
	for (unsigned s = 0; s < c->n_sources; s++) {
		const struct mb_source_cfg *src = &c->sources[s];
		fprintf(f, "\n[source.%s]\n", src->name);
		for (size_t i = 0; i < mb_cfg_n_keys; i++) {
			const struct mb_cfg_key *k = &mb_cfg_keys[i];
			if (!is_source_row(k) || (k->source_type && src->type && strcmp(k->source_type, src->type)))
				continue;
			const char *v = mb_source_cfg_get(src, k->name);
			if (v)
				print_value(f, k->name, v);
		}
	}
}

static const char *type_name(enum mb_cfg_type t)
{
	switch (t) {
	case MB_CFG_BOOL: return "boolean";
	case MB_CFG_U32:
	case MB_CFG_U64: return "integer";
	case MB_CFG_DOUBLE: return "number";
	case MB_CFG_STRING: return "text";
	case MB_CFG_ENUM: return "choice";
	case MB_CFG_LIST: return "list";
	}
	return "?";
}

/* Document every key: name, type, default, range or choices, help. */
void mb_config_help(FILE *f)
{
	for (size_t i = 0; i < mb_cfg_n_keys; i++) {
		const struct mb_cfg_key *k = &mb_cfg_keys[i];
		if (is_source_row(k))
			fprintf(f, "source.NAME.%s", k->name);
		else
			fprintf(f, "%s.%s", k->section, k->name);
		fprintf(f, " (%s", type_name(k->type));
		if (k->type == MB_CFG_ENUM)
			fprintf(f, ": %s", k->choices);
		else if (k->type == MB_CFG_U32 || k->type == MB_CFG_U64)
			fprintf(f, ", %.0f..%.0f", k->min, k->max);
		else if (k->type == MB_CFG_DOUBLE)
			fprintf(f, ", %.10g..%.10g", k->min, k->max);
		if (is_source_row(k) && k->source_type)
			fprintf(f, ", %s sources", k->source_type);
		if (k->def)
			fprintf(f, ", default \"%s\"", k->def);
		else
			fprintf(f, ", required");
		fprintf(f, ")\n    %s\n", k->help);
	}
}

/* The value of key for this source: explicit, else the default of its type, else NULL. */
const char *mb_source_cfg_get(const struct mb_source_cfg *c, const char *key)
{
	const struct mb_cfg_key *k = find_source_key(key, c->type);
	if (!k)
		return NULL;
	const struct mb_source_kv *kv = source_find_set(c, key);
	return kv ? kv->value : k->def;
}

static _Thread_local char why_buf[MB_CFG_ERR_BYTES];

/* Fill the getter's reason and return -EINVAL. */
static int getter_fail(const struct mb_source_cfg *c, const char *key, const char **why, const char *what)
{
	char where[MB_CFG_ERR_BYTES / 2];
	mb_source_cfg_where(c, key, where, sizeof where);
	snprintf(why_buf, sizeof why_buf, "%s: source.%s.%s: %s", where, c->name, key, what);
	if (why)
		*why = why_buf;
	return -EINVAL;
}

/* Convert key to a boolean; -EINVAL with *why. */
int mb_source_cfg_bool(const struct mb_source_cfg *c, const char *key, bool *ret, const char **why)
{
	const char *v = mb_source_cfg_get(c, key);
	bool b;
	if (!v)
		return getter_fail(c, key, why, "not set");
	if (!parse_bool(v, &b))
		return getter_fail(c, key, why, "not a boolean");
	*ret = b;
	return 0;
}

/* Convert key to a 32-bit unsigned integer; -EINVAL with *why. */
int mb_source_cfg_u32(const struct mb_source_cfg *c, const char *key, uint32_t *ret, const char **why)
{
	const char *v = mb_source_cfg_get(c, key);
	uint64_t u;
	if (!v)
		return getter_fail(c, key, why, "not set");
	if (!parse_u64(v, &u) || u > UINT32_MAX)
		return getter_fail(c, key, why, "not an unsigned 32-bit integer");
	*ret = (uint32_t)u;
	return 0;
}

/* Convert key to a 64-bit unsigned integer; -EINVAL with *why. */
int mb_source_cfg_u64(const struct mb_source_cfg *c, const char *key, uint64_t *ret, const char **why)
{
	const char *v = mb_source_cfg_get(c, key);
	uint64_t u;
	if (!v)
		return getter_fail(c, key, why, "not set");
	if (!parse_u64(v, &u))
		return getter_fail(c, key, why, "not an unsigned integer");
	*ret = u;
	return 0;
}

/* Convert key to a finite number; -EINVAL with *why. */
int mb_source_cfg_double(const struct mb_source_cfg *c, const char *key, double *ret, const char **why)
{
	const char *v = mb_source_cfg_get(c, key);
	double d;
	if (!v)
		return getter_fail(c, key, why, "not set");
	if (!parse_double(v, &d))
		return getter_fail(c, key, why, "not a finite number");
	*ret = d;
	return 0;
}

/* The position of key's value among choices; -EINVAL with *why. */
int mb_source_cfg_enum(const struct mb_source_cfg *c, const char *key, const char *choices, int *ret,
		       const char **why)
{
	const char *v = mb_source_cfg_get(c, key);
	if (!v)
		return getter_fail(c, key, why, "not set");
	int i = choice_index(choices, v);
	if (i < 0)
		return getter_fail(c, key, why, "not one of the choices");
	*ret = i;
	return 0;
}

/* Where the value of key came from, as text in buf. */
const char *mb_source_cfg_where(const struct mb_source_cfg *c, const char *key, char *buf, size_t cap)
{
	const struct mb_source_kv *kv = source_find_set(c, key);
	return origin_text(kv ? &kv->origin : NULL, buf, cap);
}

/* Split a comma list into a NULL-terminated array (see config.h). */
int mb_cfg_list_split(const char *list, char ***ret, size_t *ret_n)
{
	size_t cap = 1;
	for (const char *p = list; *p; p++)
		cap += *p == ',';
	char **items = calloc(cap + 1, sizeof *items);
	if (!items)
		return -ENOMEM;
	size_t n = 0;
	const char *p = list;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		while (p < end && isspace((unsigned char)*p))
			p++;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		if (end > p) {
			items[n] = strndup(p, (size_t)(end - p));
			if (!items[n]) {
				mb_cfg_list_free(items);
				return -ENOMEM;
			}
			n++;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	*ret = items;
	if (ret_n)
		*ret_n = n;
	return 0;
}

/* Free an array from mb_cfg_list_split; NULL is fine. Returns NULL. */
char **mb_cfg_list_free(char **items)
{
	if (!items)
		return NULL;
	for (size_t i = 0; items[i]; i++)
		free(items[i]);
	free(items);
	return NULL;
}

/* Resolve a relative ipc:// path against runtime_dir (see config.h). */
int mb_cfg_endpoint_resolve(const char *endpoint, const char *runtime_dir, char *buf, size_t cap)
{
	int n;
	if (strncmp(endpoint, "ipc://", 6) == 0 && endpoint[6] != '/' && endpoint[6] != '@' && runtime_dir)
		n = snprintf(buf, cap, "ipc://%s/%s", runtime_dir, endpoint + 6);
	else
		n = snprintf(buf, cap, "%s", endpoint);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}
