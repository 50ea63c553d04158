/*
 * pacer.h - paces a Stripe client that serves several connections, one
 * after another, from one thread: each request waits at the limiter of the
 * Stripe account (and mode) of the connection the thread works for at that
 * moment (metrics_set_connection). The sync worker's waiting-events thread
 * paces its clients (one per mode) this way; the sync's windows and the
 * catch-up know their connection and take its account's limiter directly.
 *
 * A pacer belongs to one thread (it keeps that thread's last look-up).
 */
#ifndef STRIPELINK_PACER_H
#define STRIPELINK_PACER_H

#include <stdbool.h>

struct ratelimit;
struct ratelimits;

struct pacer;

/* A pacer taking limiters from limits (borrowed, must outlive it) and
 * looking connections up in the database at db_path (borrowed; opened on
 * first need). livemode: the mode of requests made while the thread names
 * no connection. NULL when out of memory. Free with pacer_free(). */
struct pacer *pacer_new(struct ratelimits *limits, const char *db_path, bool livemode);

/* Frees the pacer and its database connection; accepts NULL. */
void pacer_free(struct pacer *p);

/* The limiter the thread's next request waits at: its connection's
 * account's, or, while it names none (or the connection cannot be read),
 * the mode's overflow limiter (ratelimits_for with no account). Borrowed
 * from the table. */
struct ratelimit *pacer_limiter(struct pacer *p);

/* A stripe_options pace callback: waits at pacer_limiter(pacer). */
void pacer_pace(void *pacer);

#endif
