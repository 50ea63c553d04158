/*
 * conn_cache.c - a request thread's copy of connections; see conn_cache.h.
 */
#include "conn_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct conn_slot {
	struct arena *a;             /* owned: the row's and the resources' strings; NULL: free */
	struct connection_row row;
	struct resource_row *res;    /* in a */
	size_t n_res;
	unsigned long long used;     /* this thread's clock at the last hit */
};

struct conn_slots {
	struct conn_slot s[CONN_CACHE];
	unsigned long long clock;
};

static pthread_key_t slots_key;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void slots_free(void *p)
{
	struct conn_slots *t = p;
	for (int i = 0; i < CONN_CACHE; i++)
		arena_free(t->s[i].a);
	free(t);
}

static void slots_key_init(void)
{
	pthread_key_create(&slots_key, slots_free);
}

static struct conn_slots *thread_slots(void)
{
	pthread_once(&slots_once, slots_key_init);
	struct conn_slots *t = pthread_getspecific(slots_key);
	if (!t && (t = calloc(1, sizeof *t)))
		pthread_setspecific(slots_key, t);
	return t;
}

/* Reads id's row, then its resources, into slot s (emptied first). */
static sl_err fill(struct store *db, struct conn_slot *s, long long id)
{
	arena_free(s->a);
	*s = (struct conn_slot){.a = arena_new()};
	if (!s->a)
		return SL_ERR_NOMEM;
	sl_err e = store_connection_get(db, s->a, id, &s->row);   /* first: see the header */
	if (!e)
		e = store_resources_list(db, s->a, id, &s->res, &s->n_res);
	if (e) {
		arena_free(s->a);
		s->a = NULL;
	}
	return e;
}

sl_err conn_cache_get(struct store *db, long long id, bool fresh, const struct connection_row **out)
{
	struct conn_slots *t = thread_slots();
	if (!t)
		return SL_ERR_NOMEM;
	struct conn_slot *s = NULL;
	for (int i = 0; i < CONN_CACHE && !s; i++)
		if (t->s[i].a && t->s[i].row.id == id)
			s = &t->s[i];
	if (!s || fresh) {
		if (!s) {   /* a free slot, else the least recently used */
			s = &t->s[0];
			for (int i = 1; i < CONN_CACHE && s->a; i++)
				if (!t->s[i].a || t->s[i].used < s->used)
					s = &t->s[i];
		}
		sl_err e = fill(db, s, id);
		if (e)
			return e;
	}
	s->used = ++t->clock;
	*out = &s->row;
	return SL_OK;
}

bool conn_cache_mapping(const struct connection_row *c, const char *slug, const char **mapping)
{
	pthread_once(&slots_once, slots_key_init);
	struct conn_slots *t = pthread_getspecific(slots_key);
	if (!t || !c)
		return false;
	for (int i = 0; i < CONN_CACHE; i++) {
		struct conn_slot *s = &t->s[i];
		if (!s->a || &s->row != c)
			continue;
		*mapping = NULL;
		for (size_t r = 0; r < s->n_res; r++)
			if (strcmp(s->res[r].resource, slug) == 0)
				*mapping = s->res[r].mapping;
		return true;
	}
	return false;
}
