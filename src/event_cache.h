/*
 * event_cache.h - the parsed bodies of webhook events recorded as waiting
 * (for their customer or their charge), kept in memory for a while by the
 * thread that parsed them, so the writer job that completes them
 * (webhook.c: complete_inline) does not parse the same bytes again.
 *
 * Only a cache: the waiting event's body is on disk (pending_events) and is
 * what counts; an entry is used only for exactly the bytes it was parsed
 * from, and a miss parses them as before. Process-wide, guarded by one
 * lock; at most EVENT_CACHE_SLOTS entries, the oldest dropped first.
 */
#ifndef STRIPELINK_EVENT_CACHE_H
#define STRIPELINK_EVENT_CACHE_H

#include <json-c/json.h>
#include <stddef.h>

#define EVENT_CACHE_SLOTS 64   /* parsed events kept at most (~50 KB each) */

/* Keeps event, the parse of body (len bytes) of event_id for
 * connection_id, until the unix time until (or until EVENT_CACHE_SLOTS
 * newer ones push it out). Takes ownership of event: it is put when
 * dropped (at once when it cannot be kept). Replaces an entry of the same
 * event. */
void event_cache_put(long long connection_id, const char *event_id, const void *body, size_t len,
		     json_object *event, long long now, long long until);

/* The kept parse of body (len bytes) of event_id for connection_id, taken
 * out of the cache: the caller owns it (json_object_put). NULL when none is
 * kept, or the one kept was parsed from other bytes (then it is dropped).
 * Counted either way (metrics_waiting_parse). */
json_object *event_cache_take(long long connection_id, const char *event_id, const void *body,
			      size_t len);

/* Drops every entry (at exit). */
void event_cache_clear(void);

#endif
