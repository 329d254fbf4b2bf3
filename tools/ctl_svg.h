/* SPDX-License-Identifier: MIT */
/*
 * ctl_svg.h - a line chart as a standalone SVG document, for minibatchctl plot.
 *
 * Axes with ticks at round numbers, grid lines, a title, a legend, and one
 * polyline per series; the y axis linear or logarithmic. No dependency: the
 * document is written as text, so any browser or image viewer shows it.
 */
#ifndef MB_CTL_SVG_H
#define MB_CTL_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Width and height of a chart whose configuration leaves them 0. */
#define CTL_SVG_DEFAULT_WIDTH  800u
#define CTL_SVG_DEFAULT_HEIGHT 480u

/* One line of the chart. */
struct ctl_svg_series {
	const char *id;      /* id attribute of its polyline, so scripts can find it */
	const char *label;   /* its legend entry */
	const char *color;   /* stroke colour, "#rrggbb" */
	double width;        /* stroke width in pixels */
	bool dashed;         /* drawn dashed, to tell it apart without colour */
	const double *x;     /* n abscissae */
	const double *y;     /* n ordinates; a point whose y is not finite, or not
	                      * positive on a log scale, is left out of the line */
	size_t n;            /* points */
};

/* The chart around the series. */
struct ctl_svg_chart {
	const char *title;   /* above the plot area; NULL for none */
	const char *x_label; /* under the x axis */
	const char *y_label; /* beside the y axis */
	bool log_y;          /* logarithmic y axis, ticks at powers of ten */
	unsigned width;      /* pixels; 0 for CTL_SVG_DEFAULT_WIDTH */
	unsigned height;     /* pixels; 0 for CTL_SVG_DEFAULT_HEIGHT */
};

/*
 * Write the chart of n series to f. The axes span every point drawn. 0, or
 * -EINVAL when no series has a point to draw (nothing is written then),
 * -EIO when writing failed.
 */
int ctl_svg_chart_write(FILE *f, const struct ctl_svg_chart *chart, const struct ctl_svg_series *series,
			size_t n);

#endif /* MB_CTL_SVG_H */
