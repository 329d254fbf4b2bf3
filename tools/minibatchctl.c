/* SPDX-License-Identifier: MIT */
/*
 * minibatchctl.c - the command line of minibatchd: global options, then one
 * subcommand, each family in a file of its own.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
	"  keygen DIR [NAME]  write a new CURVE key pair DIR/NAME.key (secret) and\n"
	"                   DIR/NAME.pub (NAME: client; 'server' makes the daemon's)\n"
	"\n"
	"Global options (also accepted after the command):\n"
	"  --runtime-dir DIR     where the daemon's ipc sockets are (default: $RUNTIME_DIRECTORY,\n"
	"                        /run/minibatchd as root, else $XDG_RUNTIME_DIR/minibatchd)\n"
	"  --ingest ENDPOINT     ingest socket (default ipc://DIR/ingest)\n"
	"  --snapshots ENDPOINT  snapshot socket (default ipc://DIR/snapshots)\n"
	"  --control ENDPOINT    control socket (default ipc://DIR/control)\n"
	"  --timeout S           how long to wait for the daemon (default 5)\n"
	"  --curve-server-key FILE  the daemon's public key (its server.pub), and\n"
	"  --curve-key FILE      this client's secret key (NAME.key): speak CURVE on every\n"
	"                        tcp:// endpoint (also $MINIBATCH_CURVE_SERVER_KEY and\n"
	"                        $MINIBATCH_CURVE_KEY)\n"
	"\n"
	"'minibatchctl COMMAND --help' describes a command's options.\n"
	"Exit status: 0 success, 1 refused or bad input, 2 no answer or usage error.\n";

static const struct option global_options[] = {
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	CTL_GLOBAL_OPTIONS,
	{NULL, 0, NULL, 0},
};

/*
 * keygen DIR [NAME]: a new key pair in DIR (made if missing), and for the
 * daemon's pair, the clients/ directory of its allowed keys beside it.
 */
static int keygen(int argc, char **argv)
{
	if (argc < 2 || argc > 3 || argv[1][0] == '-') {
		ctl_err("usage: minibatchctl keygen DIR [NAME]");
		return CTL_EXIT_UNREACHABLE;
	}
	const char *dir = argv[1], *name = argc == 3 ? argv[2] : "client";
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		ctl_err("cannot create %s: %s", dir, strerror(errno));
		return CTL_EXIT_FAILED;
	}
	int r = mb_client_keypair_write(dir, name);
	if (r < 0) {
		ctl_err("cannot write the key pair %s/%s.key and .pub: %s", dir, name,
			r == -EEXIST ? "it exists already" : strerror(-r));
		return CTL_EXIT_FAILED;
	}
	char clients[4096];
	if (!strcmp(name, "server") && (size_t)snprintf(clients, sizeof clients, "%s/clients", dir) < sizeof clients &&
	    mkdir(clients, 0755) < 0 && errno != EEXIST)
		ctl_err("cannot create %s: %s", clients, strerror(errno));
	printf("%s/%s.key\n%s/%s.pub\n", dir, name, dir, name);
	return CTL_EXIT_OK;
}

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
	if (!strcmp(word, "keygen"))
		return keygen(sub_argc, sub_argv);
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
