/* SPDX-License-Identifier: MIT */
/*
 * ctl_progress.c - how far a feed has got: a bar redrawn in place on a
 * terminal, a plain line every few seconds when stderr is a file or pipe
 * (so logs stay short and readable).
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "ctl.h"

/* Redraws of the bar per second: often enough to look alive. */
#define BAR_HZ 10.0
#define BAR_WIDTH 30

/* Write a count of seconds as M:SS or H:MM:SS. */
static void format_duration(char *buf, size_t cap, double s)
{
	if (s < 0 || s > 1e7) {
		snprintf(buf, cap, "--:--");
		return;
	}
	unsigned long t = (unsigned long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, cap, "%lu:%02lu", t / 60, t % 60);
}

/* Begin reporting on a job of total samples (0: open-ended). */
void ctl_progress_start(struct ctl_progress *p, uint64_t total, double interval, bool quiet)
{
	p->total = total;
	p->start = p->last = ctl_now();
	p->interval = interval > 0 ? interval : 5.0;
	p->tty = isatty(STDERR_FILENO);
	p->quiet = quiet;
	p->drawn = false;
}

static void report(struct ctl_progress *p, uint64_t done, double now, bool final)
{
	double elapsed = now - p->start;
	double rate = elapsed > 0 ? (double)done / elapsed : 0;
	char eta[32] = "";
	if (p->total && rate > 0 && done <= p->total)
		format_duration(eta, sizeof eta, (double)(p->total - done) / rate);

	if (p->tty) {
		char bar[BAR_WIDTH + 1];
		unsigned fill = p->total ? (unsigned)(BAR_WIDTH * (done < p->total ? done : p->total) / p->total) : 0;
		for (unsigned i = 0; i < BAR_WIDTH; i++)
			bar[i] = p->total ? (i < fill ? '#' : '-') : (i == (unsigned)(elapsed * 4) % BAR_WIDTH ? '#' : '-');
		bar[BAR_WIDTH] = '\0';
		if (p->total)
			fprintf(stderr, "\r[%s] %3u%%  %llu/%llu samples  %.0f/s  ETA %s\033[K", bar,
				(unsigned)(100 * done / p->total), (unsigned long long)done,
				(unsigned long long)p->total, rate, final ? "0:00" : eta);
		else
			fprintf(stderr, "\r[%s] %llu samples  %.0f/s\033[K", bar, (unsigned long long)done, rate);
		if (final)
			fputc('\n', stderr);
		p->drawn = !final;
	} else if (p->total) {
		fprintf(stderr, "feed: %llu/%llu samples (%u%%), %.0f samples/s%s%s\n", (unsigned long long)done,
			(unsigned long long)p->total, (unsigned)(100 * done / p->total), rate, *eta ? ", ETA " : "",
			eta);
	} else {
		fprintf(stderr, "feed: %llu samples, %.0f samples/s\n", (unsigned long long)done, rate);
	}
	fflush(stderr);
}

/* Report done samples if the bar or the next plain line is due. */
void ctl_progress_update(struct ctl_progress *p, uint64_t done)
{
	if (p->quiet)
		return;
	double now = ctl_now();
	if (now - p->last < (p->tty ? 1.0 / BAR_HZ : p->interval))
		return;
	p->last = now;
	report(p, done, now, false);
}

/* Finish: complete the bar on a terminal; plain output needs no last line. */
void ctl_progress_end(struct ctl_progress *p, uint64_t done)
{
	if (p->quiet || !p->tty)
		return;
	report(p, done, ctl_now(), true);
}
