/* SPDX-License-Identifier: MIT */
/*
 * doorbell.c - an eventfd written only when the waiter is armed; see doorbell.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "doorbell.h"

struct mb_doorbell {
	int fd;              /* non-blocking eventfd; its counter is the pending rings */
	_Atomic bool armed;  /* the waiter may be asleep: a ring must write fd */
};

/* Create a doorbell around a fresh eventfd. */
int mb_doorbell_new(struct mb_doorbell **ret)
{
	struct mb_doorbell *d = malloc(sizeof *d);
	if (!d)
		return -ENOMEM;
	d->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->fd < 0) {
		int err = -errno;
		free(d);
		return err;
	}
	atomic_init(&d->armed, false);
	*ret = d;
	return 0;
}

/* Close the eventfd and free the doorbell. */
struct mb_doorbell *mb_doorbell_free(struct mb_doorbell *d)
{
	if (d) {
		close(d->fd);
		free(d);
	}
	return NULL;
}

/* Wake an armed waiter; cheap otherwise. */
void mb_doorbell_ring(struct mb_doorbell *d)
{
	/*
	 * Full barrier between the caller's store (the queued work) and our
	 * load of armed; it pairs with the barrier in mb_doorbell_arm().
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(&d->armed, memory_order_relaxed))
		return;
	/* Only one of several ringers pays for the write(2). */
	if (!atomic_exchange_explicit(&d->armed, false, memory_order_relaxed))
		return;
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(d->fd, &one, sizeof one);
	while (n < 0 && errno == EINTR);
	/* EAGAIN would mean the counter is near 2^64: the waiter is awake anyway. */
}

/* Raise the flag before sleeping. */
void mb_doorbell_arm(struct mb_doorbell *d)
{
	atomic_store_explicit(&d->armed, true, memory_order_relaxed);
	/* Pairs with the barrier in mb_doorbell_ring(): see the protocol in doorbell.h. */
	atomic_thread_fence(memory_order_seq_cst);
}

/* Lower the flag again. */
void mb_doorbell_disarm(struct mb_doorbell *d)
{
	atomic_store_explicit(&d->armed, false, memory_order_relaxed);
}

/* Sleep until rung or timed out; consumes pending rings. */
int mb_doorbell_wait(struct mb_doorbell *d, int timeout_ms)
{
	if (!atomic_load_explicit(&d->armed, memory_order_relaxed))
		mb_doorbell_arm(d);

	struct pollfd pfd = {.fd = d->fd, .events = POLLIN};
	int n = poll(&pfd, 1, timeout_ms);
	atomic_store_explicit(&d->armed, false, memory_order_relaxed);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;

	uint64_t count;
	if (read(d->fd, &count, sizeof count) < 0)
		return errno == EAGAIN ? 0 : -errno;
	return 1;
}

/* The eventfd for poll(2). */
int mb_doorbell_fd(const struct mb_doorbell *d)
{
	return d->fd;
}
