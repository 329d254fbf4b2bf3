/* SPDX-License-Identifier: MIT */
/* publisher.c - encode handed-over snapshots and send them on XPUB. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "log.h"
#include "publisher.h"
#include "zsock.h"

#define FINAL_LINGER_MS 2000 /* how long closing waits for the last snapshot to leave */
/*
 * Subscribers only send (un)subscriptions: a flag byte and a topic prefix.
 * Anything longer cannot match a topic, so a peer sending it is dropped.
 */
#define MAX_SUBSCRIPTION_BYTES (1 + MB_MAX_TOPIC_BYTES)

struct mb_publisher {
	struct mb_publisher_cfg cfg;     /* as given; topic copied below */
	char topic[MB_MAX_TOPIC_BYTES + 1]; /* frame 1 of every snapshot */
	size_t topic_len;                /* its length */
	void *sock;                      /* XPUB; owned by the run thread once it starts */
	char **files;                    /* ipc socket files bound, removed at the end */
	int stop_fd;                     /* eventfd written by mb_publisher_stop */
	uint8_t *body;                   /* the latest encoded snapshot, resent to new subscribers */
	size_t body_len;                 /* its length; 0 before the first */
	size_t body_cap;                 /* bytes allocated at body */
	struct mb_publisher_stats stats; /* figures */
};

/* Create the XPUB socket and bind its endpoints (see publisher.h). */
int mb_publisher_new(const struct mb_publisher_cfg *cfg, struct mb_publisher **ret, char *err, size_t cap)
{
	size_t tl = strlen(cfg->topic);
	if (!tl || tl > MB_MAX_TOPIC_BYTES) {
		snprintf(err, cap, "model name must be 1 to %u bytes", MB_MAX_TOPIC_BYTES);
		return -EINVAL;
	}
	struct mb_publisher *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(err, cap, "out of memory");
		return -ENOMEM;
	}
	p->cfg = *cfg;
	memcpy(p->topic, cfg->topic, tl + 1);
	p->topic_len = tl;
	p->cfg.topic = p->topic;
	int r;
	p->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->stop_fd < 0) {
		r = -errno;
		snprintf(err, cap, "eventfd: %s", strerror(errno));
		goto out_free;
	}
	p->sock = zmq_socket(cfg->zmq_ctx, ZMQ_XPUB);
	if (!p->sock) {
		r = -zmq_errno();
		snprintf(err, cap, "XPUB socket: %s", zmq_strerror(-r));
		goto out_close_fd;
	}
	/* Verbose: see every subscription, even a repeated one, so every late joiner gets a resend. */
	if ((r = mb_zsock_set_int(p->sock, ZMQ_XPUB_VERBOSE, 1)) < 0 ||
	    (r = mb_zsock_set_int(p->sock, ZMQ_XPUB_NODROP, 0)) < 0 ||
	    (r = mb_zsock_set_int(p->sock, ZMQ_SNDHWM, (int)cfg->sndhwm)) < 0 ||
	    (r = mb_zsock_set_int(p->sock, ZMQ_LINGER, FINAL_LINGER_MS)) < 0 ||
	    (r = mb_zsock_peer_options(p->sock, MAX_SUBSCRIPTION_BYTES, false)) < 0) {
		snprintf(err, cap, "XPUB options: %s", zmq_strerror(-r));
		goto out_close_sock;
	}
	r = mb_zsock_attach(p->sock, cfg->endpoints, true, cfg->runtime_dir, &p->files, err, cap);
	if (r < 0)
		goto out_close_sock;
	*ret = p;
	return 0;
out_close_sock:
	zmq_close(p->sock);
out_close_fd:
	close(p->stop_fd);
out_free:
	free(p);
	return r;
}

/* Close the socket (lingering for the last snapshot) and free. */
struct mb_publisher *mb_publisher_free(struct mb_publisher *p)
{
	if (!p)
		return NULL;
	zmq_close(p->sock);
	mb_zsock_unlink_files(p->files);
	close(p->stop_fd);
	free(p->body);
	free(p);
	return NULL;
}

/* Send the cached body under the topic; a full queue drops it for that subscriber. */
static void send_body(struct mb_publisher *p)
{
	if (!p->body_len)
		return;
	if (zmq_send(p->sock, p->topic, p->topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(p->sock, p->body, p->body_len, ZMQ_DONTWAIT) < 0) {
		mb_log(LOG_DEBUG, "publisher: send failed: %s", zmq_strerror(zmq_errno()));
		return;
	}
	atomic_fetch_add_explicit(&p->stats.sent, 1, memory_order_relaxed);
}

/* Encode a handed-over slot into the cache and send it. */
static void send_slot(struct mb_publisher *p, const struct mb_handover_slot *slot)
{
	size_t need = mb_snap_size(&slot->info);
	if (!need) {
		mb_log(LOG_ERR, "publisher: snapshot of an invalid shape, not sent");
		return;
	}
	if (need > p->body_cap) {
		uint8_t *b = realloc(p->body, need);
		if (!b) {
			mb_log(LOG_ERR, "publisher: no memory for a snapshot of %zu bytes", need);
			return;
		}
		p->body = b;
		p->body_cap = need;
	}
	long n = mb_snap_encode(p->body, p->body_cap, &slot->info, slot->params);
	if (n < 0) {
		mb_log(LOG_ERR, "publisher: cannot encode a snapshot: %s", strerror((int)-n));
		p->body_len = 0;
		return;
	}
	p->body_len = (size_t)n;
	atomic_store_explicit(&p->stats.version, slot->info.version, memory_order_relaxed);
	send_body(p);
}

/* Read what subscribers sent: a new subscription gets the latest snapshot at once. */
static int take_subscriptions(struct mb_publisher *p)
{
	for (;;) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, p->sock, ZMQ_DONTWAIT) < 0) {
			int e = zmq_errno();
			zmq_msg_close(&m);
			return e == EAGAIN || e == EINTR ? 0 : -e;
		}
		const uint8_t *d = zmq_msg_data(&m);
		size_t len = zmq_msg_size(&m);
		bool subscribe = len >= 1 && d[0] == 1;
		/* Resend only if the subscription's prefix matches our topic: others would filter it anyway. */
		bool ours = subscribe && len - 1 <= p->topic_len && memcmp(d + 1, p->topic, len - 1) == 0;
		zmq_msg_close(&m);
		if (subscribe)
			atomic_fetch_add_explicit(&p->stats.subscriptions, 1, memory_order_relaxed);
		if (ours)
			send_body(p);
	}
}

/* The thread body (see publisher.h). */
int mb_publisher_run(struct mb_publisher *p)
{
	int hfd = mb_handover_fd(p->cfg.handover);
	for (;;) {
		zmq_pollitem_t items[3] = {
			{.socket = p->sock, .events = ZMQ_POLLIN},
			{.fd = hfd, .events = ZMQ_POLLIN},
			{.fd = p->stop_fd, .events = ZMQ_POLLIN},
		};
		if (zmq_poll(items, 3, -1) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			return -zmq_errno();
		}
		if (items[0].revents & ZMQ_POLLIN) {
			int r = take_subscriptions(p);
			if (r < 0)
				return r == -ETERM ? 0 : r;
		}
		if (items[1].revents & ZMQ_POLLIN) {
			const struct mb_handover_slot *slot = mb_handover_fetch(p->cfg.handover);
			if (slot)
				send_slot(p, slot);
		}
		if (items[2].revents & ZMQ_POLLIN)
			break;
	}
	/* The trainer has stopped: its final snapshot, if not sent yet, waits in the handover. */
	const struct mb_handover_slot *slot = mb_handover_fetch(p->cfg.handover);
	if (slot)
		send_slot(p, slot);
	return 0;
}

/* Wake run() to finish. */
void mb_publisher_stop(struct mb_publisher *p)
{
	uint64_t one = 1;
	ssize_t n = write(p->stop_fd, &one, sizeof one);
	(void)n;
}

/* The figures. */
const struct mb_publisher_stats *mb_publisher_stats(const struct mb_publisher *p)
{
	return &p->stats;
}
