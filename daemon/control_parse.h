/* SPDX-License-Identifier: MIT */
/*
 * control_parse.h - what a control request asks for, decided without a socket.
 *
 * A request is one frame of bytes from a peer (proto/mb_proto.h): a
 * command word, optionally followed by a space and an argument, at most
 * MB_MAX_CONTROL_BYTES, every byte printable ASCII; a trailing CR or LF
 * (as a shell's echo or a telnet user sends it) is ignored. No command
 * takes an argument yet, so a request that carries one is refused rather
 * than half understood. Kept apart from control.c so the rules can be
 * tested and fuzzed without a daemon behind them.
 */
#ifndef MB_DAEMON_CONTROL_PARSE_H
#define MB_DAEMON_CONTROL_PARSE_H

#include <stddef.h>

/* The commands of the control socket. */
enum mb_control_cmd {
	MB_CONTROL_STATUS = 1, /* MB_CTL_STATUS: training figures */
	MB_CONTROL_STATS,      /* MB_CTL_STATS: the same and every source's */
	MB_CONTROL_SNAPSHOT,   /* MB_CTL_SNAPSHOT: publish now */
	MB_CONTROL_PAUSE,      /* MB_CTL_PAUSE: stop reading the sources */
	MB_CONTROL_RESUME,     /* MB_CTL_RESUME: read them again */
	MB_CONTROL_RELOAD,     /* MB_CTL_RELOAD: read the configuration again */
	MB_CONTROL_SAVE,       /* MB_CTL_SAVE: write a checkpoint now */
	MB_CONTROL_RESET,      /* MB_CTL_RESET: start the model afresh */
	MB_CONTROL_MAX_,       /* one past the last command */
};

/* The word a client writes for cmd (MB_CTL_*), or NULL when cmd is not a command. */
const char *mb_control_cmd_name(enum mb_control_cmd cmd);

/*
 * Parse one request of len bytes at req (not NUL-terminated; any bytes).
 * 0 and *ret, or a negative errno with *why, a sentence for the error
 * reply (static), and *ret untouched:
 *   -EMSGSIZE   longer than MB_MAX_CONTROL_BYTES
 *   -EBADMSG    a byte that is not printable ASCII (CR and LF at the end aside)
 *   -ENODATA    no command word
 *   -EOPNOTSUPP a word that is no command (commands are lower case)
 *   -EINVAL     an argument (even an empty one) to a command that takes none
 */
int mb_control_parse(const char *req, size_t len, const char **why, enum mb_control_cmd *ret);

#endif /* MB_DAEMON_CONTROL_PARSE_H */
