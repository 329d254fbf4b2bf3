/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - configuration files and -o overrides against arbitrary bytes.
 *
 * The input is a configuration file up to its first NUL byte (a file may
 * hold none, so nothing is lost), then NUL-separated -o overrides. The
 * file reaches the parser as the daemon reads it, by path: through a
 * memory file opened as /proc/self/fd/N. The configuration is built
 * exactly as at start-up (daemon/config_args.h: defaults, file,
 * overrides, finish). A refusal must name where and why and leave the
 * result alone; an accepted configuration must hold typed values inside
 * the key table's ranges, and what --check-config prints of it must load
 * again and print the very same text.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "config_args.h"
#include "fuzz.h"
#include "mb_proto.h"

#define MAX_OVERRIDES 8u

/* A memory file and its /proc path, made once: the fuzzer calls us millions of times. */
struct memfile {
	int fd;         /* memfd, -1 before first use */
	char path[64];  /* /proc/self/fd/N */
};

static struct memfile input = {.fd = -1}, printed = {.fd = -1};

static void memfile_put(struct memfile *m, const void *p, size_t n)
{
	if (m->fd < 0) {
		m->fd = memfd_create("mb-fuzz-config", MFD_CLOEXEC);
		MB_FUZZ_CHECK(m->fd >= 0);
		snprintf(m->path, sizeof m->path, "/proc/self/fd/%d", m->fd);
	}
	MB_FUZZ_CHECK(ftruncate(m->fd, 0) == 0);
	const char *b = p;
	for (size_t off = 0; off < n;) {
		ssize_t w = pwrite(m->fd, b + off, n - off, (off_t)off);
		MB_FUZZ_CHECK(w > 0);
		off += (size_t)w;
	}
}

/* The text mb_config_print writes for c, malloc'ed. */
static char *print_text(const struct mb_config *c, size_t *ret_len)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	MB_FUZZ_CHECK(f != NULL);
	mb_config_print(c, f);
	MB_FUZZ_CHECK(fclose(f) == 0);
	*ret_len = len;
	return text;
}

static bool is_choice(const char *choices, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = choices; p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

/* Every typed field of an accepted configuration lies inside its row's range or choices. */
static void check_typed(const struct mb_config *c)
{
	for (size_t i = 0; i < mb_cfg_n_keys; i++) {
		const struct mb_cfg_key *k = &mb_cfg_keys[i];
		if (strcmp(k->section, "source") == 0)
			continue;
		const char *field = (const char *)c + k->offset;
		double v;
		switch (k->type) {
		case MB_CFG_U32:
			v = (double)*(const uint32_t *)(const void *)field;
			MB_FUZZ_CHECK(v >= k->min && v <= k->max);
			break;
		case MB_CFG_U64:
			v = (double)*(const uint64_t *)(const void *)field;
			MB_FUZZ_CHECK(v >= k->min && v <= k->max);
			break;
		case MB_CFG_DOUBLE:
			v = *(const double *)(const void *)field;
			MB_FUZZ_CHECK(isfinite(v) && v >= k->min && v <= k->max);
			break;
		case MB_CFG_ENUM:
			MB_FUZZ_CHECK(is_choice(k->choices, *(const char *const *)(const void *)field));
			break;
		case MB_CFG_BOOL:
		case MB_CFG_STRING:
		case MB_CFG_LIST:
			break;
		}
	}
	MB_FUZZ_CHECK(c->n_sources >= 1 && c->n_sources <= MB_MAX_SOURCES);
	for (unsigned s = 0; s < c->n_sources; s++) {
		const struct mb_source_cfg *src = &c->sources[s];
		MB_FUZZ_CHECK(src->index == s);
		MB_FUZZ_CHECK(src->name[0] != '\0' && memchr(src->name, '\0', sizeof src->name));
		MB_FUZZ_CHECK(src->type && (strcmp(src->type, "zmq") == 0 || strcmp(src->type, "file") == 0));
	}
	struct mb_optim_cfg o;
	MB_FUZZ_CHECK(mb_config_optim_cfg(c, &o) == 0);
}

/* A refusal names where it happened and why, and hands back nothing. */
static void check_refusal(int rc, const struct mb_config *c, const struct mb_cfg_err *err)
{
	MB_FUZZ_CHECK(rc < 0 && rc > -4096);
	MB_FUZZ_CHECK(c == NULL);
	MB_FUZZ_CHECK(memchr(err->text, '\0', sizeof err->text) != NULL);
	MB_FUZZ_CHECK(err->text[0] != '\0');
	if (rc != -ENOMEM)
		MB_FUZZ_CHECK(strncmp(err->text, input.path, strlen(input.path)) == 0 ||
			      strncmp(err->text, "-o #", 4) == 0 || strncmp(err->text, "default: ", 9) == 0);
}

/*
 * Whether this printed text was checked before. The round trip depends on
 * nothing but the text, and most inputs a fuzzer makes print one of a few
 * texts (the defaults with a key or two changed), so each is loaded back
 * once: a full reload costs more than everything else the target does.
 */
static bool seen_before(const char *text, size_t len)
{
	static uint64_t seen[1u << 16];
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)text[i]) * 0x100000001b3u;
	h |= 1; /* 0 marks a free slot */
	for (size_t i = (size_t)h, probes = 0; probes < 8; i++, probes++) {
		uint64_t *slot = &seen[i & (sizeof seen / sizeof seen[0] - 1)];
		if (*slot == h)
			return true;
		if (*slot == 0) {
			*slot = h;
			return false;
		}
	}
	return false;
}

/* What was printed loads again, as the only file, and prints the same. */
static void check_round_trip(const char *text, size_t len)
{
	if (seen_before(text, len))
		return;
	memfile_put(&printed, text, len);
	struct mb_config_args again = {.file = printed.path};
	struct mb_config *c = NULL;
	struct mb_cfg_err err = {{0}};
	int rc = mb_config_args_load(&again, &c, &err);
	if (rc < 0)
		fprintf(stderr, "the printed configuration does not load: %s\n%s", err.text, text);
	MB_FUZZ_CHECK(rc == 0);
	size_t len2;
	char *text2 = print_text(c, &len2);
	if (len2 != len || memcmp(text, text2, len) != 0)
		fprintf(stderr, "printed once:\n%s\nprinted again:\n%s", text, text2);
	MB_FUZZ_CHECK(len2 == len && memcmp(text, text2, len) == 0);
	free(text2);
	mb_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t file_len = nul ? (size_t)(nul - data) : size;
	memfile_put(&input, data, file_len);

	/* The overrides: NUL-terminated copies of the pieces after the file. */
	char *overrides[MAX_OVERRIDES];
	unsigned n = 0;
	for (size_t off = file_len + 1; nul && off <= size && n < MAX_OVERRIDES;) {
		const uint8_t *end = memchr(data + off, '\0', size - off);
		size_t piece = end ? (size_t)(end - (data + off)) : size - off;
		overrides[n] = strndup((const char *)data + off, piece);
		MB_FUZZ_CHECK(overrides[n] != NULL);
		n++;
		off += piece + 1;
	}

	struct mb_config_args args = {
		.file = input.path,
		.overrides = (const char *const *)overrides,
		.n_overrides = n,
	};
	struct mb_config *c = NULL;
	struct mb_cfg_err err = {{0}};
	int rc = mb_config_args_load(&args, &c, &err);
	if (rc < 0) {
		check_refusal(rc, c, &err);
	} else {
		check_typed(c);
		size_t len;
		char *text = print_text(c, &len);
		check_round_trip(text, len);
		free(text);
		mb_config_free(c);
	}
	for (unsigned i = 0; i < n; i++)
		free(overrides[i]);
	return 0;
}
