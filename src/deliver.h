/*
 * deliver.h - the delivery worker (`stripelink deliver`, a child of the
 * supervisor): sends the outbox's webhooks, signed like Stripe signs
 * (Stripelink-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">), with
 * a stable Idempotency-Key, retrying network errors, timeouts, 408, 429
 * and 5xx with exponential backoff and jitter until the give-up time.
 * Deliveries go out in batches (at most DELIVER_BATCH, or DELIVER_BATCH_MS
 * of sending); the batch's attempts and outcomes are committed together
 * after the POSTs, so a crash re-sends at most that batch, each with its
 * same Idempotency-Key, and loses nothing.
 *
 * The SSRF guard refuses loopback, private, link-local, metadata and
 * unspecified addresses at connect time, after DNS, unless
 * STRIPELINK_OUTBOUND_ALLOW_PRIVATE is set.
 */
#ifndef STRIPELINK_DELIVER_H
#define STRIPELINK_DELIVER_H

#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include "crypto.h"
#include "err.h"

struct store;
struct sockaddr;

/* The guard's rules, pure. */
bool deliver_ipv4_allowed(const struct in_addr *a, bool allow_private);
bool deliver_ipv6_allowed(const struct in6_addr *a, bool allow_private);
/* For stripe_outbound_post's allow callback: ctx points to a bool
 * (allow_private). */
bool deliver_sockaddr_allowed(const struct sockaddr *sa, void *ctx);

/* Writes "t=<t>,v1=<hex>" for body into out (cap >= 80). */
sl_err deliver_sign(const char *secret, long long t, const char *body, char *out, size_t cap);

/* The delay before retry number attempts (1-based) with base_ms, doubled
 * each time up to 6 hours, with ±20% jitter from rnd. */
long long deliver_backoff_ms(long long attempts, long long base_ms, unsigned rnd);

/* True when an answer with this status (0: no answer) is worth retrying. */
bool deliver_retryable(long status);

#define DELIVER_BATCH 128
#define DELIVER_BATCH_MS 1000

struct outbound_client;

/* Sends a batch of due deliveries with client and commits their outcomes;
 * *sent says how many were attempted (0: nothing due). */
sl_err deliver_batch(struct store *db, struct outbound_client *client,
		     const unsigned char key[CRYPTO_KEY_LEN], size_t *sent);

/* The worker: delivers until *stop, polling every idle_ms when idle. */
void deliver_loop(struct store *db, const unsigned char key[CRYPTO_KEY_LEN],
		  volatile sig_atomic_t *stop, int idle_ms);

#endif
