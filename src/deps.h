/*
 * deps.h - what a use case borrows from whoever calls it.
 *
 * Use cases (connection.c, webhook.c, auth.c, ...) do not reach up into
 * the web layer for their resources: the caller lends them in a struct
 * deps. The web layer builds one per request thread (app.h: app_thread's
 * deps), the sync worker one per thread of its own (catchup.c,
 * sync_main.c), a test one on its own database and writer. The clock is
 * not in here: every use case takes the time as a plain `now` argument.
 *
 * A use case that needs only the store or only the writer takes that
 * pointer alone; one that needs more takes the whole struct.
 */
#ifndef STRIPELINK_DEPS_H
#define STRIPELINK_DEPS_H

struct store;
struct stripe_client;
struct writer;

/* Every pointer is borrowed from the caller and outlives the call. */
struct deps {
	struct store *db;                  /* a read connection of the calling thread */
	struct writer *writer;             /* the process's one writer */
	struct stripe_client *stripe;      /* Stripe client (the caller decides its pacing) */
	struct stripe_client *stripe_live; /* NULL: stripe serves live-mode connections too */
	const unsigned char *secret_key;   /* CRYPTO_KEY_LEN bytes: seals keys and secrets */
};

#endif
