/*
 * event_cache.c - parsed bodies of waiting webhook events; see
 * event_cache.h.
 */
#include "event_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

struct slot {
	bool used;
	long long connection_id;
	char *event_id;              /* owned */
	unsigned char *body;         /* owned: the bytes event was parsed from */
	size_t len;
	json_object *event;          /* owned */
	long long until;             /* dropped first once this unix time has passed */
	unsigned long long seq;      /* order of puts: the smallest is the oldest */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[EVENT_CACHE_SLOTS];   /* guarded by lock */
static unsigned long long next_seq;            /* guarded by lock */

static void slot_free(struct slot *s)
{
	free(s->event_id);
	free(s->body);
	json_object_put(s->event);
}

/* The slot of the event, or -1. Under lock. */
static int find(long long connection_id, const char *event_id)
{
	for (int i = 0; i < EVENT_CACHE_SLOTS; i++)
		if (slots[i].used && slots[i].connection_id == connection_id &&
		    strcmp(slots[i].event_id, event_id) == 0)
			return i;
	return -1;
}

/* Where a new entry goes: the same event's slot, a free one, an expired
 * one, else the oldest. Under lock. */
static int victim(long long connection_id, const char *event_id, long long now)
{
	int i = find(connection_id, event_id);
	if (i >= 0)
		return i;
	int oldest = 0;
	for (i = 0; i < EVENT_CACHE_SLOTS; i++) {
		if (!slots[i].used || slots[i].until < now)
			return i;
		if (slots[i].seq < slots[oldest].seq)
			oldest = i;
	}
	return oldest;
}

void event_cache_put(long long connection_id, const char *event_id, const void *body, size_t len,
		     json_object *event, long long now, long long until)
{
	struct slot s = {true, connection_id, strdup(event_id), malloc(len ? len : 1), len, event, until, 0};
	if (!event || !s.event_id || !s.body) {
		slot_free(&s);
		return;
	}
	memcpy(s.body, body, len);
	struct slot old = {0};
	pthread_mutex_lock(&lock);
	int i = victim(connection_id, event_id, now);
	old = slots[i];
	s.seq = ++next_seq;
	slots[i] = s;
	pthread_mutex_unlock(&lock);
	if (old.used)
		slot_free(&old);   /* outside the lock: putting a tree takes a while */
}

json_object *event_cache_take(long long connection_id, const char *event_id, const void *body,
			      size_t len)
{
	struct slot s = {0};
	pthread_mutex_lock(&lock);
	int i = find(connection_id, event_id);
	if (i >= 0) {
		s = slots[i];
		slots[i] = (struct slot){0};
	}
	pthread_mutex_unlock(&lock);
	if (!s.used) {
		metrics_waiting_parse(false);
		return NULL;
	}
	json_object *event = NULL;
	if (s.len == len && memcmp(s.body, body, len) == 0) {
		event = s.event;
		s.event = NULL;
	}
	slot_free(&s);
	metrics_waiting_parse(event != NULL);
	return event;
}

void event_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < EVENT_CACHE_SLOTS; i++) {
		if (slots[i].used)
			slot_free(&slots[i]);
		slots[i] = (struct slot){0};
	}
	pthread_mutex_unlock(&lock);
}
