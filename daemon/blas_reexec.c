/* SPDX-License-Identifier: MIT */
/*
 * blas_reexec.c - run the daemon on the OpenBLAS kernels its CPU deserves
 * (see blas_reexec.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas_core.h"
#include "blas_reexec.h"

/*
 * Carries OpenBLAS's own choice across the exec, so that the new process
 * can say what it replaced; removed from the environment as soon as read.
 */
#define PICKED_OVER_ENV "MINIBATCHD_BLAS_REPLACED"

static char replaced[32];   /* OpenBLAS's own choice, when the daemon overrode it */
static int reexec_error;    /* errno of a failed attempt, 0 if none */

int mb_blas_reexec(char *const argv[])
{
	const char *over = getenv(PICKED_OVER_ENV);
	if (over) {
		snprintf(replaced, sizeof replaced, "%s", over);
		unsetenv(PICKED_OVER_ENV);
	}
	if (getenv("OPENBLAS_CORETYPE"))
		return 0;
	/* Only a DYNAMIC_ARCH build carries other kernels to switch to. */
	const char *config = mb_blas_config();
	const char *current = mb_blas_core_current();
	if (!config || !strstr(config, "DYNAMIC_ARCH") || !current)
		return 0;
	const char *pick = mb_blas_core_pick(current, mb_blas_cpu_vec());
	if (!pick)
		return 0;
	if (setenv("OPENBLAS_CORETYPE", pick, 1) < 0 || setenv(PICKED_OVER_ENV, current, 1) < 0)
		goto fail;
	execv("/proc/self/exe", argv);
	unsetenv("OPENBLAS_CORETYPE");
	unsetenv(PICKED_OVER_ENV);
fail:
	reexec_error = errno;
	replaced[0] = '\0';
	return -reexec_error;
}

void mb_blas_describe(char *buf, size_t cap)
{
	const char *config = mb_blas_config();
	const char *core = mb_blas_core_current();
	if (!config || !core) {
		snprintf(buf, cap, "a CBLAS other than OpenBLAS");
		return;
	}
	if (*replaced)
		snprintf(buf, cap, "%s; kernels %s, chosen for this CPU over OpenBLAS's %s", config, core,
			 replaced);
	else if (reexec_error)
		snprintf(buf, cap, "%s; kernels %s (OpenBLAS's choice: executing again to load "
			 "kernels with AVX failed: %s)", config, core, strerror(reexec_error));
	else if (getenv("OPENBLAS_CORETYPE"))
		snprintf(buf, cap, "%s; kernels %s (OPENBLAS_CORETYPE=%s)", config, core,
			 getenv("OPENBLAS_CORETYPE"));
	else
		snprintf(buf, cap, "%s; kernels %s", config, core);
}
