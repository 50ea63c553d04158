/*
 * refetch.h - ordering by Stripe's clock: the versions of state stripelink
 * fetches itself, and same-second ties settled by a fresh fetch.
 *
 * The ordering guard (ingest.h) keeps, per Stripe object, the version last
 * applied; an older one changes nothing, an equal or newer one applies. An
 * event's version is its `created`, Stripe's second. State fetched from
 * Stripe (a historical page, a tie's fetch) is versioned by Stripe's clock
 * too, never this machine's: the second before the answer's Date, because
 * the answer holds every change made before that second, and perhaps not
 * one made within it. So a page never outranks an event made after it,
 * whatever this machine's clock says.
 *
 * Seconds do not order two events of one object made in the same second:
 * applied as they arrive, a charge.refunded delivered before the
 * charge.succeeded of its second would put the order back to paid. For the
 * state-sensitive resources (catalog's refetch_on_tie: charges,
 * subscriptions, invoices, checkout sessions) an event whose version equals
 * the one applied is a tie. It is not applied as it came: webhook.c records
 * it as waiting, answers 2xx, and the sync worker fetches the object and
 * applies THAT state, under a version no lower than the tie's second, so
 * the fetch wins it. An event that ties with a page is settled the same
 * way. Each tie costs one GET, made off the request path under the sync's
 * rate limiter.
 */
#ifndef STRIPELINK_REFETCH_H
#define STRIPELINK_REFETCH_H

#include <stdbool.h>
#include <json-c/json.h>

#include "catalog.h"
#include "err.h"

struct stripe_client;
struct stripe_error;

/* The version of the state in c's last answer: Stripe's Date minus one
 * second. When that answer had no Date header, this machine's clock stands
 * in, and stderr says so (once per process; `what` names the request). */
long long refetch_answer_version(const struct stripe_client *c, const char *what);

/* True when an event of resource r made at `created`, about an object
 * whose applied version is `applied` (-1: none), is a same-second tie to
 * settle with a fetch. */
bool refetch_is_tie(enum resource r, long long applied, long long created);

/* Fetches object `id` of resource r (GET <list path>/<id>) with key
 * through c, which paces it. On SL_OK *out is the object (the caller
 * releases it with json_object_put()) and *version the version to apply it
 * under: refetch_answer_version(), and never below `created`, the tie's
 * second (the tied events had all arrived before the fetch, so its answer
 * holds them). SL_ERR_INVALID for an id that is not a Stripe id; else the
 * errors of stripe_request(), with err filled. */
sl_err refetch_object(struct stripe_client *c, const char *key, enum resource r, const char *id,
		      long long created, json_object **out, long long *version,
		      struct stripe_error *err);

#endif
