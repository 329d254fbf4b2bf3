/* SPDX-License-Identifier: MIT */
/* handover.c - a triple buffer with an eventfd, from the trainer to the publisher. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "handover.h"

#define FRESH 4u /* bit of middle: the writer published it and the reader has not taken it */

struct mb_handover {
	struct mb_handover_slot slot[3]; /* the three buffers */
	unsigned back;                   /* writer's slot index */
	unsigned front;                  /* reader's slot index */
	/*
	 * The middle slot's index | FRESH. The writer's exchange releases the
	 * slot it filled and acquires the one it gets back (which the reader
	 * released by its own exchange); the reader's exchange likewise.
	 */
	_Atomic unsigned middle;
	int fd;                          /* eventfd written on publish */
};

/* Create an empty handover with its eventfd. */
int mb_handover_new(struct mb_handover **ret)
{
	struct mb_handover *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->fd < 0) {
		int r = -errno;
		free(h);
		return r;
	}
	h->back = 0;
	atomic_init(&h->middle, 1u);
	h->front = 2;
	*ret = h;
	return 0;
}

/* Free the slots and close the fd. */
struct mb_handover *mb_handover_free(struct mb_handover *h)
{
	if (!h)
		return NULL;
	for (int i = 0; i < 3; i++)
		free(h->slot[i].params);
	close(h->fd);
	free(h);
	return NULL;
}

/*
 * Size every slot for n_params. Only before the first publish: the reader
 * touches no slot until it has seen one published.
 */
int mb_handover_alloc(struct mb_handover *h, size_t n_params)
{
	for (int i = 0; i < 3; i++) {
		if (h->slot[i].cap >= n_params)
			continue;
		float *p = realloc(h->slot[i].params, (n_params ? n_params : 1) * sizeof *p);
		if (!p)
			return -ENOMEM;
		h->slot[i].params = p;
		h->slot[i].cap = n_params;
	}
	return 0;
}

/* The writer's slot. */
struct mb_handover_slot *mb_handover_back(struct mb_handover *h)
{
	return &h->slot[h->back];
}

/* Swap back and middle, mark it fresh, and wake the reader. */
void mb_handover_publish(struct mb_handover *h)
{
	unsigned old = atomic_exchange_explicit(&h->middle, h->back | FRESH, memory_order_acq_rel);
	h->back = old & 3u;
	uint64_t one = 1;
	/* An eventfd counter write only fails on overflow, which a reader draining it never lets happen. */
	ssize_t n = write(h->fd, &one, sizeof one);
	(void)n;
}

/* Take the middle slot if it is fresh. */
const struct mb_handover_slot *mb_handover_fetch(struct mb_handover *h)
{
	uint64_t v;
	ssize_t n = read(h->fd, &v, sizeof v);
	(void)n;
	if (!(atomic_load_explicit(&h->middle, memory_order_relaxed) & FRESH))
		return NULL;
	unsigned old = atomic_exchange_explicit(&h->middle, h->front, memory_order_acq_rel);
	h->front = old & 3u;
	return &h->slot[h->front];
}

/* The eventfd the reader polls. */
int mb_handover_fd(const struct mb_handover *h)
{
	return h->fd;
}
