/* SPDX-License-Identifier: MIT */
/*
 * minibatchctl.c - the command line of minibatchd: global options, then one
 * subcommand, each family in a file of its own.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_plot.h"

static const char usage[] =
	"usage: minibatchctl [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
	"\n"
	"Commands:\n"
	"  feed FILE...|-   stream samples to the daemon (IDX, CSV, libsvm, binary; gzip too)\n"
	"  watch            one line per snapshot, optionally with test accuracy (--eval FILE)\n"
	"  eval FILE        cost, accuracy and confusion matrix of the current model on FILE\n"
	"  predict FILE|-   the current model's prediction for every sample, one a line\n"
	"  status           what the daemon is doing, one figure a line\n"
	"  stats            its counters\n"
	"  pause, resume    stop and restart ingest\n"
	"  snapshot         publish a snapshot now\n"
	"  save             write a checkpoint now\n"
	"  reload           re-read the configuration, show what changed\n"
	"  reset            start the model and optimizer afresh\n"
	"  plot [CSV]       the cost curve as SVG, from 'watch --csv' output or live\n"
	"\n"
	"Global options (also accepted after the command):\n"
	"  --runtime-dir DIR     where the daemon's ipc sockets are (default: $RUNTIME_DIRECTORY,\n"
	"                        /run/minibatchd as root, else $XDG_RUNTIME_DIR/minibatchd)\n"
	"  --ingest ENDPOINT     ingest socket (default ipc://DIR/ingest)\n"
	"  --snapshots ENDPOINT  snapshot socket (default ipc://DIR/snapshots)\n"
	"  --control ENDPOINT    control socket (default ipc://DIR/control)\n"
	"  --timeout S           how long to wait for the daemon (default 5)\n"
	"\n"
	"'minibatchctl COMMAND --help' describes a command's options.\n"
	"Exit status: 0 success, 1 refused or bad input, 2 no answer or usage error.\n";

static const struct option global_options[] = {
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	CTL_GLOBAL_OPTIONS,
	{NULL, 0, NULL, 0},
};

/* Parse the global options, then hand the rest to the command's family. */
int main(int argc, char **argv)
{
	struct ctl_env env = {0};
	int c;
	/* '+': global options end at the command word; what follows is the command's. */
	while ((c = ctl_getopt(&env, argc, argv, "+hV", global_options)) != -1) {
		switch (c) {
		case CTL_OPT_BAD_GLOBAL:
			return CTL_EXIT_UNREACHABLE;
		case 'h':
			fputs(usage, stdout);
			return CTL_EXIT_OK;
		case 'V':
			puts(PACKAGE_STRING);
			return CTL_EXIT_OK;
		default:
			fputs(usage, stderr);
			return CTL_EXIT_UNREACHABLE;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return CTL_EXIT_UNREACHABLE;
	}
	const char *word = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	if (!strcmp(word, "feed"))
		return ctl_feed(&env, sub_argc, sub_argv);
	if (!strcmp(word, "watch"))
		return ctl_watch(&env, sub_argc, sub_argv);
	if (!strcmp(word, "eval"))
		return ctl_eval(&env, sub_argc, sub_argv);
	if (!strcmp(word, "predict"))
		return ctl_predict(&env, sub_argc, sub_argv);
	if (!strcmp(word, "plot"))
		return ctl_plot(&env, sub_argc, sub_argv);
	if (ctl_control_knows(word))
		return ctl_control(&env, sub_argc, sub_argv);
	if (!strcmp(word, "help")) {
		fputs(usage, stdout);
		return CTL_EXIT_OK;
	}
	ctl_err("unknown command '%s'", word);
	fputs(usage, stderr);
	return CTL_EXIT_UNREACHABLE;
}
