/* SPDX-License-Identifier: MIT */
/*
 * ctl_svg.c - a line chart as a standalone SVG document (see ctl_svg.h).
 *
 * Ticks fall on round numbers (1, 2 or 5 times a power of ten) so a reader
 * can interpolate by eye; the axes are widened to the ticks around the data,
 * so no point sits on the frame. Large abscissae (samples seen) are labelled
 * with k, M and G rather than long runs of digits.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ctl_svg.h"

/* Room around the plot area for the title, tick labels and axis labels. */
#define MARGIN_LEFT   72.0
#define MARGIN_RIGHT  24.0
#define MARGIN_TOP    44.0
#define MARGIN_BOTTOM 56.0
#define TICK_LEN      5.0
/* Ticks a linear axis aims for; the round step makes it between about half and twice that. */
#define X_TICKS 7.0
#define Y_TICKS 6.0
/* Most ticks drawn on one axis, whatever the data. */
#define MAX_TICKS 64

/* One axis: the data interval it shows and how that maps to pixels. */
struct axis {
	double lo, hi;     /* shown interval (log10 of it on a log axis) */
	double step;       /* distance between labelled ticks (decades on a log axis) */
	bool log;          /* values are mapped through log10 */
	double p0, p1;     /* pixels of lo and hi */
};

static double axis_map(const struct axis *a, double v)
{
	double t = a->log ? log10(v) : v;
	return a->p0 + (t - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* 1, 2 or 5 times a power of ten, near rough. */
static double round_step(double rough)
{
	double mag = pow(10.0, floor(log10(rough)));
	double norm = rough / mag;
	return (norm < 1.5 ? 1.0 : norm < 3.5 ? 2.0 : norm < 7.5 ? 5.0 : 10.0) * mag;
}

/* A linear axis over [lo, hi] widened to round ticks, about n of them. */
static void axis_linear(struct axis *a, double lo, double hi, double n)
{
	if (hi - lo <= fabs(hi) * 1e-9) { /* one value: show a band around it */
		double pad = fabs(hi) > 0 ? fabs(hi) * 0.1 : 1.0;
		lo -= pad;
		hi += pad;
	}
	a->log = false;
	a->step = round_step((hi - lo) / n);
	a->lo = floor(lo / a->step + 1e-9) * a->step;
	a->hi = ceil(hi / a->step - 1e-9) * a->step;
}

/* The largest 1, 2 or 5 times a power of ten at most v (v > 0); the smallest at least v when up. */
static double round_125(double v, bool up)
{
	static const double m[] = {1, 2, 5, 10};
	double decade = pow(10.0, floor(log10(v)));
	if (!up) {
		for (int i = 2; i >= 0; i--)
			if (m[i] * decade <= v * (1 + 1e-9))
				return m[i] * decade;
		return decade;
	}
	for (int i = 0; i < 4; i++)
		if (m[i] * decade >= v * (1 - 1e-9))
			return m[i] * decade;
	return 10 * decade;
}

/* A log axis over [lo, hi] (both > 0) widened to 1, 2 or 5 times powers of ten. */
static void axis_log(struct axis *a, double lo, double hi)
{
	a->log = true;
	a->step = 1.0;
	a->lo = log10(round_125(lo, false));
	a->hi = log10(round_125(hi, true));
	if (a->hi <= a->lo + 1e-9)
		a->hi = log10(round_125(pow(10.0, a->lo) * 1.5, true));
}

/* Text with the five XML special characters escaped. */
static void put_text(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* A tick label: 3 significant digits, with k, M or G for large values. */
static void format_value(char *buf, size_t cap, double v, bool si)
{
	static const struct { double scale; const char *suffix; } units[] = {
		{1e9, "G"}, {1e6, "M"}, {1e3, "k"},
	};
	if (si)
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
			if (fabs(v) >= units[i].scale) {
				snprintf(buf, cap, "%.3g%s", v / units[i].scale, units[i].suffix);
				return;
			}
	snprintf(buf, cap, "%.3g", v);
}

static bool usable(const struct ctl_svg_series *s, size_t i, bool log_y)
{
	return isfinite(s->x[i]) && isfinite(s->y[i]) && (!log_y || s->y[i] > 0);
}

/* The bounds of every point drawn; false when there is none. */
static bool data_bounds(const struct ctl_svg_series *series, size_t n, bool log_y, double ret[4])
{
	double b[4] = {INFINITY, -INFINITY, INFINITY, -INFINITY};
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < series[k].n; i++) {
			if (!usable(&series[k], i, log_y))
				continue;
			b[0] = fmin(b[0], series[k].x[i]);
			b[1] = fmax(b[1], series[k].x[i]);
			b[2] = fmin(b[2], series[k].y[i]);
			b[3] = fmax(b[3], series[k].y[i]);
		}
	if (b[0] > b[1])
		return false;
	memcpy(ret, b, sizeof b);
	return true;
}

/* Grid lines, ticks and labels of the x axis. */
static void draw_x_axis(FILE *f, const struct axis *x, double top, double bottom)
{
	for (int i = 0; i < MAX_TICKS; i++) {
		double v = x->lo + i * x->step;
		if (v > x->hi + x->step * 1e-6)
			break;
		if (fabs(v) < x->step * 1e-6)
			v = 0;
		double px = axis_map(x, v);
		char label[32];
		format_value(label, sizeof label, v, true);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", px, top,
			px, bottom);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n", px, bottom,
			px, bottom + TICK_LEN);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", px,
			bottom + TICK_LEN + 14, label);
	}
}

/* One y tick at value v; labelled ones get a grid line and text. */
static void y_tick(FILE *f, const struct axis *y, double v, bool labelled, double left, double right)
{
	double py = axis_map(y, v);
	char label[32];
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", left, py, right, py,
		labelled ? "#e4e4e4" : "#f2f2f2");
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n",
		left - (labelled ? TICK_LEN : TICK_LEN / 2), py, left, py);
	if (!labelled)
		return;
	format_value(label, sizeof label, v, false);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", left - TICK_LEN - 3, py + 4,
		label);
}

/*
 * Ticks of the y axis: round steps on a linear axis; on a log axis every
 * power of ten labelled and 2 to 9 times each as minor ticks, 2 and 5 times
 * labelled too when the axis spans two decades or fewer, so it has enough text.
 */
static void draw_y_axis(FILE *f, const struct axis *y, double left, double right)
{
	if (!y->log) {
		for (int i = 0; i < MAX_TICKS; i++) {
			double v = y->lo + i * y->step;
			if (v > y->hi + y->step * 1e-6)
				break;
			y_tick(f, y, fabs(v) < y->step * 1e-6 ? 0 : v, true, left, right);
		}
		return;
	}
	bool few = y->hi - y->lo <= 2;
	int first = (int)floor(y->lo + 1e-9), last = (int)ceil(y->hi - 1e-9);
	for (int d = first; d <= last && d - first < MAX_TICKS; d++)
		for (int m = 1; m <= 9; m++) {
			double v = m * pow(10.0, d), t = log10(v);
			if (t < y->lo - 1e-9 || t > y->hi + 1e-9)
				continue;
			y_tick(f, y, v, m == 1 || (few && (m == 2 || m == 5)), left, right);
		}
}

static void draw_series(FILE *f, const struct ctl_svg_series *s, const struct axis *x, const struct axis *y)
{
	fprintf(f, "<polyline id=\"");
	put_text(f, s->id);
	fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.2g\" stroke-linejoin=\"round\"%s points=\"",
		s->color, s->width, s->dashed ? " stroke-dasharray=\"6 4\"" : "");
	bool first = true;
	for (size_t i = 0; i < s->n; i++) {
		if (!usable(s, i, y->log))
			continue;
		fprintf(f, "%s%.1f,%.1f", first ? "" : " ", axis_map(x, s->x[i]), axis_map(y, s->y[i]));
		first = false;
	}
	fprintf(f, "\"/>\n");
}

/* The legend: a sample of each line and its label, in the top right corner. */
static void draw_legend(FILE *f, const struct ctl_svg_series *series, size_t n, double right, double top)
{
	size_t longest = 0;
	for (size_t k = 0; k < n; k++)
		longest = series[k].label && strlen(series[k].label) > longest ? strlen(series[k].label) : longest;
	double w = 44 + 6.6 * (double)longest, h = 8 + 18 * (double)n;
	double x0 = right - 10 - w, y0 = top + 10;
	fprintf(f, "<g id=\"legend\">\n");
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" fill-opacity=\"0.85\" "
		"stroke=\"#bbb\"/>\n", x0, y0, w, h);
	for (size_t k = 0; k < n; k++) {
		double ly = y0 + 17 + 18 * (double)k;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%.2g\"%s/>\n",
			x0 + 8, ly - 4, x0 + 32, ly - 4, series[k].color, series[k].width,
			series[k].dashed ? " stroke-dasharray=\"6 4\"" : "");
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x0 + 38, ly);
		put_text(f, series[k].label);
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</g>\n");
}

/* Write the chart (see ctl_svg.h). */
int ctl_svg_chart_write(FILE *f, const struct ctl_svg_chart *c, const struct ctl_svg_series *series, size_t n)
{
	double b[4];
	if (!data_bounds(series, n, c->log_y, b))
		return -EINVAL;
	double width = c->width ? c->width : CTL_SVG_DEFAULT_WIDTH;
	double height = c->height ? c->height : CTL_SVG_DEFAULT_HEIGHT;
	double left = MARGIN_LEFT, right = width - MARGIN_RIGHT;
	double top = MARGIN_TOP, bottom = height - MARGIN_BOTTOM;

	struct axis x, y;
	/* Counts such as samples seen read best from 0. */
	axis_linear(&x, b[0] >= 0 ? 0 : b[0], b[1], X_TICKS);
	if (c->log_y)
		axis_log(&y, b[2], b[3]);
	else
		axis_linear(&y, b[2], b[3], Y_TICKS);
	x.p0 = left;
	x.p1 = right;
	y.p0 = bottom;
	y.p1 = top;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
		width, height, width, height);
	fprintf(f, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", width, height);
	if (c->title) {
		fprintf(f, "<text id=\"title\" x=\"%.1f\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">",
			(left + right) / 2);
		put_text(f, c->title);
		fprintf(f, "</text>\n");
	}
	fprintf(f, "<g id=\"axes\">\n");
	draw_x_axis(f, &x, top, bottom);
	draw_y_axis(f, &y, left, right);
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#000\"/>\n",
		left, top, right - left, bottom - top);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (left + right) / 2, height - 14);
	put_text(f, c->x_label);
	fprintf(f, "</text>\n");
	fprintf(f, "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.1f)\">",
		(top + bottom) / 2, (top + bottom) / 2);
	put_text(f, c->y_label);
	fprintf(f, "%s</text>\n", c->log_y ? " (log scale)" : "");
	fprintf(f, "</g>\n");
	for (size_t k = 0; k < n; k++)
		draw_series(f, &series[k], &x, &y);
	draw_legend(f, series, n, right, top);
	fprintf(f, "</svg>\n");
	return ferror(f) ? -EIO : 0;
}
