/*
 * catchup.h - never miss an event: the catch-up from Stripe's event list
 * and the webhook endpoint's health, run by the sync worker.
 *
 * A catch-up lists GET /v1/events for the event types of the catalogue,
 * from the newest event an earlier catch-up saw minus an overlap, newest
 * first, 100 a page, and feeds each event through the webhook's own ingest
 * path (webhook_ingest_trusted): event ids already recorded change nothing.
 * Each page's progress is committed, so a killed worker resumes the sweep;
 * the cursor moves only when a sweep has seen everything down to its lower
 * bound. Every request waits its turn at the historical sync's limiter of
 * the connection's Stripe account and mode (the account's budget is
 * shared).
 *
 * The endpoint check asks Stripe for the connection's webhook endpoint and
 * records what the app page shows: enabled, disabled, deleted, the key
 * refused (401) or short of a permission (403), or Stripe unreachable.
 */
#ifndef STRIPELINK_CATCHUP_H
#define STRIPELINK_CATCHUP_H

#include <signal.h>
#include <stdbool.h>
#include "err.h"

struct writer;
struct ratelimits;

#define CATCHUP_PAGE_SIZE 100
#define CATCHUP_UNDELIVERED_PAGES 10      /* counts at most this many pages of them */
#define CATCHUP_EVENT_RETENTION (30 * 86400)   /* Stripe keeps events 30 days */

struct catchup_env {
	const char *db_path;
	const char *stripe_api;
	const unsigned char *secret_key;   /* CRYPTO_KEY_LEN bytes, borrowed */
	struct writer *writer;             /* the worker's writer, borrowed */
	struct ratelimits *limits;         /* the historical sync's, per account and mode, borrowed;
					      NULL: no pacing */
	int interval;                      /* seconds between catch-ups and endpoint checks;
					      0: only when asked */
	int overlap;                       /* seconds a sweep reaches back before its cursor */
	const char *node_id;               /* who holds a connection's catch-up lease; NULL: no lease */
	int lease_seconds;                 /* the lease is taken for a sweep, ten times this */
	volatile sig_atomic_t *stop;       /* set by a signal: stop after the page */
};

/* What one sweep did. */
struct catchup_summary {
	long long pages, found, fresh, skipped;
};

/* Sweeps (or resumes the sweep of) one connected connection until it is
 * done, Stripe refuses, or env->stop is set (it then resumes next time).
 * Stripe's refusals are recorded for the app page and return SL_OK; an
 * error only when the database could not be used. out may be NULL. */
sl_err catchup_run(const struct catchup_env *env, long long connection_id,
		   struct catchup_summary *out);

/* Asks Stripe for the connection's webhook endpoint and records its state
 * (a disabled endpoint found also asks for a catch-up). Returns SL_OK once
 * the state is recorded. */
sl_err catchup_check_endpoint(const struct catchup_env *env, long long connection_id);

/* The words for an endpoint state as the app page uses them: the
 * permission a restricted key lacks, parsed from Stripe's 403 message
 * ("… Having the 'rak_event_read' permission …"), copied into out (size n);
 * out is "" when the message names none. */
void catchup_permission_named(const char *message, char *out, unsigned n);

/* Runs catch-ups and endpoint checks until env->stop is set: every
 * connection on start (after a restart), when asked (Catch up now, a
 * mended or disabled endpoint), when a sweep was left midway, and every
 * env->interval seconds. Polls the database every poll_ms. */
void catchup_loop(const struct catchup_env *env, int poll_ms);

#endif
