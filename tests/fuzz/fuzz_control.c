/* SPDX-License-Identifier: MIT */
/*
 * fuzz_control.c - the control request parser against arbitrary bytes.
 *
 * Anyone who can reach the control socket chooses these bytes. Beyond not
 * crashing, the parser must keep the promises of daemon/control_parse.h
 * exactly: each refusal comes for the reason its errno names and with a
 * sentence for the reply, nothing is written on a refusal, and a request
 * is accepted only when it is a command word with at most CR and LF
 * after it; that word rendered again parses to the same command.
 */
#include <errno.h>
#include <string.h>

#include "control_parse.h"
#include "fuzz.h"
#include "mb_proto.h"

/* The request without the CR and LF bytes at its end, as its length. */
static size_t stripped_len(const uint8_t *data, size_t size)
{
	while (size && (data[size - 1] == '\n' || data[size - 1] == '\r'))
		size--;
	return size;
}

static bool printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

/* The command whose word is p[0..n), or 0. */
static enum mb_control_cmd word_cmd(const uint8_t *p, size_t n)
{
	for (int c = 1; c < MB_CONTROL_MAX_; c++) {
		const char *name = mb_control_cmd_name((enum mb_control_cmd)c);
		if (strlen(name) == n && memcmp(name, p, n) == 0)
			return (enum mb_control_cmd)c;
	}
	return 0;
}

/* A command's word, with a line end or not, parses back to the command. */
static void check_render(enum mb_control_cmd cmd)
{
	static const char *const ends[] = {"", "\n", "\r\n", "\n\n\r"};
	char line[64];
	for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		int n = snprintf(line, sizeof line, "%s%s", mb_control_cmd_name(cmd), ends[i]);
		enum mb_control_cmd again = 0;
		const char *why = NULL;
		MB_FUZZ_CHECK(mb_control_parse(line, (size_t)n, &why, &again) == 0);
		MB_FUZZ_CHECK(again == cmd);
	}
	/* The same word with an argument is refused, not half understood. */
	int n = snprintf(line, sizeof line, "%s now", mb_control_cmd_name(cmd));
	enum mb_control_cmd again = 0;
	const char *why = NULL;
	MB_FUZZ_CHECK(mb_control_parse(line, (size_t)n, &why, &again) == -EINVAL);
	MB_FUZZ_CHECK(again == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MB_FUZZ_CHECK(mb_control_cmd_name(0) == NULL);
	MB_FUZZ_CHECK(mb_control_cmd_name(MB_CONTROL_MAX_) == NULL);

	enum mb_control_cmd cmd = MB_CONTROL_MAX_;
	const char *why = NULL;
	int rc = mb_control_parse((const char *)data, size, &why, &cmd);

	size_t len = stripped_len(data, size);
	const uint8_t *space = memchr(data, ' ', len);
	size_t word = space ? (size_t)(space - data) : len;
	if (rc == 0) {
		/* Accepted: the whole line is the word of the command returned. */
		MB_FUZZ_CHECK(size <= MB_MAX_CONTROL_BYTES);
		MB_FUZZ_CHECK(cmd > 0 && cmd < MB_CONTROL_MAX_);
		MB_FUZZ_CHECK(!space && word_cmd(data, len) == cmd);
		check_render(cmd);
		return 0;
	}

	/* Refused: untouched result, a sentence, and the first rule broken is the one named. */
	MB_FUZZ_CHECK(cmd == MB_CONTROL_MAX_);
	MB_FUZZ_CHECK(why != NULL && why[0] != '\0');
	if (size > MB_MAX_CONTROL_BYTES)
		MB_FUZZ_CHECK(rc == -EMSGSIZE);
	else if (!printable(data, len))
		MB_FUZZ_CHECK(rc == -EBADMSG);
	else if (word == 0)
		MB_FUZZ_CHECK(rc == -ENODATA);
	else if (!word_cmd(data, word))
		MB_FUZZ_CHECK(rc == -EOPNOTSUPP);
	else
		MB_FUZZ_CHECK(rc == -EINVAL && space);
	return 0;
}
