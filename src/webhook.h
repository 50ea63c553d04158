/*
 * webhook.h - one Stripe webhook delivery, from raw body to committed
 * effects: connection lookup, signature check, event decoding, mapping,
 * and one writer job that records the event id first (duplicates change
 * nothing) and applies the change set through ingest.
 *
 * Every entry point takes what it uses in a struct deps (deps.h): the
 * FastCGI worker lends its request thread's, the sync worker its own.
 */
#ifndef STRIPELINK_WEBHOOK_H
#define STRIPELINK_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"

struct arena;
struct deps;

#define WEBHOOK_TOLERANCE 300          /* seconds either side of now */
#define WEBHOOK_REJECTS_PER_MINUTE 60  /* badly signed deliveries logged a minute */
#define WEBHOOK_SOURCE_CATCHUP "catchup"  /* integration log source of a catch-up */
#define WEBHOOK_COMPLETE_BATCH 200     /* waiting events completed per call */

struct webhook_outcome {
	int status;            /* the HTTP status to answer */
	const char *result;    /* processed, duplicate, skipped, ignored, rejected, failed, waiting */
	const char *reason;    /* for people; never secret material */
	long long contact_id;
	const char *event_id;
	const char *type;      /* the event's type, "" when unreadable */
};

/* Handles a delivery for connection_id. signature is the Stripe-Signature
 * header (NULL when absent); body/len the raw body. Strings in out come
 * from a. Returns SL_OK with out filled for every answer it decides
 * (including 4xx); an error only when it could not even decide. */
sl_err webhook_receive(const struct deps *deps, struct arena *a, long long connection_id,
		       const char *signature, const unsigned char *body, size_t len,
		       long long now, struct webhook_outcome *out);

/* Runs a logged skipped or failed event again (after the mapping was
 * fixed): the same pipeline without the signature check, which was done
 * when it arrived. SL_ERR_NOT_FOUND for no such entry, SL_ERR_INVALID when
 * the entry cannot be replayed. */
sl_err webhook_replay(const struct deps *deps, struct arena *a, long long connection_id,
		      long long log_id, long long now, struct webhook_outcome *out);

/* Ingests an event the caller got from Stripe itself (GET /v1/events):
 * the same pipeline as a delivery without the signature check. An event id
 * already recorded changes nothing and is not logged again (out->result
 * "duplicate"); the log entries it writes have source "catchup". Strings
 * in out come from a. Returns SL_OK with out filled (status 503 when a
 * retry could do better), or the writer's error. */
sl_err webhook_ingest_trusted(const struct deps *deps, struct arena *a,
			      long long connection_id, const unsigned char *body, size_t len,
			      long long now, struct webhook_outcome *out);

/* Completes the events recorded as waiting for their customer that are
 * due: the customer is linked now (no Stripe call), or the wait
 * (STRIPELINK_WEBHOOK_WAIT) is over and the one lookup is made with
 * deps->stripe (deps->stripe_live for a live-mode connection when set).
 * Same-second ties (refetch.h) are due at once: their object
 * is fetched with deps->stripe and that state applied. Each is applied in
 * one writer job that also forgets the wait; a lookup or fetch that fails
 * for now leaves it waiting for another wait.
 * Off the request path only (the sync worker). *completed counts the events
 * that stopped waiting. */
sl_err webhook_complete_waiting(const struct deps *deps, struct arena *a, long long now,
				size_t *completed);

#endif
