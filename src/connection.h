/*
 * connection.h - connecting and disconnecting a Stripe account: the core
 * behind the wizard's first step and the Disconnect button.
 *
 * Connect checks the key's shape, asks Stripe for the account, replaces or
 * creates the webhook endpoint for this install's URL and saves the key
 * and signing secret sealed. A failure leaves nothing behind: no stored
 * key, and no endpoint at Stripe that we created.
 */
#ifndef STRIPELINK_CONNECTION_H
#define STRIPELINK_CONNECTION_H

#include <stdbool.h>
#include "err.h"
#include "stripe.h"

struct arena;
struct deps;

enum connect_problem {
	CONNECT_OK,
	CONNECT_KEY_SHAPE,         /* not sk_/rk_ live/test */
	CONNECT_KEY_REJECTED,      /* 401 */
	CONNECT_KEY_PERMISSION,    /* 403: restricted key lacks a permission */
	CONNECT_ENDPOINT_LIMIT,    /* 16 webhook endpoints already */
	CONNECT_ALREADY,           /* this account is connected already */
	CONNECT_STRIPE_DOWN,       /* unreachable or timing out */
	CONNECT_STRIPE_ERROR,      /* Stripe refused for another reason */
	CONNECT_SAVE_FAILED,       /* our database failed */
	CONNECT_OTHER_ACCOUNT,     /* a new key that belongs to another Stripe account */
	CONNECT_PROBLEM__MAX
};

struct connect_result {
	enum connect_problem problem;
	long long connection_id;       /* on CONNECT_OK, and on CONNECT_ALREADY */
	struct stripe_error stripe;    /* Stripe's words, when it said something */
};

/* Connects the account behind key. Returns SL_OK with result->problem ==
 * CONNECT_OK and the connection id, or the problem (never the key) in
 * result. */
sl_err connection_connect(const struct deps *deps, const char *key, long long now,
			  struct connect_result *result);

/* Disconnects: deletes the webhook endpoint at Stripe (404 counts as gone),
 * forgets the key and secrets, keeps everything synced. *endpoint_left is
 * set when Stripe could not be asked to delete the endpoint. */
sl_err connection_disconnect(const struct deps *deps, long long id, long long now,
			     bool *endpoint_left);

/* Replaces the connection's webhook endpoint with a new one (a new signing
 * secret); the old secret is still accepted for the configured grace
 * (STRIPELINK_ROLL_GRACE_SECONDS, default 5 minutes: deliveries in flight). *problem says what Stripe
 * refused, as for connect. */
sl_err connection_roll_secret(const struct deps *deps, long long id, long long now,
			      struct connect_result *result);

/* Endpoint repairs from the app page. Each asks Stripe, records the
 * endpoint's state for the page and asks the sync worker for a catch-up;
 * *result says what Stripe refused, as for connect.
 *   enable:      POST /v1/webhook_endpoints/<id> disabled=false;
 *   recreate:    a new endpoint and signing secret, as at connect (the old
 *                secret is no longer accepted: its endpoint is gone);
 *   replace_key: a new secret key for the same account; the mappings,
 *                switches and everything synced stay. */
sl_err connection_endpoint_enable(const struct deps *deps, long long id, long long now,
				  struct connect_result *result);
sl_err connection_endpoint_recreate(const struct deps *deps, long long id, long long now,
				    struct connect_result *result);
sl_err connection_replace_key(const struct deps *deps, long long id, const char *key,
			      long long now, struct connect_result *result);

/* This install's webhook URL for a connection, from the arena. */
const char *connection_webhook_url(struct arena *a, long long id);

/* Opens a connection's sealed key or signing secret with secret_key
 * (CRYPTO_KEY_LEN bytes) into a malloc'd string the caller wipes and frees
 * (connection_secret_free); NULL when there is none. */
char *connection_open_key(const unsigned char *secret_key, const char *sealed);
void connection_secret_free(char *s);

#endif
