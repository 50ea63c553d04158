/*
 * event_cache.c - parses of waiting webhook events, lent and kept; see
 * event_cache.h.
 */
#include "event_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

struct slot {
	bool used;
	bool lent;                   /* the owner's request is in flight: body and event are its */
	bool orphan;                 /* handed over while in use: the last user puts event */
	bool done;                   /* a job used it to complete the event: not worth keeping */
	int users;                   /* writer jobs reading event now */
	long long connection_id;
	char *event_id;              /* owned */
	const unsigned char *body;   /* the bytes event was parsed from: the owner's while lent,
					else owned (NULL when orphaned) */
	size_t len;
	json_object *event;          /* the owner's while lent, else owned */
	long long until;             /* a kept one is dropped first once this unix time passed */
	unsigned long long seq;      /* order of keeping: the smallest is the oldest */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[EVENT_CACHE_SLOTS];   /* guarded by lock */
static unsigned long long next_seq;            /* guarded by lock */

/* What a slot owns, taken out under lock and freed after it. */
struct dropped {
	char *event_id;
	unsigned char *body;
	json_object *event;
};

static void dropped_free(struct dropped *d)
{
	free(d->event_id);
	free(d->body);
	json_object_put(d->event);
}

/* Empties slot i; what it owned goes into *d (freed after the lock).
 * Under lock. */
static void empty(int i, struct dropped *d)
{
	struct slot *s = &slots[i];
	*d = (struct dropped){s->event_id, s->lent ? NULL : (unsigned char *)s->body,
			      s->lent ? NULL : s->event};
	*s = (struct slot){0};
}

/* The slot of the event that a job may use (lent or kept), or -1. Under
 * lock. */
static int find(long long connection_id, const char *event_id)
{
	for (int i = 0; i < EVENT_CACHE_SLOTS; i++)
		if (slots[i].used && !slots[i].orphan && slots[i].connection_id == connection_id &&
		    strcmp(slots[i].event_id, event_id) == 0)
			return i;
	return -1;
}

/* The slot holding event (lent, kept or orphaned), or -1. Under lock. */
static int find_event(const json_object *event)
{
	for (int i = 0; i < EVENT_CACHE_SLOTS; i++)
		if (slots[i].used && slots[i].event == event)
			return i;
	return -1;
}

/* A slot for a new entry: a free one, an expired kept one, else the
 * oldest kept one; -1 when every slot is lent or in use. What it held goes
 * into *d. Under lock. */
static int make_room(long long now, struct dropped *d)
{
	int oldest = -1;
	for (int i = 0; i < EVENT_CACHE_SLOTS; i++) {
		if (!slots[i].used)
			return i;
		if (slots[i].lent || slots[i].users)
			continue;
		if (slots[i].until < now) {
			empty(i, d);
			return i;
		}
		if (oldest < 0 || slots[i].seq < slots[oldest].seq)
			oldest = i;
	}
	if (oldest >= 0)
		empty(oldest, d);
	return oldest;
}

void event_cache_lend(long long connection_id, const char *event_id, const void *body, size_t len,
		      json_object *event)
{
	char *id = event ? strdup(event_id) : NULL;
	struct dropped old = {0};
	if (!id)
		return;
	pthread_mutex_lock(&lock);
	int i = find(connection_id, event_id);
	if (i >= 0 && !slots[i].lent && !slots[i].users)
		empty(i, &old);   /* a kept parse of an earlier delivery: this one replaces it */
	else if (i >= 0)
		i = -1;           /* the same event in flight twice: the first one's loan stands */
	else
		i = make_room(0, &old);
	if (i >= 0) {
		slots[i] = (struct slot){.used = true, .lent = true, .connection_id = connection_id,
					 .event_id = id, .body = body, .len = len, .event = event};
		id = NULL;
	}
	pthread_mutex_unlock(&lock);
	free(id);
	dropped_free(&old);
}

void event_cache_reclaim(long long connection_id, const char *event_id, const void *body, size_t len,
			 json_object *event, bool keep, long long now)
{
	unsigned char *copy = keep && event ? malloc(len ? len : 1) : NULL;
	char *id = copy ? strdup(event_id) : NULL;
	struct dropped old = {0}, put = {0}, expired[EVENT_CACHE_SLOTS];
	int n_expired = 0;
	long long until = now + EVENT_CACHE_KEEP_SECONDS;
	if (copy)
		memcpy(copy, body, len);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < EVENT_CACHE_SLOTS; i++)
		if (slots[i].used && !slots[i].lent && !slots[i].users && slots[i].until < now)
			empty(i, &expired[n_expired++]);
	int i = event ? find_event(event) : -1;
	if (i >= 0 && !slots[i].lent)
		i = -1;   /* not this request's loan */
	if (i >= 0 && keep && copy && !slots[i].done) {
		/* lent, now kept: the slot owns a copy of the bytes */
		slots[i].lent = false;
		slots[i].body = copy;
		slots[i].until = until;
		slots[i].seq = ++next_seq;
		copy = NULL;
	} else if (i >= 0 && slots[i].users) {
		/* a job reads it now: the last user puts it */
		slots[i].lent = false;
		slots[i].orphan = true;
		slots[i].body = NULL;
	} else if (i >= 0) {
		empty(i, &put);
		put.event = event;
	} else if (keep && copy && id && find(connection_id, event_id) < 0 &&
		   (i = make_room(now, &old)) >= 0) {
		/* not lent (no slot was free then): kept now */
		slots[i] = (struct slot){.used = true, .connection_id = connection_id, .event_id = id,
					 .body = copy, .len = len, .event = event, .until = until,
					 .seq = ++next_seq};
		copy = NULL;
		id = NULL;
	} else {
		put.event = event;
	}
	pthread_mutex_unlock(&lock);
	free(copy);
	free(id);
	dropped_free(&old);
	dropped_free(&put);
	for (int k = 0; k < n_expired; k++)
		dropped_free(&expired[k]);
}

json_object *event_cache_use(long long connection_id, const char *event_id, const void *body,
			     size_t len)
{
	json_object *event = NULL;
	pthread_mutex_lock(&lock);
	int i = find(connection_id, event_id);
	/* compared under the lock: a lent body is the owner's until it reclaims */
	if (i >= 0 && slots[i].len == len && memcmp(slots[i].body, body, len) == 0) {
		slots[i].users++;
		event = slots[i].event;
	}
	pthread_mutex_unlock(&lock);
	metrics_waiting_parse(event != NULL);
	return event;
}

void event_cache_release(json_object *event)
{
	struct dropped put = {0};
	pthread_mutex_lock(&lock);
	int i = event ? find_event(event) : -1;
	if (i >= 0 && slots[i].users > 0) {
		slots[i].users--;
		slots[i].done = true;
		/* its event is completed: a kept or orphaned parse goes now; a
		 * lent one stays its owner's */
		if (!slots[i].users && !slots[i].lent)
			empty(i, &put);
	}
	pthread_mutex_unlock(&lock);
	dropped_free(&put);
}

void event_cache_clear(void)
{
	struct dropped d;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < EVENT_CACHE_SLOTS; i++) {
		if (!slots[i].used)
			continue;
		empty(i, &d);
		dropped_free(&d);
	}
	pthread_mutex_unlock(&lock);
}
