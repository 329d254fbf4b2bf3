/* SPDX-License-Identifier: MIT */
/*
 * ctl_plot.h - minibatchctl plot: the cost curve of a training run as SVG.
 */
#ifndef MB_CTL_PLOT_H
#define MB_CTL_PLOT_H

struct ctl_env;

/*
 * minibatchctl plot [OPTIONS] [CSV]: read `watch --csv` output from CSV (or
 * follow the daemon's snapshots when no file is given) and write the cost
 * against samples seen, with its moving average, as an SVG file. Returns
 * the process exit status (enum ctl_exit).
 */
int ctl_plot(struct ctl_env *env, int argc, char **argv);

#endif /* MB_CTL_PLOT_H */
