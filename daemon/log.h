/* SPDX-License-Identifier: MIT */
/*
 * log.h - the daemon's log: one line per event on stderr.
 *
 * Each line starts with an sd-daemon priority prefix ("<6>"), so journald
 * files it at the right priority when the daemon runs under systemd, and a
 * person reading a terminal still sees plain text. Lines are written with
 * one write(2) each, so lines from different threads never interleave, and
 * a control byte in the text (a newline in a peer's data) is written as a
 * space, so one event is always exactly one line.
 *
 * Rejected input can arrive at any rate a peer likes; struct mb_log_limit
 * caps such lines per source (MB_LOG_LIMIT_BURST a second) and then says
 * once how many were left out.
 */
#ifndef MB_DAEMON_LOG_H
#define MB_DAEMON_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#define MB_LOG_LINE_BYTES  1024u /* longest line; longer ones are cut */
#define MB_LOG_LIMIT_BURST 10u   /* limited lines per second */

/* Set the lowest priority written (LOG_ERR..LOG_DEBUG), from any thread; the default is LOG_INFO. */
void mb_log_set_level(int priority);

/* Parse "debug", "info", "notice", "warning", "err" into a priority; -EINVAL. */
int mb_log_level_parse(const char *name, int *ret);

/* True when a line of this priority would be written. */
bool mb_log_enabled(int priority);

/* Write one line at priority (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG). */
void mb_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A rate limiter for one stream of similar lines; owned by one thread. */
struct mb_log_limit {
	int64_t window_ns;   /* start of the current one-second window (CLOCK_MONOTONIC) */
	uint32_t in_window;  /* lines written in it */
	uint64_t suppressed; /* lines left out since the last summary */
	const char *what;    /* names the stream in the summary line, e.g. the source */
};

/*
 * Write the line if the limit allows, else count it. When a new window
 * opens after lines were left out, first writes "WHAT: N more rejected
 * lines suppressed".
 */
void mb_log_limited(struct mb_log_limit *l, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write the summary once the window of suppressed lines has passed (call when idle). */
void mb_log_limit_tick(struct mb_log_limit *l, int priority);

/* Write the pending summary, if any lines were left out (at the end of a run). */
void mb_log_limit_flush(struct mb_log_limit *l, int priority);

#endif /* MB_DAEMON_LOG_H */
