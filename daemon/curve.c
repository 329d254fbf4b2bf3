/* SPDX-License-Identifier: MIT */
/* curve.c - resolve [security]: the key directory, CURVE on or off, the plaintext rules. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <zmq.h>

#include "curve.h"

/* True when endpoint leaves the host (see curve.h). */
bool mb_curve_endpoint_is_network(const char *endpoint)
{
	return strncmp(endpoint, "ipc://", 6) != 0 && strncmp(endpoint, "inproc://", 9) != 0;
}

/* True when a tcp endpoint's address is a loopback one (see curve.h). */
bool mb_curve_endpoint_is_loopback(const char *endpoint)
{
	if (strncmp(endpoint, "tcp://", 6) != 0)
		return false;
	/* A connecting endpoint may name its source first: "tcp://SOURCE;HOST:PORT". */
	const char *addr = strrchr(endpoint + 6, ';');
	addr = addr ? addr + 1 : endpoint + 6;
	char host[256];
	size_t n;
	if (*addr == '[') {
		const char *close = strchr(addr, ']');
		if (!close)
			return false;
		addr++;
		n = (size_t)(close - addr);
	} else {
		const char *colon = strrchr(addr, ':');
		n = colon ? (size_t)(colon - addr) : strlen(addr);
	}
	if (n == 0 || n >= sizeof host)
		return false;
	memcpy(host, addr, n);
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0 || strcmp(host, "lo") == 0)
		return true;
	/* An address, not a name that merely starts like one ("127.example.org" is anywhere). */
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/*
 * Check one comma list of endpoints: a network one beyond loopback is an
 * error unless allowed. 0, or -EINVAL with err naming key and endpoint.
 */
static int check_list(const char *key, const char *list, bool allowed, char *err, size_t cap)
{
	char **items;
	size_t n;
	if (mb_cfg_list_split(list, &items, &n) < 0) {
		snprintf(err, cap, "out of memory");
		return -ENOMEM;
	}
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (!mb_curve_endpoint_is_network(items[i]) || mb_curve_endpoint_is_loopback(items[i]) || allowed)
			continue;
		snprintf(err, cap,
			 "%s: %s is reachable from other hosts, and CURVE is off (security.curve; no %s in the key "
			 "directory?)%s",
			 key, items[i], MB_CURVE_SERVER_KEY,
			 strcmp(key, "control.endpoint") == 0 ? "" : "; security.allow_plaintext_tcp = true allows it");
		r = -EINVAL;
	}
	mb_cfg_list_free(items);
	return r;
}

/* Without CURVE: the control endpoint never beyond loopback, the others only when allowed. */
static int check_plaintext(const struct mb_config *c, char *err, size_t cap)
{
	bool allowed = c->security.allow_plaintext_tcp;
	int r;
	if ((r = check_list("control.endpoint", c->control.endpoint, false, err, cap)) < 0 ||
	    (r = check_list("publish.endpoint", c->publish.endpoint, allowed, err, cap)) < 0)
		return r;
	for (unsigned i = 0; i < c->n_sources; i++) {
		const struct mb_source_cfg *s = &c->sources[i];
		const char *list = s->type && strcmp(s->type, "zmq") == 0 ? mb_source_cfg_get(s, "endpoint") : NULL;
		char key[MB_CFG_NAME_BYTES + 32];
		snprintf(key, sizeof key, "source.%s.endpoint", s->name);
		if (list && (r = check_list(key, list, allowed, err, cap)) < 0)
			return r;
	}
	return 0;
}

/* The key directory: curve_dir, anchored at the configuration file's directory. */
static int key_dir(const struct mb_config *c, const char *config_file, char *buf, size_t cap)
{
	const char *dir = c->security.curve_dir;
	int n;
	if (*dir == '/')
		n = snprintf(buf, cap, "%s", dir);
	else if (!config_file)
		n = snprintf(buf, cap, "%s", *dir ? dir : MB_CURVE_DEFAULT_DIR);
	else {
		char copy[PATH_MAX];
		if ((size_t)snprintf(copy, sizeof copy, "%s", config_file) >= sizeof copy)
			return -ENAMETOOLONG;
		const char *base = dirname(copy);
		n = snprintf(buf, cap, "%s%s%s", base, strcmp(base, "/") ? "/" : "", *dir ? dir : MB_CURVE_DIR_NAME);
	}
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Resolve [security] (see curve.h). */
int mb_curve_resolve(const struct mb_config *c, const char *config_file, struct mb_curve_setup *ret, char *err,
		     size_t cap)
{
	struct mb_curve_setup s = {.on = false};
	char path[PATH_MAX + 32];
	int r = key_dir(c, config_file, s.dir, sizeof s.dir);
	if (r < 0) {
		snprintf(err, cap, "security.curve_dir: path too long");
		return r;
	}
	/* systemd hands a secret to a service with DynamicUser= as a credential: that copy wins. */
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	snprintf(path, sizeof path, "%s/%s", creds ? creds : "", MB_CURVE_CREDENTIAL);
	if (!creds || !*creds || access(path, F_OK) < 0)
		snprintf(path, sizeof path, "%s/%s", s.dir, MB_CURVE_SERVER_KEY);
	if (strcmp(c->security.curve, "on") == 0)
		s.on = true;
	else if (strcmp(c->security.curve, "auto") == 0)
		s.on = access(path, F_OK) == 0;
	if (s.on) {
		/* Like ssh with a private key: a secret others can read is no secret, refuse it. */
		struct stat st;
		bool credential = creds && *creds && strncmp(path, creds, strlen(creds)) == 0;
		if (!credential && stat(path, &st) == 0 && (st.st_mode & 077)) {
			snprintf(err, cap, "security.curve: the server's secret key %s is open to others (mode %03o): "
				 "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
			r = -EPERM;
			goto out_wipe;
		}
		if ((r = mb_client_key_read(path, s.secret_key)) < 0) {
			snprintf(err, cap, "security.curve: cannot read the server's secret key %s: %s", path,
				 r == -EBADMSG ? "not a z85 key of 40 characters" : strerror(-r));
			goto out_wipe;
		}
		if (zmq_curve_public(s.public_key, s.secret_key) < 0) {
			r = -zmq_errno();
			snprintf(err, cap, "security.curve: %s: %s", path,
				 r == -ENOTSUP ? "this libzmq has no CURVE" : zmq_strerror(-r));
			goto out_wipe;
		}
	} else if ((r = check_plaintext(c, err, cap)) < 0) {
		goto out_wipe;
	}
	*ret = s;
	r = 0;
out_wipe:
	mb_curve_setup_wipe(&s);
	return r;
}

/* Wipe the secret key (see curve.h); explicit_bzero, since no later read tells the compiler to keep the stores. */
void mb_curve_setup_wipe(struct mb_curve_setup *s)
{
	if (s)
		explicit_bzero(s->secret_key, sizeof s->secret_key);
}

/*
 * libzmq 4.3 has the option, but zmq.h declares it only with the draft API;
 * the number is part of its ABI.
 */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

/* The ZAP domain and its enforcement for one endpoint (see curve.h). */
int mb_curve_zap_options(void *sock, bool curve)
{
	const char *domain = MB_CURVE_ZAP_DOMAIN;
	if (!curve) {
		char now[256];
		size_t len = sizeof now;
		if (zmq_getsockopt(sock, ZMQ_ZAP_DOMAIN, now, &len) < 0)
			return -zmq_errno();
		/*
		 * libzmq cannot clear a domain once set: one a CURVE endpoint of
		 * the socket left behind becomes the plain domain instead.
		 */
		domain = len > 1 ? MB_CURVE_PLAIN_ZAP_DOMAIN : NULL;
	}
	int enforce = curve;
	if ((domain && zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) < 0) ||
	    zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &enforce, sizeof enforce) < 0)
		return -zmq_errno();
	return 0;
}
