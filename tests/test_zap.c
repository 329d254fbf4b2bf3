/* SPDX-License-Identifier: MIT */
/*
 * test_zap.c - the daemon's ZAP handler, driven in-process.
 *
 * The handler runs on its own thread in a context of the test's, and the
 * test asks it directly, as libzmq does, over inproc://zeromq.zap.01: an
 * unknown key gets 400 "unknown key", an allowed one 200 with the key as
 * its user id, and requests that make no sense get 400 without stopping
 * the handler. Key files and a clients/ directory that others may write
 * to are ignored, on start and on reload. A CURVE endpoint made by
 * mb_zsock_attach refuses an allowed client while no handler is bound, and
 * lets it in once one is.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "client.h"
#include "curve.h"
#include "daemon_harness.h"
#include "test.h"
#include "zap.h"
#include "zsock.h"

#define REPLY_FRAMES 6    /* version, request id, status, text, user id, metadata */
#define REPLY_WAIT_MS 3000 /* a handler that is alive answers well within this */

/* A key directory with clients/, and the handler thread over a context of its own. */
struct fixture {
	char dir[64];        /* the key directory */
	char clients[128];   /* its clients/ */
	void *ctx;           /* the context the handler serves */
	struct mb_zap *zap;  /* the handler */
	pthread_t thread;    /* running mb_zap_run */
	int run_rc;          /* what mb_zap_run returned */
	bool running;        /* thread started */
};

/* One reply, each frame as text. */
struct reply {
	int n;                      /* frames, or -errno when none came */
	char frame[REPLY_FRAMES][64]; /* their text, cut to fit */
};

static void *run_handler(void *arg)
{
	struct fixture *f = arg;
	f->run_rc = mb_zap_run(f->zap);
	return NULL;
}

/* A key directory with an empty clients/ and a context; no handler yet. */
static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/mbd-zap.XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(f->dir) != NULL);
	snprintf(f->clients, sizeof f->clients, "%s/%s", f->dir, MB_CURVE_CLIENTS_DIR);
	CU_ASSERT_FATAL(mkdir(f->clients, 0755) == 0);
	CU_ASSERT_FATAL((f->ctx = zmq_ctx_new()) != NULL);
}

/* Bind the handler and start its thread. */
static void fixture_start(struct fixture *f)
{
	char err[512];
	int r = mb_zap_new(&(struct mb_zap_cfg){.zmq_ctx = f->ctx, .dir = f->dir}, &f->zap, err, sizeof err);
	if (r < 0)
		fprintf(stderr, "mb_zap_new: %s\n", err);
	CU_ASSERT_FATAL(r == 0);
	CU_ASSERT_FATAL(pthread_create(&f->thread, NULL, run_handler, f) == 0);
	f->running = true;
}

/* End the context, which ends the handler; it must end cleanly. */
static void fixture_end(struct fixture *f)
{
	CU_ASSERT(zmq_ctx_term(f->ctx) == 0);
	if (f->running) {
		pthread_join(f->thread, NULL);
		CU_ASSERT(f->run_rc == 0);
	}
	f->zap = mb_zap_free(f->zap);
	harness_remove_tree(f->dir);
}

/* The raw public key of a key file. */
static void raw_key(const char *path, uint8_t raw[32])
{
	char z85[MB_CLIENT_KEY_Z85_BYTES + 1];
	CU_ASSERT_FATAL(mb_client_key_read(path, z85) == 0);
	CU_ASSERT_FATAL(zmq_z85_decode(raw, z85) != NULL);
}

/* Send the request frames (lens[i] bytes of frames[i]) to the handler as libzmq would; its reply in *ret. */
static void ask(void *ctx, const void *const *frames, const size_t *lens, int n, struct reply *ret)
{
	memset(ret, 0, sizeof *ret);
	void *req = zmq_socket(ctx, ZMQ_REQ);
	CU_ASSERT_FATAL(req != NULL);
	int zero = 0, wait_ms = REPLY_WAIT_MS;
	zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(req, ZMQ_RCVTIMEO, &wait_ms, sizeof wait_ms);
	CU_ASSERT_FATAL(zmq_connect(req, MB_ZAP_ENDPOINT) == 0);
	for (int i = 0; i < n; i++)
		CU_ASSERT_FATAL(zmq_send(req, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) == (int)lens[i]);
	int more = 1;
	while (more) {
		char buf[64];
		int got = zmq_recv(req, buf, sizeof buf - 1, 0);
		if (got < 0) {
			ret->n = -zmq_errno();
			break;
		}
		if (ret->n < REPLY_FRAMES) {
			got = got < (int)sizeof buf - 1 ? got : (int)sizeof buf - 1;
			memcpy(ret->frame[ret->n], buf, (size_t)got);
			ret->frame[ret->n][got] = '\0';
		}
		ret->n++;
		size_t len = sizeof more;
		zmq_getsockopt(req, ZMQ_RCVMORE, &more, &len);
	}
	zmq_close(req);
}

/* A CURVE request of domain for key, as libzmq sends it; the reply in *ret. */
static void ask_curve(void *ctx, const char *domain, const uint8_t key[32], struct reply *ret)
{
	const void *frames[] = {"1.0", "17", domain, "192.0.2.7", "", "CURVE", key};
	size_t lens[] = {3, 2, strlen(domain), 9, 0, 5, 32};
	ask(ctx, frames, lens, 7, ret);
}

/* True when *r is a whole reply to request "17" with this status. */
static bool reply_is(const struct reply *r, const char *status)
{
	return r->n == REPLY_FRAMES && strcmp(r->frame[0], "1.0") == 0 && strcmp(r->frame[1], "17") == 0 &&
	       strcmp(r->frame[2], status) == 0;
}

/* Ask about key until the answer is status (a reload is asynchronous), for up to two seconds. */
static bool becomes(void *ctx, const uint8_t key[32], const char *status)
{
	struct reply r;
	for (int i = 0; i < 100; i++) {
		ask_curve(ctx, MB_CURVE_ZAP_DOMAIN, key, &r);
		if (reply_is(&r, status))
			return true;
		usleep(20 * 1000);
	}
	return false;
}

/* An unknown key gets 400 and the reason; an allowed one 200 with its key as the user id. */
static void unknown_and_allowed(void)
{
	struct fixture f;
	fixture_init(&f);
	char path[256];
	uint8_t alice[32], mallory[32];
	CU_ASSERT_FATAL(mb_client_keypair_write(f.clients, "alice") == 0);
	CU_ASSERT_FATAL(mb_client_keypair_write(f.dir, "mallory") == 0);
	snprintf(path, sizeof path, "%s/alice.pub", f.clients);
	raw_key(path, alice);
	snprintf(path, sizeof path, "%s/mallory.pub", f.dir);
	raw_key(path, mallory);
	fixture_start(&f);
	CU_ASSERT(mb_zap_n_clients(f.zap) == 1);

	struct reply r;
	ask_curve(f.ctx, MB_CURVE_ZAP_DOMAIN, mallory, &r);
	CU_ASSERT(reply_is(&r, "400"));
	CU_ASSERT_STRING_EQUAL(r.frame[3], "unknown key");
	CU_ASSERT_STRING_EQUAL(r.frame[4], "");

	ask_curve(f.ctx, MB_CURVE_ZAP_DOMAIN, alice, &r);
	CU_ASSERT(reply_is(&r, "200"));
	char z85[MB_CLIENT_KEY_Z85_BYTES + 1];
	zmq_z85_encode(z85, alice, 32);
	CU_ASSERT_STRING_EQUAL(r.frame[4], z85);

	/* A socket that is not one of the daemon's CURVE endpoints does not borrow their allowed keys. */
	ask_curve(f.ctx, "", alice, &r);
	CU_ASSERT(reply_is(&r, "400"));
	fixture_end(&f);
}

/* Requests that make no sense are refused, and the handler goes on serving. */
static void survives_bad_requests(void)
{
	struct fixture f;
	fixture_init(&f);
	char path[256];
	uint8_t alice[32];
	CU_ASSERT_FATAL(mb_client_keypair_write(f.clients, "alice") == 0);
	snprintf(path, sizeof path, "%s/alice.pub", f.clients);
	raw_key(path, alice);
	fixture_start(&f);
	struct reply r;

	const void *one[] = {"garbage"};
	size_t one_len[] = {7};
	ask(f.ctx, one, one_len, 1, &r);
	CU_ASSERT(r.n == REPLY_FRAMES && strcmp(r.frame[2], "400") == 0);

	const void *old[] = {"0.9", "17", MB_CURVE_ZAP_DOMAIN, "192.0.2.7", "", "CURVE", alice};
	size_t old_len[] = {3, 2, strlen(MB_CURVE_ZAP_DOMAIN), 9, 0, 5, 32};
	ask(f.ctx, old, old_len, 7, &r);
	CU_ASSERT(reply_is(&r, "400"));

	const void *short_key[] = {"1.0", "17", MB_CURVE_ZAP_DOMAIN, "192.0.2.7", "", "CURVE", alice};
	size_t short_len[] = {3, 2, strlen(MB_CURVE_ZAP_DOMAIN), 9, 0, 5, 31};
	ask(f.ctx, short_key, short_len, 7, &r);
	CU_ASSERT(reply_is(&r, "400"));

	const void *plain[] = {"1.0", "17", MB_CURVE_ZAP_DOMAIN, "192.0.2.7", "", "NULL"};
	size_t plain_len[] = {3, 2, strlen(MB_CURVE_ZAP_DOMAIN), 9, 0, 4};
	ask(f.ctx, plain, plain_len, 6, &r);
	CU_ASSERT(reply_is(&r, "400"));

	/* More frames than the handler looks at: drained, refused. */
	const void *many[40];
	size_t many_len[40];
	for (int i = 0; i < 40; i++) {
		many[i] = "1.0";
		many_len[i] = 3;
	}
	ask(f.ctx, many, many_len, 40, &r);
	CU_ASSERT(r.n == REPLY_FRAMES && strcmp(r.frame[2], "400") == 0);

	/* Still there, still right. */
	ask_curve(f.ctx, MB_CURVE_ZAP_DOMAIN, alice, &r);
	CU_ASSERT(reply_is(&r, "200"));
	fixture_end(&f);
}

/* Key files and a clients/ directory others could write to let nobody in; a reload sees the fix. */
static void untrusted_key_files(void)
{
	struct fixture f;
	fixture_init(&f);
	char alice_pub[256], bob_pub[256];
	uint8_t alice[32], bob[32];
	CU_ASSERT_FATAL(mb_client_keypair_write(f.clients, "alice") == 0);
	CU_ASSERT_FATAL(mb_client_keypair_write(f.clients, "bob") == 0);
	snprintf(alice_pub, sizeof alice_pub, "%s/alice.pub", f.clients);
	snprintf(bob_pub, sizeof bob_pub, "%s/bob.pub", f.clients);
	raw_key(alice_pub, alice);
	raw_key(bob_pub, bob);

	/* The whole directory open to its group: no key counts. */
	CU_ASSERT_FATAL(chmod(f.clients, 0775) == 0);
	char err[512];
	struct mb_zap *z = NULL;
	CU_ASSERT_FATAL(mb_zap_new(&(struct mb_zap_cfg){.zmq_ctx = f.ctx, .dir = f.dir}, &z, err, sizeof err) == 0);
	CU_ASSERT(mb_zap_n_clients(z) == 0);
	z = mb_zap_free(z);
	CU_ASSERT_FATAL(chmod(f.clients, 0755) == 0);

	/* One file writable by others: that key is left out, the other counts. */
	CU_ASSERT_FATAL(chmod(bob_pub, 0666) == 0);
	fixture_start(&f);
	CU_ASSERT(mb_zap_n_clients(f.zap) == 1);
	struct reply r;
	ask_curve(f.ctx, MB_CURVE_ZAP_DOMAIN, bob, &r);
	CU_ASSERT(reply_is(&r, "400"));
	ask_curve(f.ctx, MB_CURVE_ZAP_DOMAIN, alice, &r);
	CU_ASSERT(reply_is(&r, "200"));

	/* Fixed and reloaded, bob gets in; alice's key removed and reloaded, she does not. */
	CU_ASSERT_FATAL(chmod(bob_pub, 0644) == 0);
	CU_ASSERT_FATAL(unlink(alice_pub) == 0);
	mb_zap_reload(f.zap);
	CU_ASSERT(becomes(f.ctx, bob, "200"));
	CU_ASSERT(becomes(f.ctx, alice, "400"));

	/* A key file of another user (only root can make one to test with). */
	if (geteuid() == 0) {
		CU_ASSERT_FATAL(chown(bob_pub, 65534, 65534) == 0);
		mb_zap_reload(f.zap);
		CU_ASSERT(becomes(f.ctx, bob, "400"));
	}
	fixture_end(&f);
}

/* Send one message from a CURVE client with keys; true when server receives it within wait_ms. */
static bool delivered(void *ctx, void *server, const char *endpoint, const struct mb_client_curve *keys, int wait_ms)
{
	void *push = zmq_socket(ctx, ZMQ_PUSH);
	CU_ASSERT_FATAL(push != NULL);
	int zero = 0, reconnect_ms = 50;
	size_t n = MB_CLIENT_KEY_Z85_BYTES + 1;
	zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(push, ZMQ_RECONNECT_IVL, &reconnect_ms, sizeof reconnect_ms);
	CU_ASSERT_FATAL(zmq_setsockopt(push, ZMQ_CURVE_SERVERKEY, keys->server_key, n) == 0 &&
			zmq_setsockopt(push, ZMQ_CURVE_PUBLICKEY, keys->public_key, n) == 0 &&
			zmq_setsockopt(push, ZMQ_CURVE_SECRETKEY, keys->secret_key, n) == 0);
	CU_ASSERT_FATAL(zmq_connect(push, endpoint) == 0);
	zmq_send(push, "sample", 6, ZMQ_DONTWAIT);
	zmq_setsockopt(server, ZMQ_RCVTIMEO, &wait_ms, sizeof wait_ms);
	char buf[16];
	bool got = zmq_recv(server, buf, sizeof buf, 0) == 6;
	zmq_close(push);
	return got;
}

/*
 * A CURVE endpoint of the daemon's refuses even an allowed key while no
 * handler is bound (libzmq would let it in without the enforced domain),
 * and lets it in once the handler is there.
 */
static void no_handler_refuses(void)
{
	struct fixture f;
	fixture_init(&f);
	CU_ASSERT_FATAL(mb_client_keypair_write(f.dir, "server") == 0);
	CU_ASSERT_FATAL(mb_client_keypair_write(f.clients, "alice") == 0);
	char server_pub[256], server_key[256], alice_key[256];
	snprintf(server_pub, sizeof server_pub, "%s/server.pub", f.dir);
	snprintf(server_key, sizeof server_key, "%s/server.key", f.dir);
	snprintf(alice_key, sizeof alice_key, "%s/alice.key", f.clients);
	struct mb_client_curve alice;
	char secret[MB_CLIENT_KEY_Z85_BYTES + 1];
	CU_ASSERT_FATAL(mb_client_curve_load(server_pub, alice_key, &alice) == 0);
	CU_ASSERT_FATAL(mb_client_key_read(server_key, secret) == 0);

	mb_zsock_curve_setup(&(struct mb_zsock_curve_cfg){.secret_key = secret});
	explicit_bzero(secret, sizeof secret);
	void *pull = zmq_socket(f.ctx, ZMQ_PULL);
	CU_ASSERT_FATAL(pull != NULL);
	int zero = 0;
	zmq_setsockopt(pull, ZMQ_LINGER, &zero, sizeof zero);
	char err[512], endpoint[256];
	CU_ASSERT_FATAL(mb_zsock_attach(pull, "tcp://127.0.0.1:*", true, NULL, NULL, err, sizeof err) == 0);
	size_t len = sizeof endpoint;
	CU_ASSERT_FATAL(zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, endpoint, &len) == 0);

	CU_ASSERT(!delivered(f.ctx, pull, endpoint, &alice, 500));
	fixture_start(&f);
	CU_ASSERT(delivered(f.ctx, pull, endpoint, &alice, REPLY_WAIT_MS));

	zmq_close(pull);
	mb_zsock_curve_setup(&(struct mb_zsock_curve_cfg){.secret_key = NULL});
	explicit_bzero(&alice, sizeof alice);
	fixture_end(&f);
}

/* An ipc endpoint after a CURVE one on the same socket stays plain, guarded by its file mode. */
static void plain_after_curve(void)
{
	struct fixture f;
	fixture_init(&f);
	char secret[MB_CLIENT_KEY_Z85_BYTES + 1], public[MB_CLIENT_KEY_Z85_BYTES + 1];
	CU_ASSERT_FATAL(zmq_curve_keypair(public, secret) == 0);
	mb_zsock_curve_setup(&(struct mb_zsock_curve_cfg){.secret_key = secret});
	explicit_bzero(secret, sizeof secret);
	fixture_start(&f);
	void *pull = zmq_socket(f.ctx, ZMQ_PULL);
	CU_ASSERT_FATAL(pull != NULL);
	int zero = 0, wait_ms = REPLY_WAIT_MS;
	zmq_setsockopt(pull, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(pull, ZMQ_RCVTIMEO, &wait_ms, sizeof wait_ms);
	char list[256], ipc[160], err[512];
	snprintf(ipc, sizeof ipc, "ipc://%s/plain", f.dir);
	snprintf(list, sizeof list, "tcp://127.0.0.1:*,%s", ipc);
	char **files = NULL;
	CU_ASSERT_FATAL(mb_zsock_attach(pull, list, true, NULL, &files, err, sizeof err) == 0);

	void *push = zmq_socket(f.ctx, ZMQ_PUSH);
	CU_ASSERT_FATAL(push != NULL);
	zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
	CU_ASSERT_FATAL(zmq_connect(push, ipc) == 0);
	CU_ASSERT(zmq_send(push, "sample", 6, 0) == 6);
	char buf[16];
	CU_ASSERT(zmq_recv(pull, buf, sizeof buf, 0) == 6);

	zmq_close(push);
	zmq_close(pull);
	mb_zsock_unlink_files(files);
	mb_zsock_curve_setup(&(struct mb_zsock_curve_cfg){.secret_key = NULL});
	fixture_end(&f);
}

int main(void)
{
	MB_SUITE("zap", {"unknown_and_allowed", unknown_and_allowed}, {"survives_bad_requests", survives_bad_requests},
		 {"untrusted_key_files", untrusted_key_files}, {"no_handler_refuses", no_handler_refuses},
		 {"plain_after_curve", plain_after_curve});
	return mb_test_run();
}
