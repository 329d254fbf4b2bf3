/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_handover.c - the trainer-to-publisher triple buffer.
 *
 * A writer thread publishes snapshots whose every parameter equals the
 * snapshot's version; a reader fetches as it pleases. The reader must
 * never see a torn snapshot (parameters of two versions) or a version
 * older than one it already saw, and must see the last one published.
 */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../daemon/handover.h"
#include "test.h"

#define N_PARAMS 4096
#define VERSIONS 20000

static struct mb_handover *h;

static void *writer(void *arg)
{
	(void)arg;
	for (uint64_t v = 1; v <= VERSIONS; v++) {
		struct mb_handover_slot *s = mb_handover_back(h);
		s->info.version = v;
		s->info.n_params = N_PARAMS;
		for (size_t i = 0; i < N_PARAMS; i++)
			s->params[i] = (float)v;
		mb_handover_publish(h);
	}
	return NULL;
}

static void handover_never_torn(void)
{
	CU_ASSERT_FATAL(mb_handover_new(&h) == 0);
	CU_ASSERT_PTR_NULL(mb_handover_fetch(h)); /* nothing published yet */
	CU_ASSERT_FATAL(mb_handover_alloc(h, N_PARAMS) == 0);
	pthread_t t;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, writer, NULL) == 0);
	uint64_t last = 0, seen = 0, torn = 0, backwards = 0;
	while (last < VERSIONS) {
		struct pollfd p = {.fd = mb_handover_fd(h), .events = POLLIN};
		if (poll(&p, 1, 5000) != 1)
			break;
		const struct mb_handover_slot *s = mb_handover_fetch(h);
		if (!s)
			continue;
		seen++;
		backwards += s->info.version <= last;
		for (size_t i = 0; i < N_PARAMS; i++)
			torn += s->params[i] != (float)s->info.version;
		last = s->info.version;
	}
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(last, VERSIONS);
	CU_ASSERT_EQUAL(torn, 0);
	CU_ASSERT_EQUAL(backwards, 0);
	CU_ASSERT(seen > 0);
	/* Nothing new: no slot, and the descriptor is quiet. */
	CU_ASSERT_PTR_NULL(mb_handover_fetch(h));
	struct pollfd p = {.fd = mb_handover_fd(h), .events = POLLIN};
	CU_ASSERT_EQUAL(poll(&p, 1, 0), 0);
	h = mb_handover_free(h);
	CU_ASSERT_PTR_NULL(mb_handover_free(NULL));
}

int main(void)
{
	MB_SUITE("daemon_handover", {"handover/never_torn", handover_never_torn});
	return mb_test_run();
}
