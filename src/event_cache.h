/*
 * event_cache.h - the parses of webhook events that wait (for their
 * customer or their charge), shared with the writer job that completes
 * them (webhook.c: complete_inline), so it does not parse the same bytes
 * again.
 *
 * The request thread that parsed an event it expects to wait lends the
 * parse before its writer job (event_cache_lend): a job later in the same
 * group, while that request still waits for the group's commit, may use it.
 * After its job the request thread hands the parse over
 * (event_cache_reclaim): kept for a while when the event was recorded as
 * waiting, so a job in a later group may use it too, else dropped. A writer
 * job uses a parse (event_cache_use) until it releases it
 * (event_cache_release); a parse handed over while in use is dropped by its
 * last user.
 *
 * Only a cache: the waiting event's body is on disk (pending_events) and is
 * what counts; a parse is used only for exactly the bytes it was made from,
 * and a miss parses them as before. Process-wide, one lock, at most
 * EVENT_CACHE_SLOTS parses; a parse is kept EVENT_CACHE_KEEP_SECONDS (an
 * event's customer or charge usually follows within that; later, the sync
 * worker completes most of them, in its own process), and the oldest kept
 * one makes room first.
 */
#ifndef STRIPELINK_EVENT_CACHE_H
#define STRIPELINK_EVENT_CACHE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define EVENT_CACHE_SLOTS 32        /* parses lent or kept at most (~50 KB each) */
#define EVENT_CACHE_KEEP_SECONDS 2  /* how long a parse is kept after its request */

/* Lends event, the parse of body (len bytes) of event_id for
 * connection_id, to writer jobs. Both stay the caller's and must stay
 * valid and unchanged until it calls event_cache_reclaim (after its writer
 * job). Nothing happens when no slot is free. */
void event_cache_lend(long long connection_id, const char *event_id, const void *body, size_t len,
		      json_object *event);

/* Ends the loan of event (lent or not) and takes it over: the caller must
 * not use it afterwards. keep: the event was recorded as waiting; the
 * parse of body (len bytes) is kept EVENT_CACHE_KEEP_SECONDS after now (the
 * unix time), or until newer ones push it out. Otherwise, or when it cannot
 * be kept, it is put now, or by its last user. Parses kept past their time
 * are dropped here too. */
void event_cache_reclaim(long long connection_id, const char *event_id, const void *body, size_t len,
			 json_object *event, bool keep, long long now);

/* The parse of body (len bytes) of event_id for connection_id, lent or
 * kept; NULL when there is none for exactly these bytes. Borrowed: the
 * caller reads it only, and returns it with event_cache_release. Counted
 * either way (metrics_waiting_parse). */
json_object *event_cache_use(long long connection_id, const char *event_id, const void *body,
			     size_t len);

/* Returns a parse from event_cache_use. It is not kept afterwards: its
 * event was completed. */
void event_cache_release(json_object *event);

/* Drops every parse kept (at exit, when no request is in flight). */
void event_cache_clear(void);

#endif
