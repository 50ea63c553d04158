/*
 * deliver.c - the outbox's delivery worker and the SSRF guard; see
 * deliver.h. The HTTP itself is stripe.c's generic POST (libcurl stays
 * there).
 */
#include "deliver.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "automation.h"
#include "config.h"
#include "store.h"
#include "stripe.h"

bool deliver_ipv4_allowed(const struct in_addr *a, bool allow_private)
{
	if (allow_private)
		return true;
	uint32_t ip = ntohl(a->s_addr);
	static const struct {
		uint32_t net, mask;
	} refused[] = {
		{0x00000000u, 0xff000000u},   /* 0/8: unspecified, "this network" */
		{0x0a000000u, 0xff000000u},   /* 10/8 */
		{0x7f000000u, 0xff000000u},   /* 127/8 loopback */
		{0xa9fe0000u, 0xffff0000u},   /* 169.254/16 link-local, 169.254.169.254 metadata */
		{0xac100000u, 0xfff00000u},   /* 172.16/12 */
		{0xc0a80000u, 0xffff0000u},   /* 192.168/16 */
		{0x64400000u, 0xffc00000u},   /* 100.64/10 shared address space */
		{0xe0000000u, 0xe0000000u},   /* 224/3 multicast, reserved, broadcast */
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		if ((ip & refused[i].mask) == refused[i].net)
			return false;
	return true;
}

bool deliver_ipv6_allowed(const struct in6_addr *a, bool allow_private)
{
	if (allow_private)
		return true;
	const unsigned char *b = a->s6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a)) {
		struct in_addr v4;
		memcpy(&v4.s_addr, b + 12, 4);
		return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LOOPBACK(a) &&
		       deliver_ipv4_allowed(&v4, false);
	}
	if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a))
		return false;
	if ((b[0] & 0xfe) == 0xfc)                    /* fc00::/7 unique local */
		return false;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)    /* fe80::/10 link-local */
		return false;
	if (b[0] == 0xff)                             /* multicast */
		return false;
	return true;
}

bool deliver_sockaddr_allowed(const struct sockaddr *sa, void *ctx)
{
	bool allow_private = ctx && *(const bool *)ctx;
	if (sa->sa_family == AF_INET)
		return deliver_ipv4_allowed(&((const struct sockaddr_in *)sa)->sin_addr, allow_private);
	if (sa->sa_family == AF_INET6)
		return deliver_ipv6_allowed(&((const struct sockaddr_in6 *)sa)->sin6_addr, allow_private);
	return false;
}

sl_err deliver_sign(const char *secret, long long t, const char *body, char *out, size_t cap)
{
	size_t blen = strlen(body);
	char ts[24];
	int tn = snprintf(ts, sizeof ts, "%lld.", t);
	char *msg = malloc((size_t)tn + blen + 1);
	if (!msg)
		return SL_ERR_NOMEM;
	memcpy(msg, ts, (size_t)tn);
	memcpy(msg + tn, body, blen + 1);
	unsigned char mac[32];
	sl_err e = crypto_hmac_sha256(secret, strlen(secret), msg, (size_t)tn + blen, mac);
	free(msg);
	if (e)
		return e;
	char hex[65];
	crypto_hex(mac, sizeof mac, hex);
	if ((size_t)snprintf(out, cap, "t=%lld,v1=%s", t, hex) >= cap)
		return SL_ERR_INVALID;
	return SL_OK;
}

long long deliver_backoff_ms(long long attempts, long long base_ms, unsigned rnd)
{
	const long long cap = 6LL * 3600 * 1000;
	long long d = base_ms;
	for (long long i = 1; i < attempts && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	long long spread = d / 5;   /* ±20% */
	if (spread > 0)
		d += (long long)(rnd % (unsigned)(2 * spread + 1)) - spread;
	return d > 0 ? d : 1;
}

bool deliver_retryable(long status)
{
	return status == 0 || status == 408 || status == 429 || status >= 500;
}

static long long now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Sends one delivery and fills its attempt; *state and *next_at say what
 * becomes of it. */
static sl_err send_one(struct outbound_client *client, const unsigned char key[CRYPTO_KEY_LEN],
		       const struct outbox_row *o, struct outbox_attempt *t,
		       struct outbound_result *res, const char **state, long long *next_at)
{
	const struct config *c = config_get();
	long long start = now_ms();
	bool allow_private = c->outbound_allow_private != 0;
	const char *problem = automation_url_problem(o->url, c->outbound_allow_http != 0, allow_private);
	char *secret = *o->secret_sealed ? crypto_open(key, o->secret_sealed) : NULL;
	sl_err e = SL_OK;
	memset(res, 0, sizeof *res);
	if (problem) {
		res->refused = true;
		snprintf(res->error, sizeof res->error, "refused: %s", problem);
	} else if (!secret) {
		res->refused = true;
		snprintf(res->error, sizeof res->error, "the signing secret cannot be opened");
	} else {
		char sig[128], sig_h[160], idem[160];
		if ((e = deliver_sign(secret, start / 1000, o->body, sig, sizeof sig)))
			goto out;
		snprintf(sig_h, sizeof sig_h, "Stripelink-Signature: %s", sig);
		snprintf(idem, sizeof idem, "Idempotency-Key: %s", o->idempotency_key);
		const char *headers[] = {sig_h, idem, NULL};
		struct outbound_request rq = {
			.url = o->url,
			.body = o->body,
			.headers = headers,
			.timeout_ms = 10000,
			.allow_http = c->outbound_allow_http != 0,
			.allow = deliver_sockaddr_allowed,
			.allow_ctx = &allow_private,
		};
		if ((e = stripe_outbound_post(client, &rq, res)))
			goto out;
	}
	long long end = now_ms();
	*t = (struct outbox_attempt){.outbox_id = o->id, .at = start, .status = res->status,
				     .ms = end - start, .excerpt = res->excerpt, .error = res->error};
	*next_at = end;
	if (res->status >= 200 && res->status < 300) {
		*state = "delivered";
	} else if (res->refused || !deliver_retryable(res->status)) {
		*state = "failed";
	} else {
		*next_at = end + deliver_backoff_ms(o->attempts + 1, c->outbound_backoff_ms,
						    (unsigned)rand());
		*state = *next_at < o->give_up_at ? "pending" : "failed";
	}
out:
	if (secret) {
		memset(secret, 0, strlen(secret));
		free(secret);
	}
	return e;
}

sl_err deliver_batch(struct store *db, struct outbound_client *client,
		     const unsigned char key[CRYPTO_KEY_LEN], size_t *sent)
{
	struct arena *a = arena_new();
	if (!a)
		return SL_ERR_NOMEM;
	*sent = 0;
	struct outbox_row *due;
	size_t n, done_n = 0;
	long long started = now_ms();
	/* claimed for this node: another node's delivery worker leaves them */
	const struct config *cfg = config_get();
	const char *owner = cfg->node_id ? cfg->node_id : "local";
	long long lease_ms = (cfg->lease_seconds > 0 ? cfg->lease_seconds : 30) * 1000LL;
	sl_err e = store_outbox_due(db, a, started, DELIVER_BATCH, owner, lease_ms, &due, &n);
	struct {
		struct outbox_attempt t;
		struct outbound_result res;
		const char *state;
		long long next_at;
	} *out = n ? arena_alloc(a, n * sizeof *out) : NULL;
	/* send until the batch is done or half a second has passed, then
	 * commit every outcome at once */
	for (size_t i = 0; !e && i < n && (i == 0 || now_ms() - started < DELIVER_BATCH_MS); i++) {
		e = send_one(client, key, &due[i], &out[i].t, &out[i].res, &out[i].state, &out[i].next_at);
		if (!e)
			done_n++;
	}
	if (done_n) {
		sl_err c = store_begin(db);
		for (size_t i = 0; !c && i < done_n; i++) {
			out[i].t.excerpt = out[i].res.excerpt;
			out[i].t.error = out[i].res.error;
			c = store_outbox_attempt(db, due[i].id, &out[i].t, out[i].state, out[i].next_at);
		}
		if (!c)
			c = store_commit(db);
		if (c)
			store_rollback(db);
		if (!e)
			e = c;
		*sent = done_n;
	}
	if (n)
		store_outbox_unclaim(db, owner);   /* what the batch did not reach is free again */
	arena_free(a);
	return e;
}

void deliver_loop(struct store *db, const unsigned char key[CRYPTO_KEY_LEN],
		  volatile sig_atomic_t *stop, int idle_ms)
{
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	struct outbound_client *client = outbound_client_new();
	if (!client) {
		fprintf(stderr, "stripelink-deliver: libcurl could not start\n");
		return;
	}
	while (!*stop) {
		size_t sent = 0;
		sl_err e = deliver_batch(db, client, key, &sent);
		if (e)
			fprintf(stderr, "stripelink-deliver: %s\n", err_name(e));
		if (e || !sent)
			usleep((useconds_t)idle_ms * 1000);
	}
	outbound_client_free(client);
}
