/*
 * conn_cache.h - a request thread's copy of the connections it served:
 * each one's row and its resources (the mappings), so that a webhook
 * delivery reads neither from the database.
 *
 * Only a cache, checked where it counts: a connection's config_gen moves
 * on with any change to its row or its resources (triggers, migration 15),
 * and the writer job that applies a delivery compares the config_gen of
 * the copy it was mapped with against the row's in its transaction
 * (store_event_state); when they differ the job fails with SL_ERR_STALE
 * and the delivery is done again from a fresh copy (webhook.c). The row is
 * read before the resources, so a change in between shows as a newer
 * config_gen than the copy's, never as an older one.
 *
 * Per thread, CONN_CACHE connections; no locks.
 */
#ifndef STRIPELINK_CONN_CACHE_H
#define STRIPELINK_CONN_CACHE_H

#include <stdbool.h>

#include "err.h"
#include "store.h"

#define CONN_CACHE 4   /* connections kept per thread (an install has a few) */

/* The connection id's row as this thread last read it, or read now when
 * fresh or not kept. *out is borrowed: valid until this thread's next
 * conn_cache_get. SL_ERR_NOT_FOUND when there is no such connection;
 * errors of the store otherwise (nothing is kept then). */
sl_err conn_cache_get(struct store *db, long long id, bool fresh, const struct connection_row **out);

/* When c is a row this thread's cache gave out (the same pointer), the
 * mapping of its resource slug read with it: sets *mapping (NULL when the
 * resource is not set up or not mapped) and returns true. False for any
 * other row: the caller reads the store. */
bool conn_cache_mapping(const struct connection_row *c, const char *slug, const char **mapping);

#endif
