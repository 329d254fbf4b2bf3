/* SPDX-License-Identifier: MIT */
/*
 * test_blas_reexec.c - the daemon runs on the OpenBLAS kernels its CPU
 * deserves, and on the user's when the user names them.
 *
 * On a CPU that OpenBLAS mistakes for an old one (Debian 12's OpenBLAS on
 * Sapphire Rapids) the daemon must report, and use, AVX kernels; where
 * OpenBLAS chooses well it must keep the choice; OPENBLAS_CORETYPE always
 * wins. What OpenBLAS would choose alone is what it chose for this test
 * program, whose environment does not set the variable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "blas_core.h"
#include "daemon_harness.h"
#include "test.h"

static char openblas_alone[64]; /* OpenBLAS's own choice on this CPU, "" when unknown */

/* The "kernels NAME" of the daemon's --version output, run with env set as given. */
static void version_kernels(const char *coretype, char buf[64])
{
	if (coretype)
		setenv("OPENBLAS_CORETYPE", coretype, 1);
	else
		unsetenv("OPENBLAS_CORETYPE");
	FILE *p = popen(MB_DAEMON_PATH " --version", "r");
	unsetenv("OPENBLAS_CORETYPE");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	char out[2048] = "";
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	CU_ASSERT_EQUAL(pclose(p), 0);
	const char *k = strstr(out, "; kernels ");
	buf[0] = '\0';
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	sscanf(k + strlen("; kernels "), "%63[A-Za-z0-9_]", buf);
}

static void deserved_kernels_by_default(void)
{
	if (!*openblas_alone)
		return;
	const char *pick = mb_blas_core_pick(openblas_alone, mb_blas_cpu_vec());
	char got[64];
	version_kernels(NULL, got);
	CU_ASSERT_STRING_EQUAL(got, pick ? pick : openblas_alone);
}

static void user_choice_kept(void)
{
	char got[64];
	version_kernels("Prescott", got);
	CU_ASSERT_STRING_EQUAL(got, "Prescott");
}

/* A running daemon names its BLAS and kernels in its log, once. */
static void running_daemon_logs_kernels(void)
{
	struct harness h;
	const char *opts[] = {"model.kind=mlp", "model.hidden=32", NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	CU_ASSERT_EQUAL(harness_log_count(&h, "BLAS: OpenBLAS"), 1);
	if (*openblas_alone) {
		const char *pick = mb_blas_core_pick(openblas_alone, mb_blas_cpu_vec());
		char want[128];
		snprintf(want, sizeof want, "; kernels %s", pick ? pick : openblas_alone);
		CU_ASSERT(harness_log_contains(&h, want));
	}
	/* Started once: the ready line is not repeated by a second start. */
	CU_ASSERT_EQUAL(harness_log_count(&h, " ready: model "), 1);
	CU_ASSERT_EQUAL(harness_stop(&h, 10000), 0);
}

int main(void)
{
	/* Only knowable when nothing overrode OpenBLAS's choice for this program. */
	if (!getenv("OPENBLAS_CORETYPE") && mb_blas_core_current())
		snprintf(openblas_alone, sizeof openblas_alone, "%s", mb_blas_core_current());
	MB_SUITE("blas_reexec", {"deserved_kernels_by_default", deserved_kernels_by_default},
		 {"user_choice_kept", user_choice_kept},
		 {"running_daemon_logs_kernels", running_daemon_logs_kernels});
	return mb_test_run();
}
