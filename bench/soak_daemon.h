/* SPDX-License-Identifier: MIT */
/*
 * soak_daemon.h - what the soak and stall measurements add to
 * bench_daemon.h: the daemon's memory and CPU time from /proc, the
 * counters of one source from a "stats" reply, a feeder thread that sends
 * exactly the samples it was told to, and a shutdown that keeps the exit
 * status and looks for sanitizer reports in the log.
 */
#ifndef MB_BENCH_SOAK_DAEMON_H
#define MB_BENCH_SOAK_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench_daemon.h"

/*
 * One "kB" line of /proc/PID/status ("VmRSS", "VmHWM") in KiB, or -1 when
 * the process is gone.
 */
long soak_proc_kib(pid_t pid, const char *field);

/* User plus system CPU seconds the process has used, or -1. */
double soak_proc_cpu(pid_t pid);

/* The counters of one source as a "stats" reply gives them. */
struct soak_source_counts {
	double received; /* samples that arrived, valid or not */
	double queued;   /* samples put into a batch for the trainer */
	double dropped;  /* valid samples the backpressure policy threw away */
	double rejected; /* messages or rows a decoder refused */
};

/*
 * The counters of the source called name in a "stats" reply. 0, or -1
 * when the reply has no such source.
 */
int soak_source_counts(const char *json, const char *name, struct soak_source_counts *ret);

/* A thread that sends samples to one ZeroMQ endpoint as fast as it is taken. */
struct soak_feeder {
	const struct bench_msgs *msgs; /* the message cycle, shared read-only */
	char endpoint[512];            /* where the daemon's PULL socket is bound */
	uint64_t first_msg;            /* the cycle index to start from */
	uint64_t msgs_to_send;         /* whole messages to send */
	_Atomic uint64_t sent;         /* samples zmq_send accepted so far */
	_Atomic bool stop;             /* set to end early */
	int error;                     /* 0, or the zmq errno that ended the feed */
	void *zctx;                    /* the feeder's own ZeroMQ context */
	pthread_t thread;              /* the running feeder */
};

/*
 * Start a feeder thread with its own context (so its own I/O thread, like a
 * producer process) and a PUSH socket connected to endpoint, to send n_msgs
 * messages of the cycle from first_msg on (UINT64_MAX: until stopped).
 * 0, or -1 after a message.
 */
int soak_feeder_start(struct soak_feeder *f, const struct bench_msgs *msgs, const char *endpoint,
		      uint64_t first_msg, uint64_t n_msgs);

/* Wait for the feeder (after setting stop when early), then close its context. */
void soak_feeder_join(struct soak_feeder *f, bool early);

/* How the daemon ended after soak_daemon_shutdown. */
struct soak_exit {
	int status;        /* the wait status; -1 when it had to be killed or was not running */
	unsigned reports;  /* AddressSanitizer, LeakSanitizer and UBSan reports in its log */
};

/*
 * SIGTERM the daemon, wait up to timeout_s for it (SIGKILL then), count the
 * sanitizer reports its log holds (printing them to stderr), then remove
 * everything in its runtime directory and release the rest of d.
 */
void soak_daemon_shutdown(struct bench_daemon *d, int timeout_s, struct soak_exit *ret);

/*
 * From now on SIGINT, SIGTERM and SIGHUP only set a flag that
 * soak_interrupted() reports, so that the caller stops its daemon before
 * it exits; SIGPIPE is ignored (stdout into a closed pipe must not leave a
 * daemon behind).
 */
void soak_catch_signals(void);

/* Whether one of those signals arrived. */
bool soak_interrupted(void);

/*
 * The directory this program lives in, with a libtool ".libs" stripped, so
 * the daemon of the same build tree can be found; buf holds cap bytes.
 */
void soak_self_dir(char *buf, size_t cap);

#endif /* MB_BENCH_SOAK_DAEMON_H */
