/* SPDX-License-Identifier: MIT */
/* control_parse.c - turn a control request's bytes into a command, or say why not. */
#include <errno.h>
#include <string.h>

#include "control_parse.h"
#include "mb_proto.h"

/* The refusal below names the limit in words; keep the two together. */
_Static_assert(MB_MAX_CONTROL_BYTES == 4096u, "the too-long refusal names 4096 bytes");

static const char *const names[MB_CONTROL_MAX_] = {
	[MB_CONTROL_STATUS] = MB_CTL_STATUS,
	[MB_CONTROL_STATS] = MB_CTL_STATS,
	[MB_CONTROL_SNAPSHOT] = MB_CTL_SNAPSHOT,
	[MB_CONTROL_PAUSE] = MB_CTL_PAUSE,
	[MB_CONTROL_RESUME] = MB_CTL_RESUME,
	[MB_CONTROL_RELOAD] = MB_CTL_RELOAD,
	[MB_CONTROL_SAVE] = MB_CTL_SAVE,
	[MB_CONTROL_RESET] = MB_CTL_RESET,
};

/* The word a client writes for cmd (see control_parse.h). */
const char *mb_control_cmd_name(enum mb_control_cmd cmd)
{
	if ((int)cmd <= 0 || (int)cmd >= MB_CONTROL_MAX_)
		return NULL;
	return names[cmd];
}

static int refuse(int code, const char *sentence, const char **why)
{
	*why = sentence;
	return code;
}

/* Parse one request (see control_parse.h). */
int mb_control_parse(const char *req, size_t len, const char **why, enum mb_control_cmd *ret)
{
	if (len > MB_MAX_CONTROL_BYTES)
		return refuse(-EMSGSIZE, "request longer than 4096 bytes", why);
	while (len && (req[len - 1] == '\n' || req[len - 1] == '\r'))
		len--;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)req[i] < 0x20 || (unsigned char)req[i] > 0x7e)
			return refuse(-EBADMSG, "malformed request: not a line of printable ASCII", why);
	const char *space = memchr(req, ' ', len);
	size_t word = space ? (size_t)(space - req) : len;
	if (word == 0)
		return refuse(-ENODATA, "empty request", why);
	enum mb_control_cmd cmd = 0;
	for (int c = 1; c < MB_CONTROL_MAX_; c++) {
		if (strlen(names[c]) == word && memcmp(names[c], req, word) == 0) {
			cmd = (enum mb_control_cmd)c;
			break;
		}
	}
	if (!cmd)
		return refuse(-EOPNOTSUPP, "unknown command", why);
	if (space)
		return refuse(-EINVAL, "this command takes no argument", why);
	*ret = cmd;
	return 0;
}
